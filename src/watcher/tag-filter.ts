/**
 * The `tagFilter` of a Registry spec: include, then exclude, then sort, then limit.
 *
 * - include: a tag is kept when any pattern matches it (unanchored, `RegExp.test`); no patterns
 *   keep every tag.
 * - exclude: a tag is dropped when any pattern matches it.
 * - sort (each one drops the tags it cannot place, so `limit` never keeps an unsortable tag):
 *   - `semver`: semver 2.0.0 tags, optionally `v`-prefixed, by precedence (semver.org §11; build
 *     metadata ignored); `latest`, `1.2`, `1.02.3` drop out. With `semverCoerce`, partial versions
 *     are read as semver's coerce does (`1.2` → 1.2.0, `v1` → 1.0.0; see coerceSemVer) and only
 *     tags that start with no version at all (`latest`) drop out.
 *   - `numerical`: tags made only of ASCII digits (`42`, `20240101`, `007`), by numeric value of any
 *     size; tags with anything else (`1.2`, `42-alpine`, `-1`) drop out.
 *   - `alphabetical`: every tag, by UTF-16 code-unit order (`B` before `a`, `10` before `9`).
 *   - `created`: tags for which `createdOf` gives a valid date, by that date; others drop out.
 *   - none: the order the tags came in (the registry's), nothing dropped.
 *   Ties (`1.0.0` and `v1.0.0`, equal numbers, equal dates) are broken by code-unit order of the tag,
 *   so the result is deterministic; the tie-break follows `order` like the main key.
 * - order: `descending` (default; newest/highest first) or `ascending`.
 * - limit: keeps the first N of the result.
 *
 * What the semver and numerical sorts leave out is listed by tagsLeftOutBySort, so the scan can
 * say so instead of dropping tags without a word.
 */
import { coerceSemVer, compareSemVer, parseSemVer, type SemVer } from "../util/semver.ts";
import type { SortOrder, TagSort } from "./spec.ts";

/** A tag filter as parsed from the spec, or written by hand (defaults as in the spec). */
export interface TagFilterOptions {
  include?: readonly string[];
  exclude?: readonly string[];
  limit?: number | undefined;
  sort?: TagSort | undefined;
  /** With the semver sort: read partial versions (`1.0`, `v1`) as semver's coerce does. */
  semverCoerce?: boolean | undefined;
  order?: SortOrder | undefined;
}

const DIGITS_ONLY = /^[0-9]+$/;

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Non-negative digit strings of any length, numerically. */
function compareDecimal(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, "");
  const y = b.replace(/^0+(?=\d)/, "");
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return compareCodeUnits(x, y);
}

interface Keyed<K> {
  tag: string;
  key: K;
}

function sortByKey<K>(
  tags: readonly string[],
  keyOf: (tag: string) => K | undefined,
  compare: (a: K, b: K) => number,
): string[] {
  const keyed: Keyed<K>[] = [];
  for (const tag of tags) {
    const key = keyOf(tag);
    if (key !== undefined) keyed.push({ tag, key });
  }
  keyed.sort((a, b) => compare(a.key, b.key) || compareCodeUnits(a.tag, b.tag));
  return keyed.map((k) => k.tag);
}

function semverOf(filter: TagFilterOptions): (tag: string) => SemVer | undefined {
  return filter.semverCoerce ? coerceSemVer : parseSemVer;
}

function numberOf(tag: string): string | undefined {
  return DIGITS_ONLY.test(tag) ? tag : undefined;
}

/** Sorts ascending by the filter's sort, dropping the tags it cannot place. */
function sortTags(
  tags: readonly string[],
  filter: TagFilterOptions & { sort: TagSort },
  createdOf: ((tag: string) => Date | undefined) | undefined,
): string[] {
  switch (filter.sort) {
    case "semver":
      return sortByKey<SemVer>(tags, semverOf(filter), compareSemVer);
    case "numerical":
      return sortByKey<string>(tags, numberOf, compareDecimal);
    case "alphabetical":
      return sortByKey<string>(tags, (tag) => tag, compareCodeUnits);
    case "created":
      return sortByKey<number>(
        tags,
        (tag) => {
          const time = createdOf?.(tag)?.getTime();
          return time === undefined || Number.isNaN(time) ? undefined : time;
        },
        (a, b) => a - b,
      );
  }
}

function compile(patterns: readonly string[] | undefined): RegExp[] {
  return (patterns ?? []).map((pattern) => new RegExp(pattern));
}

/**
 * Applies a tag filter. `createdOf` gives each tag's creation time for the `created` sort (tags it
 * returns undefined for drop out). Patterns are expected to be valid (the spec checks them); an
 * invalid one throws a SyntaxError.
 */
export function filterTags(
  tags: readonly string[],
  filter: TagFilterOptions,
  createdOf?: (tag: string) => Date | undefined,
): string[] {
  let result = included(tags, filter);
  if (filter.sort !== undefined) {
    result = sortTags(result, { ...filter, sort: filter.sort }, createdOf);
    if ((filter.order ?? "descending") === "descending") result.reverse();
  }
  if (filter.limit !== undefined) result = result.slice(0, Math.max(0, filter.limit));
  return result;
}

/** The tags include and exclude keep. */
function included(tags: readonly string[], filter: TagFilterOptions): string[] {
  const include = compile(filter.include);
  const exclude = compile(filter.exclude);
  return tags.filter(
    (tag) =>
      (include.length === 0 || include.some((re) => re.test(tag))) && !exclude.some((re) => re.test(tag)),
  );
}

/**
 * The tags include and exclude keep but the semver or numerical sort cannot place, in the order
 * given; empty for the other sorts (`created` leaves out tags only once their dates are known).
 */
export function tagsLeftOutBySort(tags: readonly string[], filter: TagFilterOptions): string[] {
  const keyOf =
    filter.sort === "semver" ? semverOf(filter) : filter.sort === "numerical" ? numberOf : undefined;
  if (!keyOf) return [];
  return included(tags, filter).filter((tag) => keyOf(tag) === undefined);
}
