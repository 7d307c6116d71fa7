/**
 * The storage policies' figures for administrators and for Prometheus:
 *
 *   GET /api/admin/quotas   every configured quota with its usage, measured now (admins only:
 *                           the globs name repositories)
 *   /metrics                reestr_quota_bytes_used{quota} and reestr_quota_bytes_limit{quota},
 *                           measured on each scrape
 */
import { sendJson } from "../../http/context.ts";
import type { Module } from "../../http/module.ts";
import { Gauge, type MetricsRegistry } from "../../util/prometheus.ts";
import type { QuotaUsage } from "../policy/storage-policy.ts";
import type { Registry } from "../registry.ts";

export interface PolicyApiOptions {
  registry: Registry;
  metrics: MetricsRegistry;
}

/** One quota as GET /api/admin/quotas answers it. */
export interface QuotaView extends QuotaUsage {
  /** `used` as a share of `limit`, in percent with one decimal (100 for a limit of 0). */
  percent: number;
}

export function quotaView(usage: QuotaUsage): QuotaView {
  const percent = usage.limit === 0 ? 100 : Math.round((usage.used / usage.limit) * 1000) / 10;
  return { ...usage, percent };
}

export function createPolicyApiModule({ registry, metrics }: PolicyApiOptions): Module {
  registerQuotaMetrics(metrics, registry);
  return {
    name: "policy",
    routes: [
      {
        method: "GET",
        path: "/api/admin/quotas",
        name: "/api/admin/quotas",
        access: "admin",
        async handle(ctx) {
          sendJson(ctx, 200, { quotas: (await registry.quotaUsage()).map(quotaView) });
        },
      },
    ],
  };
}

/** Both gauges, their series set from one measurement per scrape. */
function registerQuotaMetrics(metrics: MetricsRegistry, registry: Registry): void {
  const used = new Gauge(
    "reestr_quota_bytes_used",
    "Bytes held by the repositories of a quota, each blob and manifest counted once.",
    undefined,
    { labelled: true },
  );
  const limit = new Gauge("reestr_quota_bytes_limit", "The limit of a quota, in bytes.", undefined, {
    labelled: true,
  });
  metrics.register({
    async render() {
      for (const quota of await registry.quotaUsage()) {
        used.set(quota.used, { quota: quota.repositories });
        limit.set(quota.limit, { quota: quota.repositories });
      }
      return (await used.render()) + (await limit.render());
    },
  });
}
