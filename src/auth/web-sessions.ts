/**
 * Web sessions and personal access tokens (issue 5 §3), kept in `<data>/auth.sqlite`.
 *
 * - A session is what the web catalogue's login creates: a random 256-bit id in an httpOnly,
 *   SameSite=Strict cookie (Secure under TLS). Only the SHA-256 of the id is stored, so a copy of
 *   the database does not hand out live sessions. Each session carries its own CSRF token, which
 *   state-changing requests must echo in the `X-CSRF-Token` header (cookies alone never authorize
 *   a change: a form on another site can send the cookie, not the header). Sessions expire after
 *   an idle time and an absolute lifetime.
 * - A personal access token is what automation uses instead of a password: `rst_` + 32 random
 *   bytes, shown once at creation, stored hashed, with a name, an optional expiry and optional
 *   actions it is limited to. It works as the password of basic auth on /v2 and on the token
 *   endpoint (`docker login -u alice -p rst_…`), for its owner only, and can be revoked.
 *
 * Why not Better Auth (seed 004's suggestion): it supports node:sqlite, but it brings its own
 * user, account and password tables, so users would live twice (htpasswd for `docker login`,
 * which must stay `htpasswd -B` compatible, and Better Auth's store), and every check on a
 * node:http request would go through a Fetch Request conversion. What Reestr needs — sessions,
 * CSRF, personal tokens over the existing users — is this one small module.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { ConfigError } from "../util/config-error.ts";
import { SqliteFile } from "../util/sqlite.ts";

export const SESSION_COOKIE = "reestr_session";
export const CSRF_HEADER = "x-csrf-token";
export const PERSONAL_TOKEN_PREFIX = "rst_";

export type TokenAction = "pull" | "push" | "delete";
const TOKEN_ACTIONS: readonly TokenAction[] = ["pull", "push", "delete"];

export interface Session {
  user: string;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewSession extends Session {
  /** The cookie value: given to the browser once, never stored. */
  id: string;
}

