import { type Counter, type Gauge, type Histogram, MetricsRegistry, ProcessMetrics } from "./prometheus.ts";

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
    r.register(new ProcessMetrics());
  }
}
