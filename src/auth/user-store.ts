/**
 * Where users live: the `UserStore` seam, the embedded store (`<dataDir>/users.sqlite`, bcrypt
 * hashes in htpasswd's `$2y$` form) and the authenticator that asks the configured stores in
 * order (the htpasswd file first, then the embedded store): the first store that knows the user
 * decides, so a name in both is the htpasswd file's.
 *
 * The embedded store reads the user's hash on every check (an indexed lookup), so `reestr user`
 * changes made by another process apply at once; verified passwords are cached briefly, keyed by
 * the user and a SHA-256 of the password and valid only while the stored hash is unchanged.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { parseBasicAuth } from "../http/credentials.ts";
import { RegistryError } from "../oci/errors.ts";
import { ConfigError } from "../util/config-error.ts";
import { LruCache } from "../util/lru-cache.ts";
import { SqliteFile } from "../util/sqlite.ts";
import type { Authenticator, AuthResult } from "./authenticator.ts";
import { type CompareFn, validateUserName } from "./htpasswd.ts";

export type CheckResult = "ok" | "wrong" | "unknown";

export interface UserStore {
  /** Whether `password` is the user's; "unknown" when this store has no such user. Never throws for those. */
  check(user: string, password: string): Promise<CheckResult>;
  /** Whether the store has the user (removed users lose their sessions and tokens at once). */
  exists(user: string): Promise<boolean>;
}

