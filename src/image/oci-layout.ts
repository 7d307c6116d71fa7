/**
 * OCI image layout directories (image-spec `image-layout.md`): an `oci-layout` marker file,
 * `index.json` naming the images, and content-addressed `blobs/<alg>/<hex>`.
 *
 * Reading resolves refs through the `org.opencontainers.image.ref.name` annotation, as skopeo's
 * `oci:<dir>:<ref>` does. Writing is crash-safe per blob: bytes go to a temp file in the same
 * directory, are hashed on the way, and are renamed into place only when the digest matches,
 * so a half-written or corrupt blob is never visible under its digest.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createDigester,
  type Digest,
  type DigestAlgorithm,
  digestFromHash,
  parseDigest,
} from "../oci/digest.ts";
import type { Descriptor, ImageIndex } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { fsyncPath } from "../util/fs.ts";
import { type ImageSource, MAX_SMALL_BLOB_BYTES } from "./source.ts";

export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
/** containerd and `docker save` (v25+) record the full image name here. */
export const CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name";
const LAYOUT_VERSION = "1.0.0";

export class BlobDigestMismatchError extends Error {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, what = "blob") {
    super(`${what} digest mismatch: expected ${expected}, got ${actual}`);
    this.name = "BlobDigestMismatchError";
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * A Transform that hashes and counts the bytes flowing through it. Used wherever bytes are
 * forwarded (to disk, to a registry) so verification costs no second pass.
 */
export class DigestingStream extends Transform {
  readonly algorithm: DigestAlgorithm;
  bytes = 0;
  private readonly hash;
  private result: Digest | undefined;

  constructor(algorithm: DigestAlgorithm = "sha256") {
    super();
    this.algorithm = algorithm;
    this.hash = createDigester(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    // Passing the chunk to the callback (not push-then-callback in the wrong order) keeps backpressure.
    callback(null, chunk);
  }

  /** The digest of everything that passed; only valid once the stream has ended. */
  digest(): Digest {
    this.result ??= digestFromHash(this.algorithm, this.hash);
    return this.result;
  }
}

/** Whether a layer may be pulled from somewhere else (foreign layers): such blobs may be absent. */
export function isNondistributable(descriptor: Descriptor): boolean {
  return descriptor.mediaType.includes("nondistributable") || descriptor.mediaType.includes("foreign");
}

/**
 * Finds the index entry a ref names: the `org.opencontainers.image.ref.name` annotation first,
 * then containerd's full image name (`docker.io/library/alpine:3.20` matches `alpine:3.20`).
 */
export function findByRef(index: ImageIndex, ref: string): Descriptor | undefined {
  return (
    index.manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === ref) ??
    index.manifests.find((m) => {
      const full = m.annotations?.[CONTAINERD_NAME_ANNOTATION];
      return full !== undefined && (full === ref || full.endsWith(`/${ref}`) || full.endsWith(`:${ref}`));
    })
  );
}

export class OciLayout implements ImageSource {
  readonly dir: string;
  readonly description: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.description = `oci:${dir}`;
  }

