/**
 * Request limits: rate limits per client IP and per user (token buckets), brute-force protection
 * on failed logins, and the size limit for non-blob request bodies outside /v2. The `limits`
 * config section's schema lives here too (referenced from src/config/config.ts).
 *
 * - Per client IP: every request except /healthz, /readyz and /metrics takes a token from its
 *   address's bucket. Per user: authenticated /v2 requests also take one from the user's bucket,
 *   so one account used from many machines is bounded too. Both are off unless configured.
 * - Refused requests get 429 with the OCI code TOOMANYREQUESTS and a Retry-After (seconds until
 *   the bucket holds a token again), and count in reestr_rate_limited_requests_total.
 * - Failed logins (wrong Basic credentials) are counted per client IP and user name; after
 *   `maxFailures` within `window` that pair is locked out for `lockout`: 429 with Retry-After,
 *   even for the right password, so guessing stops paying. Other IPs and users are unaffected.
 *   A success clears the count. The pipeline runs every authentication through
 *   `RequestLimits.authenticate`; the web login, whose credentials come in a JSON body, asks
 *   `RequestLimits.loginGuard` itself.
 */
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { Duration } from "../util/duration.ts";
import type { Counter, MetricsRegistry } from "../util/prometheus.ts";
import type { Caller } from "./access.ts";
import type { RequestContext } from "./context.ts";
import { parseBasicAuth } from "./credentials.ts";
import { HttpError, lengthRequired, payloadTooLarge, tooManyRequests } from "./errors.ts";
import type { Route } from "./router.ts";

const bucketSetting = z
  .object({
    /** Sustained requests per second. */
    rate: z.number().positive(),
    /** Requests allowed in a burst (the bucket's size). */
    burst: z.number().int().min(1),
  })
  .strict();

export const LimitsSchema = z
  .object({
    /** Per client IP address; absent: unlimited. */
    perClient: bucketSetting.optional(),
    /** Per authenticated user; absent: unlimited. */
    perUser: bucketSetting.optional(),
    /**
     * Expensive operations (scan an upstream registry now, resync a registry, run GC) per caller
     * (user, or client IP for anonymous callers): on by default, so a script cannot turn one
     * request into many scans of someone else's registry.
     */
    expensive: bucketSetting.prefault({ rate: 0.1, burst: 5 }),
    login: z
      .object({
        /** Failed logins per client IP and user name before a lockout; 0 turns it off. */
        maxFailures: z.number().int().min(0).default(10),
        /** Failures older than this are forgotten. */
        window: Duration.prefault("5m"),
        lockout: Duration.prefault("5m"),
      })
      .strict()
      .prefault({}),
    /** Largest request body outside /v2 (JSON APIs, the token endpoint), in bytes. */
    maxBodyBytes: z
      .number()
      .int()
      .min(1)
      .default(1024 * 1024),
    /** Largest request head (request line + headers), in bytes: node's maxHeaderSize. */
    maxHeaderBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(16 * 1024),
    /** A client must send its whole request head within this time (slowloris). */
    headersTimeout: Duration.prefault("30s"),
    /**
     * A connection with no bytes moving either way for this long is closed. Long blob uploads
     * and downloads keep moving bytes, so they are never cut; a stalled client is.
     */
    idleTimeout: Duration.prefault("2m"),
  })
  .strict();

export type LimitsConfig = z.infer<typeof LimitsSchema>;

/** Paths never rate limited: probes and scrapes must keep working under load. */
const EXEMPT = new Set(["/healthz", "/readyz", "/metrics"]);
/** Buckets and failure records kept at most (the oldest idle ones are dropped beyond this). */
const MAX_KEYS = 100_000;

export interface Bucket {
  rate: number;
  burst: number;
}

