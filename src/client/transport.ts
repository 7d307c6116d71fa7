/**
 * The HTTP layer under RegistryClient: keep-alive agents, base URL handling, redirects, timeouts
 * and authentication (anonymous, basic, bearer tokens from a `WWW-Authenticate` challenge).
 *
 * Auth is learnt from the registry's first 401: after a Basic challenge credentials are sent up
 * front; after a Bearer challenge tokens are fetched per repository scope and cached. A request
 * whose body is a one-shot stream cannot be replayed after a 401, so before sending one we make
 * sure a valid token for its scope is already in hand.
 */

import { readFileSync } from "node:fs";
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { rootCertificates } from "node:tls";
import {
  type AuthChallenge,
  basicAuthorization,
  mergeScopes,
  parseAuthChallenges,
  parseTokenResponse,
  repositoryScope,
  TokenCache,
} from "./auth.ts";
import type { CredentialSource } from "./credentials.ts";
import { errorFromResponse, RegistryClientError } from "./errors.ts";
import {
  backoffDelay,
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BASE_DELAY_MS,
  DEFAULT_RETRY_MAX_DELAY_MS,
  isRetryableNetworkError,
  isRetryableStatus,
  type RateLimit,
  type RetryOptions,
  rateLimitFrom,
  sleep,
} from "./retry.ts";

export interface TransportOptions extends RetryOptions {
  baseUrl: string;
  /** Explicit credentials; they win over `credentials`. */
  username?: string;
  password?: string;
  /** Where to look up credentials for the registry's host when none are given explicitly. */
  credentials?: CredentialSource;
  /** Accept self-signed or otherwise unverifiable TLS certificates (same as `insecure`). */
  insecureSkipVerify?: boolean;
  /** Deprecated spelling of `insecureSkipVerify`. */
  insecure?: boolean;
  /** Extra CA certificates (PEM), trusted in addition to Node's built-in roots. */
  ca?: string | Buffer | (string | Buffer)[];
  /** A PEM file of extra CA certificates, read once when the client is made. */
  caFile?: string;
  /**
   * Allow plain-HTTP to a non-loopback host (base URL or redirect). Loopback hosts
   * (localhost, 127.0.0.0/8, ::1) may always use http.
   */
  allowHttp?: boolean;
  /** Socket idle timeout; a transfer that makes progress never times out. Default 60 s. */
  timeoutMs?: number;
  /** Extra headers on every request (User-Agent, …). */
  headers?: Record<string, string>;
}

export interface SendOptions {
  method: string;
  /** A path under the base URL (`/v2/...`) or an absolute URL (upload Locations, redirects). */
  path: string;
  headers?: Record<string, string>;
  /** A Buffer can be re-sent after an auth challenge; a stream only once. */
  body?: Buffer | Readable;
  /** The repository the request acts on, for token scopes; "catalog" for `/v2/_catalog`. */
  scope?: { repository: string; actions: string[] } | { catalog: true };
  /** Statuses that count as success; anything else raises RegistryClientError. */
  expect: number[];
  /** Error code when a failure has no body to read one from (HEAD 404 → BLOB_UNKNOWN). */
  fallbackCode?: string;
  /**
   * Whether repeating the request is harmless, so transient failures may be retried. Default:
   * true for GET, HEAD and DELETE, false otherwise (a manifest PUT opts in). A streamed body is
   * never retried, whatever this says.
   */
  idempotent?: boolean;
  /**
   * Cancels the request: an abort destroys the request in flight (or the response body being
   * read), ends any retry wait at once, and rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /**
   * Send the username and password (Basic) whatever the registry's /v2/ challenge said: Reestr's
   * own API takes them in token mode too, where a bearer token would carry only the grants of
   * its repository scopes, not the user's rights (an administrator's, for /api/admin).
   */
  basicAuth?: boolean;
}

