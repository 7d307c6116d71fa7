/**
 * What the watcher knows of an image, joined into the catalogue: vulnerability counts and
 * findings, and tag history, from every watch entry that scans the same registry and
 * repository. A watch store that cannot be read costs a warning, never an answer.
 */
import type { Logger } from "../../util/logger.ts";
import type { WatchEntry } from "../../watcher/scheduler.ts";
import type { ImageInfo } from "../../watcher/spec.ts";
import type { WatchStore } from "../../watcher/store.ts";
import {
  type ManifestDetail,
  SEVERITY_NAMES,
  type SeverityCounts,
  type TagHistoryEntry,
  type VulnerabilityFinding,
} from "../api-schemas.ts";
import type { CatalogSource } from "../source.ts";
import { compareText } from "./listing.ts";

/** The watcher whose results are joined in. */
export interface WatcherView {
  entries: readonly WatchEntry[];
  store: WatchStore;
}

export interface WatcherOverlayOptions {
  watcher?: WatcherView;
  logger?: Logger;
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

export function severities(summary: SeverityCounts): SeverityCounts {
  return {
    critical: summary.critical,
    high: summary.high,
    medium: summary.medium,
    low: summary.low,
    unknown: summary.unknown,
  };
}

export class WatcherOverlay {
  readonly #watcher: WatcherView | undefined;
  readonly #logger: Logger | undefined;

  constructor(options: WatcherOverlayOptions) {
    this.#watcher = options.watcher;
    this.#logger = options.logger;
  }

  /** The watcher's latest images of this repository, by tag. */
  async images(source: CatalogSource, repository: string): Promise<Map<string, ImageInfo>> {
    const images = new Map<string, ImageInfo>();
    await this.#eachEntry(source, repository, "catalogue watch store read failed", async (entry, store) => {
      const status = await store.load(entry.name);
      for (const image of status?.images ?? []) if (!images.has(image.tag)) images.set(image.tag, image);
    });
    return images;
  }

  /** A manifest's vulnerabilities (when the watcher scanned its digest) and history. */
  async forManifest(
    source: CatalogSource,
    repository: string,
    reference: string,
    digest: string,
  ): Promise<Pick<ManifestDetail, "vulnerabilities" | "history">> {
    const watched = await this.images(source, repository);
    const byTag = reference.includes(":") ? undefined : watched.get(reference);
    const image = byTag?.digest === digest ? byTag : [...watched.values()].find((i) => i.digest === digest);
    return {
      vulnerabilities: image?.vulnerabilities
        ? {
            summary: severities(image.vulnerabilities),
            scanner: image.vulnerabilities.scanner ?? null,
            scannedAt: image.vulnerabilities.scannedAt ?? null,
            items: await this.#findings(source, repository, digest),
          }
        : null,
      history: await this.#history(source, repository, reference, digest),
    };
  }

  /** The vulnerability list of an image: the first entry that kept one; most severe first. */
  async #findings(
    source: CatalogSource,
    repository: string,
    digest: string,
  ): Promise<VulnerabilityFinding[]> {
    let findings: VulnerabilityFinding[] | undefined;
    await this.#eachEntry(
      source,
      repository,
      "catalogue watch findings read failed",
      async (entry, store) => {
        if (findings) return;
        const found = await store.findings(entry.name, digest);
        findings = found?.map((finding) => ({
          id: finding.id,
          severity: finding.severity.toLowerCase() as VulnerabilityFinding["severity"],
          package: finding.package,
          installed: finding.installed,
          fixed: finding.fixed,
          title: finding.title,
          url: finding.url,
        }));
      },
    );
    return (findings ?? []).sort(
      (a, b) =>
        SEVERITY_NAMES.indexOf(a.severity) - SEVERITY_NAMES.indexOf(b.severity) ||
        compareText(a.id, b.id) ||
        compareText(a.package, b.package),
    );
  }

  /** Tag moves of `reference` (a tag), or every move to or from `digest` (a digest reference); newest first. */
  async #history(
    source: CatalogSource,
    repository: string,
    reference: string,
    digest: string,
  ): Promise<TagHistoryEntry[]> {
    const isDigest = reference.includes(":");
    const out: TagHistoryEntry[] = [];
    await this.#eachEntry(source, repository, "catalogue watch history read failed", async (entry, store) => {
      const changes = await store.history(
        entry.name,
        isDigest ? { limit: 1000 } : { tag: reference, limit: 200 },
      );
      for (const change of changes) {
        if (isDigest && change.from !== digest && change.to !== digest) continue;
        out.push({ tag: change.tag, from: change.from ?? null, to: change.to ?? null, at: change.at });
      }
    });
    return out.sort((a, b) => compareText(b.at, a.at));
  }

  /** Runs `read` for each watch entry scanning this registry and repository, in order; a failing read is logged. */
  async #eachEntry(
    source: CatalogSource,
    repository: string,
    failure: string,
    read: (entry: WatchEntry, store: WatchStore) => Promise<void>,
  ): Promise<void> {
    const watcher = this.#watcher;
    if (!watcher) return;
    for (const entry of watcher.entries) {
      if (entry.spec.repository !== repository || !sameRegistry(entry.spec.url, source.baseUrl)) continue;
      try {
        await read(entry, watcher.store);
      } catch (error) {
        this.#logger?.warn(failure, { entry: entry.name, error: (error as Error).message });
      }
    }
  }
}
