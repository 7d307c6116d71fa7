/**
 * Reads a `docker save` tarball as an OCI image source, without extracting it.
 *
 * Two shapes exist:
 * - the classic one: `manifest.json` = `[{Config, RepoTags, Layers}]`, with the config JSON and
 *   layer tars as files inside. We present each entry as an OCI image: the config as is, the
 *   layers as is (media type from their magic bytes: gzip, zstd or plain tar) and a manifest
 *   built from them. Layers are never recompressed, so their digests stay those of the files.
 * - Docker 25+: the tarball is also an OCI layout (`oci-layout`, `index.json`, `blobs/`).
 *   Then index.json is the truth and blobs are read straight from it.
 */
import { Readable } from "node:stream";
import { createDigester, type Digest, digestFromHash, digestOf, parseDigest } from "../oci/digest.ts";
import type { Descriptor, ImageIndex, ImageManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { findByRef } from "./oci-layout.ts";
import { type ImageSource, MAX_SMALL_BLOB_BYTES } from "./source.ts";
import { indexTar, normalizeTarPath, openTarEntry, readTarEntry, type TarEntry } from "./tar.ts";

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** A blob inside the archive: a tar entry, or bytes we made (a synthesized manifest). */
type BlobLocation = { entry: TarEntry } | { bytes: Buffer };

export class DockerArchive implements ImageSource {
  readonly path: string;
  readonly description: string;
  private readonly entries: Map<string, TarEntry>;
  private readonly blobs = new Map<string, BlobLocation>();
  private readonly resolved = new Map<number, Descriptor>();

  private constructor(path: string, entries: TarEntry[]) {
    this.path = path;
    this.description = `docker-archive:${path}`;
    this.entries = new Map(entries.map((e) => [e.name, e]));
  }

  static async open(path: string): Promise<DockerArchive> {
    const archive = new DockerArchive(path, await indexTar(path));
    if (!archive.isOciLayout() && !archive.entries.has("manifest.json")) {
      throw new Error(`${path} is not a docker-save archive: it has neither manifest.json nor index.json`);
    }
    return archive;
  }

  /** Docker 25+ archives carry a complete OCI layout; prefer it when present. */
  isOciLayout(): boolean {
    return this.entries.has("index.json") && this.entries.has("oci-layout");
  }

  /** The `RepoTags` of every image in a classic archive, or the ref names of an OCI one. */
  async tags(): Promise<string[]> {
    if (this.isOciLayout()) {
      const index = await this.readJson<ImageIndex>("index.json");
      return index.manifests.flatMap((m) => {
        const name =
          m.annotations?.["io.containerd.image.name"] ?? m.annotations?.["org.opencontainers.image.ref.name"];
        return name ? [name] : [];
      });
    }
    const manifest = await this.readJson<DockerManifestEntry[]>("manifest.json");
    return manifest.flatMap((m) => m.RepoTags ?? []);
  }

  async resolve(ref?: string): Promise<Descriptor> {
    if (this.isOciLayout()) return this.resolveOci(ref);
    const manifest = await this.readJson<DockerManifestEntry[]>("manifest.json");
    if (!Array.isArray(manifest) || manifest.length === 0)
      throw new Error(`${this.path}: manifest.json lists no images`);
    let index: number;
    if (!ref) {
      if (manifest.length > 1) {
        throw new Error(
          `${this.path} holds ${manifest.length} images; name one of: ${(await this.tags()).join(", ")}`,
        );
      }
      index = 0;
    } else {
      index = manifest.findIndex((m) => (m.RepoTags ?? []).some((tag) => repoTagMatches(tag, ref)));
      if (index === -1)
        throw new Error(
          `${this.path} has no image tagged "${ref}" (tags: ${(await this.tags()).join(", ")})`,
        );
    }
    const cached = this.resolved.get(index);
    if (cached) return cached;
    const descriptor = await this.synthesize(manifest[index]!);
    this.resolved.set(index, descriptor);
    return descriptor;
  }

  private async resolveOci(ref?: string): Promise<Descriptor> {
    const index = await this.readJson<ImageIndex>("index.json");
    if (!ref) {
      if (index.manifests.length === 1) return index.manifests[0]!;
      throw new Error(
        `${this.path} holds ${index.manifests.length} images; name one of: ${(await this.tags()).join(", ")}`,
      );
    }
    const match = findByRef(index, ref);
    if (!match)
      throw new Error(`${this.path} has no image tagged "${ref}" (tags: ${(await this.tags()).join(", ")})`);
    return match;
  }

  /** Builds an OCI manifest for one classic manifest.json entry and registers its blobs. */
  private async synthesize(item: DockerManifestEntry): Promise<Descriptor> {
    const configEntry = this.entry(item.Config);
    const configBytes = await readTarEntry(this.path, configEntry, MAX_SMALL_BLOB_BYTES);
    const configDigest = digestOf(configBytes);
    this.blobs.set(configDigest, { entry: configEntry });
    const layers: Descriptor[] = [];
    for (const name of item.Layers) {
      const entry = this.entry(name);
      const digest = await this.layerDigest(name, entry);
      this.blobs.set(digest, { entry });
      layers.push({ mediaType: await this.layerMediaType(entry), digest, size: entry.size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest), "utf8");
    const digest = digestOf(bytes);
    this.blobs.set(digest, { bytes });
    return { mediaType: MediaType.OciManifest, digest, size: bytes.length };
  }

  /**
   * Layers stored as `blobs/sha256/<hex>` are named by their digest; others (`<id>/layer.tar`)
   * must be hashed once. A wrong name is caught later: registries and our pull verify digests.
   */
  private async layerDigest(name: string, entry: TarEntry): Promise<Digest> {
    const match = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(normalizeTarPath(name));
    if (match) return parseDigest(`${match[1]}:${match[2]}`).digest;
    const hash = createDigester("sha256");
    for await (const chunk of openTarEntry(this.path, entry)) hash.update(chunk as Buffer);
    return digestFromHash("sha256", hash);
  }

  private async layerMediaType(entry: TarEntry): Promise<string> {
    if (entry.size < 4) return MediaType.OciLayer;
    const head = await readTarEntry(this.path, { ...entry, size: 4 });
    if (head[0] === 0x1f && head[1] === 0x8b) return MediaType.OciLayerGzip;
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
      return MediaType.OciLayerZstd;
    return MediaType.OciLayer;
  }

  /** An archive entry by path, following symlinks and hard links (docker dedups layers that way). */
  private entry(name: string, depth = 0): TarEntry {
    const normalized = normalizeTarPath(name);
    const entry = this.entries.get(normalized);
    if (!entry) throw new Error(`${this.path}: no entry "${name}"`);
    if (depth > 8) throw new Error(`${this.path}: too many links resolving "${name}"`);
    if (entry.type === "hardlink") return this.entry(entry.linkname, depth + 1);
    if (entry.type === "symlink") {
      const base = normalized.includes("/") ? normalized.slice(0, normalized.lastIndexOf("/") + 1) : "";
      return this.entry(joinArchivePath(base, entry.linkname), depth + 1);
    }
    return entry;
  }

  private locate(digest: Digest): BlobLocation | undefined {
    const known = this.blobs.get(digest);
    if (known) return known;
    if (this.isOciLayout()) {
      const { algorithm, hex } = parseDigest(digest);
      const name = `blobs/${algorithm}/${hex}`;
      if (this.entries.has(name)) return { entry: this.entry(name) };
    }
    return undefined;
  }

  async blobSize(digest: Digest): Promise<number | undefined> {
    const location = this.locate(digest);
    if (!location) return undefined;
    return "bytes" in location ? location.bytes.length : location.entry.size;
  }

  async readBlob(digest: Digest, maxBytes = MAX_SMALL_BLOB_BYTES): Promise<Buffer> {
    const location = this.locate(digest);
    if (!location) throw new Error(`${this.path}: no blob ${digest}`);
    if ("bytes" in location) return location.bytes;
    return readTarEntry(this.path, location.entry, maxBytes);
  }

  async openBlob(digest: Digest): Promise<Readable> {
    const location = this.locate(digest);
    if (!location) throw new Error(`${this.path}: no blob ${digest}`);
    if ("bytes" in location) return Readable.from([location.bytes]);
    return openTarEntry(this.path, location.entry);
  }

  private async readJson<T>(name: string): Promise<T> {
    const bytes = await readTarEntry(this.path, this.entry(name), MAX_SMALL_BLOB_BYTES);
    try {
      return JSON.parse(bytes.toString("utf8")) as T;
    } catch (error) {
      throw new Error(`${this.path}: ${name} is not valid JSON: ${(error as Error).message}`);
    }
  }
}

/** `RepoTags` hold `name:tag` (e.g. `alpine:3.20` or `registry.example/team/app:v1`). */
function repoTagMatches(repoTag: string, ref: string): boolean {
  if (repoTag === ref) return true;
  const colon = repoTag.lastIndexOf(":");
  const repo = repoTag.slice(0, colon);
  const tag = repoTag.slice(colon + 1);
  return ref === tag || ref === repo || repoTag.endsWith(`/${ref}`) || `docker.io/library/${repoTag}` === ref;
}

function joinArchivePath(base: string, relative: string): string {
  const parts = (relative.startsWith("/") ? relative : base + relative).split("/");
  const out: string[] = [];
  for (const part of parts) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out.join("/");
}
