/**
 * A repository's tags as the API lists them: search, sort (by name, or by size or creation time
 * from digest summaries), pages, and the watcher's vulnerability counts of the digest shown.
 */
import type { TagPage, TagQuery, TagSummary } from "../api-schemas.ts";
import { CatalogError, type TagInfo } from "../source.ts";
import type { DigestSummaries, TagDigestSummary } from "./digest-summaries.ts";
import { compareNullable, compareText, iso, pageOf } from "./listing.ts";
import type { RegistryDirectory } from "./registry-directory.ts";
import type { RegistryReads } from "./registry-reads.ts";
import { severities, type WatcherOverlay } from "./watcher-overlay.ts";

/** Sorting by size or time needs every tag's manifest: a remote registry is not asked for more. */
const REMOTE_SORT_LIMIT = 2000;

export interface TagQueriesOptions {
  directory: RegistryDirectory;
  reads: RegistryReads;
  summaries: DigestSummaries;
  overlay: WatcherOverlay;
}

export class TagQueries {
  readonly #directory: RegistryDirectory;
  readonly #reads: RegistryReads;
  readonly #summaries: DigestSummaries;
  readonly #overlay: WatcherOverlay;

  constructor(options: TagQueriesOptions) {
    this.#directory = options.directory;
    this.#reads = options.reads;
    this.#summaries = options.summaries;
    this.#overlay = options.overlay;
  }

  async listTags(id: string, name: string, query: TagQuery): Promise<TagPage> {
    const { source } = this.#directory.usable(id);
    const tags = await this.#reads.tags(id, name);
    const needle = query.q?.toLowerCase();
    const filtered = needle ? tags.filter((t) => t.tag.toLowerCase().includes(needle)) : [...tags];
    const desc = query.order === "desc";
    let summaries: Map<string, TagDigestSummary> | undefined;
    if (query.sort === "name") {
      filtered.sort((a, b) => compareText(a.tag, b.tag) * (desc ? -1 : 1));
    } else if (query.sort === "pulled") {
      // Known from the tag list itself (the local registry); unknown times sort last.
      filtered.sort(
        (a, b) => compareNullable(a.lastPulledAt, b.lastPulledAt, desc) || compareText(a.tag, b.tag),
      );
    } else {
      if (!source.local && filtered.length > REMOTE_SORT_LIMIT) {
        throw new CatalogError(
          "BAD_REQUEST",
          `sort=${query.sort}: ${filtered.length} tags are more than the ${REMOTE_SORT_LIMIT} a remote registry can be sorted by; narrow them with q or sort by name`,
        );
      }
      const all = await this.#summaries.ofTags(id, name, filtered);
      const key =
        query.sort === "size"
          ? (t: TagInfo) => all.get(t.tag)?.sizeBytes
          : (t: TagInfo) => all.get(t.tag)?.created;
      filtered.sort((a, b) => compareNullable(key(a), key(b), desc) || compareText(a.tag, b.tag));
      summaries = all;
    }
    let page = pageOf(filtered, query);
    if (source.resolveTags) {
      const digests = await source.resolveTags(
        name,
        page.map((t) => t.tag),
      );
      page = page.map((t) => {
        const digest = digests.get(t.tag);
        // Moved: what the list said of the old digest (media type, pulls) is not the new one's.
        return digest && digest !== t.digest
          ? { ...t, digest, mediaType: undefined, pulls: undefined, lastPulledAt: undefined }
          : t;
      });
      // A tag moved since its list was cached: the summaries made for sorting are out of date.
      if (summaries && page.some((t) => summaries?.get(t.tag)?.digest !== t.digest)) summaries = undefined;
    }
    const shown = summaries ?? (await this.#summaries.ofTags(id, name, page));
    const watched = await this.#overlay.images(source, name);
    return {
      items: page.map((tag): TagSummary => {
        const summary = shown.get(tag.tag);
        const image = watched.get(tag.tag);
        const digest = summary?.digest ?? tag.digest;
        return {
          tag: tag.tag,
          digest: digest ?? "",
          mediaType: summary?.mediaType ?? tag.mediaType ?? "",
          sizeBytes: summary?.sizeBytes ?? null,
          platforms: summary?.platforms ?? [],
          created: summary?.created ?? null,
          vulnerabilities:
            image?.vulnerabilities && image.digest === digest ? severities(image.vulnerabilities) : null,
          pulls: tag.pulls ?? null,
          lastPulledAt: iso(tag.lastPulledAt),
        };
      }),
      total: filtered.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }
}
