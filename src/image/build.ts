/**
 * Builds images into an OCI layout: gzip-compressed layers from tar entries, an OCI image config
 * whose `rootfs.diff_ids` are the digests of the uncompressed tars (what skopeo, podman and
 * containerd check), a manifest, and optionally an index over several platforms.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { type Digest, digestOf } from "../oci/digest.ts";
import type { Descriptor, ImageIndex, ImageManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import type { Platform } from "../oci/platform.ts";
import { DigestingStream, type OciLayout } from "./oci-layout.ts";
import { type TarInputEntry, tarChunks } from "./tar.ts";

export interface BuiltLayer {
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar, for the config's rootfs.diff_ids. */
  diffId: Digest;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
}

/** Streams tar entries through gzip into the layout, hashing the uncompressed tar on the way. */
export async function buildLayer(
  layout: OciLayout,
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
  options: { level?: number } = {},
): Promise<BuiltLayer> {
  const uncompressed = new DigestingStream("sha256");
  // mtime 0 in the gzip header (node's default) keeps equal input giving equal digests.
  const gzip = createGzip({ level: options.level ?? 6 });
  // pipeline() destroys every stage on any error (a short stream-factory entry, say), so the
  // blob writer reading from gzip sees the failure instead of waiting forever.
  const feeding = pipeline(Readable.from(tarChunks(entries)), uncompressed, gzip);
  const [{ digest, size }] = await Promise.all([layout.writeBlob(gzip), feeding]);
  return {
    descriptor: { mediaType: MediaType.OciLayerGzip, digest, size },
    diffId: uncompressed.digest(),
    uncompressedSize: uncompressed.bytes,
  };
}

export interface ImageConfigOptions {
  platform: Platform;
  diffIds: Digest[];
  created?: string;
  env?: string[];
  /** Default arguments; without `cmd` and `entrypoint` the image runs `/bin/sh`. */
  cmd?: string[];
  entrypoint?: string[];
  /** `uid[:gid]` or a name from the image's /etc/passwd. */
  user?: string;
  workingDir?: string;
  /** `port/proto` entries, e.g. `5000/tcp`. */
  exposedPorts?: string[];
  /** Paths that hold data, not image content (runtimes mount a volume there). */
  volumes?: string[];
  labels?: Record<string, string>;
  stopSignal?: string;
  /** One `created_by` line per layer, for the history. */
  history?: string[];
}

/** The set-valued fields of an image config are objects whose values are always `{}`. */
function asSet(keys: string[]): Record<string, Record<string, never>> {
  return Object.fromEntries(keys.map((key) => [key, {}]));
}

/** An OCI image config (image-spec config.md) with the fields runtimes expect. */
export function imageConfig(options: ImageConfigOptions): Record<string, unknown> {
  const created = options.created ?? new Date().toISOString();
  const config: Record<string, unknown> = {
    created,
    architecture: options.platform.architecture,
    os: options.platform.os,
  };
  if (options.platform.variant) config.variant = options.platform.variant;
  const runtime: Record<string, unknown> = {};
  if (options.user !== undefined) runtime.User = options.user;
  if (options.exposedPorts?.length) runtime.ExposedPorts = asSet(options.exposedPorts);
  runtime.Env = options.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
  if (options.entrypoint) runtime.Entrypoint = options.entrypoint;
  // An entrypoint alone is a complete command; a default shell after it would become its argument.
  const cmd = options.cmd ?? (options.entrypoint ? undefined : ["/bin/sh"]);
  if (cmd) runtime.Cmd = cmd;
  if (options.volumes?.length) runtime.Volumes = asSet(options.volumes);
  if (options.workingDir !== undefined) runtime.WorkingDir = options.workingDir;
  if (options.labels && Object.keys(options.labels).length > 0) runtime.Labels = options.labels;
  if (options.stopSignal !== undefined) runtime.StopSignal = options.stopSignal;
  config.config = runtime;
  config.rootfs = { type: "layers", diff_ids: options.diffIds };
  config.history = options.diffIds.map((_, i) => ({
    created,
    created_by: options.history?.[i] ?? `layer ${i + 1}`,
  }));
  return config;
}

/** Writes a JSON document as a blob and returns its descriptor. */
export async function writeJsonBlob(
  layout: OciLayout,
  mediaType: string,
  value: unknown,
): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value), "utf8");
  const { digest, size } = await layout.writeBlob(bytes, { digest: digestOf(bytes) });
  return { mediaType, digest, size };
}

export interface WrittenImage {
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: Descriptor;
  layers: Descriptor[];
}

/** Writes config and manifest for already-written layers; tags the manifest if `tag` is given. */
export async function writeImage(
  layout: OciLayout,
  options: {
    layers: Pick<BuiltLayer, "descriptor" | "diffId">[];
    config: Omit<ImageConfigOptions, "diffIds">;
    tag?: string;
  },
): Promise<WrittenImage> {
  const configDescriptor = await writeJsonBlob(
    layout,
    MediaType.OciConfig,
    imageConfig({ ...options.config, diffIds: options.layers.map((l) => l.diffId) }),
  );
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: configDescriptor,
    layers: options.layers.map((l) => l.descriptor),
  };
  const manifestDescriptor = await writeJsonBlob(layout, MediaType.OciManifest, manifest);
  const descriptor: Descriptor = { ...manifestDescriptor, platform: options.config.platform };
  if (options.tag) await layout.tag(descriptor, options.tag);
  return { descriptor, manifest, config: configDescriptor, layers: manifest.layers };
}

/** Writes an index over `children` (each with its platform) and tags it if `tag` is given. */
export async function writeIndex(
  layout: OciLayout,
  children: Descriptor[],
  tag?: string,
): Promise<Descriptor> {
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: children.map((c) => {
      const d: Descriptor = { mediaType: c.mediaType, digest: c.digest, size: c.size };
      if (c.platform) d.platform = c.platform;
      return d;
    }),
  };
  const descriptor = await writeJsonBlob(layout, MediaType.OciIndex, index);
  if (tag) await layout.tag(descriptor, tag);
  return descriptor;
}
