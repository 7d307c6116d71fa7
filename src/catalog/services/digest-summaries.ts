/**
 * What a tag's manifest adds up to (media type, size, platforms, creation time), for tag
 * listings. Summaries are immutable per digest: kept in memory, and for remote registries in
 * the shared cache too; a resync forgets a registry's.
 */
import { forEachLimit } from "../../util/concurrency.ts";
import type { Logger } from "../../util/logger.ts";
import { LruCache } from "../../util/lru-cache.ts";
import type { TagPlatform } from "../api-schemas.ts";
import {
  blobsOf,
  IMAGE_CONFIG_TYPES,
  isoTime,
  isRealPlatform,
  platformOf,
  readImageConfig,
  readManifest,
  totalBytes,
  variantOf,
} from "../manifest-view.ts";
import type { TagInfo } from "../source.ts";
import type { ManifestReader } from "./manifest-reader.ts";
import type { RegistryDirectory } from "./registry-directory.ts";
import { IMMUTABLE, type RegistryReads } from "./registry-reads.ts";

export interface DigestSummary {
  mediaType: string;
  sizeBytes: number | null;
  platforms: TagPlatform[];
  created: string | null;
}

export interface TagDigestSummary extends DigestSummary {
  digest: string;
}

export interface DigestSummariesOptions {
  directory: RegistryDirectory;
  reads: RegistryReads;
  manifests: ManifestReader;
  logger?: Logger;
}

export class DigestSummaries {
  readonly #directory: RegistryDirectory;
  readonly #reads: RegistryReads;
  readonly #manifests: ManifestReader;
  readonly #logger: Logger | undefined;
  readonly #memory = new LruCache<string, DigestSummary>(50_000);
  /** Keys of the in-memory summaries per registry, so a resync drops them too. */
  readonly #keysOf = new Map<string, Set<string>>();

  constructor(options: DigestSummariesOptions) {
    this.#directory = options.directory;
    this.#reads = options.reads;
    this.#manifests = options.manifests;
    this.#logger = options.logger;
  }

  /** Summaries of these tags, by tag; a tag whose manifest cannot be read is left out. */
  async ofTags(id: string, repository: string, tags: TagInfo[]): Promise<Map<string, TagDigestSummary>> {
    const { source } = this.#directory.get(id);
    const out = new Map<string, TagDigestSummary>();
    await forEachLimit(tags, source.local ? 16 : 8, async (tag) => {
      try {
        // Remote: the tag's digest is one manifest GET away; cached like the tag list.
        const digest =
          tag.digest ??
          (await this.#reads.load(id, `tagdigest:${repository}:${tag.tag}`, async () => {
            return (await this.#manifests.byTag(id, repository, tag.tag)).digest;
          }));
        out.set(tag.tag, { ...(await this.#ofDigest(id, repository, digest)), digest });
      } catch (error) {
        this.#logger?.warn("catalogue tag unreadable", {
          registry: id,
          repository,
          tag: tag.tag,
          error: (error as Error).message,
        });
      }
    });
    return out;
  }

  /** Forgets what is kept in memory of registry `id`. */
  forget(id: string): void {
    for (const key of this.#keysOf.get(id) ?? []) this.#memory.delete(key);
    this.#keysOf.delete(id);
  }

  async #ofDigest(id: string, repository: string, digest: string): Promise<DigestSummary> {
    const key = `${id}/${repository}@${digest}`;
    const memory = this.#memory.get(key);
    if (memory) return memory;
    // Local summaries are cheap to recompute: they stay in memory only, so 10,000 of them never
    // push the shared cache's other entries out.
    const summary = this.#directory.get(id).source.local
      ? await this.#compute(id, repository, digest)
      : await this.#reads.load(
          id,
          `digest:${repository}@${digest}`,
          () => this.#compute(id, repository, digest),
          IMMUTABLE,
        );
    this.#memory.set(key, summary);
    const keys = this.#keysOf.get(id) ?? new Set<string>();
    this.#keysOf.set(id, keys);
    keys.add(key);
    return summary;
  }

  async #compute(id: string, repository: string, digest: string): Promise<DigestSummary> {
    const manifest = await this.#manifests.byDigest(id, repository, digest);
    const parsed = readManifest(manifest.bytes, manifest.mediaType);
    const created = isoTime(parsed.annotations["org.opencontainers.image.created"]);
    if (parsed.kind === "index") {
      // Every blob of every child (platforms and attestations alike: all are stored), each once.
      const children = await this.#manifests.childBlobs(id, repository, parsed.manifests);
      const complete = children.every((blobs) => blobs !== null);
      return {
        mediaType: manifest.mediaType,
        sizeBytes: complete ? totalBytes(new Map(children.flatMap((blobs) => [...blobs!]))) : null,
        platforms: parsed.manifests.filter(isRealPlatform).map(platformOf),
        created,
      };
    }
    const size = totalBytes(blobsOf(parsed));
    if (parsed.kind === "image" && parsed.config && IMAGE_CONFIG_TYPES.has(parsed.config.mediaType)) {
      try {
        const configBytes = await this.#manifests.config(id, repository, parsed.config.digest);
        const config = readImageConfig(configBytes, parsed.config);
        return {
          mediaType: manifest.mediaType,
          sizeBytes: size,
          platforms:
            config.os && config.architecture
              ? [{ os: config.os, architecture: config.architecture, variant: variantOf(configBytes) }]
              : [],
          created: config.created ?? created,
        };
      } catch {
        // The config is unreadable: sizes still stand.
      }
    }
    return {
      mediaType: manifest.mediaType,
      sizeBytes: parsed.kind === "other" ? null : size,
      platforms: parsed.architecture
        ? [{ os: "linux", architecture: parsed.architecture, variant: null }]
        : [],
      created,
    };
  }
}