  /** Opens an existing layout; throws if `dir` has no valid `oci-layout` file. */
  static async open(dir: string): Promise<OciLayout> {
    let marker: unknown;
    try {
      marker = JSON.parse(await readFile(join(dir, "oci-layout"), "utf8"));
    } catch (error) {
      throw new Error(
        `${dir} is not an OCI image layout (no readable oci-layout file): ${(error as Error).message}`,
      );
    }
    const version = (marker as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    if (typeof version !== "string" || !version.startsWith("1.")) {
      throw new Error(`${dir}/oci-layout: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
    }
    return new OciLayout(dir);
  }

  /** Opens a layout, creating the directory, marker, blobs dir and an empty index if missing. */
  static async create(dir: string): Promise<OciLayout> {
    await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
    const layout = new OciLayout(dir);
    if (!(await exists(join(dir, "oci-layout")))) {
      await atomicWriteFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
    }
    if (!(await exists(join(dir, "index.json")))) {
      await layout.writeIndex({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });
    }
    return OciLayout.open(dir);
  }

  blobPath(digest: Digest | string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.dir, "blobs", algorithm, hex);
  }

  async readIndex(): Promise<ImageIndex> {
    const text = await readFile(join(this.dir, "index.json"), "utf8");
    const index = JSON.parse(text) as ImageIndex;
    if (index.schemaVersion !== 2 || !Array.isArray(index.manifests)) {
      throw new Error(`${this.dir}/index.json is not an OCI image index`);
    }
    return index;
  }

  private async writeIndex(index: ImageIndex): Promise<void> {
    await atomicWriteFile(join(this.dir, "index.json"), JSON.stringify(index));
  }

  /**
   * Finds the manifest a ref names: by `org.opencontainers.image.ref.name` (or the containerd
   * full image name), by digest, or — with no ref — the only manifest in index.json.
   */
  async resolve(ref?: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (ref === undefined || ref === "") {
      if (index.manifests.length === 1) return index.manifests[0]!;
      const names = index.manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]).filter(Boolean);
      throw new Error(
        `${this.dir} holds ${index.manifests.length} manifests; name one (${names.join(", ") || "none are tagged"})`,
      );
    }
    if (ref.includes(":") && /^[a-z0-9]+:[a-f0-9]+$/.test(ref)) {
      const digest = parseDigest(ref).digest;
      const listed = index.manifests.find((m) => m.digest === digest);
      if (listed) return listed;
      const size = await this.blobSize(digest);
      if (size === undefined) throw new Error(`${this.dir} has no blob ${digest}`);
      const json = JSON.parse((await this.readBlob(digest)).toString("utf8")) as {
        mediaType?: string;
        manifests?: unknown;
      };
      const mediaType =
        json.mediaType ?? (Array.isArray(json.manifests) ? MediaType.OciIndex : MediaType.OciManifest);
      return { mediaType, digest, size };
    }
    const match = findByRef(index, ref);
    if (!match) {
      const names = index.manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]).filter(Boolean);
      throw new Error(`${this.dir} has no image tagged "${ref}" (tags: ${names.join(", ") || "none"})`);
    }
    return match;
  }

  async blobSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      return undefined;
    }
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return (await this.blobSize(digest)) !== undefined;
  }

  async readBlob(digest: Digest, maxBytes = MAX_SMALL_BLOB_BYTES): Promise<Buffer> {
    const path = this.blobPath(digest);
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) throw new Error(`blob ${digest} is ${size} bytes, more than ${maxBytes}`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async openBlob(digest: Digest, range?: { start: number; end?: number }): Promise<Readable> {
    const path = this.blobPath(digest);
    await stat(path); // fail here with ENOENT rather than on the first read
    return createReadStream(path, range);
  }

  /**
   * Writes a blob from bytes or a stream. The content is hashed on the way to a temp file and
   * renamed into place only if it matches `expected` (when given). Returns the digest and size.
   * An existing blob with the expected digest is kept as is (content addressing makes it equal).
   */
  async writeBlob(
    source: Uint8Array | Readable | AsyncIterable<Uint8Array>,
    expected?: { digest?: Digest | string; size?: number },
  ): Promise<{ digest: Digest; size: number }> {
    const algorithm = expected?.digest ? parseDigest(expected.digest).algorithm : "sha256";
    if (expected?.digest && expected.size !== undefined) {
      const have = await this.blobSize(expected.digest as Digest);
      if (have === expected.size) {
        if (!(source instanceof Uint8Array)) (source as Readable).destroy?.();
        return { digest: expected.digest as Digest, size: have };
      }
    }
    const dir = join(this.dir, "blobs", algorithm);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
    const digester = new DigestingStream(algorithm);
    try {
      const input = source instanceof Uint8Array ? Readable.from([Buffer.from(source)]) : source;
      const file = createWriteStream(temp, { flags: "wx" });
      await pipeline(input, digester, file);
      const digest = digester.digest();
      if (expected?.digest && digest !== expected.digest) {
        throw new BlobDigestMismatchError(expected.digest, digest);
      }
      if (expected?.size !== undefined && digester.bytes !== expected.size) {
        throw new Error(`blob ${digest}: expected ${expected.size} bytes, got ${digester.bytes}`);
      }
      await fsyncPath(temp);
      await rename(temp, this.blobPath(digest));
      return { digest, size: digester.bytes };
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Records `descriptor` in index.json under `ref` (the ref-name annotation). Any other entry with
   * the same ref loses it, so a ref names exactly one manifest, as skopeo expects.
   */
  async tag(descriptor: Descriptor, ref?: string): Promise<void> {
    const index = await this.readIndex();
    const entry: Descriptor = {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
    };
    if (descriptor.platform) entry.platform = descriptor.platform;
    if (ref) entry.annotations = { ...descriptor.annotations, [REF_NAME_ANNOTATION]: ref };
    else if (descriptor.annotations) entry.annotations = descriptor.annotations;
    const kept = index.manifests.filter((m) => {
      if (ref) return m.annotations?.[REF_NAME_ANNOTATION] !== ref;
      // Untagged: avoid listing the same untagged digest twice.
      return !(m.digest === descriptor.digest && !m.annotations?.[REF_NAME_ANNOTATION]);
    });
    await this.writeIndex({ ...index, manifests: [...kept, entry] });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes a small file so that readers see either the old or the new content, never a mix. */
export async function atomicWriteFile(path: string, content: string | Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    await writeFile(temp, content, { flag: "wx" });
    await fsyncPath(temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
