/**
 * The contract every catalogue `Cache` implementation honours (src/catalog/cache.ts). A backend's
 * test calls `cacheContract("name", makeCache)`; each test gets a fresh, empty cache.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Cache } from "../../src/catalog/cache.ts";
import { waitFor } from "../helpers/wait.ts";

export interface CacheFixture {
  cache: Cache;
  cleanup(): Promise<void>;
}

export function cacheContract(name: string, makeCache: () => Promise<CacheFixture>): void {
  const withCache = async (body: (cache: Cache) => Promise<void>) => {
    const { cache, cleanup } = await makeCache();
    try {
      await body(cache);
    } finally {
      await cleanup();
    }
  };
  const long = { ttlMs: 60_000, staleMs: 60_000 };

  describe(`Cache contract: ${name}`, () => {
    test("an unknown key is undefined; a set value comes back equal with its freshness", () =>
      withCache(async (cache) => {
        assert.equal(await cache.get("nope"), undefined);
        const value = { items: [{ name: "a/b", size: 3, when: null }], total: 1, ok: true };
        const before = Date.now();
        await cache.set("k", value, long);
        const entry = await cache.get<typeof value>("k");
        assert.deepEqual(entry?.value, value);
        assert.ok(entry!.freshUntil >= before + 60_000 - 5 && entry!.freshUntil <= Date.now() + 60_000 + 5);
      }));

    test("set replaces; delete removes", () =>
      withCache(async (cache) => {
        await cache.set("k", 1, long);
        await cache.set("k", [2, 3], long);
        assert.deepEqual((await cache.get("k"))?.value, [2, 3]);
        await cache.delete("k");
        assert.equal(await cache.get("k"), undefined);
        await cache.delete("never-set");
      }));

    test("a value past its ttl is still returned as stale until ttl + stale has passed, then gone", () =>
      withCache(async (cache) => {
        await cache.set("short", "v", { ttlMs: 1, staleMs: 60_000 });
        await waitFor(async () => ((await cache.get("short"))?.freshUntil ?? Infinity) <= Date.now(), {
          what: "the ttl to pass",
        });
        assert.equal((await cache.get("short"))?.value, "v", "stale but kept");
        await cache.set("gone", "v", { ttlMs: 1, staleMs: 1 });
        await waitFor(async () => (await cache.get("gone")) === undefined, { what: "ttl + stale to pass" });
      }));

    test("deletePrefix removes exactly the keys starting with the prefix (glob characters are literal)", () =>
      withCache(async (cache) => {
        await cache.set("r:a:repos", 1, long);
        await cache.set("r:a:tags:x", 2, long);
        await cache.set("r:ab:repos", 3, long);
        await cache.set("r:b:repos", 4, long);
        await cache.set("r:*:odd", 5, long);
        await cache.deletePrefix("r:a:");
        assert.equal(await cache.get("r:a:repos"), undefined);
        assert.equal(await cache.get("r:a:tags:x"), undefined);
        assert.equal((await cache.get("r:ab:repos"))?.value, 3);
        assert.equal((await cache.get("r:b:repos"))?.value, 4);
        await cache.deletePrefix("r:*");
        assert.equal(await cache.get("r:*:odd"), undefined);
        assert.equal((await cache.get("r:b:repos"))?.value, 4, "* is not a wildcard");
      }));

    test("many keys: deletePrefix clears them all", () =>
      withCache(async (cache) => {
        await Promise.all(Array.from({ length: 1200 }, (_, i) => cache.set(`p:${i}`, i, long)));
        assert.equal((await cache.get("p:1199"))?.value, 1199);
        await cache.deletePrefix("p:");
        for (const i of [0, 600, 1199]) assert.equal(await cache.get(`p:${i}`), undefined);
      }));

    test("large values round-trip", () =>
      withCache(async (cache) => {
        const big = Array.from({ length: 10_000 }, (_, i) => ({ name: `team/repo-${i}`, tagCount: i }));
        await cache.set("big", big, long);
        assert.deepEqual((await cache.get("big"))?.value, big);
      }));
  });
}
