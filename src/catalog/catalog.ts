/**
 * The catalogue service: every configured registry (Reestr's own as "local", remote ones, and
 * remote registries the watcher scans), each behind a CatalogSource. `Catalog` is the one object
 * the API handler talks to; it wires the services in ./services/ over one CachedLoader and
 * hands each request to the one that answers it:
 *
 * - RegistryDirectory: the registries, probing and re-probing;
 * - RegistryReads: cache keys and lifetimes, the shared repository and tag lists;
 * - RepositoryQueries, TagQueries: listings with search, filters, sorting and pages; details;
 * - ManifestInspector (over ManifestReader and DigestSummaries): manifests, configs, sizes;
 * - StorageReporter: storage walks, per-registry pages and the overview;
 * - WatcherOverlay: vulnerabilities and tag history from the watcher's store.
 */
import type { Logger } from "../util/logger.ts";
import type {
  ManifestDetail,
  RegistryStorage,
  RegistrySummary,
  RepositoryDetail,
  RepositoryPage,
  RepositoryQuery,
  StorageOverview,
  StorageQuery,
  TagPage,
  TagQuery,
} from "./api-schemas.ts";
import { type Cache, CachedLoader } from "./cache.ts";
import { DigestSummaries } from "./services/digest-summaries.ts";
import { ManifestInspector } from "./services/manifest-inspector.ts";
import { ManifestReader } from "./services/manifest-reader.ts";
import { type CatalogRegistry, RegistryDirectory } from "./services/registry-directory.ts";
import { RegistryReads } from "./services/registry-reads.ts";
import { RepositoryQueries } from "./services/repository-queries.ts";
import { StorageReporter } from "./services/storage-report.ts";
import { TagQueries } from "./services/tag-queries.ts";
import { WatcherOverlay, type WatcherView } from "./services/watcher-overlay.ts";
import { CatalogError, type CatalogSource } from "./source.ts";

export type { CatalogRegistry } from "./services/registry-directory.ts";

export interface CatalogOptions {
  registries: CatalogRegistry[];
  cache: Cache;
  logger?: Logger;
  /** The watcher whose results are joined in (vulnerabilities, tag history). */
  watcher?: WatcherView;
  /** Remote data is fresh this long (default 60 s)… */
  ttlMs?: number;
  /** …then served stale while refreshed for this long (default 10 min). */
  staleMs?: number;
  /** Manifests walked at most by one storage computation of a remote registry. */
  maxStorageManifests?: number;
  /** Registries whose probe failed are probed again this often (default 60 s)… */
  reprobeFailedMs?: number;
  /** …and every registry this often (default 15 min). */
  reprobeMs?: number;
  now?: () => number;
}

type DeletableSource = CatalogSource & Required<Pick<CatalogSource, "deleteTag" | "deleteManifest">>;

export class Catalog {
  readonly #loader: CachedLoader;
  readonly #directory: RegistryDirectory;
  readonly #reads: RegistryReads;
  readonly #repositories: RepositoryQueries;
  readonly #tags: TagQueries;
  readonly #summaries: DigestSummaries;
  readonly #manifests: ManifestInspector;
  readonly #storage: StorageReporter;
  readonly #now: () => number;

