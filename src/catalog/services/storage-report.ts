/**
 * Storage accounting: what each registry's repositories hold, each blob counted once. The
 * local registry adds it up in SQL; a remote one is walked (every tag's manifests, bounded by
 * `maxManifests`), in the background after a good probe, and cached for long.
 */
import { forEachLimit } from "../../util/concurrency.ts";
import type { Logger } from "../../util/logger.ts";
import type { RegistryStorage, StorageOverview, StorageQuery } from "../api-schemas.ts";
import { readManifest } from "../manifest-view.ts";
import type { SourceCounts, StorageReport, TagInfo } from "../source.ts";
import { compareText, pageOf } from "./listing.ts";
import type { RegistryDirectory, RegistryFigures } from "./registry-directory.ts";
import { LOCAL, type RegistryReads } from "./registry-reads.ts";

export interface StorageReporterOptions {
  directory: RegistryDirectory;
  reads: RegistryReads;
  logger?: Logger;
  now: () => number;
  /** Manifests walked at most by one storage computation of a remote registry. */
  maxManifests: number;
}

export class StorageReporter {
  readonly #directory: RegistryDirectory;
  readonly #reads: RegistryReads;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #maxManifests: number;

  constructor(options: StorageReporterOptions) {
    this.#directory = options.directory;
    this.#reads = options.reads;
    this.#logger = options.logger;
    this.#now = options.now;
    this.#maxManifests = options.maxManifests;
  }

  /** A remote registry: fill its repository list and storage totals in the background. */
  warmUp(id: string): void {
    const entry = this.#directory.find(id);
    if (!entry || entry.source.local) return;
    void this.#reads
      .repositories(id)
      .then(() => this.report(id))
      .catch((error: unknown) =>
        this.#logger?.warn("catalogue warm-up failed", { registry: id, error: (error as Error).message }),
      );
  }

  /** The registry's storage report (cached; a remote walk is kept 15 minutes at least). */
  async report(id: string): Promise<StorageReport> {
    const { source } = this.#directory.get(id);
    const remote = this.#reads.remote;
    const policy = source.local
      ? LOCAL
      : { ttlMs: Math.max(remote.ttlMs, 15 * 60_000), staleMs: Math.max(remote.staleMs, 24 * 3_600_000) };
    return this.#reads.load(
      id,
      "storage",
      () => (source.storage ? source.storage() : this.#walk(id)),
      policy,
    );
  }

  /** Counts and bytes for the registry's card: the local source's own, else what is cached. */
  async figures(id: string): Promise<RegistryFigures> {
    const figures: RegistryFigures = { counts: { repositories: null, tags: null }, storageBytes: null };
    const { source } = this.#directory.get(id);
    try {
      if (source.local) {
        const local = await this.#reads.load<SourceCounts>(id, "counts", () => source.counts());
        figures.counts = { repositories: local.repositories, tags: local.tags };
        figures.storageBytes = local.storageBytes;
      } else {
        const repos = await this.#reads.peek<unknown[]>(id, "repos");
        const storage = await this.#reads.peek<StorageReport>(id, "storage");
        figures.counts.repositories = repos?.length ?? null;
        if (storage) {
          figures.counts.tags = storage.repositories.reduce((sum, r) => sum + r.tagCount, 0);
          figures.storageBytes = storage.totalBytes;
        }
      }
    } catch (error) {
      this.#logger?.warn("catalogue counts failed", { registry: id, error: (error as Error).message });
    }
    return figures;
  }

  /** A page of the registry's repositories, largest first; `visible` hides what the caller may not see. */
  async registryStorage(
    id: string,
    query: StorageQuery,
    visible?: (repository: string) => boolean,
  ): Promise<RegistryStorage> {
    this.#directory.usable(id);
    const report = await this.report(id);
    const sorted = report.repositories
      .filter((repo) => !visible || visible(repo.name))
      .sort((a, b) => b.bytes - a.bytes || compareText(a.name, b.name));
    return {
      registryId: id,
      totalBytes: report.totalBytes,
      computedAt: new Date(this.#now()).toISOString(),
      repositories: pageOf(sorted, query),
      total: sorted.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }

  /** Every registry's total: the local one computed, remote ones as cached (a walk starts when none is). */
  async storageOverview(): Promise<StorageOverview> {
    const registries = await Promise.all(
      this.#directory.entries.map(async (entry) => {
        const id = entry.source.id;
        let totalBytes: number | null = null;
        try {
          if (entry.source.local) {
            totalBytes = (await this.report(id)).totalBytes;
          } else {
            const cached = await this.#reads.peek<StorageReport>(id, "storage");
            totalBytes = cached?.totalBytes ?? null;
            if (!cached && entry.probe?.state === "ok") this.warmUp(id);
          }
        } catch (error) {
          this.#logger?.warn("catalogue storage failed", { registry: id, error: (error as Error).message });
        }
        return { id, displayName: entry.displayName, totalBytes };
      }),
    );
    return {
      totalBytes: registries.reduce((sum, r) => sum + (r.totalBytes ?? 0), 0),
      computedAt: new Date(this.#now()).toISOString(),
      registries,
    };
  }

  /** A remote registry's storage: every tag's manifests walked, each blob counted once. */
  async #walk(id: string): Promise<StorageReport> {
    const { source } = this.#directory.get(id);
    const repos = await this.#reads.repositories(id);
    const sizes = new Map<string, number>();
    const perRepo: { name: string; digests: Set<string>; tagCount: number }[] = [];
    let budget = this.#maxManifests;
    await forEachLimit(repos, 4, async (repo) => {
      const digests = new Set<string>();
      let tags: TagInfo[] = [];
      try {
        tags = await this.#reads.tags(id, repo.name);
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
      this.#logger?.warn("catalogue storage walk cut short", { registry: id, manifests: this.#maxManifests });
    }
    const owners = new Map<string, number>();
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
}
