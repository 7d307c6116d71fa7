/**
 * Pulls an image from a registry into an OCI layout directory: the manifest (with every child
 * of an index, or just one platform's), then every blob, each verified against its digest as it
 * is written. The result is a layout `skopeo copy oci:<dir>:<tag> …` accepts.
 */
import { Transform } from "node:stream";
import { OciLayout } from "../image/oci-layout.ts";
import { walkImage } from "../image/walk.ts";
import { isDigest } from "../oci/digest.ts";
import type { Descriptor } from "../oci/manifest.ts";
import type { Platform } from "../oci/platform.ts";
import { forEachLimit } from "../util/concurrency.ts";
import type { TransferEvent, TransferSummary } from "./push-image.ts";
import type { RegistryClient } from "./registry-client.ts";

export interface PullImageOptions {
  /** Narrow an index to this platform's image. */
  platform?: Platform;
  /** The ref name to record in index.json; default: the tag pulled (none when pulled by digest). */
  tag?: string;
  /** Parallel blob downloads; default 4. */
  concurrency?: number;
  onEvent?: (event: TransferEvent) => void;
}

export async function pullImage(
  client: RegistryClient,
  repository: string,
  reference: string,
  dir: string,
  options: PullImageOptions = {},
): Promise<TransferSummary> {
  const emit = options.onEvent ?? (() => {});
  const top = await client.getManifest(repository, reference);
  const rootDescriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.size };
  const graph = await walkImage(
    rootDescriptor,
    async (d) =>
      d.digest === top.digest ? top.bytes : (await client.getManifest(repository, d.digest)).bytes,
    { platform: options.platform },
  );
  const layout = await OciLayout.create(dir);
  emit({
    type: "plan",
    blobs: graph.blobs.length,
    bytes: graph.blobs.reduce((sum, b) => sum + b.size, 0),
    manifests: graph.manifests.length,
  });
  const summary: TransferSummary = {
    digest: graph.root.digest,
    mediaType: graph.root.mediaType,
    size: graph.root.size,
    manifests: graph.manifests.length,
    blobs: { total: graph.blobs.length, transferred: 0, skipped: 0, mounted: 0, bytesTransferred: 0 },
  };

  await forEachLimit(graph.blobs, options.concurrency ?? 4, async (blob) => {
    emit({ type: "blob-start", digest: blob.digest, size: blob.size, mediaType: blob.mediaType });
    if ((await layout.blobSize(blob.digest)) === blob.size) {
      summary.blobs.skipped++;
      emit({ type: "blob-done", digest: blob.digest, size: blob.size, result: "skipped" });
      return;
    }
    const { stream } = await client.getBlob(repository, blob.digest);
    let bytes = 0;
    const progress = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        emit({ type: "blob-progress", digest: blob.digest, bytes, size: blob.size });
        callback(null, chunk);
      },
    });
    stream.on("error", (error) => progress.destroy(error));
    // writeBlob hashes on the way and refuses (deleting the temp file) on a digest or size mismatch.
    await layout.writeBlob(stream.pipe(progress), { digest: blob.digest, size: blob.size });
    summary.blobs.transferred++;
    summary.blobs.bytesTransferred += blob.size;
    emit({ type: "blob-done", digest: blob.digest, size: blob.size, result: "downloaded" });
  });

  // Manifests go in after their blobs, so a layout never names content it lacks.
  for (const manifest of graph.manifests) {
    await layout.writeBlob(manifest.bytes, {
      digest: manifest.descriptor.digest,
      size: manifest.bytes.length,
    });
    emit({
      type: "manifest",
      digest: manifest.descriptor.digest,
      mediaType: manifest.parsed.mediaType,
      size: manifest.bytes.length,
      reference: manifest.descriptor.digest,
    });
  }
  const tag = options.tag ?? (isDigest(reference) ? undefined : reference);
  await layout.tag(graph.root, tag);
  return summary;
}
