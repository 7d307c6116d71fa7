/**
 * Small synthetic images and the raw OCI Distribution push/pull requests the benchmark (and the
 * crash test) make: HEAD blob, POST + PUT upload, chunked PATCH upload, manifest PUT, mount.
 */
import { randomBytes } from "node:crypto";
import { type Digest, digestOf } from "../src/oci/digest.ts";
import { MediaType } from "../src/oci/media-types.ts";
import { expectStatus, type HttpTarget } from "./http.ts";

export interface Blob {
  digest: Digest;
  size: number;
  mediaType: string;
  data: Buffer;
}

export interface SmallImage {
  config: Blob;
  layers: Blob[];
  manifest: Buffer;
  manifestDigest: Digest;
  mediaType: string;
}

export function blobOf(data: Buffer, mediaType: string): Blob {
  return { digest: digestOf(data), size: data.length, mediaType, data };
}

/** An OCI image manifest over the given config and layers. */
export function imageManifest(config: Blob, layers: Blob[], annotations?: Record<string, string>): Buffer {
  const descriptor = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: descriptor(config),
    layers: layers.map(descriptor),
    ...(annotations ? { annotations } : {}),
  };
  return Buffer.from(JSON.stringify(manifest));
}

/** A unique image: a config and `layerCount` random layers of `layerSize` bytes. */
export function makeSmallImage(name: string, layerCount = 2, layerSize = 4096): SmallImage {
  const layers = Array.from({ length: layerCount }, () =>
    blobOf(randomBytes(layerSize), MediaType.OciLayerGzip),
  );
  const config = blobOf(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Labels: { "bench.name": name } },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
      }),
    ),
    MediaType.OciConfig,
  );
  const manifest = imageManifest(config, layers);
  return { config, layers, manifest, manifestDigest: digestOf(manifest), mediaType: MediaType.OciManifest };
}

export const MANIFEST_ACCEPT = [
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
].join(", ");

/** Monolithic upload as clients do it: POST to open an upload, PUT the bytes with `?digest=`. */
export async function pushBlob(
  target: HttpTarget,
  repo: string,
  blob: Blob,
  checkExists = true,
): Promise<void> {
  if (checkExists) {
    const head = await target.request("HEAD", `/v2/${repo}/blobs/${blob.digest}`);
    if (head.status === 200) return;
    expectStatus(`HEAD blob ${blob.digest}`, head, 404);
  }
  const post = expectStatus(
    `POST upload in ${repo}`,
    await target.request("POST", `/v2/${repo}/blobs/uploads/`),
    202,
  );
  const location = post.headers.location;
  if (!location) throw new Error(`POST upload in ${repo}: 202 without Location`);
  const path = target.pathOf(location);
  const sep = path.includes("?") ? "&" : "?";
  expectStatus(
    `PUT blob ${blob.digest}`,
    await target.request("PUT", `${path}${sep}digest=${encodeURIComponent(blob.digest)}`, {
      headers: { "content-type": "application/octet-stream" },
      body: blob.data,
    }),
    201,
  );
}

/** Chunked upload: POST, then PATCH `chunkSize` bytes at a time with Content-Range, then PUT `?digest=`. */
export async function pushBlobChunked(
  target: HttpTarget,
  repo: string,
  data: Buffer,
  digest: Digest,
  chunkSize: number,
): Promise<void> {
  const post = expectStatus(
    `POST upload in ${repo}`,
    await target.request("POST", `/v2/${repo}/blobs/uploads/`),
    202,
  );
  let location = post.headers.location;
  if (!location) throw new Error(`POST upload in ${repo}: 202 without Location`);
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    const chunk = data.subarray(offset, Math.min(data.length, offset + chunkSize));
    const patch = expectStatus(
      `PATCH chunk at ${offset}`,
      await target.request("PATCH", target.pathOf(location), {
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
      }),
      202,
    );
    location = patch.headers.location ?? location;
  }
  const path = target.pathOf(location);
  const sep = path.includes("?") ? "&" : "?";
  expectStatus(
    `PUT (close) chunked upload ${digest}`,
    await target.request("PUT", `${path}${sep}digest=${encodeURIComponent(digest)}`),
    201,
  );
}

/** Cross-repository mount; answers true when mounted (201), false when the registry opened an upload instead. */
export async function mountBlob(
  target: HttpTarget,
  repo: string,
  digest: Digest,
  from: string,
): Promise<boolean> {
  const res = await target.request(
    "POST",
    `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
  );
  if (res.status === 201) return true;
  expectStatus(`mount ${digest} into ${repo}`, res, 202);
  // Not mounted: cancel the upload session the registry opened.
  if (res.headers.location) await target.request("DELETE", target.pathOf(res.headers.location));
  return false;
}

export async function putManifest(
  target: HttpTarget,
  repo: string,
  reference: string,
  manifest: Buffer,
  mediaType: string = MediaType.OciManifest,
): Promise<{ digest: string | undefined }> {
  const res = expectStatus(
    `PUT manifest ${repo}:${reference}`,
    await target.request("PUT", `/v2/${repo}/manifests/${reference}`, {
      headers: { "content-type": mediaType },
      body: manifest,
    }),
    201,
  );
  const digest = res.headers["docker-content-digest"];
  return { digest: Array.isArray(digest) ? digest[0] : digest };
}

/** Pushes every blob of the image (one after the other, as a simple client does), then its manifest by tag. */
export async function pushImage(
  target: HttpTarget,
  repo: string,
  tag: string,
  image: SmallImage,
): Promise<void> {
  await pushBlob(target, repo, image.config);
  for (const layer of image.layers) await pushBlob(target, repo, layer);
  await putManifest(target, repo, tag, image.manifest, image.mediaType);
}
