/**
 * htpasswd files as Apache's `htpasswd -B` writes them: one `user:hash` line per user, bcrypt
 * hashes only (`$2y$`, `$2a$`, `$2b$`). Other kinds (MD5 `$apr1$`, SHA1 `{SHA}`, crypt, plain)
 * are refused with the line that holds them, so a file never half-works. Writes are atomic
 * (temp file in the same directory, then rename) so a running server never reads half a file.
 *
 * `HtpasswdFile` verifies passwords against such a file, reloading it when it changes on disk and
 * caching verified credentials briefly (user + sha256 of the password, never the password
 * itself) so bcrypt's deliberate slowness is not paid on every request of a push.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import bcrypt from "bcryptjs";
import { ConfigError } from "../util/config-error.ts";
import { LruCache } from "../util/lru-cache.ts";

const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
/** Names as htpasswd accepts them: no colon, no control characters, at most 255 bytes. */
const USER_NAME = /^[^:\s\p{Cc}]{1,255}$/u;

export const DEFAULT_BCRYPT_COST = 10;

/** Users in file order, name → bcrypt hash. */
export type HtpasswdEntries = Map<string, string>;

export function validateUserName(name: string): void {
  if (!USER_NAME.test(name) || Buffer.byteLength(name) > 255) {
    throw new ConfigError(
      `invalid user name "${name.slice(0, 64)}": 1 to 255 characters, no colon, space or control characters`,
    );
  }
}

/** Parses htpasswd text; `source` names the file in errors. Blank lines and `#` comments are skipped. */
export function parseHtpasswd(text: string, source = "htpasswd"): HtpasswdEntries {
  const entries: HtpasswdEntries = new Map();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${source}:${i + 1}`;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new ConfigError(`${where}: expected "user:hash"`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    try {
      validateUserName(user);
    } catch (error) {
      throw new ConfigError(`${where}: ${(error as Error).message}`);
    }
    if (!BCRYPT_HASH.test(hash)) {
      throw new ConfigError(
        `${where}: user "${user}" has a ${hashKind(hash)} hash; only bcrypt ($2y$, $2a$, $2b$) is accepted — ` +
          `reset it with \`reestr user passwd ${user}\` or \`htpasswd -B\``,
      );
    }
    if (entries.has(user)) throw new ConfigError(`${where}: user "${user}" appears twice`);
    entries.set(user, hash);
  }
  return entries;
}

/** Names the kind of a refused hash without echoing it. */
function hashKind(hash: string): string {
  if (hash.startsWith("$apr1$")) return "MD5 ($apr1$)";
  if (hash.startsWith("{SHA}")) return "SHA1 ({SHA})";
  if (hash.startsWith("$5$")) return "SHA-256 crypt ($5$)";
  if (hash.startsWith("$6$")) return "SHA-512 crypt ($6$)";
  if (hash.startsWith("$2")) return "malformed bcrypt";
  if (hash === "") return "empty";
  return "non-bcrypt (crypt or plain text)";
}

export function formatHtpasswd(entries: HtpasswdEntries): string {
  let text = "";
  for (const [user, hash] of entries) text += `${user}:${hash}\n`;
  return text;
}

/** Reads and parses the file; a missing file is an empty one when `missingOk`. */
export async function readHtpasswd(path: string, { missingOk = false } = {}): Promise<HtpasswdEntries> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      if (missingOk) return new Map();
      throw new ConfigError(`htpasswd file ${path} does not exist (create users with \`reestr user add\`)`);
    }
    throw new ConfigError(`cannot read htpasswd file ${path}: ${(error as Error).message}`);
  }
  return parseHtpasswd(text, path);
}

/**
 * Writes atomically: a temp file beside the target, fsynced, renamed over it. A new file gets
 * mode 0600; an existing one keeps its mode (e.g. 0640 for a group the server runs in).
 */
export async function writeHtpasswd(path: string, entries: HtpasswdEntries): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const mode = ((await stat(path).catch(() => undefined))?.mode ?? 0o600) & 0o777;
  const handle = await open(temp, "wx", mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(formatHtpasswd(entries), "utf8");
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** A bcrypt hash in htpasswd's `$2y$` form (the same algorithm as bcryptjs's `$2b$`). */
export async function hashPassword(password: string, cost = DEFAULT_BCRYPT_COST): Promise<string> {
  const hash = await bcrypt.hash(password, cost);
  return `$2y$${hash.slice(4)}`;
}