/** Token buckets by key. `take` answers 0 when allowed, else the seconds until a token is back. */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(bucket: Bucket, now: () => number = Date.now) {
    this.#rate = bucket.rate;
    this.#burst = bucket.burst;
    this.#now = now;
  }

  take(key: string): number {
    const now = this.#now();
    let entry = this.#buckets.get(key);
    if (entry) {
      entry.tokens = Math.min(this.#burst, entry.tokens + ((now - entry.at) / 1000) * this.#rate);
      entry.at = now;
      // Re-insert: Map order doubles as least-recently-used order for pruning.
      this.#buckets.delete(key);
    } else {
      entry = { tokens: this.#burst, at: now };
      if (this.#buckets.size >= MAX_KEYS) this.#prune(now);
    }
    this.#buckets.set(key, entry);
    if (entry.tokens >= 1) {
      entry.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - entry.tokens) / this.#rate));
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Drops buckets that have refilled (equal to absent), then the least recently used if still full. */
  #prune(now: number): void {
    const full = this.#burst / this.#rate;
    for (const [key, entry] of this.#buckets) {
      if ((now - entry.at) / 1000 >= full) this.#buckets.delete(key);
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_KEYS) break;
      this.#buckets.delete(key);
    }
  }
}

export interface LoginGuardOptions {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  now?: () => number;
}

/** Failed-login counting and lockout per client IP and user name. */
export class LoginGuard {
  readonly #options: LoginGuardOptions;
  readonly #now: () => number;
  readonly #records = new Map<string, { failures: number[]; lockedUntil: number }>();

  constructor(options: LoginGuardOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#options.maxFailures > 0;
  }

  /** Seconds the pair stays locked out; 0 when it may try. */
  lockedOutFor(ip: string, user: string): number {
    const record = this.#records.get(key(ip, user));
    if (!record) return 0;
    const left = record.lockedUntil - this.#now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Counts a failure; answers the lockout in seconds when this one triggered it, else 0. */
  recordFailure(ip: string, user: string): number {
    if (!this.enabled) return 0;
    const now = this.#now();
    const id = key(ip, user);
    let record = this.#records.get(id);
    if (!record) {
      if (this.#records.size >= MAX_KEYS) this.#prune(now);
      record = { failures: [], lockedUntil: 0 };
      this.#records.set(id, record);
    }
    const since = now - this.#options.windowMs;
    record.failures = record.failures.filter((at) => at > since);
    record.failures.push(now);
    if (record.failures.length >= this.#options.maxFailures) {
      record.failures = [];
      record.lockedUntil = now + this.#options.lockoutMs;
      return Math.ceil(this.#options.lockoutMs / 1000);
    }
    return 0;
  }

  recordSuccess(ip: string, user: string): void {
    const id = key(ip, user);
    const record = this.#records.get(id);
    if (record && record.lockedUntil <= this.#now()) this.#records.delete(id);
  }

  #prune(now: number): void {
    const since = now - this.#options.windowMs;
    for (const [id, record] of this.#records) {
      if (record.lockedUntil <= now && record.failures.every((at) => at <= since)) this.#records.delete(id);
    }
    for (const id of this.#records.keys()) {
      if (this.#records.size < MAX_KEYS) break;
      this.#records.delete(id);
    }
  }
}

function key(ip: string, user: string): string {
  return `${ip}\0${user}`;
}

/** The client's address as the server saw it (no proxy headers are trusted). */
export function clientIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? "unknown";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

export interface RequestLimitsOptions {
  config: LimitsConfig;
  metrics?: MetricsRegistry;
  now?: () => number;
}

/** The limits one server applies; App calls `admit` first on every request and `authenticate` around auth. */
export class RequestLimits {
  readonly loginGuard: LoginGuard;
  readonly maxBodyBytes: number;
  readonly #perClient: TokenBuckets | undefined;
  readonly #perUser: TokenBuckets | undefined;
  readonly #expensive: TokenBuckets;
  readonly #limited: Counter | undefined;

  constructor(options: RequestLimitsOptions) {
    const { config, now } = options;
    this.#perClient = config.perClient && new TokenBuckets(config.perClient, now);
    this.#perUser = config.perUser && new TokenBuckets(config.perUser, now);
    this.#expensive = new TokenBuckets(config.expensive, now);
    this.loginGuard = new LoginGuard({
      maxFailures: config.login.maxFailures,
      windowMs: config.login.window,
      lockoutMs: config.login.lockout,
      now,
    });
    this.maxBodyBytes = config.maxBodyBytes;
    this.#limited = options.metrics?.counter(
      "reestr_rate_limited_requests_total",
      "Requests refused with 429 by scope: client (per IP), user, login (failed-login lockout), expensive (scans, resyncs, GC).",
    );
    for (const scope of ["client", "user", "login", "expensive"]) this.#limited?.inc(0, { scope });
  }

  /**
   * Per-IP rate limit and, for routes that do not stream their body to storage, the body size
   * limit. Runs before a route's method is checked, so an oversized body is a 413 wherever it is
   * sent. Throws the error to answer with.
   */
  admit(ctx: RequestContext, route: Route | undefined): void {
    if (EXEMPT.has(ctx.path)) return;
    if (this.#perClient) {
      const wait = this.#perClient.take(clientIp(ctx.req));
      if (wait > 0) {
        this.#limited?.inc(1, { scope: "client" });
        throw tooManyRequests("too many requests from this address", wait);
      }
    }
    // The registry API has its own rules (blobs stream, manifests have the spec's limit).
    if (route?.streamsBody || route?.format === "oci") return;
    const length = ctx.req.headers["content-length"];
    if (length !== undefined) {
      // node enforces the framing: a body never runs past its Content-Length.
      if (Number(length) > this.maxBodyBytes) {
        throw payloadTooLarge(`request body larger than ${this.maxBodyBytes} bytes`);
      }
    } else if (ctx.req.headers["transfer-encoding"] !== undefined) {
      throw lengthRequired("a request body here needs a Content-Length");
    }
  }

  /** The per-caller bucket of expensive operations (scan now, resync, GC). */
  admitExpensive(ctx: RequestContext): void {
    const key = ctx.caller.user === undefined ? `ip:${clientIp(ctx.req)}` : `user:${ctx.caller.user}`;
    const wait = this.#expensive.take(key);
    if (wait > 0) {
      this.#limited?.inc(1, { scope: "expensive" });
      throw tooManyRequests("too many expensive requests (scans, resyncs, GC); try again later", wait);
    }
  }

  /**
   * Runs the auth check with lockout and per-user limits around it: a locked-out IP+user pair is
   * refused before its password is even checked; wrong Basic credentials count as a failed login.
   * `perUser: false` for checks that answer the request themselves (the token endpoint): the
   * per-user bucket could only be taken after the response is sent.
   */
  async authenticate(
    ctx: RequestContext,
    check: () => Promise<Caller>,
    options: { perUser?: boolean } = {},
  ): Promise<Caller> {
    const ip = clientIp(ctx.req);
    const claimed = this.loginGuard.enabled ? basicUser(ctx.req) : undefined;
    if (claimed !== undefined) {
      const locked = this.loginGuard.lockedOutFor(ip, claimed);
      if (locked > 0) {
        this.#limited?.inc(1, { scope: "login" });
        throw tooManyRequests("too many failed logins; try again later", locked);
      }
    }
    let caller: Caller;
    try {
      caller = await check();
    } catch (error) {
      if (claimed !== undefined && error instanceof HttpError && error.status === 401) {
        this.loginGuard.recordFailure(ip, claimed);
      }
      throw error;
    }
    const user = caller.user;
    if (claimed !== undefined && user !== undefined) this.loginGuard.recordSuccess(ip, claimed);
    if (user !== undefined && this.#perUser && options.perUser !== false) {
      const wait = this.#perUser.take(user);
      if (wait > 0) {
        this.#limited?.inc(1, { scope: "user" });
        throw tooManyRequests("too many requests for this user", wait);
      }
    }
    return caller;
  }
}

/** The user name of Basic credentials, undefined without them (or for skopeo's empty `Basic Og==`). */
function basicUser(req: IncomingMessage): string | undefined {
  const credentials = parseBasicAuth(req.headers.authorization);
  if (!credentials || (credentials.user === "" && credentials.password === "")) return undefined;
  return credentials.user;
}
