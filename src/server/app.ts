import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { V2AuthGate } from "../auth/authenticator.ts";
import { WEB_AUTH_PREFIX, type WebAuthApi } from "../auth/web-auth-api.ts";
import type { CatalogApi } from "../catalog/handler.ts";
import type { RequestContext } from "../http/context.ts";
import { sendJson } from "../http/context.ts";
import type { RequestLimits } from "../http/limits.ts";
import { applySecurityHeaders } from "../http/security-headers.ts";
import { isRegistryError, RegistryError } from "../oci/errors.ts";
import { matchV2, type V2Api } from "../registry/http/v2-routes.ts";
import type { Registry } from "../registry/registry.ts";
import type { Logger } from "../util/logger.ts";
import type { Watcher } from "../watcher/watcher.ts";
import { StaticSite } from "../web/static.ts";
import type { AuditLog } from "./audit.ts";
import type { Metrics } from "./metrics.ts";

export interface AppOptions {
  registry: Registry;
  v2: V2Api;
  metrics: Metrics;
  logger: Logger;
  version: string;
  accessLog: boolean;
  /** The server's watcher, when `watch` is configured: its results are served under /api/watch. */
  watcher?: Watcher;
  /** When set, every /v2 request passes this gate first (see src/auth/authenticator.ts). */
  auth?: V2AuthGate;
  /** Rate limits, login lockout, body size (src/server/rate-limit.ts). */
  limits?: RequestLimits;
  /** Headers for every response outside /v2 (src/server/security-headers.ts). */
  securityHeaders?: Record<string, string>;
  /** Push/pull/delete events (src/server/audit.ts). */
  audit?: AuditLog;
  /** The built web catalogue served on every other GET path (default: dist/web of this checkout). */
  web?: StaticSite;
  /** Web login, sessions and personal access tokens (/api/auth/…), when auth is configured. */
  webAuth?: WebAuthApi;
  /** The catalogue's JSON API (src/catalog): /api/registries…, /api/storage, /api/openapi.json. */
  catalog?: CatalogApi;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const WATCH_PREFIX = "/api/watch/registries";
/** `/api/watch/registries/<name>`, `…/<name>/history` and `…/<name>/scan` (POST: scan now). */
const WATCH_ENTRY = /^\/api\/watch\/registries\/([^/]+)(\/history|\/scan)?\/?$/;
const MAX_HISTORY_LIMIT = 1000;

/**
 * The request pipeline shared by every endpoint: request id, access log, metrics, error
 * envelope, draining during shutdown. Routes: /v2 (OCI API), /healthz, /readyz, /metrics, /api/status,
 * /api/watch/registries[/<name>[/history]] (the watcher's results).
 */
export class App {
  readonly #options: AppOptions;
  readonly #startedAt = Date.now();
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | undefined;
  #web: StaticSite | undefined;