export type CompareFn = (password: string, hash: string) => Promise<boolean>;

export interface HtpasswdFileOptions {
  /** How long a verified user + password is trusted without bcrypt (default 60 s). */
  cacheTtlMs?: number;
  /** Most cached credentials kept (default 1000, least recently used dropped). */
  cacheSize?: number;
  /** Least time between checks of the file's mtime (default 1 s; 0 checks on every verify). */
  statIntervalMs?: number;
  /** The bcrypt comparison (tests count calls). */
  compare?: CompareFn;
  now?: () => number;
  /** Called when a changed file cannot be loaded; the previous users stay in force. */
  onReloadError?: (error: Error) => void;
}

/** A hash no password matches, compared for unknown users so they take as long as known ones. */
const DUMMY_HASH = "$2y$10$x5V0.EcGpvOLQtvOWcopPeac3PvRBHikY5mK5bczeKzxNh94T8Api";

/** Verifies users against an htpasswd file, reloaded when its mtime changes. */
export class HtpasswdFile {
  readonly path: string;
  readonly #ttlMs: number;
  readonly #statIntervalMs: number;
  readonly #compare: CompareFn;
  readonly #now: () => number;
  readonly #onReloadError: ((error: Error) => void) | undefined;
  readonly #cache: LruCache<string, { hash: string; expiresAt: number }>;
  #entries: HtpasswdEntries = new Map();
  #stamp = "";
  #checkedAt = Number.NEGATIVE_INFINITY;
  #reloading: Promise<void> | undefined;
  #lastError = "";

  constructor(path: string, options: HtpasswdFileOptions = {}) {
    this.path = path;
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
    this.#statIntervalMs = options.statIntervalMs ?? 1000;
    this.#compare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));
    this.#now = options.now ?? Date.now;
    this.#onReloadError = options.onReloadError;
    this.#cache = new LruCache(options.cacheSize ?? 1000);
  }

  /** Loads the file; throws ConfigError when it is missing or invalid (use at startup). */
  async load(): Promise<this> {
    const info = await stat(this.path).catch(() => undefined);
    this.#entries = await readHtpasswd(this.path);
    this.#stamp = info ? stampOf(info) : "";
    this.#checkedAt = this.#now();
    return this;
  }

  get users(): string[] {
    return [...this.#entries.keys()];
  }

  /** Whether the file (as it is now on disk, re-read when it changed) has the user. */
  async exists(user: string): Promise<boolean> {
    await this.#refresh();
    return this.#entries.has(user);
  }

  /** True when the password is the user's. Never throws for a wrong user or password. */
  async verify(user: string, password: string): Promise<boolean> {
    const result = await this.check(user, password);
    if (result === "unknown") await this.#compare(password, DUMMY_HASH);
    return result === "ok";
  }

  /** As a user store: "unknown" when the file has no such user (no dummy comparison then). */
  async check(user: string, password: string): Promise<"ok" | "wrong" | "unknown"> {
    await this.#refresh();
    const hash = this.#entries.get(user);
    if (hash === undefined) return "unknown";
    const key = `${user}\0${createHash("sha256").update(password).digest("hex")}`;
    const cached = this.#cache.get(key);
    const now = this.#now();
    // A cached success counts only while the user's hash is the one it was verified against.
    if (cached && cached.hash === hash && cached.expiresAt > now) return "ok";
    if (cached) this.#cache.delete(key);
    if (!(await this.#compare(password, hash))) return "wrong";
    this.#cache.set(key, { hash, expiresAt: now + this.#ttlMs });
    return "ok";
  }

  async #refresh(): Promise<void> {
    const now = this.#now();
    if (now - this.#checkedAt < this.#statIntervalMs) return;
    this.#checkedAt = now;
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    await this.#reloading;
  }

  async #reload(): Promise<void> {
    try {
      const info = await stat(this.path);
      const stamp = stampOf(info);
      if (stamp === this.#stamp) return;
      this.#entries = await readHtpasswd(this.path);
      this.#stamp = stamp;
      this.#lastError = "";
    } catch (error) {
      // Reported once per distinct problem, not on every check.
      const message = (error as Error).message;
      if (message !== this.#lastError) this.#onReloadError?.(error as Error);
      this.#lastError = message;
    }
  }
}

function stampOf(info: { mtimeMs: number; size: number; ino: number }): string {
  return `${info.mtimeMs}:${info.size}:${info.ino}`;
}
