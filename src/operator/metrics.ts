/** The operator's Prometheus metrics on /metrics (src/util/prometheus.ts's registry). */
import {
  type Counter,
  type Gauge,
  type Histogram,
  MetricsRegistry,
  ProcessMetrics,
  SCAN_DURATION_BUCKETS,
} from "../util/prometheus.ts";
import type { RegistryStatus } from "../watcher/spec.ts";

export class OperatorMetrics {
  readonly registry = new MetricsRegistry();
  readonly reconciles: Counter;
  readonly reconcileDuration: Histogram;
  readonly scanDuration: Histogram;
  readonly scans: Counter;
  readonly images: Gauge;
  readonly vulnerabilities: Gauge;
  readonly statusConflicts: Counter;
  readonly watchEvents: Counter;
  readonly relists: Counter;
  readonly leader: Gauge;
  readonly queueDepth: Gauge;

  constructor(queueDepth: () => number = () => 0) {
    const r = this.registry;
    this.reconciles = r.counter(
      "reestr_operator_reconcile_total",
      "Reconciles of Registry objects by result (success, error).",
    );
    this.reconcileDuration = r.histogram(
      "reestr_operator_reconcile_duration_seconds",
      "Duration of reconciles, scans included.",
      [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    );
    this.scans = r.counter(
      "reestr_operator_scans_total",
      "Scan passes by registry (namespace/name) and status.",
    );
    this.scanDuration = r.histogram(
      "reestr_operator_scan_duration_seconds",
      "Duration of scan passes by registry and status (Success, Failed).",
      SCAN_DURATION_BUCKETS,
    );
    this.images = r.labelledGauge(
      "reestr_operator_registry_images",
      "Images in the last successful scan by registry.",
    );
    this.vulnerabilities = r.labelledGauge(
      "reestr_operator_registry_vulnerabilities",
      "Vulnerabilities in the images of the last successful scan by registry and severity.",
    );
    this.statusConflicts = r.counter(
      "reestr_operator_status_conflicts_total",
      "Status updates refused with 409 Conflict (then retried once with a fresh object).",
    );
    this.watchEvents = r.counter("reestr_operator_watch_events_total", "Watch events received by type.");
    this.relists = r.counter(
      "reestr_operator_relists_total",
      "Lists done again after a watch expired (410 Gone).",
    );
    this.leader = r.gauge("reestr_operator_leader", "1 while this replica holds the leader Lease.");
    this.queueDepth = r.gauge(
      "reestr_operator_queue_depth",
      "Registry keys waiting in the work queue.",
      queueDepth,
    );
    r.register(new ProcessMetrics());
  }

  /** A deleted Registry: its gauges go (counters and histograms keep their history). */
  forgetRegistry(registry: string): void {
    this.images.remove({ registry });
    this.vulnerabilities.remove({ registry });
  }

  recordScan(registry: string, status: RegistryStatus, durationMs: number): void {
    const result = status.lastScanStatus ?? "Failed";
    this.scans.inc(1, { registry, status: result });
    this.scanDuration.observe(durationMs / 1000, { registry, status: result });
    if (result !== "Success") return;
    this.images.set(status.images.length, { registry });
    const totals = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
    for (const image of status.images) {
      const found = image.vulnerabilities;
      if (!found) continue;
      for (const severity of Object.keys(totals) as (keyof typeof totals)[])
        totals[severity] += found[severity];
    }
    for (const [severity, value] of Object.entries(totals))
      this.vulnerabilities.set(value, { registry, severity });
  }
}
