import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseRegistrySpec } from "../../src/watcher/spec.ts";
import { filterTags, tagsLeftOutBySort } from "../../src/watcher/tag-filter.ts";

const TAGS = ["latest", "1.25.3", "1.25.3-alpine", "1.24.0", "1.26.0-rc.1", "mainline", "v1.9.1", "stable"];

describe("filterTags: include, exclude, limit", () => {
  test("an empty filter keeps every tag in the registry's order", () => {
    assert.deepEqual(filterTags(TAGS, {}), TAGS);
    assert.deepEqual(filterTags([], {}), []);
  });

  test("include keeps tags that match any pattern, unanchored", () => {
    assert.deepEqual(filterTags(TAGS, { include: ["alpine", "^latest$"] }), ["latest", "1.25.3-alpine"]);
    assert.deepEqual(filterTags(TAGS, { include: ["^1\\.25"] }), ["1.25.3", "1.25.3-alpine"]);
    assert.deepEqual(filterTags(TAGS, { include: ["^nothing$"] }), []);
  });

  test("exclude drops tags that match any pattern, after include", () => {
    assert.deepEqual(filterTags(TAGS, { exclude: ["-", "^[a-z]+$"] }), ["1.25.3", "1.24.0", "v1.9.1"]);
    assert.deepEqual(filterTags(TAGS, { include: ["^1\\."], exclude: ["alpine"] }), [
      "1.25.3",
      "1.24.0",
      "1.26.0-rc.1",
    ]);
  });

  test("limit keeps the first N after sorting", () => {
    assert.deepEqual(filterTags(TAGS, { sort: "semver", limit: 2 }), ["1.26.0-rc.1", "1.25.3"]);
    assert.deepEqual(filterTags(TAGS, { sort: "semver", order: "ascending", limit: 2 }), [
      "v1.9.1",
      "1.24.0",
    ]);
    assert.deepEqual(filterTags(TAGS, { limit: 3 }), ["latest", "1.25.3", "1.25.3-alpine"]);
    assert.deepEqual(filterTags(TAGS, { sort: "semver", limit: 100 }).length, 5);
  });

  test("all steps together, on a parsed spec's filter", () => {
    const spec = parseRegistrySpec({
      url: "https://registry-1.docker.io",
      repository: "library/nginx",
      tagFilter: { include: ["^v?1\\."], exclude: ["-rc"], limit: 3, sort: "semver" },
    });
    assert.deepEqual(filterTags(TAGS, spec.tagFilter), ["1.25.3", "1.25.3-alpine", "1.24.0"]);
  });

  test("does not modify its input", () => {
    const tags = ["1.0.0", "3.0.0", "2.0.0"];
    filterTags(tags, { sort: "semver" });
    assert.deepEqual(tags, ["1.0.0", "3.0.0", "2.0.0"]);
  });
});

describe("filterTags: semver sort", () => {
  test("descending by default, non-semver tags dropped", () => {
    assert.deepEqual(filterTags(TAGS, { sort: "semver" }), [
      "1.26.0-rc.1",
      "1.25.3",
      "1.25.3-alpine",
      "1.24.0",
      "v1.9.1",
    ]);
  });

  test("ascending on request", () => {
    assert.deepEqual(filterTags(TAGS, { sort: "semver", order: "ascending" }), [
      "v1.9.1",
      "1.24.0",
      "1.25.3-alpine",
      "1.25.3",
      "1.26.0-rc.1",
    ]);
  });

  test("semver.org precedence, shuffled in", () => {
    const ordered = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
    ];
    const shuffled = [
      ordered[5]!,
      ordered[0]!,
      ordered[7]!,
      ordered[2]!,
      ordered[6]!,
      ordered[1]!,
      ordered[4]!,
      ordered[3]!,
    ];
    assert.deepEqual(filterTags(shuffled, { sort: "semver", order: "ascending" }), ordered);
    assert.deepEqual(filterTags(shuffled, { sort: "semver" }), [...ordered].reverse());
  });

  test("1.2 and latest drop out; v1.2.3 is accepted; build metadata is ignored", () => {
    assert.deepEqual(filterTags(["1.2", "latest", "v1.2.3", "1.2.4", "1"], { sort: "semver" }), [
      "1.2.4",
      "v1.2.3",
    ]);
    // Equal precedence: tie broken by the tag's code-unit order, following the sort order.
    assert.deepEqual(filterTags(["1.0.0_b", "1.0.0", "v1.0.0"], { sort: "semver", order: "ascending" }), [
      "1.0.0",
      "v1.0.0",
    ]);
    assert.deepEqual(filterTags(["v1.0.0", "1.0.0"], { sort: "semver" }), ["v1.0.0", "1.0.0"]);
  });

  test("numbers compare numerically, not textually", () => {
    assert.deepEqual(filterTags(["1.9.0", "1.10.0", "1.2.0", "10.0.0", "2.0.0"], { sort: "semver" }), [
      "10.0.0",
      "2.0.0",
      "1.10.0",
      "1.9.0",
      "1.2.0",
    ]);
  });
});

