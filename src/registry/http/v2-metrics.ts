/** The registry API's Prometheus metrics; names follow CNCF Distribution's where it has one. */
import type { Counter, Gauge, MetricsRegistry } from "../../util/prometheus.ts";
import type { Registry } from "../registry.ts";

export class V2Metrics {
  readonly blobUploads: Counter;
  readonly blobUploadBytes: Counter;
  readonly blobDownloadBytes: Counter;
  readonly manifestPushes: Counter;
  readonly manifestPulls: Counter;
  readonly uploadsInProgress: Gauge;

  constructor(r: MetricsRegistry, registry: Registry) {
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
    this.uploadsInProgress = r.gauge(
      "registry_storage_uploads_in_progress",
      "Upload sessions started and neither finished, cancelled nor expired.",
      () => registry.uploadsInProgress(),
    );
  }
}
