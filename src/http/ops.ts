/**
 * The operational endpoints every Reestr server has, as a module:
 *
 *   GET /healthz   the process is alive: 200 {status, version}, 503 while shutting down
 *   GET /readyz    it can serve: every readiness check healthy (stores, API server, …), else 503;
 *                  informational checks (webhook endpoints) are listed but do not count
 *   GET /metrics   Prometheus text format
 *
 * They are public (load balancers and Prometheus scrape without credentials) and exempt from
 * rate limits (src/http/limits.ts), so probes keep working under load.
 */
import type { MetricsRegistry } from "../util/prometheus.ts";
import { sendJson } from "./context.ts";
import type { HealthCheck, Module } from "./module.ts";

export interface OpsOptions {
  version: string;
  metrics: MetricsRegistry;
  /** The readiness checks (each module's `health()`, gathered by the composition root). */
  checks: () => Promise<HealthCheck[]>;
  /** True once the server is shutting down: not live, not ready. */
  stopping: () => boolean;
}

export function createOpsModule(options: OpsOptions): Module {
  const { version, metrics } = options;
  return {
    name: "ops",
    routes: [
      {
        method: "GET",
        path: "/healthz",
        name: "/healthz",
        access: "public",
        handle: (ctx) =>
          options.stopping()
            ? sendJson(ctx, 503, { status: "stopping", version })
            : sendJson(ctx, 200, { status: "healthy", version }),
      },
      {
        method: "GET",
        path: "/readyz",
        name: "/readyz",
        access: "public",
        async handle(ctx) {
          const checks = await options.checks();
          const healthy =
            !options.stopping() && checks.every((check) => check.informational || check.status === "healthy");
          sendJson(ctx, healthy ? 200 : 503, { status: healthy ? "healthy" : "unhealthy", version, checks });
        },
      },
      {
        method: "GET",
        path: "/metrics",
        name: "/metrics",
        access: "public",
        async handle(ctx) {
          const body = await metrics.render();
          ctx.res.writeHead(200, {
            "Content-Type": metrics.contentType,
            "Content-Length": Buffer.byteLength(body),
          });
          ctx.res.end(ctx.req.method === "HEAD" ? undefined : body);
        },
      },
    ],
  };
}
