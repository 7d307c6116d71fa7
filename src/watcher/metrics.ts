/** The watcher's Prometheus metrics (reestr_watch_*), fed by the scheduler's scan events. */
import {
  type Counter,
  type Gauge,
  type Histogram,
  type MetricsRegistry,
  SCAN_DURATION_BUCKETS,
} from "../util/prometheus.ts";
import type { ScanEvent } from "./scheduler.ts";

export class WatchMetrics {
  readonly #duration: Histogram;
  readonly #tags: Gauge;
  readonly #failures: Counter;
  readonly #vulnerabilities: Gauge;

  constructor(r: MetricsRegistry) {
    this.#duration = r.histogram(
      "reestr_watch_scan_duration_seconds",
      "Duration of the watcher's scan passes by registry entry and status (Success, Failed).",
      SCAN_DURATION_BUCKETS,
    );
    this.#tags = r.labelledGauge(
      "reestr_watch_tags",
      "Tags (images) in the last successful scan by registry entry.",
    );
    this.#failures = r.counter(
      "reestr_watch_scan_failures_total",
      "Scan passes that ended Failed, by registry entry.",
    );
    this.#vulnerabilities = r.labelledGauge(
      "reestr_watch_vulnerabilities",
      "Vulnerabilities in the images of the last successful scan, by registry entry and severity.",
    );
  }

  /** Declares the watch entries so their failure counters show 0 before the first pass. */
  declare(names: readonly string[]): void {
    for (const registry of names) this.#failures.inc(0, { registry });
  }

  /** Feeds the metrics from one scan pass (the scheduler's `onScan`). */
  record(event: ScanEvent): void {
    const registry = event.entry;
    this.#duration.observe(event.durationMs / 1000, { registry, status: event.status });
    if (event.status === "Failed") {
      this.#failures.inc(1, { registry });
      return;
    }
    this.#failures.inc(0, { registry });
    this.#tags.set(event.tags, { registry });
    const totals = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
    for (const image of event.result.images) {
      const found = image.vulnerabilities;
      if (!found) continue;
      for (const severity of Object.keys(totals) as (keyof typeof totals)[])
        totals[severity] += found[severity];
    }
    for (const [severity, value] of Object.entries(totals))
      this.#vulnerabilities.set(value, { registry, severity });
  }
}
