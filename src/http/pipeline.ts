/**
 * The one request pipeline of every Reestr server (`reestr serve`, `reestr ui`, the operator's
 * ops port). For each request, in this order:
 *
 *   request id → route match → route headers, security headers → draining? 503 →
 *   per-IP rate limit and body-size limit → authentication (the route's realm; failed-login
 *   lockout and per-user limit around it) → authorization (the route's access decision, CSRF
 *   for browser sessions) → per-caller limit of expensive routes → handler
 *
 * and when the response is done: the request-duration histogram, the access log line and the
 * modules' `onFinished` hooks (the audit log). Every failure is rendered by one function in the
 * route's error format (src/http/errors.ts); anything that is not an HttpError is logged and
 * answered 500 (a store's outage is an HttpError already: StoreUnavailable, a 503).
 *
 * HTTP/1.1 itself (RFC 9112 §3.2, RFC 9110 §9.3.7): a request with more than one Host header is
 * 400; `OPTIONS *` (the server as a whole) is answered 200 with the methods the server
 * implements in `Allow`, any other method with the asterisk form is 400. A refusal sent before
 * the request body was read (too large, unauthorized, …) first reads and discards what is left
 * of the body, up to a bound, so the client receives the answer instead of a connection reset.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../util/logger.ts";
import type { Histogram, MetricsRegistry } from "../util/prometheus.ts";
import { ADMIN_ACCESS } from "./access.ts";
import { createContext, type RequestContext } from "./context.ts";
import {
  badRequest,
  errorBody,
  type HttpError,
  internalError,
  isHttpError,
  methodNotAllowed,
  notFound,
  unavailable,
} from "./errors.ts";
import { type AccessNeeds, type Gate, OPEN_GATE } from "./gate.ts";
import type { RequestLimits } from "./limits.ts";
import type { Module } from "./module.ts";
import { METHODS, type Route, type Router } from "./router.ts";
import { applySecurityHeaders } from "./security-headers.ts";

export interface PipelineOptions {
  router: Router;
  /** Authentication and authorization; default: an open server (everyone may do everything). */
  gate?: Gate;
  limits?: RequestLimits;
  logger: Logger;
  /** One log line per request. */
  accessLog: boolean;
  /** Where the request-duration histogram is registered. */
  metrics: MetricsRegistry;
  /** Headers for every response outside the registry API (src/http/security-headers.ts). */
  securityHeaders?: Record<string, string>;
  /** Modules whose `onFinished` hooks see every finished request. */
  modules?: readonly Module[];
  /** Told about streamed request-body bytes. */
  onBodyBytes?: (bytes: number) => void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/**
 * What is left of a refused request's body is read and thrown away up to this many bytes (a
 * manifest or JSON body a little over its limit), for at most DISCARD_TIMEOUT_MS; beyond that
 * the connection is closed after the answer, which the client may then miss.
 */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;
const DISCARD_TIMEOUT_MS = 10_000;

export class HttpPipeline {
  readonly #options: PipelineOptions;
  readonly #gate: Gate;
  readonly #duration: Histogram;
  readonly #finishHooks: ((ctx: RequestContext, status: number) => void)[];
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | undefined;