  constructor(options: CatalogOptions) {
    const { logger } = options;
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#loader = new CachedLoader(options.cache, { logger, now: options.now });
    const directory = new RegistryDirectory({
      registries: options.registries,
      logger,
      now,
      reprobeFailedMs: options.reprobeFailedMs ?? 60_000,
      reprobeMs: options.reprobeMs ?? 15 * 60_000,
      // After a good probe, a remote registry's repositories and storage are read in the background.
      onUsable: (id) => this.#storage.warmUp(id),
    });
    const reads = new RegistryReads({
      loader: this.#loader,
      directory,
      remote: { ttlMs: options.ttlMs ?? 60_000, staleMs: options.staleMs ?? 600_000 },
    });
    const overlay = new WatcherOverlay({ watcher: options.watcher, logger });
    const manifests = new ManifestReader({ directory });
    this.#directory = directory;
    this.#reads = reads;
    this.#summaries = new DigestSummaries({ directory, reads, manifests, logger });
    this.#repositories = new RepositoryQueries({ directory, reads, manifests, now });
    this.#tags = new TagQueries({ directory, reads, summaries: this.#summaries, overlay });
    this.#manifests = new ManifestInspector({ directory, reads, manifests, overlay, logger });
    this.#storage = new StorageReporter({
      directory,
      reads,
      logger,
      now,
      maxManifests: options.maxStorageManifests ?? 20_000,
    });
  }

  /** The one loader every read goes through (its `stats` are exported as metrics). */
  get cache(): CachedLoader {
    return this.#loader;
  }

  get registryIds(): string[] {
    return this.#directory.ids;
  }

  source(id: string): CatalogSource | undefined {
    return this.#directory.find(id)?.source;
  }

  /** Drops a registry (one that turned out to be this server itself); false when unknown. */
  remove(id: string): Promise<boolean> {
    return this.#directory.remove(id);
  }

  /** Probes every registry in parallel; resolves when all have answered or timed out. */
  start(): Promise<void> {
    return this.#directory.start();
  }

  // ---- registries -----------------------------------------------------------------------

  listRegistries(): Promise<RegistrySummary[]> {
    return Promise.all(this.#directory.ids.map((id) => this.getRegistry(id)));
  }

  async getRegistry(id: string): Promise<RegistrySummary> {
    return this.#directory.summary(id, await this.#storage.figures(id));
  }

  /** Drops the registry's cached data and probes it again (in the background: the answer is a 202). */
  async resync(id: string): Promise<{ id: string; resyncedAt: string }> {
    this.#directory.get(id);
    await this.#reads.invalidate(id);
    this.#summaries.forget(id);
    const resyncedAt = new Date(this.#now()).toISOString();
    void this.#directory.probe(id);
    return { id, resyncedAt };
  }

  // ---- reads ----------------------------------------------------------------------------

  listRepositories(
    id: string,
    query: RepositoryQuery,
    visible?: (repository: string) => boolean,
  ): Promise<RepositoryPage> {
    return this.#repositories.listRepositories(id, query, visible);
  }

  getRepository(id: string, name: string): Promise<RepositoryDetail> {
    return this.#repositories.getRepository(id, name);
  }

  listTags(id: string, name: string, query: TagQuery): Promise<TagPage> {
    return this.#tags.listTags(id, name, query);
  }

  getManifest(id: string, repository: string, reference: string): Promise<ManifestDetail> {
    return this.#manifests.getManifest(id, repository, reference);
  }

  registryStorage(
    id: string,
    query: StorageQuery,
    visible?: (repository: string) => boolean,
  ): Promise<RegistryStorage> {
    return this.#storage.registryStorage(id, query, visible);
  }

  storageOverview(): Promise<StorageOverview> {
    return this.#storage.storageOverview();
  }

  // ---- deletes (local registry only) ---------------------------------------------------

  async deleteTag(id: string, repository: string, tag: string): Promise<void> {
    await this.#deletable(id).deleteTag(repository, tag);
    await this.#reads.invalidate(id);
  }

  async deleteManifest(id: string, repository: string, digest: string): Promise<void> {
    await this.#deletable(id).deleteManifest(repository, digest);
    await this.#reads.invalidate(id);
  }

  #deletable(id: string): DeletableSource {
    const { source } = this.#directory.get(id);
    if (!source.local || !source.deleteTag || !source.deleteManifest) {
      throw new CatalogError(
        "FORBIDDEN",
        `registry "${id}" is read-only here: only Reestr's own registry (local) allows deletes`,
      );
    }
    return source as DeletableSource;
  }

  async close(): Promise<void> {
    await this.#directory.close();
    await this.#loader.cache.close().catch(() => {});
  }
}