export interface PersonalToken {
  id: string;
  user: string;
  name: string;
  /** Actions the token is limited to; undefined: whatever its owner may do. */
  actions?: TokenAction[];
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

export interface SessionOptions {
  /** Idle time after which a session ends (ms). Default 12 h. */
  idleMs?: number;
  /** Absolute lifetime (ms). Default 7 days. */
  lifetimeMs?: number;
  now?: () => Date;
}

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user);
CREATE TABLE IF NOT EXISTS personal_tokens (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  actions TEXT,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER,
  last_used_ms INTEGER,
  UNIQUE (user, name)
) WITHOUT ROWID;
`;

const DAY_MS = 86_400_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Writing last-used on every request would make each pull a write; once a minute is enough. */
const LAST_USED_GRANULARITY_MS = 60_000;

function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export class AuthStore {
  readonly #file: SqliteFile;
  readonly #idleMs: number;
  readonly #lifetimeMs: number;
  readonly #now: () => Date;

  constructor(path: string, options: SessionOptions = {}) {
    this.#file = new SqliteFile(path, {
      name: "auth",
      schema: SCHEMA,
      schemaVersion: SCHEMA_VERSION,
      synchronous: "full",
    });
    this.#idleMs = options.idleMs ?? 12 * 3_600_000;
    this.#lifetimeMs = options.lifetimeMs ?? 7 * DAY_MS;
    this.#now = options.now ?? (() => new Date());
  }

  static inDataDir(dataDir: string, options?: SessionOptions): AuthStore {
    return new AuthStore(join(dataDir, "auth.sqlite"), options);
  }

  // Sessions

  createSession(user: string): NewSession {
    const id = randomToken();
    const csrfToken = randomToken();
    const now = this.#now().getTime();
    const expires = now + this.#lifetimeMs;
    this.#file
      .sql(
        "INSERT INTO sessions (id_hash, user, csrf, created_ms, last_seen_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(sha256(id), user, csrfToken, now, now, expires);
    this.#sweep(now);
    return { id, user, csrfToken, createdAt: new Date(now), expiresAt: new Date(expires) };
  }

  /** The live session for a cookie value (its idle clock restarted), or undefined. */
  session(id: string | undefined): Session | undefined {
    if (!id || id.length > 100) return undefined;
    const now = this.#now().getTime();
    const row = this.#file.sql("SELECT * FROM sessions WHERE id_hash = ?").get(sha256(id));
    if (!row) return undefined;
    if (Number(row.expires_ms) <= now || Number(row.last_seen_ms) + this.#idleMs <= now) {
      this.#file.sql("DELETE FROM sessions WHERE id_hash = ?").run(sha256(id));
      return undefined;
    }
    if (now - Number(row.last_seen_ms) >= LAST_USED_GRANULARITY_MS) {
      this.#file.sql("UPDATE sessions SET last_seen_ms = ? WHERE id_hash = ?").run(now, sha256(id));
    }
    return {
      user: String(row.user),
      csrfToken: String(row.csrf),
      createdAt: new Date(Number(row.created_ms)),
      expiresAt: new Date(Number(row.expires_ms)),
    };
  }

  endSession(id: string | undefined): void {
    if (id) this.#file.sql("DELETE FROM sessions WHERE id_hash = ?").run(sha256(id));
  }

  /** Ends every session of a user (password changed, user removed). */
  endSessionsOf(user: string): number {
    return Number(this.#file.sql("DELETE FROM sessions WHERE user = ?").run(user).changes);
  }

  #sweep(now: number): void {
    this.#file
      .sql("DELETE FROM sessions WHERE expires_ms <= ? OR last_seen_ms + ? <= ?")
      .run(now, this.#idleMs, now);
  }

  // Personal access tokens

  /** Creates a token; the returned `secret` is shown once and never again. */
  createToken(
    user: string,
    name: string,
    options: { actions?: TokenAction[]; expiresInDays?: number } = {},
  ): { token: PersonalToken; secret: string } {
    if (!NAME.test(name)) {
      throw new ConfigError(
        "name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
      );
    }
    const actions = options.actions === undefined ? undefined : [...new Set(options.actions)];
    if (actions?.some((action) => !TOKEN_ACTIONS.includes(action)) || actions?.length === 0) {
      throw new ConfigError(`actions: a non-empty list of ${TOKEN_ACTIONS.join(", ")}`);
    }
    const days = options.expiresInDays;
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 3650)) {
      throw new ConfigError("expiresInDays: a whole number of days from 1 to 3650");
    }
    const exists = this.#file
      .sql("SELECT 1 FROM personal_tokens WHERE user = ? AND name = ?")
      .get(user, name);
    if (exists) throw new ConfigError(`name: ${user} already has a token named "${name}"`);
    const id = randomToken(9);
    const secret = `${PERSONAL_TOKEN_PREFIX}${randomToken()}`;
    const now = this.#now().getTime();
    const expires = days === undefined ? null : now + days * DAY_MS;
    this.#file
      .sql(
        "INSERT INTO personal_tokens (id, user, name, secret_hash, actions, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .run(id, user, name, sha256(secret), actions ? JSON.stringify(actions) : null, now, expires);
    return {
      token: this.#tokenFromRow(this.#file.sql("SELECT * FROM personal_tokens WHERE id = ?").get(id)!),
      secret,
    };
  }

  /**
   * The token a secret belongs to, if it is live and its owner is `user` (when given). The hash
   * lookup is exact; the owner comparison is constant-time so a probe learns nothing from timing.
   */
  verifyToken(secret: string, user?: string): PersonalToken | undefined {
    if (!secret.startsWith(PERSONAL_TOKEN_PREFIX) || secret.length > 100) return undefined;
    const row = this.#file.sql("SELECT * FROM personal_tokens WHERE secret_hash = ?").get(sha256(secret));
    if (!row) return undefined;
    const now = this.#now().getTime();
    if (row.expires_ms !== null && Number(row.expires_ms) <= now) return undefined;
    if (user !== undefined) {
      const owner = Buffer.from(String(row.user));
      const given = Buffer.from(user);
      if (owner.length !== given.length || !timingSafeEqual(owner, given)) return undefined;
    }
    if (row.last_used_ms === null || now - Number(row.last_used_ms) >= LAST_USED_GRANULARITY_MS) {
      this.#file.sql("UPDATE personal_tokens SET last_used_ms = ? WHERE id = ?").run(now, String(row.id));
      row.last_used_ms = now;
    }
    return this.#tokenFromRow(row);
  }

  tokens(user: string): PersonalToken[] {
    return this.#file
      .sql("SELECT * FROM personal_tokens WHERE user = ? ORDER BY created_ms, name")
      .all(user)
      .map((row) => this.#tokenFromRow(row));
  }

  /** Revokes a token of `user` by id; false when there is no such token. */
  revokeToken(user: string, id: string): boolean {
    return (
      Number(this.#file.sql("DELETE FROM personal_tokens WHERE user = ? AND id = ?").run(user, id).changes) >
      0
    );
  }

  /** Removes every session and token of a user (the user was deleted). */
  forgetUser(user: string): void {
    this.#file.transaction(() => {
      this.#file.sql("DELETE FROM sessions WHERE user = ?").run(user);
      this.#file.sql("DELETE FROM personal_tokens WHERE user = ?").run(user);
    });
  }

  close(): void {
    this.#file.close();
  }

  #tokenFromRow(row: Record<string, unknown>): PersonalToken {
    const token: PersonalToken = {
      id: String(row.id),
      user: String(row.user),
      name: String(row.name),
      createdAt: new Date(Number(row.created_ms)).toISOString(),
    };
    if (row.actions !== null && row.actions !== undefined) token.actions = JSON.parse(String(row.actions));
    if (row.expires_ms !== null && row.expires_ms !== undefined) {
      token.expiresAt = new Date(Number(row.expires_ms)).toISOString();
    }
    if (row.last_used_ms !== null && row.last_used_ms !== undefined) {
      token.lastUsedAt = new Date(Number(row.last_used_ms)).toISOString();
    }
    return token;
  }
}

// Cookies and CSRF

/** The value of one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session: httpOnly (no script reads it), SameSite=Strict, Secure under TLS. */
export function sessionCookie(session: NewSession, secure: boolean, now = new Date()): string {
  const maxAge = Math.max(0, Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000));
  return [
    `${SESSION_COOKIE}=${session.id}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${maxAge}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

export function clearedSessionCookie(secure: boolean): string {
  return [
    `${SESSION_COOKIE}=`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    "Max-Age=0",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

/**
 * Whether a state-changing request made with a session may proceed: the `X-CSRF-Token` header
 * must equal the session's token, and an Origin header, when the browser sends one, must be
 * this server's own.
 */
export function csrfAllows(
  session: { readonly csrfToken: string },
  headers: { origin?: string; host?: string; csrf?: string },
): { ok: true } | { ok: false; reason: string } {
  if (headers.origin !== undefined && headers.origin !== "null") {
    let originHost: string;
    try {
      originHost = new URL(headers.origin).host;
    } catch {
      return { ok: false, reason: "malformed Origin header" };
    }
    if (originHost !== headers.host) return { ok: false, reason: "cross-origin request refused" };
  }
  const given = Buffer.from(headers.csrf ?? "");
  const expected = Buffer.from(session.csrfToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: `missing or wrong ${CSRF_HEADER} header` };
  }
  return { ok: true };
}