export const EMBEDDED_USERS_FILE = "users.sqlite";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  -- set while the user is disabled: it cannot log in, and what it holds stops working
  disabled_at TEXT
) STRICT;
`;
/** Version 1 had no disabled state. */
const MIGRATIONS = ["ALTER TABLE users ADD COLUMN disabled_at TEXT;"];

const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

export interface EmbeddedUserStoreOptions {
  cacheTtlMs?: number;
  cacheSize?: number;
  compare?: CompareFn;
  now?: () => number;
}

export class EmbeddedUserStore implements UserStore {
  readonly path: string;
  readonly #file: SqliteFile;
  readonly #ttlMs: number;
  readonly #compare: CompareFn;
  readonly #now: () => number;
  readonly #cache: LruCache<string, { hash: string; expiresAt: number }>;

  /** Opens (creating if needed) `<dataDir>/users.sqlite`, or the file at `path` when it ends in .sqlite. */
  constructor(dataDirOrFile: string, options: EmbeddedUserStoreOptions = {}) {
    this.path = dataDirOrFile.endsWith(".sqlite") ? dataDirOrFile : join(dataDirOrFile, EMBEDDED_USERS_FILE);
    this.#file = new SqliteFile(this.path, {
      name: "users",
      schema: SCHEMA,
      schemaVersion: 2,
      migrations: MIGRATIONS,
      synchronous: "full",
    });
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
    this.#compare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));
    this.#now = options.now ?? Date.now;
    this.#cache = new LruCache(options.cacheSize ?? 1000);
  }

  list(): string[] {
    return (this.#file.sql("SELECT name FROM users ORDER BY name").all() as { name: string }[]).map(
      (r) => r.name,
    );
  }

  has(user: string): boolean {
    return this.#hashOf(user) !== undefined;
  }

  /** Known and not disabled: a disabled user's sessions and tokens stop working. */
  async exists(user: string): Promise<boolean> {
    return this.has(user) && !this.isDisabled(user);
  }

  /** The disabled users, by name. */
  disabled(): string[] {
    return (
      this.#file.sql("SELECT name FROM users WHERE disabled_at IS NOT NULL ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
  }

  isDisabled(user: string): boolean {
    const row = this.#file.sql("SELECT disabled_at FROM users WHERE name = ?").get(user) as
      | { disabled_at: string | null }
      | undefined;
    return row?.disabled_at !== undefined && row.disabled_at !== null;
  }

  /**
   * Disables (true) or enables (false) a user, keeping its password: a disabled user cannot log in
   * and is refused with whatever it holds (sessions, personal tokens, bearer tokens). Throws
   * ConfigError for an unknown user.
   */
  setDisabled(user: string, disabled: boolean): void {
    const changed = this.#file
      .sql("UPDATE users SET disabled_at = ?, updated_at = ? WHERE name = ?")
      .run(
        disabled ? new Date(this.#now()).toISOString() : null,
        new Date(this.#now()).toISOString(),
        user,
      ).changes;
    if (Number(changed) === 0) throw new ConfigError(`no user "${user}"`);
  }

  /** Adds a user with a bcrypt hash; throws ConfigError when the name is taken or invalid. */
  add(user: string, hash: string): void {
    validateUserName(user);
    checkHash(hash);
    const now = new Date(this.#now()).toISOString();
    this.#file.transaction(() => {
      if (this.#hashOf(user) !== undefined) throw new ConfigError(`user "${user}" already exists`);
      this.#file
        .sql("INSERT INTO users (name, hash, created_at, updated_at) VALUES (?, ?, ?, ?)")
        .run(user, hash, now, now);
    });
  }

  /** Replaces a user's hash; throws ConfigError for an unknown user. */
  setHash(user: string, hash: string): void {
    checkHash(hash);
    const changed = this.#file
      .sql("UPDATE users SET hash = ?, updated_at = ? WHERE name = ?")
      .run(hash, new Date(this.#now()).toISOString(), user).changes;
    if (Number(changed) === 0) throw new ConfigError(`no user "${user}"`);
  }

  /** True when the user existed. */
  remove(user: string): boolean {
    return Number(this.#file.sql("DELETE FROM users WHERE name = ?").run(user).changes) > 0;
  }

  async check(user: string, password: string): Promise<CheckResult> {
    const hash = this.#hashOf(user);
    if (hash === undefined) return "unknown";
    if (this.isDisabled(user)) {
      // As a wrong password, at the same cost, so a disabled name is not told apart from a bad guess.
      await this.#compare(password, hash);
      return "wrong";
    }
    const key = `${user}\0${createHash("sha256").update(password).digest("hex")}`;
    const cached = this.#cache.get(key);
    const now = this.#now();
    if (cached && cached.hash === hash && cached.expiresAt > now) return "ok";
    if (cached) this.#cache.delete(key);
    if (!(await this.#compare(password, hash))) return "wrong";
    this.#cache.set(key, { hash, expiresAt: now + this.#ttlMs });
    return "ok";
  }

  close(): void {
    this.#file.close();
  }

  #hashOf(user: string): string | undefined {
    const row = this.#file.sql("SELECT hash FROM users WHERE name = ?").get(user) as
      | { hash: string }
      | undefined;
    return row?.hash;
  }
}

function checkHash(hash: string): void {
  if (!BCRYPT_HASH.test(hash)) throw new ConfigError("only bcrypt hashes are stored");
}

/** A hash no password matches, compared for unknown users so they take as long as known ones. */
const DUMMY_HASH = "$2y$10$x5V0.EcGpvOLQtvOWcopPeac3PvRBHikY5mK5bczeKzxNh94T8Api";
const BAD_CREDENTIALS = "invalid username or password";

/** Basic credentials checked against user stores in order. */
export class UserStoresAuthenticator implements Authenticator {
  readonly #stores: UserStore[];
  readonly #compare: CompareFn;

  constructor(stores: UserStore[], compare: CompareFn = (password, hash) => bcrypt.compare(password, hash)) {
    this.#stores = stores;
    this.#compare = compare;
  }

  async authenticate(req: { headers: { authorization?: string } }): Promise<AuthResult | undefined> {
    const credentials = parseBasicAuth(req.headers.authorization);
    if (credentials === undefined) return undefined;
    if (credentials === null) throw new RegistryError("UNAUTHORIZED", BAD_CREDENTIALS);
    if (credentials.user === "" && credentials.password === "") return undefined;
    for (const store of this.#stores) {
      const result = await store.check(credentials.user, credentials.password);
      if (result === "ok") return { user: credentials.user };
      if (result === "wrong") throw new RegistryError("UNAUTHORIZED", BAD_CREDENTIALS);
    }
    await this.#compare(credentials.password, DUMMY_HASH);
    throw new RegistryError("UNAUTHORIZED", BAD_CREDENTIALS);
  }
}
