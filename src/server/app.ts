import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isRegistryError, RegistryError } from "../oci/errors.ts";
import type { RequestContext } from "../registry/http/context.ts";
import { sendJson } from "../registry/http/context.ts";
import { matchV2, type V2Api } from "../registry/http/v2-routes.ts";
import type { Registry } from "../registry/registry.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

export interface AppOptions {
  registry: Registry;
  v2: V2Api;
  metrics: Metrics;
  logger: Logger;
  version: string;
  accessLog: boolean;
}

export interface HealthCheck {
  name: string;
  status: "healthy" | "unhealthy";
  durationMs: number;
  message?: string;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request pipeline shared by every endpoint: request id, access log, metrics, error
 * envelope, draining during shutdown. Routes: /v2 (OCI API), /healthz, /readyz, /metrics, /api/status.
 */
export class App {
  readonly #options: AppOptions;
  readonly #startedAt = Date.now();
  #draining = false;
  #inFlight = 0;
  #idle: (() => void) | undefined;

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
    if (path === "/v2" || path.startsWith("/v2/")) {
      ctx.res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
      const route = matchV2(path);
      if (!route) {
        ctx.route = "v2_unknown";
        throw new RegistryError("UNSUPPORTED", `no such endpoint: ${path.slice(0, 200)}`, undefined, {}, 404);
      }
      ctx.route = route.route;
      return this.#options.v2.handle(ctx, route);
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
      case "/":
        return sendJson(ctx, 200, {
          name: "reestr",
          version: this.#options.version,
          endpoints: ["/v2/", "/healthz", "/readyz", "/metrics", "/api/status"],
        });
    }
    ctx.route = "not_found";
    sendJson(ctx, 404, { error: "not found" });
  }

  async #ready(ctx: RequestContext): Promise<void> {
    const { registry } = this.#options;
    const checks = await Promise.all([
      runCheck("storage", () => registry.blobs.check()),
      runCheck("metadata", () => registry.metadata.check()),
    ]);
    const healthy = !this.#draining && checks.every((c) => c.status === "healthy");
    sendJson(ctx, healthy ? 200 : 503, {
      status: healthy ? "healthy" : "unhealthy",
      version: this.#options.version,
      checks,
    });
  }

  async #status(ctx: RequestContext): Promise<void> {
    const stats = await this.#options.registry.metadata.stats();
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

async function runCheck(name: string, probe: () => Promise<void>): Promise<HealthCheck> {
  const started = performance.now();
  try {
    await probe();
    return { name, status: "healthy", durationMs: round(performance.now() - started) };
  } catch (error) {
    return {
      name,
      status: "unhealthy",
      durationMs: round(performance.now() - started),
      message: (error as Error).message,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