  constructor(options: AppOptions) {
    this.#options = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Stop taking requests; resolves when the ones in flight have finished. */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const header = req.headers["x-request-id"];
    const ctx: RequestContext = {
      req,
      res,
      requestId: typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID(),
      path: q === -1 ? url : url.slice(0, q),
      query: new URLSearchParams(q === -1 ? "" : url.slice(q + 1)),
      route: "unknown",
      bytesIn: 0,
    };
    this.#inFlight++;
    res.setHeader("X-Request-Id", ctx.requestId);
    if (this.#options.securityHeaders && !(ctx.path === "/v2" || ctx.path.startsWith("/v2/")))
      applySecurityHeaders(res, this.#options.securityHeaders);
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
    if (this.#draining) {
      res.setHeader("Connection", "close");
      ctx.route = "draining";
      sendJson(ctx, 503, { errors: [{ code: "UNAVAILABLE", message: "server is shutting down" }] });
      return;
    }
    this.#route(ctx).catch((error: unknown) => this.#fail(ctx, error));
  };

  async #route(ctx: RequestContext): Promise<void> {
    const { path } = ctx;
    this.#options.limits?.admit(ctx);
    if (path === "/v2" || path.startsWith("/v2/")) {
      ctx.res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
      const route = matchV2(path);
      ctx.route = route?.route ?? "v2_unknown";
      if (this.#options.auth) {
        const { auth, limits } = this.#options;
        const check = () => auth.check(ctx, route);
        ctx.user = await (limits ? limits.authenticate(ctx, check) : check());
      }
      if (!route) {
        throw new RegistryError("UNSUPPORTED", `no such endpoint: ${path.slice(0, 200)}`, undefined, {}, 404);
      }
      return this.#options.v2.handle(ctx, route);
    }
    // Token mode: Docker's token endpoint (/auth/token) and the signing key (/auth/jwks.json).
    const tokens = this.#options.auth?.tokenEndpoint;
    if (tokens?.handles(path)) {
      // Logins there count for the failed-login lockout like those on /v2.
      const limits = this.#options.limits;
      if (!limits) return tokens.handle(ctx);
      await limits.authenticate(
        ctx,
        async () => {
          await tokens.handle(ctx);
          return ctx.user;
        },
        { perUser: false },
      );
      return;
    }
    if (path === WATCH_PREFIX || path === `${WATCH_PREFIX}/` || path.startsWith(`${WATCH_PREFIX}/`)) {
      return this.#watch(ctx);
    }
    if (path.startsWith(WEB_AUTH_PREFIX)) {
      if (this.#options.webAuth) {
        if (await this.#options.webAuth.handle(ctx)) return;
      } else if (path === `${WEB_AUTH_PREFIX}session`) {
        // No users configured: everyone is anonymous and nothing asks for a login.
        ctx.route = path;
        return sendJson(ctx, 200, { user: null, csrfToken: null, expiresAt: null, authRequired: false });
      }
    }
    if (this.#options.catalog?.handles(path)) {
      return this.#options.catalog.handle(ctx);
    }
    if (isWebPath(path) && (ctx.req.method === "GET" || ctx.req.method === "HEAD")) {
      ctx.route = "web";
      this.#web ??= this.#options.web ?? new StaticSite();
      await this.#web.handle(ctx.req, ctx.res, path);
      return;
    }
    ctx.route = path;
    switch (path) {
      case "/healthz":
        return sendJson(ctx, 200, { status: "healthy", version: this.#options.version });
      case "/readyz":
        return this.#ready(ctx);
      case "/metrics": {
        const registry = this.#options.metrics.registry;
        const body = await registry.render();
        ctx.res.writeHead(200, { "Content-Type": registry.contentType });
        ctx.res.end(body);
        return;
      }
      case "/api/status":
        return this.#status(ctx);
      case "/api":
      case "/api/":
        return sendJson(ctx, 200, {
          name: "reestr",
          version: this.#options.version,
          endpoints: [
            "/v2/",
            "/healthz",
            "/readyz",
            "/metrics",
            "/api/status",
            WATCH_PREFIX,
            ...(this.#options.catalog ? ["/api/registries", "/api/storage", "/api/openapi.json"] : []),
          ],
        });
    }
    ctx.route = "not_found";
    sendJson(ctx, 404, { error: "not found" });
  }

  async #ready(ctx: RequestContext): Promise<void> {
    const checks = await this.#options.registry.health();
    const healthy = !this.#draining && checks.every((c) => c.status === "healthy");
    sendJson(ctx, healthy ? 200 : 503, {
      status: healthy ? "healthy" : "unhealthy",
      version: this.#options.version,
      checks,
    });
  }

  async #status(ctx: RequestContext): Promise<void> {
    const stats = await this.#options.registry.stats();
    sendJson(ctx, 200, {
      version: this.#options.version,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      repositories: stats.repositories,
      manifests: stats.manifests,
      tags: stats.tags,
      blobs: stats.blobs,
      storageBytes: stats.blobBytes,
    });
  }

  async #watch(ctx: RequestContext): Promise<void> {
    const { path } = ctx;
    const method = ctx.req.method ?? "GET";
    const watcher = this.#options.watcher;
    const configured = watcher?.entries ?? [];
    const list = path === WATCH_PREFIX || path === `${WATCH_PREFIX}/`;
    const match = list ? null : WATCH_ENTRY.exec(path);
    const action = match?.[2];
    ctx.route = list ? WATCH_PREFIX : `${WATCH_PREFIX}/{name}${action ?? ""}`;
    if (!list && !match) {
      ctx.route = "not_found";
      return sendJson(ctx, 404, { error: "not found" });
    }
    const allowed = action === "/scan" ? ["POST"] : ["GET", "HEAD"];
    if (!allowed.includes(method)) {
      ctx.res.setHeader("Allow", allowed.join(", "));
      return sendJson(ctx, 405, { error: `method ${method} not allowed` });
    }
    if (list) {
      const saved = new Map(
        (watcher ? await watcher.store.entries() : []).map((record) => [record.name, record]),
      );
      return sendJson(ctx, 200, {
        registries: configured.map(({ name, spec }) => {
          const record = saved.get(name);
          return {
            name,
            url: spec.url,
            repository: spec.repository,
            scanInterval: spec.scanInterval,
            lastScanTime: record?.lastScanTime ?? null,
            lastScanStatus: record?.lastScanStatus ?? null,
            message: record?.message ?? null,
            images: record?.tags ?? 0,
            scanning: watcher?.scheduler.isRunning(name) ?? false,
          };
        }),
      });
    }
    let name: string;
    try {
      name = decodeURIComponent(match![1]!);
    } catch {
      return sendJson(ctx, 400, { error: "invalid registry name in path" });
    }
    const entry = configured.find((candidate) => candidate.name === name);
    if (!watcher || !entry) {
      return sendJson(ctx, 404, { error: `no watched registry named "${name.slice(0, 200)}"` });
    }
    if (action === "/scan") {
      // Scan now: 202 at once, or with ?wait=true the pass's result (a pass already running is
      // joined, never doubled).
      const pass = watcher.scheduler.scanNow(name)!;
      if (ctx.query.get("wait") !== "true") {
        pass.catch(() => {});
        return sendJson(ctx, 202, { name, scanning: true });
      }
      const event = await pass;
      return sendJson(ctx, 200, {
        name,
        url: entry.spec.url,
        repository: entry.spec.repository,
        scanning: false,
        durationMs: event.durationMs,
        changed: event.changed,
        lastScanTime: event.result.lastScanTime ?? null,
        lastScanStatus: event.result.lastScanStatus ?? null,
        message: event.result.message ?? null,
        images: event.result.images,
      });
    }
    if (action === "/history") {
      const tag = ctx.query.get("tag") ?? undefined;
      const rawLimit = ctx.query.get("limit");
      let limit: number | undefined;
      if (rawLimit !== null) {
        limit = Number(rawLimit);
        if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
          return sendJson(ctx, 400, {
            error: `limit: expected an integer from 1 to ${MAX_HISTORY_LIMIT}, got "${rawLimit.slice(0, 50)}"`,
          });
        }
      }
      const before = ctx.query.get("before") ?? undefined;
      if (before !== undefined && Number.isNaN(Date.parse(before))) {
        return sendJson(ctx, 400, { error: `before: expected a timestamp, got "${before.slice(0, 50)}"` });
      }
      const changes = await watcher.store.history(name, { tag, limit, before });
      return sendJson(ctx, 200, {
        name,
        repository: entry.spec.repository,
        changes: changes.map(({ tag: changed, from, to, at }) => ({
          tag: changed,
          from: from ?? null,
          to: to ?? null,
          at,
        })),
      });
    }
    const status = await watcher.store.load(name);
    return sendJson(ctx, 200, {
      name,
      url: entry.spec.url,
      repository: entry.spec.repository,
      scanInterval: entry.spec.scanInterval,
      scanning: watcher.scheduler.isRunning(name),
      lastScanTime: status?.lastScanTime ?? null,
      lastScanStatus: status?.lastScanStatus ?? null,
      message: status?.message ?? null,
      images: status?.images ?? [],
    });
  }

  #fail(ctx: RequestContext, error: unknown): void {
    const { res } = ctx;
    if (!isRegistryError(error)) {
      const aborted = (error as NodeJS.ErrnoException)?.code === "ECONNRESET" || ctx.req.destroyed;
      if (aborted) {
        this.#options.logger.debug("client went away", { requestId: ctx.requestId, route: ctx.route });
      } else {
        this.#options.logger.error("request failed", {
          requestId: ctx.requestId,
          route: ctx.route,
          err: error,
        });
      }
    }
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const registryError = isRegistryError(error)
      ? error
      : new RegistryError("UNKNOWN", "internal server error");
    const body = registryError.toBody();
    res.writeHead(registryError.status, {
      ...registryError.headers,
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
    });
    res.end(ctx.req.method === "HEAD" ? undefined : body);
    // The client may still be sending a body we refused; don't let it linger.
    if (!ctx.req.complete) res.once("finish", () => ctx.req.destroy());
  }

  #record(ctx: RequestContext, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const method = ctx.req.method ?? "GET";
    const status = ctx.res.statusCode;
    this.#options.metrics.httpRequestDuration.observe(seconds, { method, route: ctx.route, code: status });
    this.#options.audit?.record(ctx, status);
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

/** Paths of the web app: everything but the APIs and the operational endpoints. */
function isWebPath(path: string): boolean {
  if (path === "/api" || path.startsWith("/api/")) return false;
  return path !== "/healthz" && path !== "/readyz" && path !== "/metrics";
}
