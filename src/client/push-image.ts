/**
 * Pushes an image (single-platform or an index) from any ImageSource to a registry:
 * blobs first (skipping those the registry has, mounting where asked), then manifests,
 * children before the index, so a registry that validates references accepts every PUT.
 */
import { isNondistributable } from "../image/oci-layout.ts";
import type { ImageSource } from "../image/source.ts";
import { walkImage } from "../image/walk.ts";
import type { Descriptor } from "../oci/manifest.ts";
import { forEachLimit } from "../util/concurrency.ts";
import type { PushBlobResult, RegistryClient } from "./registry-client.ts";

export type TransferEvent =
  | { type: "plan"; blobs: number; bytes: number; manifests: number }
  | { type: "blob-start"; digest: string; size: number; mediaType: string }
  | { type: "blob-progress"; digest: string; bytes: number; size: number }
  | { type: "blob-done"; digest: string; size: number; result: PushBlobResult | "downloaded" | "skipped" }
  | { type: "manifest"; digest: string; mediaType: string; size: number; reference: string };

export interface TransferSummary {
  /** The pushed (or pulled) root manifest or index. */
  digest: string;
  mediaType: string;
  size: number;
  manifests: number;
  blobs: { total: number; transferred: number; skipped: number; mounted: number; bytesTransferred: number };
}

export interface PushImageOptions {
  /** Tag for the root; without one it is pushed by digest only. */
  tag?: string;
  /** Parallel blob uploads; default 4. */
  concurrency?: number;
  /** Upload blobs larger than this in chunks of this size; default: monolithic. */
  chunkSize?: number;
  /** Try a cross-repository mount from this repository before uploading. */
  mountFrom?: string;
  onEvent?: (event: TransferEvent) => void;
  /**
   * Cancels the push (Ctrl-C): uploads in flight are stopped and their sessions DELETEd on the
   * registry, no manifest is put after it, and the promise rejects with the signal's reason
   * once every upload has been cancelled.
   */
  signal?: AbortSignal;
}

export async function pushImage(
  client: RegistryClient,
  source: ImageSource,
  root: Descriptor,
  repository: string,
  options: PushImageOptions = {},
): Promise<TransferSummary> {
  const emit = options.onEvent ?? (() => {});
  const { signal } = options;
  const graph = await walkImage(root, (d) => source.readBlob(d.digest));
  const blobs: Descriptor[] = [];
  for (const blob of graph.blobs) {
    // Foreign (non-distributable) layers may be absent from the source; registries fetch them by URL.
    if (isNondistributable(blob) && (await source.blobSize(blob.digest)) === undefined) continue;
    blobs.push(blob);
  }
  emit({
    type: "plan",
    blobs: blobs.length,
    bytes: blobs.reduce((sum, b) => sum + b.size, 0),
    manifests: graph.manifests.length,
  });

  const summary: TransferSummary = {
    digest: graph.root.digest,
    mediaType: graph.root.mediaType,
    size: graph.root.size,
    manifests: graph.manifests.length,
    blobs: { total: blobs.length, transferred: 0, skipped: 0, mounted: 0, bytesTransferred: 0 },
  };

  await forEachLimit(blobs, options.concurrency ?? 4, async (blob) => {
    signal?.throwIfAborted();
    emit({ type: "blob-start", digest: blob.digest, size: blob.size, mediaType: blob.mediaType });
    const result = await client.pushBlob(repository, blob, () => source.openBlob(blob.digest), {
      chunkSize: options.chunkSize,
      mountFrom: options.mountFrom,
      signal,
      onProgress: (bytes) => emit({ type: "blob-progress", digest: blob.digest, bytes, size: blob.size }),
    });
    if (result === "uploaded") {
      summary.blobs.transferred++;
      summary.blobs.bytesTransferred += blob.size;
    } else if (result === "mounted") {
      summary.blobs.mounted++;
    } else {
      summary.blobs.skipped++;
    }
    emit({ type: "blob-done", digest: blob.digest, size: blob.size, result });
  });

  for (const manifest of graph.manifests) {
    const isRoot = manifest.descriptor.digest === graph.root.digest;
    const reference = isRoot && options.tag ? options.tag : manifest.descriptor.digest;
    signal?.throwIfAborted();
    await client.putManifest(repository, reference, manifest.bytes, manifest.parsed.mediaType, { signal });
    emit({
      type: "manifest",
      digest: manifest.descriptor.digest,
      mediaType: manifest.parsed.mediaType,
      size: manifest.bytes.length,
      reference,
    });
  }
  return summary;
}
