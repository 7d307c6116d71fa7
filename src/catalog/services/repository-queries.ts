/**
 * Repositories as the API lists and shows them: server-side search, filters, sorting and pages
 * over a registry's (cached) repository list, and one repository's detail with its README.
 */
import { forEachLimit } from "../../util/concurrency.ts";
import type { RepositoryDetail, RepositoryPage, RepositoryQuery, RepositorySummary } from "../api-schemas.ts";
import {
  IMAGE_CONFIG_TYPES,
  isReadmeArtifact,
  isRealPlatform,
  type LooseManifest,
  pullCommands,
  readImageConfig,
  readManifest,
} from "../manifest-view.ts";
import type { CatalogSource, RepositoryInfo, StorageReport } from "../source.ts";
import { compareNullable, compareText, iso, namespaceOf, pageOf } from "./listing.ts";
import type { ManifestReader } from "./manifest-reader.ts";
import type { RegistryDirectory } from "./registry-directory.ts";
import type { RegistryReads } from "./registry-reads.ts";

const README_MAX_BYTES = 512 * 1024;

export interface RepositoryQueriesOptions {
  directory: RegistryDirectory;
  reads: RegistryReads;
  manifests: ManifestReader;
  now: () => number;
}

function repositorySummary(repo: RepositoryInfo): RepositorySummary {
  return {
    name: repo.name,
    namespace: namespaceOf(repo.name),
    tagCount: repo.tagCount ?? null,
    sizeBytes: repo.sizeBytes ?? null,
    updatedAt: iso(repo.updatedAt),
    signed: repo.signed ?? null,
    pulls: repo.pulls ?? null,
    lastPulledAt: iso(repo.lastPulledAt),
  };
}

export class RepositoryQueries {
  readonly #directory: RegistryDirectory;
  readonly #reads: RegistryReads;
  readonly #manifests: ManifestReader;
  readonly #now: () => number;

  constructor(options: RepositoryQueriesOptions) {
    this.#directory = options.directory;
    this.#reads = options.reads;
    this.#manifests = options.manifests;
    this.#now = options.now;
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
    const { source } = this.#directory.usable(id);
    let repos = await this.#reads.repositories(id);
    if (visible) repos = repos.filter((repo) => visible(repo.name));
    if (!source.local) repos = await this.#withStorageFigures(id, repos);
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
      const keys = {
        size: (r: RepositoryInfo) => r.sizeBytes,
        updated: (r: RepositoryInfo) => r.updatedAt,
        pulled: (r: RepositoryInfo) => r.lastPulledAt,
      };
      const key = keys[query.sort];
      filtered.sort((a, b) => compareNullable(key(a), key(b), desc) || compareText(a.name, b.name));
    }
    const pageItems = pageOf(filtered, query);
    if (!source.local) await this.#fillTagCounts(id, pageItems);
    return {
      items: pageItems.map(repositorySummary),
      total: filtered.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }

  async getRepository(id: string, name: string): Promise<RepositoryDetail> {
    const { source } = this.#directory.usable(id);
    const tags = await this.#reads.tags(id, name);
    const info = source.local
      ? (await this.#reads.repositories(id)).find((repo) => repo.name === name)
      : undefined;
    const storageFigures = source.local
      ? undefined
      : (await this.#reads.peek<StorageReport>(id, "storage"))?.repositories.find((r) => r.name === name);
    const chosen =
      tags.find((t) => t.tag === "latest") ??
      [...tags].sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0) || compareText(a.tag, b.tag))[0];
    const about: RepositoryText = chosen
      ? await this.#reads
          .load(id, `about:${name}:${chosen.tag}`, () => this.#readText(id, name, chosen.tag))
          .catch(() => NO_TEXT)
      : NO_TEXT;
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
      readme: about.readme,
      description: about.description,
      pulls: info?.pulls ?? null,
      lastPulledAt: iso(info?.lastPulledAt),
      pullReference: `${source.pullHost}/${name}`,
      pullCommands: pullCommands(source.pullHost, name, reference, source.plainHttp),
    };
  }

  #readText(id: string, name: string, tag: string): Promise<RepositoryText> {
    return readRepositoryText(this.#directory.get(id).source, this.#manifests, id, name, tag);
  }

  /** Remote: sizes and tag counts from a storage computation already cached, if any; by name. */
  async #withStorageFigures(id: string, repos: RepositoryInfo[]): Promise<RepositoryInfo[]> {
    const storage = await this.#reads.peek<StorageReport>(id, "storage");
    const byName = new Map(storage?.repositories.map((r) => [r.name, r]));
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
        const tags = await this.#reads.tags(id, repo.name);
        page[index] = { ...repo, tagCount: tags.length };
      } catch {
        // Unknown stays null: one unreadable repository must not fail the page.
      }
    });
  }
}

interface RepositoryText {
  readme: string | null;
  description: string | null;
}

const NO_TEXT: RepositoryText = { readme: null, description: null };
const DESCRIPTION_LABEL = "org.opencontainers.image.description";

/**
 * What describes a repository, read on one tag: the README (a README artifact among the
 * referrers, else the manifest's README or description annotation), and when there is none, the
 * description label of the image config (what `LABEL org.opencontainers.image.description=…`
 * in a Dockerfile sets; buildx puts it there, not in an annotation).
 */
async function readRepositoryText(
  source: CatalogSource,
  manifests: ManifestReader,
  id: string,
  repository: string,
  tag: string,
): Promise<RepositoryText> {
  const manifest = await source.getManifest(repository, tag);
  const parsed = readManifest(manifest.bytes, manifest.mediaType);
  const referrers = await source.listReferrers(repository, manifest.digest).catch(() => []);
  const artifact = referrers.find((r) => isReadmeArtifact(r.artifactType));
  if (artifact) {
    try {
      const readme = await source.getManifest(repository, artifact.digest);
      const layer = readManifest(readme.bytes, readme.mediaType).layers[0];
      if (layer) {
        const text = (await source.getBlob(repository, layer.digest, README_MAX_BYTES)).toString("utf8");
        return { readme: text, description: null };
      }
    } catch {
      // Fall back to the annotation.
    }
  }
  const annotations = parsed.annotations;
  const readme = annotations["io.reestr.readme"] ?? annotations[DESCRIPTION_LABEL] ?? null;
  if (readme !== null) return { readme, description: null };
  return {
    readme: null,
    description: await readDescriptionLabel(manifests, id, repository, parsed).catch(() => null),
  };
}

/** The description label of an image's config; of an index, its first platform image's. */
async function readDescriptionLabel(
  manifests: ManifestReader,
  id: string,
  repository: string,
  manifest: LooseManifest,
): Promise<string | null> {
  let image = manifest;
  if (manifest.kind === "index") {
    const child = manifest.manifests.find(isRealPlatform);
    if (!child) return null;
    const content = await manifests.byDigest(id, repository, child.digest);
    image = readManifest(content.bytes, content.mediaType);
  }
  const config = image.config;
  if (image.kind !== "image" || !config || !IMAGE_CONFIG_TYPES.has(config.mediaType)) return null;
  const bytes = await manifests.config(id, repository, config.digest);
  const label = readImageConfig(bytes, config).labels[DESCRIPTION_LABEL]?.trim();
  return label ? label : null;
}
