/**
 * Webhooks as a module: it turns every finished request into a notification event (its
 * `onFinished`), and shows the endpoints and their delivery log to administrators:
 *
 *   GET /api/admin/webhooks                         endpoints: state (healthy | backing-off),
 *                                                   pending, delivered, failed, dropped, last error
 *   GET /api/admin/webhooks/{endpoint}/deliveries?limit=  the delivery log, newest first (default 50,
 *                                                   at most 1000): event id, action, state,
 *                                                   attempts, last status, last error, times
 *
 * In /readyz each endpoint is an informational check: a backing-off endpoint is listed as
 * unhealthy with its last error, but leaves the server ready (src/http/module.ts says why).
 */
import { sendJson } from "../../http/context.ts";
import { badRequest, notFound } from "../../http/errors.ts";
import type { HealthCheck, Module } from "../../http/module.ts";
import { eventOfRequest } from "../events/envelopes.ts";
import type { Notifier } from "../events/notifier.ts";

export function createWebhooksModule(options: { notifier: Notifier }): Module {
  const { notifier } = options;
  return {
    name: "webhooks",
    routes: [
      {
        method: "GET",
        path: "/api/admin/webhooks",
        name: "/api/admin/webhooks",
        access: "admin",
        handle: (ctx) => sendJson(ctx, 200, { endpoints: notifier.status() }),
      },
      {
        method: "GET",
        path: "/api/admin/webhooks/{endpoint}/deliveries",
        name: "/api/admin/webhooks/{endpoint}/deliveries",
        access: "admin",
        handle(ctx) {
          const raw = ctx.query.get("limit") ?? "50";
          const limit = Number(raw);
          if (!/^\d+$/.test(raw) || limit < 1 || limit > 1000) {
            throw badRequest("limit must be a whole number from 1 to 1000");
          }
          const name = ctx.params.endpoint!;
          const deliveries = notifier.deliveries(name, limit);
          if (!deliveries) throw notFound(`no webhook endpoint named "${name.slice(0, 100)}"`);
          sendJson(ctx, 200, { endpoint: name, deliveries });
        },
      },
    ],
    onFinished(ctx, status) {
      const event = eventOfRequest(ctx, status, notifier.source);
      if (event) notifier.publish(event);
    },
    async health(): Promise<HealthCheck[]> {
      return notifier.status().map((endpoint) => ({
        name: `webhook:${endpoint.name}`,
        status: endpoint.state === "healthy" ? "healthy" : "unhealthy",
        durationMs: 0,
        informational: true,
        ...(endpoint.state === "healthy"
          ? {}
          : { message: `backing off after: ${endpoint.lastError}; ${endpoint.pending} pending` }),
      }));
    },
    close: () => notifier.close(),
  };
}
