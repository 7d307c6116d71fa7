/**
 * Manifests and image configs as the catalogue reads them from a source, with the in-memory
 * caches that spare repeated reads of immutable content: manifests just fetched (to learn a
 * tag's digest) and image configs by digest.
 */
import { forEachLimit } from "../../util/concurrency.ts";
import { LruCache } from "../../util/lru-cache.ts";
import { blobsOf, type LooseDescriptor, readManifest } from "../manifest-view.ts";
import type { ManifestContent } from "../source.ts";
import type { RegistryDirectory } from "./registry-directory.ts";

const CONFIG_MAX_BYTES = 4 * 1024 * 1024;

export class ManifestReader {
  readonly #directory: RegistryDirectory;
  /** Manifests just fetched, kept briefly so the digest's summary needn't fetch again. */
  readonly #recent = new LruCache<string, { bytes: Buffer; mediaType: string }>(
    32 * 1024 * 1024,
    (m) => m.bytes.byteLength + 100,
  );
  /**
   * Image configs by digest (immutable, and shared by many tags of one repository): read once.
   * In flight too, so 16 tags summarised at once over one config read it once.
   */
  readonly #configs = new LruCache<string, Promise<Buffer>>(64 * 1024 * 1024, () => 8 * 1024);

  constructor(options: { directory: RegistryDirectory }) {
    this.#directory = options.directory;
  }

  /** A tag's manifest, straight from the source; remembered by its digest. */
  async byTag(id: string, repository: string, tag: string): Promise<ManifestContent> {
    const manifest = await this.#directory.get(id).source.getManifest(repository, tag);
    this.#recent.set(`${id}/${repository}@${manifest.digest}`, {
      bytes: manifest.bytes,
      mediaType: manifest.mediaType,
    });
    return manifest;
  }

  /** A manifest by digest: one byTag() just fetched, else from the source. */
  async byDigest(id: string, repository: string, digest: string): Promise<ManifestContent> {
    const recent = this.#recent.get(`${id}/${repository}@${digest}`);
    if (recent) return { digest, ...recent };
    return this.#directory.get(id).source.getManifest(repository, digest);
  }

  config(id: string, repository: string, digest: string): Promise<Buffer> {
    const key = `${id}/${repository}@${digest}`;
    const cached = this.#configs.get(key);
    if (cached) return cached;
    const reading = this.#directory.get(id).source.getBlob(repository, digest, CONFIG_MAX_BYTES);
    this.#configs.set(key, reading);
    reading.catch(() => this.#configs.delete(key));
    return reading;
  }

  /** The blobs of each child of an index (see blobsOf); null for a child the registry lacks. */
  async childBlobs(
    id: string,
    repository: string,
    children: LooseDescriptor[],
  ): Promise<(Map<string, number> | null)[]> {
    const { source } = this.#directory.get(id);
    const blobs: (Map<string, number> | null)[] = children.map(() => null);
    await forEachLimit(children, 4, async (child, index) => {
      try {
        const content = await source.getManifest(repository, child.digest);
        blobs[index] = blobsOf(readManifest(content.bytes, content.mediaType));
      } catch {
        // A child the registry lacks: size unknown.
      }
    });
    return blobs;
  }
}