describe("filterTags: numerical sort", () => {
  test("digit-only tags by value; everything else drops out", () => {
    const tags = ["10", "9", "100", "latest", "1.2", "42-alpine", "-1", "0", "20240101", "v3"];
    assert.deepEqual(filterTags(tags, { sort: "numerical" }), ["20240101", "100", "10", "9", "0"]);
    assert.deepEqual(filterTags(tags, { sort: "numerical", order: "ascending" }), [
      "0",
      "9",
      "10",
      "100",
      "20240101",
    ]);
  });

  test("numbers beyond 2^53 and leading zeros", () => {
    assert.deepEqual(
      filterTags(["9007199254740993", "9007199254740992", "007", "7", "8"], {
        sort: "numerical",
        order: "ascending",
      }),
      ["007", "7", "8", "9007199254740992", "9007199254740993"],
    );
  });
});

describe("filterTags: alphabetical sort", () => {
  test("code-unit order, descending by default", () => {
    const tags = ["b", "a", "B", "10", "9", "a-1"];
    assert.deepEqual(filterTags(tags, { sort: "alphabetical", order: "ascending" }), [
      "10",
      "9",
      "B",
      "a",
      "a-1",
      "b",
    ]);
    assert.deepEqual(filterTags(tags, { sort: "alphabetical" }), ["b", "a-1", "a", "B", "9", "10"]);
  });
});

describe("filterTags: created sort", () => {
  const dates: Record<string, Date> = {
    old: new Date("2024-01-01T00:00:00Z"),
    mid: new Date("2025-06-01T00:00:00Z"),
    new: new Date("2026-01-01T00:00:00Z"),
    bad: new Date("not a date"),
  };
  const createdOf = (tag: string) => dates[tag];

  test("by date, newest first; tags without a (valid) date drop out", () => {
    const tags = ["mid", "nodate", "old", "new", "bad"];
    assert.deepEqual(filterTags(tags, { sort: "created" }, createdOf), ["new", "mid", "old"]);
    assert.deepEqual(filterTags(tags, { sort: "created", order: "ascending" }, createdOf), [
      "old",
      "mid",
      "new",
    ]);
    assert.deepEqual(filterTags(tags, { sort: "created", limit: 1 }, createdOf), ["new"]);
  });

  test("no createdOf: every tag drops out", () => {
    assert.deepEqual(filterTags(["a", "b"], { sort: "created" }), []);
  });

  test("equal dates tie-break by tag", () => {
    const same = new Date("2025-01-01T00:00:00Z");
    assert.deepEqual(
      filterTags(["b", "a", "c"], { sort: "created", order: "ascending" }, () => same),
      ["a", "b", "c"],
    );
  });
});

describe("filterTags: semverCoerce, and what a sort leaves out", () => {
  const PARTIAL = ["1.0", "v2", "1.10.0", "latest", "1.2.0", "1.0.0", "1.9"];

  test("without it, partial versions drop out; tagsLeftOutBySort names them", () => {
    assert.deepEqual(filterTags(PARTIAL, { sort: "semver" }), ["1.10.0", "1.2.0", "1.0.0"]);
    assert.deepEqual(tagsLeftOutBySort(PARTIAL, { sort: "semver" }), ["1.0", "v2", "latest", "1.9"]);
  });

  test("with it, they sort among the others (1.0 ties with 1.0.0, broken by tag)", () => {
    assert.deepEqual(filterTags(PARTIAL, { sort: "semver", semverCoerce: true }), [
      "v2",
      "1.10.0",
      "1.9",
      "1.2.0",
      "1.0.0",
      "1.0",
    ]);
    assert.deepEqual(tagsLeftOutBySort(PARTIAL, { sort: "semver", semverCoerce: true }), ["latest"]);
  });

  test("include and exclude apply first; other sorts leave nothing out here", () => {
    assert.deepEqual(tagsLeftOutBySort(PARTIAL, { sort: "semver", exclude: ["^latest$"] }), [
      "1.0",
      "v2",
      "1.9",
    ]);
    assert.deepEqual(tagsLeftOutBySort(["42", "latest"], { sort: "numerical" }), ["latest"]);
    assert.deepEqual(tagsLeftOutBySort(PARTIAL, { sort: "alphabetical" }), []);
    assert.deepEqual(tagsLeftOutBySort(PARTIAL, {}), []);
  });

  test("the spec refuses semverCoerce without the semver sort", () => {
    assert.throws(
      () =>
        parseRegistrySpec({ url: "https://r.example", repository: "a/b", tagFilter: { semverCoerce: true } }),
      /tagFilter\.semverCoerce: only applies to sort: semver/,
    );
    const spec = parseRegistrySpec({
      url: "https://r.example",
      repository: "a/b",
      tagFilter: { sort: "semver", semverCoerce: true },
    });
    assert.equal(spec.tagFilter.semverCoerce, true);
  });
});
