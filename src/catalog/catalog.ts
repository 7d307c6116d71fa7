/**
 * The catalogue service: every configured registry (Reestr's own as "local", remote ones, and
 * remote registries the watcher scans), each behind a CatalogSource. It probes them (in
 * parallel, each bounded by a timeout, a failing one never holding up the others), caches what it
 * reads (stale-while-revalidate over the Cache seam), and answers the API's questions with
 * server-side search, filters, sorting and pages. Vulnerabilities and tag history come from the
 * watcher's store when a watch entry scans the same registry and repository.
 */
import { forEachLimit } from "../client/concurrency.ts";
import { LruCache } from "../util/lru-cache.ts";
import type { WatchEntry } from "../watcher/scheduler.ts";
import type { ImageInfo } from "../watcher/spec.ts";
import type { WatchStore } from "../watcher/store.ts";
import {
  type ImageConfig,
  type ManifestDetail,
  type ManifestPlatform,
  type Referrer,
  type RegistryStorage,
  type RegistrySummary,
  type RepositoryDetail,
  type RepositoryPage,
  type RepositoryQuery,
  type RepositorySummary,
  SEVERITY_NAMES,
  type SeverityCounts,
  type StorageOverview,
  type StorageQuery,
  type TagHistoryEntry,
  type TagPage,
  type TagPlatform,
  type TagQuery,
  type TagSummary,
  type VulnerabilityFinding,
} from "./api-schemas.ts";
import { type Cache, CachedLoader, type CacheSetOptions, type LoaderLogger } from "./cache.ts";
import {
  IMAGE_CONFIG_TYPES,
  isReadmeArtifact,
  isRealPlatform,
  type LooseDescriptor,
  pullCommands,
  readImageConfig,
  readManifest,
  referrerKind,
  variantOf,
} from "./manifest-view.ts";
import {
  CatalogError,
  type CatalogSource,
  type ProbeResult,
  type RepositoryInfo,
  registryKeyPrefix,
  type StorageReport,
  type TagInfo,
} from "./source.ts";

export interface CatalogRegistry {
  source: CatalogSource;
  displayName: string;
  description?: string;
}

export interface CatalogLogger extends LoaderLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface CatalogOptions {
  registries: CatalogRegistry[];
  cache: Cache;
  logger?: CatalogLogger;
  /** The watcher whose results are joined in (vulnerabilities, tag history). */
  watcher?: { entries: readonly WatchEntry[]; store: WatchStore };
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

interface RegistryState extends CatalogRegistry {
  probe: ProbeResult | undefined;
  lastSync: string | null;
  probing: Promise<void> | undefined;
}

/** What a tag's manifest adds up to: immutable per digest, so kept in memory too. */
interface DigestSummary {
  mediaType: string;
  sizeBytes: number | null;
  platforms: TagPlatform[];
  created: string | null;
}

const CONFIG_MAX_BYTES = 4 * 1024 * 1024;
const README_MAX_BYTES = 512 * 1024;
const REMOTE_SORT_LIMIT = 2000;
const IMMUTABLE: CacheSetOptions = { ttlMs: 24 * 3_600_000, staleMs: 7 * 24 * 3_600_000 };
/** Local keys carry the registry's content version (see #key): long-lived, never served stale. */
const LOCAL: CacheSetOptions = { ttlMs: 5 * 60_000, staleMs: 1000 };

const EMPTY_SEVERITIES: SeverityCounts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };

