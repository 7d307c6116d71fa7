import {
  type Counter,
  type Gauge,
  type Histogram,
  MetricsRegistry,
  ProcessMetrics,
  SCAN_DURATION_BUCKETS,
} from "../util/prometheus.ts";
import type { ScanEvent } from "../watcher/scheduler.ts";

/** The Prometheus metrics Reestr exposes on /metrics. Names follow Distribution's where it has one. */
export class Metrics {
  readonly registry = new MetricsRegistry();
  readonly httpRequestDuration: Histogram;
  readonly blobUploads: Counter;
  readonly blobUploadBytes: Counter;
  readonly blobDownloadBytes: Counter;
  readonly manifestPushes: Counter;
  readonly manifestPulls: Counter;
  readonly uploadsInProgress: Gauge;
  readonly watchScanDuration: Histogram;
  readonly watchTags: Gauge;
  readonly watchScanFailures: Counter;
  readonly watchVulnerabilities: Gauge;

  constructor(options: { uploadsInProgress?: () => Promise<number> } = {}) {
    const r = this.registry;
    this.httpRequestDuration = r.histogram(
      "registry_http_request_duration_seconds",
      "HTTP request latency by method, route and status code.",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.blobUploads = r.counter(
      "registry_storage_blob_upload_total",
      "Blobs committed to storage (uploads finished, monolithic or chunked).",
    );
    this.blobUploadBytes = r.counter(
      "registry_storage_blob_upload_bytes_total",
      "Bytes of blob data received (pushed).",
    );
    this.blobDownloadBytes = r.counter(
      "registry_storage_blob_download_bytes_total",
      "Bytes of blob data served (pulled).",
    );
    this.manifestPushes = r.counter("registry_manifest_push_total", "Manifests stored.");
    this.manifestPulls = r.counter("registry_manifest_pull_total", "Manifests served by GET.");
    const count = options.uploadsInProgress;
    this.uploadsInProgress = r.gauge(
      "registry_storage_uploads_in_progress",
      "Upload sessions started and neither finished, cancelled nor expired.",
      count,
    );
    this.watchScanDuration = r.histogram(
      "reestr_watch_scan_duration_seconds",
      "Duration of the watcher's scan passes by registry entry and status (Success, Failed).",
      SCAN_DURATION_BUCKETS,
    );
    this.watchTags = r.labelledGauge(
      "reestr_watch_tags",
      "Tags (images) in the last successful scan by registry entry.",
    );
    this.watchScanFailures = r.counter(
      "reestr_watch_scan_failures_total",
      "Scan passes that ended Failed, by registry entry.",
    );
    this.watchVulnerabilities = r.labelledGauge(
      "reestr_watch_vulnerabilities",
      "Vulnerabilities in the images of the last successful scan, by registry entry and severity.",
    );
    r.register(new ProcessMetrics());
  }

  /** Declares the watch entries so their failure counters show 0 before the first pass. */
  watchEntries(names: readonly string[]): void {
    for (const registry of names) this.watchScanFailures.inc(0, { registry });
  }

  /** Feeds the watch metrics from one scan pass (the scheduler's `onScan`). */
  recordScan(event: ScanEvent): void {
    const registry = event.entry;
    this.watchScanDuration.observe(event.durationMs / 1000, { registry, status: event.status });
    if (event.status === "Failed") {
      this.watchScanFailures.inc(1, { registry });
      return;
    }
    this.watchScanFailures.inc(0, { registry });
    this.watchTags.set(event.tags, { registry });
    const totals = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
    for (const image of event.result.images) {
      const found = image.vulnerabilities;
      if (!found) continue;
      for (const severity of Object.keys(totals) as (keyof typeof totals)[])
        totals[severity] += found[severity];
    }
    for (const [severity, value] of Object.entries(totals)) {
      this.watchVulnerabilities.set(value, { registry, severity });
    }
  }
}
