/**
 * Test image generator: random but valid OCI images (real gzip-compressed tar layers, a proper
 * image config with diff_ids) written into OCI layouts that skopeo, podman and `reestr push` accept.
 *
 * Contents come from AES-256-CTR keyed by the seed, so equal seeds give byte-identical images
 * (equal digests) and different seeds give different ones; without a seed every call is unique.
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { buildLayer, writeImage, writeIndex } from "../../src/image/build.ts";
import { OciLayout } from "../../src/image/oci-layout.ts";
import type { TarInputEntry } from "../../src/image/tar.ts";
import type { Digest } from "../../src/oci/digest.ts";
import type { Descriptor } from "../../src/oci/manifest.ts";

export interface FixtureManifest {
  digest: string;
  mediaType: string;
  size: number;
  /** Config and layer blobs of the image. */
  blobs: { digest: string; size: number }[];
}

export interface FixturePlatform {
  os: string;
  architecture: string;
  variant?: string;
}

/** A deterministic byte stream of `size` bytes derived from `seed`. */
async function* seededBytes(seed: string, size: number): AsyncGenerator<Uint8Array> {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const chunk = 64 * 1024;
  const zeros = Buffer.alloc(chunk);
  for (let left = size; left > 0; left -= chunk) {
    yield cipher.update(left >= chunk ? zeros : zeros.subarray(0, left));
  }
}

function layerEntries(seed: string, index: number, size: number): TarInputEntry[] {
  const dir = `layer${index}`;
  return [
    { name: dir, type: "directory", mtime: 1_700_000_000 },
    { name: `${dir}/seed.txt`, data: `${seed}/${index}\n`, mtime: 1_700_000_000 },
    {
      name: `${dir}/data.bin`,
      size,
      data: () => seededBytes(`${seed}/${index}`, size),
      mtime: 1_700_000_000,
    },
  ];
}

async function writeFixtureImage(
  layout: OciLayout,
  opts: { tag?: string; layers?: number; layerSize?: number; platform?: FixturePlatform; seed?: string },
): Promise<{ manifest: FixtureManifest; platform: FixturePlatform }> {
  const seed = opts.seed ?? randomBytes(16).toString("hex");
  const platform = opts.platform ?? { os: "linux", architecture: "amd64" };
  const layerCount = opts.layers ?? 2;
  const layerSize = opts.layerSize ?? 32 * 1024;
  const layers = [];
  for (let i = 0; i < layerCount; i++) {
    // Random data does not compress, so deflate level 0 (stored blocks: still real gzip that every
    // tool reads) gives the same size as level 6 and builds big fixtures about ten times faster.
    layers.push(await buildLayer(layout, layerEntries(seed, i, layerSize), { level: 0 }));
  }
  const image = await writeImage(layout, {
    layers,
    tag: opts.tag,
    config: {
      platform,
      // A fixed date when seeded keeps seeded images reproducible.
      created: opts.seed ? "2024-01-01T00:00:00Z" : new Date().toISOString(),
      cmd: ["/bin/sh", "-c", `echo ${seed}`],
      history: layers.map((_, i) => `reestr fixture layer ${i}`),
    },
  });
  return {
    platform,
    manifest: {
      digest: image.descriptor.digest,
      mediaType: image.descriptor.mediaType,
      size: image.descriptor.size,
      blobs: [image.config, ...image.layers].map((d) => ({ digest: d.digest, size: d.size })),
    },
  };
}

/** Writes a random but valid, gzip-compressed, real-tar-layer OCI image into an OCI layout at dir (created if needed), tagged `tag`. */
export async function makeOciImage(
  dir: string,
  opts: { tag?: string; layers?: number; layerSize?: number; platform?: FixturePlatform; seed?: string } = {},
): Promise<FixtureManifest> {
  const layout = await OciLayout.create(dir);
  const { manifest } = await writeFixtureImage(layout, { ...opts, tag: opts.tag ?? "latest" });
  return manifest;
}

/** Writes a multi-arch OCI index (one image per platform) tagged `tag`. */
export async function makeMultiArchImage(
  dir: string,
  opts: { tag?: string; platforms: FixturePlatform[]; layerSize?: number; seed?: string },
): Promise<{ digest: string; size: number; children: FixtureManifest[] }> {
  if (opts.platforms.length === 0) throw new Error("makeMultiArchImage needs at least one platform");
  const layout = await OciLayout.create(dir);
  const seed = opts.seed ?? randomBytes(16).toString("hex");
  const children: FixtureManifest[] = [];
  const descriptors: Descriptor[] = [];
  for (const platform of opts.platforms) {
    const variant = platform.variant ? `/${platform.variant}` : "";
    // Children are reachable only through the index: they are not tagged in index.json.
    const { manifest } = await writeFixtureImage(layout, {
      platform,
      seed: `${seed}/${platform.os}/${platform.architecture}${variant}`,
      layerSize: opts.layerSize,
      layers: 1,
    });
    children.push(manifest);
    descriptors.push({
      mediaType: manifest.mediaType,
      digest: manifest.digest as Digest,
      size: manifest.size,
      platform,
    });
  }
  const index = await writeIndex(layout, descriptors, opts.tag ?? "latest");
  return { digest: index.digest, size: index.size, children };
}
