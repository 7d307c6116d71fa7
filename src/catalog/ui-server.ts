/**
 * `reestr ui`: the catalogue alone, against remote registries only (no local registry, no
 * /v2). Serves /api (the catalogue's JSON API), /healthz, and the built web app on every other
 * GET path.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type RequestContext, sendJson } from "../http/context.ts";
import type { Logger } from "../util/logger.ts";
import { VERSION } from "../version.ts";
import { StaticSite } from "../web/static.ts";
import type { CatalogCacheSettings, RegistryDefinition } from "./registries-config.ts";
import { type CatalogSetup, setupCatalog } from "./setup.ts";

export interface UiServerOptions {
  registries: RegistryDefinition[];
  cache?: Partial<CatalogCacheSettings>;
  host?: string;
  port?: number;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  probeTimeoutMs?: number;
  /** The built app (default dist/web of this checkout). */
  webRoot?: string;
  waitForProbes?: boolean;
}

export interface RunningUiServer {
  url: string;
  port: number;
  server: Server;
  catalog: CatalogSetup;
  close(): Promise<void>;
}

export async function startUiServer(options: UiServerOptions): Promise<RunningUiServer> {
  const catalog = await setupCatalog({
    registries: options.registries,
    cache: options.cache,
    env: options.env,
    logger: options.logger,
    probeTimeoutMs: options.probeTimeoutMs,
    waitForProbes: options.waitForProbes,
  });
  const web = new StaticSite(options.webRoot ? { root: options.webRoot } : {});
  const server = createServer({ headersTimeout: 30_000, keepAliveTimeout: 65_000 }, (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const header = req.headers["x-request-id"];
    const ctx: RequestContext = {
      req,
      res,
      requestId:
        typeof header === "string" && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID(),
      path: q === -1 ? url : url.slice(0, q),
      query: new URLSearchParams(q === -1 ? "" : url.slice(q + 1)),
      route: "unknown",
      bytesIn: 0,
    };
    res.setHeader("X-Request-Id", ctx.requestId);
    res.setHeader("X-Content-Type-Options", "nosniff");
    const started = performance.now();
    res.once("finish", () =>
      options.logger.debug("request", {
        requestId: ctx.requestId,
        method: req.method,
        route: ctx.route,
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      }),
    );
    const route = async () => {
      if (ctx.path === "/healthz") {
        ctx.route = "/healthz";
        return sendJson(ctx, 200, { status: "healthy", version: VERSION });
      }
      if (catalog.api.handles(ctx.path)) return catalog.api.handle(ctx);
      if (ctx.path === "/api" || ctx.path.startsWith("/api/")) {
        ctx.route = "not_found";
        return sendJson(ctx, 404, {
          error: { code: "NOT_FOUND", message: `no such endpoint: ${ctx.path.slice(0, 200)}` },
        });
      }
      if (req.method === "GET" || req.method === "HEAD") {
        ctx.route = "web";
        await web.handle(req, res, ctx.path);
        return;
      }
      ctx.route = "not_found";
      sendJson(ctx, 405, { error: { code: "BAD_REQUEST", message: `method ${req.method} not allowed` } });
    };
    route().catch((error: unknown) => {
      options.logger.error("request failed", { requestId: ctx.requestId, err: error });
      if (!res.headersSent)
        sendJson(ctx, 500, { error: { code: "INTERNAL", message: "internal server error" } });
      else res.destroy();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 5080, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await catalog.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    server,
    catalog,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 5000).unref();
        });
        await catalog.close();
      })();
      return closing;
    },
  };
}