  constructor(options: PipelineOptions) {
    this.#options = options;
    this.#gate = options.gate ?? OPEN_GATE;
    this.#duration = options.metrics.histogram(
      "registry_http_request_duration_seconds",
      "HTTP request latency by method, route and status code.",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.#finishHooks = (options.modules ?? []).flatMap((module) =>
      module.onFinished ? [module.onFinished.bind(module)] : [],
    );
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Stop taking requests (503 from now on); resolves when the ones in flight have finished. */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const header = req.headers["x-request-id"];
    const requestId = typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
    const ctx = createContext(req, res, requestId, this.#options.onBodyBytes);
    this.#inFlight++;
    res.setHeader("X-Request-Id", requestId);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#record(ctx, started);
      if (this.#inFlight === 0 && this.#idle) this.#idle();
    };
    res.once("finish", finish);
    res.once("close", finish);
    this.#run(ctx).catch((error: unknown) =>
      this.#fail(ctx, error).catch((failure: unknown) => {
        this.#options.logger.error("error response failed", { requestId, err: failure });
        res.destroy();
      }),
    );
  };

  async #run(ctx: RequestContext): Promise<void> {
    const method = ctx.req.method ?? "GET";
    if (ctx.path === "*") return this.#asterisk(ctx, method);
    const match = this.#options.router.match(method, ctx.path);
    const route = match.kind === "not-found" ? undefined : match.route;
    if (route) {
      ctx.route = route.name;
      ctx.format = route.format ?? "json";
      for (const [name, value] of Object.entries(route.headers ?? {})) ctx.res.setHeader(name, value);
    } else ctx.route = "not_found";
    if (this.#options.securityHeaders && route?.realm !== "registry") {
      applySecurityHeaders(ctx.res, this.#options.securityHeaders);
    }
    // Which Host is meant is ambiguous (node keeps the first): RFC 9112 §3.2 says 400.
    if ((ctx.req.headersDistinct.host?.length ?? 0) > 1) throw badRequest("more than one Host header");
    if (this.#draining) {
      ctx.res.setHeader("Connection", "close");
      ctx.route = "draining";
      throw unavailable("server is shutting down");
    }
    const { limits } = this.#options;
    limits?.admit(ctx, route);
    if (match.kind === "not-found") throw notFound(`no such endpoint: ${ctx.path.slice(0, 200)}`);
    if (match.kind === "method-not-allowed") throw methodNotAllowed(method, match.allowed);
    const found = match.route;
    ctx.params = match.params;
    const realm = found.realm ?? "web";
    const needs = needsOf(found, ctx);
    const authenticate = () => this.#gate.authenticate(ctx, realm, needs);
    ctx.caller = limits
      ? await limits.authenticate(ctx, authenticate, { perUser: realm !== "token" })
      : await authenticate();
    ctx.user = ctx.caller.user;
    if (needs) this.#gate.authorize(ctx, ctx.caller, needs, realm);
    if (found.expensive) limits?.admitExpensive(ctx);
    await found.handle(ctx);
  }

  /** `OPTIONS *` asks about the server as a whole: the methods it implements. */
  #asterisk(ctx: RequestContext, method: string): void {
    ctx.route = "asterisk";
    if (this.#options.securityHeaders) applySecurityHeaders(ctx.res, this.#options.securityHeaders);
    this.#options.limits?.admit(ctx, undefined);
    if (method !== "OPTIONS") throw badRequest("the request target * is for OPTIONS only");
    ctx.res.writeHead(200, { Allow: METHODS.join(", "), "Content-Length": 0 });
    ctx.res.end();
  }

  async #fail(ctx: RequestContext, error: unknown): Promise<void> {
    const { res, req } = ctx;
    const answer = isHttpError(error) ? error : undefined;
    if (!isHttpError(error)) {
      const aborted = (error as NodeJS.ErrnoException)?.code === "ECONNRESET" || req.destroyed;
      const fields = { requestId: ctx.requestId, route: ctx.route, err: error };
      if (aborted)
        this.#options.logger.debug("client went away", { requestId: ctx.requestId, route: ctx.route });
      else this.#options.logger.error("request failed", fields);
    } else if (error.status >= 500 && error.cause !== undefined) {
      // An outage a store reported (StoreUnavailable, a 503): answered as such, logged with what
      // the backend said, which the answer does not carry.
      this.#options.logger.warn("request failed", {
        requestId: ctx.requestId,
        route: ctx.route,
        err: error,
        cause: error.cause,
      });
    }
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const httpError: HttpError = answer ?? internalError();
    const body = errorBody(httpError, ctx.format);
    // The client may still be sending a body we refused: read the rest (bounded) before
    // answering, or it may never see the answer; past the bound, close after answering.
    const discarded = await discardBody(req);
    if (res.destroyed) return;
    res.writeHead(httpError.status, {
      ...httpError.headers,
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
      ...(discarded ? {} : { Connection: "close" }),
    });
    res.end(req.method === "HEAD" ? undefined : body);
    if (!discarded) res.once("finish", () => req.destroy());
  }

  #record(ctx: RequestContext, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const method = ctx.req.method ?? "GET";
    const status = ctx.res.statusCode;
    this.#duration.observe(seconds, { method, route: ctx.route, code: status });
    for (const hook of this.#finishHooks) hook(ctx, status);
    if (!this.#options.accessLog) return;
    const length = ctx.res.getHeader("content-length");
    this.#options.logger.info("request", {
      requestId: ctx.requestId,
      method,
      route: ctx.route,
      path: ctx.path,
      status,
      bytesIn: ctx.bytesIn,
      bytesOut: method === "HEAD" ? 0 : Number(length ?? 0),
      durationMs: Math.round(seconds * 1e6) / 1e3,
      user: ctx.user,
      remote: ctx.req.socket.remoteAddress,
      aborted: !ctx.res.writableFinished || undefined,
    });
  }
}

/**
 * Reads and discards the rest of a request body: true once it has ended (or there was none),
 * false when it is larger than DISCARD_LIMIT_BYTES (declared or sent), takes longer than
 * DISCARD_TIMEOUT_MS, or the connection went away.
 */
function discardBody(req: IncomingMessage): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  if (req.destroyed) return Promise.resolve(false);
  const declared = Number(req.headers["content-length"]);
  if (declared > DISCARD_LIMIT_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const settle = (ended: boolean) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onClose);
      if (!ended) req.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.byteLength;
      if (seen > DISCARD_LIMIT_BYTES) settle(false);
    };
    const onEnd = () => settle(true);
    const onClose = () => settle(req.complete);
    const timer = setTimeout(() => settle(false), DISCARD_TIMEOUT_MS);
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("close", onClose);
    req.once("error", onClose);
    req.resume();
  });
}

const ADMIN_NEEDS: AccessNeeds = { kind: "records", records: [ADMIN_ACCESS] };

/** What the route's access decision asks of this request; undefined for public routes. */
function needsOf(route: Route, ctx: RequestContext): AccessNeeds | undefined {
  const { access } = route;
  if (access === "public") return undefined;
  if (access === "authenticated") return { kind: "authenticated" };
  if (access === "admin") return ADMIN_NEEDS;
  return { kind: "records", records: access(ctx) };
}
