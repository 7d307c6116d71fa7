/**
 * What the catalogue reads of a registry, through its one CachedLoader: the cache key of each
 * read, how long it is kept, and the reads every service shares (repository and tag lists).
 */
import type { CachedLoader, CacheSetOptions } from "../cache.ts";
import { type CatalogSource, type RepositoryInfo, registryKeyPrefix, type TagInfo } from "../source.ts";
import type { RegistryDirectory } from "./registry-directory.ts";

/** Facts stored by digest never change: kept a day, served stale for a week. */
export const IMMUTABLE: CacheSetOptions = { ttlMs: 24 * 3_600_000, staleMs: 7 * 24 * 3_600_000 };
/** Local keys carry the registry's content version (see key()): long-lived, never served stale. */
export const LOCAL: CacheSetOptions = { ttlMs: 5 * 60_000, staleMs: 1000 };

export interface RegistryReadsOptions {
  loader: CachedLoader;
  directory: RegistryDirectory;
  /** How long remote data is fresh, then served stale while refreshed. */
  remote: CacheSetOptions;
}

export class RegistryReads {
  readonly loader: CachedLoader;
  /** How long remote data is kept. */
  readonly remote: CacheSetOptions;
  readonly #directory: RegistryDirectory;

  constructor(options: RegistryReadsOptions) {
    this.loader = options.loader;
    this.remote = options.remote;
    this.#directory = options.directory;
  }

  /**
   * The cache key of `suffix` for registry `id`. A source that can tell its content's version
   * (the local registry) gets it in the key, so a push shows at once and cached entries of it
   * never need to expire early; remote keys rely on ttl, stale-while-revalidate and resync.
   */
  async key(id: string, suffix: string): Promise<string> {
    const { source } = this.#directory.get(id);
    if (!source.version) return `${registryKeyPrefix(id)}${suffix}`;
    return `${registryKeyPrefix(id)}v${await source.version()}:${suffix}`;
  }

  /** How long a source's data is kept unless a read says otherwise. */
  policy(source: CatalogSource): CacheSetOptions {
    return source.local ? LOCAL : this.remote;
  }

  /** `read()` through the cache under `suffix` of registry `id`. */
  async load<T>(id: string, suffix: string, read: () => Promise<T>, policy?: CacheSetOptions): Promise<T> {
    const { source } = this.#directory.get(id);
    return this.loader.load(await this.key(id, suffix), policy ?? this.policy(source), read);
  }

  /** What is cached under `suffix` of registry `id`, without reading the registry. */
  async peek<T>(id: string, suffix: string): Promise<T | undefined> {
    return this.loader.peek<T>(await this.key(id, suffix));
  }

  repositories(id: string): Promise<RepositoryInfo[]> {
    const { source } = this.#directory.get(id);
    return this.load(id, "repos", () => source.listRepositories());
  }

  /**
   * Local lists are keyed by the content version; a tag moved to a manifest already stored
   * leaves that alone, so tag listings re-resolve the digests of the page they show.
   */
  tags(id: string, repository: string): Promise<TagInfo[]> {
    const { source } = this.#directory.get(id);
    return this.load(id, `tags:${repository}`, () => source.listTags(repository));
  }

  /** Drops everything cached of registry `id`. */
  invalidate(id: string): Promise<void> {
    return this.loader.invalidate(registryKeyPrefix(id));
  }
}