function namespaceOf(name: string): string | null {
  const slash = name.lastIndexOf("/");
  return slash === -1 ? null : name.slice(0, slash);
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** Nulls last whatever the order; ties by name. */
function compareNullable<T>(a: T | null | undefined, b: T | null | undefined, desc: boolean): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? 1 : -1;
  if (a === b) return 0;
  return (a < b ? -1 : 1) * (desc ? -1 : 1);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Same registry: origins equal, with Docker Hub's aliases folded. */
function sameRegistry(a: string, b: string): boolean {
  const norm = (url: string) => {
    try {
      const parsed = new URL(url);
      const host = parsed.host.toLowerCase().replace(/^(index\.)?docker\.io$/, "registry-1.docker.io");
      return `${parsed.protocol}//${host}${parsed.pathname.replace(/\/+$/, "")}`;
    } catch {
      return url;
    }
  };
  return norm(a) === norm(b);
}

export class Catalog {
  readonly #registries = new Map<string, RegistryState>();
  readonly #loader: CachedLoader;
  readonly #logger: CatalogLogger | undefined;
  readonly #watcher: CatalogOptions["watcher"];
  readonly #remote: CacheSetOptions;
  readonly #maxStorageManifests: number;
  readonly #reprobe: { failed: number; all: number };
  readonly #now: () => number;
  readonly #digests = new LruCache<string, DigestSummary>(50_000);

  constructor(options: CatalogOptions) {
    for (const registry of options.registries) {
      if (this.#registries.has(registry.source.id))
        throw new Error(`duplicate registry id ${registry.source.id}`);
      this.#registries.set(registry.source.id, {
        ...registry,
        probe: undefined,
        lastSync: null,
        probing: undefined,
      });
    }
    this.#logger = options.logger;
    this.#loader = new CachedLoader(options.cache, { logger: options.logger, now: options.now });
    this.#watcher = options.watcher;
    this.#remote = { ttlMs: options.ttlMs ?? 60_000, staleMs: options.staleMs ?? 600_000 };
    this.#maxStorageManifests = options.maxStorageManifests ?? 20_000;
    this.#reprobe = { failed: options.reprobeFailedMs ?? 60_000, all: options.reprobeMs ?? 15 * 60_000 };
    this.#now = options.now ?? Date.now;
  }

  get cache(): CachedLoader {
    return this.#loader;
  }

  get registryIds(): string[] {
    return [...this.#registries.keys()];
  }

  source(id: string): CatalogSource | undefined {
    return this.#registries.get(id)?.source;
  }

  /** Drops a registry (one that turned out to be this server itself); false when unknown. */
  async remove(id: string): Promise<boolean> {
    const state = this.#registries.get(id);
    if (!state) return false;
    this.#registries.delete(id);
    await state.source.close().catch(() => {});
    return true;
  }

  /**
   * Probes every registry in parallel; resolves when all have answered or timed out. From then
   * on, registries that failed are probed again every `reprobeFailedMs` (so one that comes back
   * recovers without a resync) and all of them every `reprobeMs`.
   */
  async start(): Promise<void> {
    await Promise.all([...this.#registries.keys()].map((id) => this.#probe(id)));
    if (this.#closed || this.#timer) return;
    let last = this.#now();
    this.#timer = setInterval(() => {
      const all = this.#now() - last >= this.#reprobe.all;
      if (all) last = this.#now();
      for (const [id, state] of this.#registries) {
        if (all || (state.probe && state.probe.state !== "ok")) void this.#probe(id);
      }
    }, this.#reprobe.failed);
    this.#timer.unref();
  }

  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  #probe(id: string): Promise<void> {
    const state = this.#registries.get(id)!;
    state.probing ??= (async () => {
      try {
        state.probe = await state.source.probe();
      } catch (error) {
        state.probe = {
          state: "unknown",
          authMode: "unknown",
          message: (error as Error).message,
          capabilities: { catalog: false, referrers: false, delete: false },
          missingOperations: [],
          hint: null,
        };
      }
      state.lastSync = new Date(this.#now()).toISOString();
      const level = state.probe.state === "ok" ? "info" : "warn";
      this.#logger?.[level]("catalogue registry probed", {
        registry: id,
        state: state.probe.state,
        authMode: state.probe.authMode,
        message: state.probe.message ?? undefined,
        missingOperations: state.probe.missingOperations.length ? state.probe.missingOperations : undefined,
      });
      state.probing = undefined;
      if (state.probe.state === "ok" && !state.source.local) this.#warm(id);
    })();
    return state.probing;
  }

  /** After a good probe: fill the repository list and storage totals in the background. */
  #warm(id: string): void {
    void this.#repositories(id)
      .then(() => this.#storage(id))
      .catch((error: unknown) =>
        this.#logger?.warn("catalogue warm-up failed", { registry: id, error: (error as Error).message }),
      );
  }

  #state(id: string): RegistryState {
    const state = this.#registries.get(id);
    if (!state) throw new CatalogError("NOT_FOUND", `no registry with id "${id.slice(0, 100)}"`);
    return state;
  }

  /**
   * The cache key of `suffix` for registry `id`. A source that can tell its content's version
   * (the local registry) gets it in the key, so a push shows at once and cached entries of it
   * never need to expire early; remote keys rely on ttl, stale-while-revalidate and resync.
   */
  async #key(id: string, suffix: string): Promise<string> {
    const { source } = this.#state(id);
    if (!source.version) return `${registryKeyPrefix(id)}${suffix}`;
    return `${registryKeyPrefix(id)}v${await source.version()}:${suffix}`;
  }

  #options(source: CatalogSource): CacheSetOptions {
    return source.local ? LOCAL : this.#remote;
  }

  /** A registry that failed its probe answers with its own error rather than a slow timeout. */
  #assertUsable(state: RegistryState): void {
    const probe = state.probe;
    if (!probe || probe.state === "ok" || probe.state === "unknown") return;
    if (probe.state === "auth_failed") {
      throw new CatalogError(
        "UPSTREAM_AUTH_FAILED",
        `${state.source.id}: ${probe.message ?? "authentication failed"}`,
      );
    }
    throw new CatalogError("UPSTREAM_UNREACHABLE", `${state.source.id}: ${probe.message ?? "unreachable"}`);
  }

  // ---- registries -----------------------------------------------------------------------

  async listRegistries(): Promise<RegistrySummary[]> {
    return Promise.all([...this.#registries.keys()].map((id) => this.getRegistry(id)));
  }

  async getRegistry(id: string): Promise<RegistrySummary> {
    const state = this.#state(id);
    const { source } = state;
    const probe = state.probe;
    let counts = { repositories: null as number | null, tags: null as number | null };
    let storageBytes: number | null = null;
    try {
      if (source.local) {
        const local = await this.#loader.load(await this.#key(id, "counts"), LOCAL, () => source.counts());
        counts = { repositories: local.repositories, tags: local.tags };
        storageBytes = local.storageBytes;
      } else {
        const prefix = registryKeyPrefix(id);
        const repos = await this.#loader.peek<RepositoryInfo[]>(`${prefix}repos`);
        const storage = await this.#loader.peek<StorageReport>(`${prefix}storage`);
        counts.repositories = repos?.length ?? null;
        if (storage) {
          counts.tags = storage.repositories.reduce((sum, r) => sum + r.tagCount, 0);
          storageBytes = storage.totalBytes;
        }
      }
    } catch (error) {
      this.#logger?.warn("catalogue counts failed", { registry: id, error: (error as Error).message });
    }
    return {
      id,
      displayName: state.displayName,
      description: state.description ?? null,
      baseUrl: source.baseUrl,
      local: source.local,
      status: {
        state: probe?.state ?? "unknown",
        authMode: probe?.authMode ?? "unknown",
        message: probe?.message ?? (probe ? null : "not probed yet"),
        lastSync: state.lastSync,
        capabilities: probe?.capabilities ?? { catalog: false, referrers: false, delete: false },
        missingOperations: probe?.missingOperations ?? [],
        hint: probe?.hint ?? null,
      },
      counts,
      storageBytes,
    };
  }

  /** Drops the registry's cached data and probes it again. */
  async resync(id: string): Promise<{ id: string; resyncedAt: string }> {
    this.#state(id); // 404 for an unknown id
    await this.#loader.invalidate(registryKeyPrefix(id));
    for (const key of this.#digestKeys(id)) this.#digests.delete(key);
    this.#digestIndex.delete(id);
    const resyncedAt = new Date(this.#now()).toISOString();
    // The probe runs on; the answer says it started (202).
    void this.#probe(id);
    return { id, resyncedAt };
  }

  /** Keys of the in-memory digest summaries per registry, so a resync drops them too. */
  readonly #digestIndex = new Map<string, Set<string>>();
  #digestKeys(id: string): Set<string> {
    return this.#digestIndex.get(id) ?? new Set();
  }

  // ---- repositories ---------------------------------------------------------------------

  async #repositories(id: string): Promise<RepositoryInfo[]> {
    const state = this.#state(id);
    return this.#loader.load(await this.#key(id, "repos"), this.#options(state.source), () =>
      state.source.listRepositories(),
    );
  }

  async #tags(id: string, repository: string): Promise<TagInfo[]> {
    const state = this.#state(id);
    // Local lists are keyed by the content version; a tag moved to a manifest already stored
    // leaves that alone, so listTags re-resolves the digests of the page it shows.
    return this.#loader.load(await this.#key(id, `tags:${repository}`), this.#options(state.source), () =>
      state.source.listTags(repository),
    );
  }

  /**
   * A page of repositories; `visible`, when given, hides the ones the caller may not pull (before
   * counting and paging, so totals and pages only ever speak of what the caller may see).
   */
  async listRepositories(
    id: string,
    query: RepositoryQuery,
    visible?: (repository: string) => boolean,
  ): Promise<RepositoryPage> {
    const state = this.#state(id);
    this.#assertUsable(state);
    let repos = await this.#repositories(id);
    if (visible) repos = repos.filter((repo) => visible(repo.name));
    if (!state.source.local) repos = await this.#withStorageFigures(id, repos);
    const needle = query.q?.toLowerCase();
    const namespace = query.namespace?.replace(/\/+$/, "");
    const since = query.updatedWithin !== undefined ? this.#now() - query.updatedWithin : undefined;
    const signed = query.signed === undefined ? undefined : query.signed === "true";
    const filtered = repos.filter(
      (repo) =>
        (needle === undefined || repo.name.toLowerCase().includes(needle)) &&
        (namespace === undefined || namespace === "" || repo.name.startsWith(`${namespace}/`)) &&
        (since === undefined || (repo.updatedAt !== undefined && repo.updatedAt >= since)) &&
        (signed === undefined || repo.signed === signed),
    );
    const desc = query.order === "desc";
    if (query.sort === "name") {
      if (desc) filtered.reverse(); // the source lists by name already
    } else {
      const key =
        query.sort === "size" ? (r: RepositoryInfo) => r.sizeBytes : (r: RepositoryInfo) => r.updatedAt;
      filtered.sort((a, b) => compareNullable(key(a), key(b), desc) || compareText(a.name, b.name));
    }
    const start = (query.page - 1) * query.pageSize;
    const pageItems = filtered.slice(start, start + query.pageSize);
    if (!state.source.local) await this.#fillTagCounts(id, pageItems);
    return {
      items: pageItems.map((repo) => this.#repositorySummary(repo)),
      total: filtered.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }

  /** Remote: sizes and tag counts from a storage computation already cached, if any. */
  async #withStorageFigures(id: string, repos: RepositoryInfo[]): Promise<RepositoryInfo[]> {
    const storage = await this.#loader.peek<StorageReport>(`${registryKeyPrefix(id)}storage`);
    if (!storage) return [...repos].sort((a, b) => compareText(a.name, b.name));
    const byName = new Map(storage.repositories.map((r) => [r.name, r]));
    return repos
      .map((repo) => {
        const figures = byName.get(repo.name);
        return figures ? { ...repo, sizeBytes: figures.bytes, tagCount: figures.tagCount } : repo;
      })
      .sort((a, b) => compareText(a.name, b.name));
  }

  /** Remote: tag counts of one page's repositories (one tags/list each, cached). */
  async #fillTagCounts(id: string, page: RepositoryInfo[]): Promise<void> {
    await forEachLimit(page, 6, async (repo, index) => {
      if (repo.tagCount !== undefined) return;
      try {
        const tags = await this.#tags(id, repo.name);
        page[index] = { ...repo, tagCount: tags.length };
      } catch {
        // Unknown stays null: one unreadable repository must not fail the page.
      }
    });
  }

  #repositorySummary(repo: RepositoryInfo): RepositorySummary {
    return {
      name: repo.name,
      namespace: namespaceOf(repo.name),
      tagCount: repo.tagCount ?? null,
      sizeBytes: repo.sizeBytes ?? null,
      updatedAt: iso(repo.updatedAt),
      signed: repo.signed ?? null,
    };
  }

  async getRepository(id: string, name: string): Promise<RepositoryDetail> {
    const state = this.#state(id);
    this.#assertUsable(state);
    const { source } = state;
    const tags = await this.#tags(id, name);
    const repos = source.local ? await this.#repositories(id) : [];
    const info = repos.find((repo) => repo.name === name);
    let storageFigures: { bytes: number } | undefined;
    if (!source.local) {
      const storage = await this.#loader.peek<StorageReport>(`${registryKeyPrefix(id)}storage`);
      storageFigures = storage?.repositories.find((r) => r.name === name);
    }
    const chosen =
      tags.find((t) => t.tag === "latest") ??
      [...tags].sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0) || compareText(a.tag, b.tag))[0];
    const readme = chosen
      ? await this.#loader
          .load(await this.#key(id, `readme:${name}:${chosen.tag}`), this.#options(source), () =>
            this.#readme(source, name, chosen.tag),
          )
          .catch(() => null)
      : null;
    const reference = chosen?.tag ?? "latest";
    return {
      registryId: id,
      name,
      namespace: namespaceOf(name),
      tagCount: tags.length,
      sizeBytes: info?.sizeBytes ?? storageFigures?.bytes ?? null,
      updatedAt: iso(
        info?.updatedAt ?? (tags.reduce((latest, t) => Math.max(latest, t.updatedAt ?? 0), 0) || undefined),
      ),
      readme,
      pullReference: `${source.pullHost}/${name}`,
      pullCommands: pullCommands(source.pullHost, name, reference, source.plainHttp),
    };
  }

  /** A README: a README artifact among the referrers, else the description annotation. */
  async #readme(source: CatalogSource, repository: string, tag: string): Promise<string | null> {
    const manifest = await source.getManifest(repository, tag);
    const parsed = readManifest(manifest.bytes, manifest.mediaType);
    const referrers = await source.listReferrers(repository, manifest.digest).catch(() => []);
    const artifact = referrers.find((r) => isReadmeArtifact(r.artifactType));
    if (artifact) {
      try {
        const readme = await source.getManifest(repository, artifact.digest);
        const layer = readManifest(readme.bytes, readme.mediaType).layers[0];
        if (layer) return (await source.getBlob(repository, layer.digest, README_MAX_BYTES)).toString("utf8");
      } catch {
        // Fall back to the annotation.
      }
    }
    const annotations = parsed.annotations;
    return annotations["io.reestr.readme"] ?? annotations["org.opencontainers.image.description"] ?? null;
  }

  // ---- tags -----------------------------------------------------------------------------

  async listTags(id: string, name: string, query: TagQuery): Promise<TagPage> {
    const state = this.#state(id);
    this.#assertUsable(state);
    const { source } = state;
    const tags = await this.#tags(id, name);
    const needle = query.q?.toLowerCase();
    const filtered = needle ? tags.filter((t) => t.tag.toLowerCase().includes(needle)) : [...tags];
    const desc = query.order === "desc";
    let summaries: Map<string, DigestSummary & { digest: string }> | undefined;
    if (query.sort === "name") {
      filtered.sort((a, b) => compareText(a.tag, b.tag) * (desc ? -1 : 1));
    } else {
      if (!source.local && filtered.length > REMOTE_SORT_LIMIT) {
        throw new CatalogError(
          "BAD_REQUEST",
          `sort=${query.sort}: ${filtered.length} tags are more than the ${REMOTE_SORT_LIMIT} a remote registry can be sorted by; narrow them with q or sort by name`,
        );
      }
      summaries = await this.#tagSummaries(id, name, filtered);
      const key =
        query.sort === "size"
          ? (t: TagInfo) => summaries!.get(t.tag)?.sizeBytes
          : (t: TagInfo) => summaries!.get(t.tag)?.created;
      filtered.sort((a, b) => compareNullable(key(a), key(b), desc) || compareText(a.tag, b.tag));
    }
    const start = (query.page - 1) * query.pageSize;
    let page = filtered.slice(start, start + query.pageSize);
    if (source.resolveTags) {
      const digests = await source.resolveTags(
        name,
        page.map((t) => t.tag),
      );
      page = page.map((t) => {
        const digest = digests.get(t.tag);
        return digest && digest !== t.digest ? { ...t, digest, mediaType: undefined } : t;
      });
      if (summaries && page.some((t) => summaries!.get(t.tag)?.digest !== t.digest)) summaries = undefined;
    }
    summaries ??= await this.#tagSummaries(id, name, page);
    const vulnerabilities = await this.#watchedImages(source, name);
    return {
      items: page.map((tag) => {
        const summary = summaries!.get(tag.tag);
        const watched = vulnerabilities.get(tag.tag);
        return {
          tag: tag.tag,
          digest: summary?.digest ?? tag.digest ?? "",
          mediaType: summary?.mediaType ?? tag.mediaType ?? "",
          sizeBytes: summary?.sizeBytes ?? null,
          platforms: summary?.platforms ?? [],
          created: summary?.created ?? null,
          vulnerabilities:
            watched?.vulnerabilities && watched.digest === (summary?.digest ?? tag.digest)
              ? severities(watched.vulnerabilities)
              : null,
        } satisfies TagSummary;
      }),
      total: filtered.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }

  /** Digest summaries of these tags; a tag whose manifest cannot be read is left out. */
  async #tagSummaries(
    id: string,
    repository: string,
    tags: TagInfo[],
  ): Promise<Map<string, DigestSummary & { digest: string }>> {
    const { source } = this.#state(id);
    const out = new Map<string, DigestSummary & { digest: string }>();
    await forEachLimit(tags, source.local ? 16 : 8, async (tag) => {
      try {
        let digest = tag.digest;
        if (digest === undefined) {
          // Remote: the tag's digest is one manifest GET away; cached like the tag list.
          digest = await this.#loader.load(
            `${registryKeyPrefix(id)}tagdigest:${repository}:${tag.tag}`,
            this.#remote,
            async () => {
              const manifest = await source.getManifest(repository, tag.tag);
              this.#rememberManifest(id, repository, manifest.digest, manifest.bytes, manifest.mediaType);
              return manifest.digest;
            },
          );
        }
        const summary = await this.#digestSummary(id, repository, digest);
        out.set(tag.tag, { ...summary, digest });
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

  /** Manifests just fetched (to learn a tag's digest), kept briefly so the summary needn't fetch again. */
  readonly #recentManifests = new LruCache<string, { bytes: Buffer; mediaType: string }>(
    32 * 1024 * 1024,
    (m) => m.bytes.byteLength + 100,
  );
  #rememberManifest(id: string, repository: string, digest: string, bytes: Buffer, mediaType: string): void {
    this.#recentManifests.set(`${id}/${repository}@${digest}`, { bytes, mediaType });
  }

  async #manifest(
    id: string,
    repository: string,
    reference: string,
  ): Promise<{ digest: string; bytes: Buffer; mediaType: string }> {
    const recent = this.#recentManifests.get(`${id}/${repository}@${reference}`);
    if (recent) return { digest: reference, ...recent };
    return this.#state(id).source.getManifest(repository, reference);
  }

  /**
   * Image configs by digest (immutable, and shared by many tags of one repository): read once.
   * In flight too, so 16 tags summarised at once over one config read it once.
   */
  readonly #configs = new LruCache<string, Promise<Buffer>>(64 * 1024 * 1024, () => 8 * 1024);
  #config(id: string, repository: string, digest: string): Promise<Buffer> {
    const key = `${id}/${repository}@${digest}`;
    const cached = this.#configs.get(key);
    if (cached) return cached;
    const reading = this.#state(id).source.getBlob(repository, digest, CONFIG_MAX_BYTES);
    this.#configs.set(key, reading);
    reading.catch(() => this.#configs.delete(key));
    return reading;
  }

  async #digestSummary(id: string, repository: string, digest: string): Promise<DigestSummary> {
    const key = `${id}/${repository}@${digest}`;
    const memory = this.#digests.get(key);
    if (memory) return memory;
    // Local summaries are cheap to recompute: they stay in memory only, so 10,000 of them never
    // push the shared cache's other entries out.
    const summary = this.#state(id).source.local
      ? await this.#computeDigestSummary(id, repository, digest)
      : await this.#loader.load(`${registryKeyPrefix(id)}digest:${repository}@${digest}`, IMMUTABLE, () =>
          this.#computeDigestSummary(id, repository, digest),
        );
    this.#digests.set(key, summary);
    const keys = this.#digestIndex.get(id) ?? new Set<string>();
    this.#digestIndex.set(id, keys);
    keys.add(key);
    return summary;
  }

  async #computeDigestSummary(id: string, repository: string, digest: string): Promise<DigestSummary> {
    const { source } = this.#state(id);
    const manifest = await this.#manifest(id, repository, digest);
    const parsed = readManifest(manifest.bytes, manifest.mediaType);
    if (parsed.kind === "index") {
      let size = manifest.bytes.byteLength;
      let complete = true;
      await forEachLimit(parsed.manifests, 4, async (child) => {
        try {
          const content = await source.getManifest(repository, child.digest);
          const inner = readManifest(content.bytes, content.mediaType);
          size +=
            content.bytes.byteLength +
            (inner.config?.size ?? 0) +
            inner.layers.reduce((s, l) => s + l.size, 0);
        } catch {
          complete = false;
        }
      });
      return {
        mediaType: manifest.mediaType,
        sizeBytes: complete ? size : null,
        platforms: parsed.manifests.filter(isRealPlatform).map((d) => ({
          os: d.platform?.os ?? "unknown",
          architecture: d.platform?.architecture ?? "unknown",
          variant: d.platform?.variant ?? null,
        })),
        created: normalizeTime(parsed.annotations["org.opencontainers.image.created"]),
      };
    }
    const size =
      manifest.bytes.byteLength + (parsed.config?.size ?? 0) + parsed.layers.reduce((s, l) => s + l.size, 0);
    if (parsed.kind === "image" && parsed.config && IMAGE_CONFIG_TYPES.has(parsed.config.mediaType)) {
      try {
        const configBytes = await this.#config(id, repository, parsed.config.digest);
        const config = readImageConfig(configBytes, parsed.config);
        return {
          mediaType: manifest.mediaType,
          sizeBytes: size,
          platforms:
            config.os && config.architecture
              ? [{ os: config.os, architecture: config.architecture, variant: variantOf(configBytes) }]
              : [],
          created: config.created ?? normalizeTime(parsed.annotations["org.opencontainers.image.created"]),
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
      created: normalizeTime(parsed.annotations["org.opencontainers.image.created"]),
    };
  }

  // ---- manifests ------------------------------------------------------------------------

  async getManifest(id: string, repository: string, reference: string): Promise<ManifestDetail> {
    const state = this.#state(id);
    this.#assertUsable(state);
    const { source } = state;
    const detail = source.local
      ? await this.#manifestDetail(id, repository, reference)
      : await this.#loader.load(
          await this.#key(id, `manifest:${repository}:${reference}`),
          this.#remote,
          () => this.#manifestDetail(id, repository, reference),
        );
    const watched = await this.#watchedImages(source, repository);
    const byTag = reference.includes(":") ? undefined : watched.get(reference);
    const image =
      byTag?.digest === detail.digest ? byTag : [...watched.values()].find((i) => i.digest === detail.digest);
    return {
      ...detail,
      vulnerabilities: image?.vulnerabilities
        ? {
            summary: severities(image.vulnerabilities),
            scanner: image.vulnerabilities.scanner ?? null,
            scannedAt: image.vulnerabilities.scannedAt ?? null,
            items: await this.#findings(source, repository, detail.digest),
          }
        : null,
      history: await this.#history(source, repository, reference, detail.digest),
    };
  }

  async #manifestDetail(
    id: string,
    repository: string,
    reference: string,
  ): Promise<Omit<ManifestDetail, "vulnerabilities" | "history">> {
    const { source } = this.#state(id);
    const manifest = await source.getManifest(repository, reference);
    const parsed = readManifest(manifest.bytes, manifest.mediaType);
    let config: ImageConfig | null = null;
    const platforms: ManifestPlatform[] = [];
    let sizeBytes = manifest.bytes.byteLength;
    if (parsed.kind === "image" && parsed.config) {
      sizeBytes += parsed.config.size + parsed.layers.reduce((s, l) => s + l.size, 0);
      if (IMAGE_CONFIG_TYPES.has(parsed.config.mediaType)) {
        try {
          config = readImageConfig(await this.#config(id, repository, parsed.config.digest), parsed.config);
        } catch (error) {
          this.#logger?.warn("catalogue config unreadable", {
            registry: id,
            repository,
            digest: parsed.config.digest,
            error: (error as Error).message,
          });
        }
      }
    }
    if (parsed.kind === "index") {
      await forEachLimit(parsed.manifests, 4, async (child: LooseDescriptor, index) => {
        let childSize: number | null = null;
        try {
          const content = await source.getManifest(repository, child.digest);
          const inner = readManifest(content.bytes, content.mediaType);
          childSize =
            content.bytes.byteLength +
            (inner.config?.size ?? 0) +
            inner.layers.reduce((s, l) => s + l.size, 0);
        } catch {
          // A child the registry lacks: size unknown.
        }
        platforms[index] = {
          os: child.platform?.os ?? "unknown",
          architecture: child.platform?.architecture ?? "unknown",
          variant: child.platform?.variant ?? null,
          digest: child.digest,
          sizeBytes: childSize,
        };
      });
      sizeBytes += platforms.reduce((s, p) => s + (p.sizeBytes ?? 0), 0);
    }
    const referrers: Referrer[] = (
      await source.listReferrers(repository, manifest.digest).catch(() => [])
    ).map((r) => ({
      digest: r.digest,
      artifactType: r.artifactType ?? null,
      mediaType: r.mediaType,
      size: r.size,
      annotations: r.annotations ?? {},
      kind: referrerKind(r.artifactType, r.mediaType),
    }));
    return {
      registryId: id,
      repository,
      reference,
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      sizeBytes,
      annotations: parsed.annotations,
      config,
      layers: parsed.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
      platforms: platforms.filter(Boolean),
      referrers,
      pullCommands: pullCommands(source.pullHost, repository, reference, source.plainHttp),
    };
  }

  // ---- deletes (local registry only) ---------------------------------------------------

  async deleteTag(id: string, repository: string, tag: string): Promise<void> {
    const { source } = this.#state(id);
    if (!source.local || !source.deleteTag) {
      throw new CatalogError(
        "FORBIDDEN",
        `registry "${id}" is read-only here: only Reestr's own registry (local) allows deletes`,
      );
    }
    await source.deleteTag(repository, tag);
    await this.#loader.invalidate(registryKeyPrefix(id));
  }

  async deleteManifest(id: string, repository: string, digest: string): Promise<void> {
    const { source } = this.#state(id);
    if (!source.local || !source.deleteManifest) {
      throw new CatalogError(
        "FORBIDDEN",
        `registry "${id}" is read-only here: only Reestr's own registry (local) allows deletes`,
      );
    }
    await source.deleteManifest(repository, digest);
    await this.#loader.invalidate(registryKeyPrefix(id));
  }

  // ---- storage --------------------------------------------------------------------------

  async #storage(id: string): Promise<StorageReport> {
    const { source } = this.#state(id);
    const options = source.local
      ? LOCAL
      : {
          ttlMs: Math.max(this.#remote.ttlMs, 15 * 60_000),
          staleMs: Math.max(this.#remote.staleMs, 24 * 3_600_000),
        };
    return this.#loader.load(await this.#key(id, "storage"), options, () =>
      source.storage ? source.storage() : this.#walkStorage(id),
    );
  }

  /** A remote registry's storage: every tag's manifests walked, each blob counted once. */
  async #walkStorage(id: string): Promise<StorageReport> {
    const { source } = this.#state(id);
    const repos = await this.#repositories(id);
    const sizes = new Map<string, number>();
    const owners = new Map<string, number>();
    const perRepo: { name: string; digests: Set<string>; tagCount: number }[] = [];
    let budget = this.#maxStorageManifests;
    await forEachLimit(repos, 4, async (repo) => {
      const digests = new Set<string>();
      let tags: TagInfo[] = [];
      try {
        tags = await this.#tags(id, repo.name);
      } catch {
        perRepo.push({ name: repo.name, digests, tagCount: 0 });
        return;
      }
      const seenManifests = new Set<string>();
      const visit = async (reference: string): Promise<void> => {
        if (budget <= 0 || seenManifests.has(reference)) return;
        budget--;
        seenManifests.add(reference);
        const manifest = await source.getManifest(repo.name, reference);
        if (seenManifests.has(manifest.digest) && manifest.digest !== reference) return;
        seenManifests.add(manifest.digest);
        const parsed = readManifest(manifest.bytes, manifest.mediaType);
        for (const blob of [...(parsed.config ? [parsed.config] : []), ...parsed.layers]) {
          digests.add(blob.digest);
          sizes.set(blob.digest, blob.size);
        }
        for (const child of parsed.manifests) await visit(child.digest).catch(() => {});
      };
      await forEachLimit(tags, 4, (tag) => visit(tag.tag).catch(() => {}));
      perRepo.push({ name: repo.name, digests, tagCount: tags.length });
    });
    if (budget <= 0) {
      this.#logger?.warn("catalogue storage walk cut short", {
        registry: id,
        manifests: this.#maxStorageManifests,
      });
    }
    for (const repo of perRepo)
      for (const digest of repo.digests) owners.set(digest, (owners.get(digest) ?? 0) + 1);
    return {
      totalBytes: [...sizes.values()].reduce((a, b) => a + b, 0),
      repositories: perRepo.map((repo) => {
        let bytes = 0;
        let shared = 0;
        for (const digest of repo.digests) {
          const size = sizes.get(digest) ?? 0;
          bytes += size;
          if ((owners.get(digest) ?? 0) > 1) shared += size;
        }
        return { name: repo.name, bytes, sharedBytes: shared, tagCount: repo.tagCount };
      }),
    };
  }

  async registryStorage(
    id: string,
    query: StorageQuery,
    visible?: (repository: string) => boolean,
  ): Promise<RegistryStorage> {
    const state = this.#state(id);
    this.#assertUsable(state);
    const report = await this.#storage(id);
    const sorted = report.repositories
      .filter((repo) => !visible || visible(repo.name))
      .sort((a, b) => b.bytes - a.bytes || compareText(a.name, b.name));
    const start = (query.page - 1) * query.pageSize;
    return {
      registryId: id,
      totalBytes: report.totalBytes,
      computedAt: new Date(this.#now()).toISOString(),
      repositories: sorted.slice(start, start + query.pageSize),
      total: sorted.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }

  async storageOverview(): Promise<StorageOverview> {
    const registries = await Promise.all(
      [...this.#registries.values()].map(async (state) => {
        const id = state.source.id;
        let totalBytes: number | null = null;
        try {
          if (state.source.local) {
            totalBytes = (await this.#storage(id)).totalBytes;
          } else {
            const cached = await this.#loader.peek<StorageReport>(`${registryKeyPrefix(id)}storage`);
            totalBytes = cached?.totalBytes ?? null;
            if (!cached && state.probe?.state === "ok") this.#warm(id);
          }
        } catch (error) {
          this.#logger?.warn("catalogue storage failed", { registry: id, error: (error as Error).message });
        }
        return { id, displayName: state.displayName, totalBytes };
      }),
    );
    return {
      totalBytes: registries.reduce((sum, r) => sum + (r.totalBytes ?? 0), 0),
      computedAt: new Date(this.#now()).toISOString(),
      registries,
    };
  }

  // ---- watcher join ---------------------------------------------------------------------

  /** Watch entries scanning this registry and repository. */
  #watchEntries(source: CatalogSource, repository: string): WatchEntry[] {
    if (!this.#watcher) return [];
    return this.#watcher.entries.filter(
      (entry) => entry.spec.repository === repository && sameRegistry(entry.spec.url, source.baseUrl),
    );
  }

  /** The watcher's latest images of this repository, by tag. */
  async #watchedImages(source: CatalogSource, repository: string): Promise<Map<string, ImageInfo>> {
    const images = new Map<string, ImageInfo>();
    const watcher = this.#watcher;
    if (!watcher) return images;
    for (const entry of this.#watchEntries(source, repository)) {
      try {
        const status = await watcher.store.load(entry.name);
        for (const image of status?.images ?? []) if (!images.has(image.tag)) images.set(image.tag, image);
      } catch (error) {
        this.#logger?.warn("catalogue watch store read failed", {
          entry: entry.name,
          error: (error as Error).message,
        });
      }
    }
    return images;
  }

  /** The watcher's vulnerability list of an image: the first entry that kept one; most severe first. */
  async #findings(
    source: CatalogSource,
    repository: string,
    digest: string,
  ): Promise<VulnerabilityFinding[]> {
    const watcher = this.#watcher;
    if (!watcher) return [];
    for (const entry of this.#watchEntries(source, repository)) {
      try {
        const found = await watcher.store.findings(entry.name, digest);
        if (found === undefined) continue;
        return found
          .map((finding) => ({
            id: finding.id,
            severity: finding.severity.toLowerCase() as VulnerabilityFinding["severity"],
            package: finding.package,
            installed: finding.installed,
            fixed: finding.fixed,
            title: finding.title,
            url: finding.url,
          }))
          .sort(
            (a, b) =>
              SEVERITY_NAMES.indexOf(a.severity) - SEVERITY_NAMES.indexOf(b.severity) ||
              compareText(a.id, b.id) ||
              compareText(a.package, b.package),
          );
      } catch (error) {
        this.#logger?.warn("catalogue watch findings read failed", {
          entry: entry.name,
          error: (error as Error).message,
        });
      }
    }
    return [];
  }

  async #history(
    source: CatalogSource,
    repository: string,
    reference: string,
    digest: string,
  ): Promise<TagHistoryEntry[]> {
    const watcher = this.#watcher;
    if (!watcher) return [];
    const isDigest = reference.includes(":");
    const out: TagHistoryEntry[] = [];
    for (const entry of this.#watchEntries(source, repository)) {
      try {
        const changes = await watcher.store.history(
          entry.name,
          isDigest ? { limit: 1000 } : { tag: reference, limit: 200 },
        );
        for (const change of changes) {
          if (isDigest && change.from !== digest && change.to !== digest) continue;
          out.push({ tag: change.tag, from: change.from ?? null, to: change.to ?? null, at: change.at });
        }
      } catch (error) {
        this.#logger?.warn("catalogue watch history read failed", {
          entry: entry.name,
          error: (error as Error).message,
        });
      }
    }
    return out.sort((a, b) => compareText(b.at, a.at));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.all([...this.#registries.values()].map((state) => state.source.close().catch(() => {})));
    await this.#loader.cache.close().catch(() => {});
  }
}

function severities(summary: {
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
}): SeverityCounts {
  return {
    ...EMPTY_SEVERITIES,
    critical: summary.critical,
    high: summary.high,
    medium: summary.medium,
    low: summary.low,
    unknown: summary.unknown,
  };
}

function normalizeTime(value: string | undefined): string | null {
  if (value === undefined) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
