import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry as PromRegistry } from "prom-client";

/** The Prometheus metrics Reestr exposes on /metrics. Names follow Distribution's where it has one. */
export class Metrics {
  readonly registry = new PromRegistry();
  readonly httpRequestDuration: Histogram<"method" | "route" | "code">;
  readonly blobUploads: Counter;
  readonly blobUploadBytes: Counter;
  readonly blobDownloadBytes: Counter;
  readonly manifestPushes: Counter;
  readonly manifestPulls: Counter;
  readonly uploadsInProgress: Gauge;

  constructor(options: { uploadsInProgress?: () => Promise<number> } = {}) {
    collectDefaultMetrics({ register: this.registry });
    this.httpRequestDuration = new Histogram({
      name: "registry_http_request_duration_seconds",
      help: "HTTP request latency by method, route and status code.",
      labelNames: ["method", "route", "code"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.blobUploads = new Counter({
      name: "registry_storage_blob_upload_total",
      help: "Blobs committed to storage (uploads finished, monolithic or chunked).",
      registers: [this.registry],
    });
    this.blobUploadBytes = new Counter({
      name: "registry_storage_blob_upload_bytes_total",
      help: "Bytes of blob data received (pushed).",
      registers: [this.registry],
    });
    this.blobDownloadBytes = new Counter({
      name: "registry_storage_blob_download_bytes_total",
      help: "Bytes of blob data served (pulled).",
      registers: [this.registry],
    });
    this.manifestPushes = new Counter({
      name: "registry_manifest_push_total",
      help: "Manifests stored.",
      registers: [this.registry],
    });
    this.manifestPulls = new Counter({
      name: "registry_manifest_pull_total",
      help: "Manifests served by GET.",
      registers: [this.registry],
    });
    const count = options.uploadsInProgress;
    this.uploadsInProgress = new Gauge({
      name: "registry_storage_uploads_in_progress",
      help: "Upload sessions started and neither finished, cancelled nor expired.",
      registers: [this.registry],
      async collect() {
        if (count) this.set(await count());
      },
    });
  }
}