/** Loopback hosts, which may use plain HTTP without `allowHttp`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const MAX_REDIRECTS = 5;
const MAX_ERROR_BODY = 64 * 1024;

export class Transport {
  readonly base: URL;
  private readonly options: TransportOptions;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly tokens = new TokenCache();
  /** What the registry asked for; undefined until its first 401. */
  private scheme: "basic" | "bearer" | undefined;
  private bearer: { realm: string; service: string } | undefined;
  /** The widest scope already obtained per resource key, so tokens grow (pull → pull,push). */
  private readonly scopes = new Map<string, string>();
  private readonly username: string | undefined;
  private readonly password: string | undefined;
  private readonly tls: { rejectUnauthorized: boolean; ca?: (string | Buffer)[] };
  /** The rate-limit headers of the latest response that carried any. */
  lastRateLimit: RateLimit | undefined;

  constructor(options: TransportOptions) {
    this.options = options;
    this.base = new URL(options.baseUrl.replace(/\/+$/, ""));
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") {
      throw new Error(`registry URL must be http or https: ${options.baseUrl}`);
    }
    this.checkScheme(this.base);
    if (options.username !== undefined) {
      this.username = options.username;
      this.password = options.password;
    } else {
      const found = options.credentials?.credentialsFor(this.base.host);
      this.username = found?.username;
      this.password = found?.password;
    }
    const extra: (string | Buffer)[] = [];
    if (options.ca !== undefined) extra.push(...(Array.isArray(options.ca) ? options.ca : [options.ca]));
    if (options.caFile !== undefined) extra.push(readFileSync(options.caFile));
    this.tls = {
      rejectUnauthorized: !(options.insecureSkipVerify || options.insecure),
      ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}),
    };
    const agentOptions = { keepAlive: true, maxSockets: 32, maxFreeSockets: 16 };
    this.agent =
      this.base.protocol === "https:"
        ? new HttpsAgent({ ...agentOptions, ...this.tls })
        : new HttpAgent(agentOptions);
  }

  /** Refuses plain HTTP to a non-loopback host unless `allowHttp` says otherwise. */
  private checkScheme(url: URL): void {
    if (url.protocol === "http:" && !this.options.allowHttp && !isLoopbackHost(url.hostname)) {
      throw new RegistryClientError({
        status: 0,
        code: "INSECURE_HTTP",
        message: `refusing plain HTTP to ${url.host}: use https, or set allowHttp (--insecure) to allow it`,
        method: "CONNECT",
        url: url.toString(),
      });
    }
  }

  url(path: string): URL {
    if (/^https?:\/\//i.test(path)) return new URL(path);
    if (path.startsWith("/")) {
      const prefix = this.base.pathname.replace(/\/+$/, "");
      return new URL(`${prefix}${path}`, this.base);
    }
    return new URL(path, this.base);
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * Sends a request and returns the response for an expected status (the caller consumes the
   * body). Unexpected statuses become RegistryClientError with the registry's error envelope.
   */
  async send(options: SendOptions): Promise<IncomingMessage> {
    const streaming = options.body instanceof Readable;
    const idempotent = options.idempotent ?? ["GET", "HEAD", "DELETE"].includes(options.method);
    const retries = streaming || !idempotent ? 0 : Math.max(0, this.options.retries ?? DEFAULT_RETRIES);
    const baseDelay = this.options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
    const maxDelay = this.options.retryMaxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS;
    const signal = options.signal;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let delay: number;
      let fromRetryAfter = false;
      let status: number | undefined;
      let errorCode: string | undefined;
      try {
        return await this.sendOnce(options);
      } catch (error) {
        // Cancelled: the reason, never a retry (whatever error the destroyed socket produced).
        signal?.throwIfAborted();
        if (error instanceof RegistryClientError) error.attempts = attempt;
        const retryableStatus = error instanceof RegistryClientError && isRetryableStatus(error.status);
        if (attempt > retries || !(retryableStatus || isRetryableNetworkError(error))) throw error;
        if (error instanceof RegistryClientError) {
          status = error.status;
          if (error.retryAfterMs !== undefined) {
            // A server asking for longer than we are willing to wait: give up now, with its answer.
            if (error.retryAfterMs > maxDelay) throw error;
            delay = error.retryAfterMs;
            fromRetryAfter = true;
          } else {
            delay = backoffDelay(attempt, baseDelay, maxDelay);
          }
        } else {
          errorCode = (error as NodeJS.ErrnoException).code;
          delay = backoffDelay(attempt, baseDelay, maxDelay);
        }
      }
      this.options.onRetry?.({
        method: options.method,
        url: this.url(options.path).toString(),
        attempt,
        delayMs: delay,
        status,
        errorCode,
        fromRetryAfter,
      });
      await sleep(delay, signal);
    }
  }

  /** One attempt: the request, an auth round trip if challenged, and the status check. */
  private async sendOnce(options: SendOptions): Promise<IncomingMessage> {
    const streaming = options.body instanceof Readable;
    if (streaming) await this.ensureToken(options.scope, options.signal);
    const authorization = () =>
      options.basicAuth && this.username !== undefined
        ? basicAuthorization(this.username, this.password ?? "")
        : this.authorization(options.scope);
    let response = await this.sendFollowing(options, authorization());
    if (response.statusCode === 401 && !options.expect.includes(401)) {
      const challenges = parseAuthChallenges(response.headers["www-authenticate"]);
      const learnt = await this.answerChallenges(challenges, options.scope, options.signal);
      if (learnt && !streaming) {
        await drain(response);
        response = await this.sendFollowing(options, authorization());
      }
    }
    if (!options.expect.includes(response.statusCode ?? 0)) {
      let body: Buffer = Buffer.alloc(0);
      // A HEAD has no body, but the response must still end for its socket to be reused.
      if (options.method === "HEAD") await drain(response);
      else body = await readLimited(response, MAX_ERROR_BODY);
      throw errorFromResponse(
        options.method,
        this.url(options.path).toString(),
        response.statusCode ?? 0,
        body,
        options.fallbackCode,
        response.headers,
      );
    }
    return response;
  }

  /** GET/HEAD follow redirects (blob storage behind a CDN); the Authorization stays on our host. */
  private async sendFollowing(
    options: SendOptions,
    authorization: string | undefined,
  ): Promise<IncomingMessage> {
    let url = this.url(options.path);
    const follow = options.method === "GET" || options.method === "HEAD";
    for (let hop = 0; ; hop++) {
      const sameHost = url.host === this.base.host;
      const response = await this.once(options, url, sameHost ? authorization : undefined);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (
        !follow ||
        !location ||
        ![301, 302, 303, 307, 308].includes(status) ||
        options.expect.includes(status)
      ) {
        return response;
      }
      if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects fetching ${this.url(options.path)}`);
      await drain(response);
      url = new URL(location, url);
      this.checkScheme(url);
    }
  }

  private once(options: SendOptions, url: URL, authorization: string | undefined): Promise<IncomingMessage> {
    const signal = options.signal;
    signal?.throwIfAborted();
    const headers: Record<string, string> = { ...this.options.headers, ...options.headers };
    if (authorization) headers.authorization = authorization;
    if (Buffer.isBuffer(options.body)) headers["content-length"] = String(options.body.length);
    else if (options.body === undefined && !["GET", "HEAD", "DELETE"].includes(options.method)) {
      headers["content-length"] ??= "0";
    }
    const requester = url.protocol === "https:" ? httpsRequest : httpRequest;
    // Another host (a redirect target) gets a fresh connection, not our pooled agent's.
    const agent = url.host === this.base.host ? this.agent : undefined;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = requester(url, {
        method: options.method,
        headers,
        agent,
        timeout: this.options.timeoutMs ?? 60_000,
        ...this.tls,
      });
      let answered = false;
      let current: IncomingMessage | undefined;
      // An abort destroys the request, or once answered the response body the caller reads.
      const onAbort = () => {
        if (current) current.destroy(signal?.reason);
        else req.destroy(signal?.reason);
      };
      const release = () => signal?.removeEventListener("abort", onAbort);
      if (signal) {
        signal.addEventListener("abort", onAbort, { once: true });
        req.once("close", () => {
          if (!current) release();
        });
      }
      req.on("response", (response) => {
        answered = true;
        if (signal) {
          current = response;
          response.once("close", release);
          response.once("end", release);
        }
        const rateLimit = rateLimitFrom(response.headers);
        if (rateLimit) this.lastRateLimit = rateLimit;
        resolve(response);
      });
      req.on("timeout", () =>
        req.destroy(Object.assign(new Error(`timed out: ${options.method} ${url}`), { code: "ETIMEDOUT" })),
      );
      req.on("error", (error) => {
        if (!answered) reject(error);
      });
      if (options.body instanceof Readable) {
        // If the server answers early (an error) it may close the socket mid-body: the
        // response is what matters then, so a write error after it is ignored.
        pipeline(options.body, req).catch((error: Error) => {
          if (!answered) reject(error);
        });
      } else {
        req.end(options.body);
      }
    });
  }

  private scopeKey(scope: SendOptions["scope"]): string {
    if (!scope) return "";
    return "catalog" in scope ? "registry:catalog" : `repository:${scope.repository}`;
  }

  private scopeString(scope: SendOptions["scope"]): string | undefined {
    if (!scope) return undefined;
    return "catalog" in scope ? "registry:catalog:*" : repositoryScope(scope.repository, scope.actions);
  }

  /** The Authorization header for a request, from what earlier challenges taught us. */
  private authorization(scope: SendOptions["scope"]): string | undefined {
    const { username, password } = this;
    if (this.scheme === "basic" && username !== undefined)
      return basicAuthorization(username, password ?? "");
    if (this.scheme === "bearer" && this.bearer) {
      const granted = this.scopes.get(this.scopeKey(scope)) ?? this.scopes.get("");
      if (granted === undefined) return undefined;
      const token = this.tokens.get(this.bearer.realm, this.bearer.service, granted);
      return token ? `Bearer ${token}` : undefined;
    }
    return undefined;
  }

  /** Before a one-shot streamed body: fetch a token now if we know one will be needed. */
  private async ensureToken(scope: SendOptions["scope"], signal: AbortSignal | undefined): Promise<void> {
    if (this.scheme !== "bearer" || !this.bearer) return;
    const key = this.scopeKey(scope);
    const wanted = mergeScopes(this.scopes.get(key), this.scopeString(scope));
    if (this.tokens.get(this.bearer.realm, this.bearer.service, wanted) && this.scopes.get(key) === wanted)
      return;
    await this.fetchToken(this.bearer.realm, this.bearer.service, wanted, signal);
    this.scopes.set(key, wanted);
  }

  /** Learns from a 401's challenges; returns true when a retry may now succeed. */
  private async answerChallenges(
    challenges: AuthChallenge[],
    scope: SendOptions["scope"],
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer?.params.realm) {
      const realm = bearer.params.realm;
      const service = bearer.params.service ?? "";
      const key = this.scopeKey(scope);
      const wanted = mergeScopes(bearer.params.scope, this.scopes.get(key), this.scopeString(scope));
      await this.fetchToken(realm, service, wanted, signal);
      this.scheme = "bearer";
      this.bearer = { realm, service };
      this.scopes.set(key, wanted);
      return true;
    }
    const basic = challenges.find((c) => c.scheme === "basic");
    if (basic && this.username !== undefined && this.scheme !== "basic") {
      this.scheme = "basic";
      return true;
    }
    return false;
  }

  private async fetchToken(
    realm: string,
    service: string,
    scope: string,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const cached = this.tokens.get(realm, service, scope);
    if (cached) return cached;
    const url = new URL(realm);
    if (service) url.searchParams.set("service", service);
    for (const item of scope.split(" ").filter(Boolean)) url.searchParams.append("scope", item);
    const headers: Record<string, string> = {};
    if (this.username !== undefined) {
      headers.authorization = basicAuthorization(this.username, this.password ?? "");
    }
    const response = await this.once(
      { method: "GET", path: url.toString(), headers, expect: [200], signal },
      url,
      undefined,
    );
    const body = await readLimited(response, 1024 * 1024);
    if (response.statusCode !== 200) {
      throw errorFromResponse("GET", url.toString(), response.statusCode ?? 0, body, "UNAUTHORIZED");
    }
    const { token, expiresIn } = parseTokenResponse(body.toString("utf8"));
    this.tokens.set(realm, service, scope, token, expiresIn);
    return token;
  }
}

/** The Content-Length of a response, when it is a sane number. */
export function contentLength(headers: IncomingHttpHeaders): number | undefined {
  const value = header(headers, "content-length");
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Reads a response body whole, refusing (SIZE_INVALID) more than `limit` bytes: at once when the
 * Content-Length says so, else as soon as the bytes read pass it. `request` is named in the
 * error.
 */
export async function readLimited(
  response: IncomingMessage,
  limit: number,
  request: { method: string; url: string } = { method: "GET", url: "" },
): Promise<Buffer> {
  const tooLarge = () => {
    response.destroy();
    return new RegistryClientError({
      status: response.statusCode ?? 0,
      code: "SIZE_INVALID",
      message: `response body is larger than ${limit} bytes`,
      method: request.method,
      url: request.url,
    });
  };
  const declared = contentLength(response.headers);
  if (declared !== undefined && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response) {
    total += (chunk as Buffer).length;
    if (total > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Discards a response body so its keep-alive socket can be reused. */
export async function drain(response: IncomingMessage): Promise<void> {
  if (response.readableEnded) return;
  response.resume();
  await new Promise<void>((resolve) => {
    response.once("end", resolve);
    response.once("close", resolve);
    response.once("error", () => resolve());
  });
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
