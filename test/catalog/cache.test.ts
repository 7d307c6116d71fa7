/**
 * MemoryCache's own rules and CachedLoader (stale-while-revalidate, shared loads, a failing
 * cache). The Cache contract both backends honour runs in test/contract/cache.test.ts.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { type Cache, CachedLoader, MemoryCache } from "../../src/catalog/cache.ts";
import { RedisCache } from "../../src/catalog/redis-cache.ts";
import { recordingLogger } from "../helpers/recording-logger.ts";
import { waitFor } from "../helpers/wait.ts";
import { startRedis } from "./redis.ts";

const options = { ttlMs: 60_000, staleMs: 60_000 };

/** A cache whose every call fails, as a dead backend would. */
class BrokenCache implements Cache {
  readonly kind = "redis" as const;
  async get(): Promise<never> {
    throw new Error("connection refused");
  }
  async set(): Promise<never> {
    throw new Error("connection refused");
  }
  async delete(): Promise<never> {
    throw new Error("connection refused");
  }
  async deletePrefix(): Promise<never> {
    throw new Error("connection refused");
  }
  async close(): Promise<void> {}
}

describe("MemoryCache specifics", () => {
  test("evicts the least recently used entry beyond maxEntries", async () => {
    const cache = new MemoryCache({ maxEntries: 2 });
    await cache.set("a", 1, options);
    await cache.set("b", 2, options);
    await cache.get("a");
    await cache.set("c", 3, options);
    assert.equal((await cache.get("a"))?.value, 1);
    assert.equal(await cache.get("b"), undefined, "b was least recently used");
    assert.equal((await cache.get("c"))?.value, 3);
    assert.equal(cache.size, 2);
  });
});

describe("CachedLoader", () => {
  test("a fresh value is served without calling the loader; concurrent misses share one load", async () => {
    const loader = new CachedLoader(new MemoryCache());
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const load = async () => {
      calls++;
      await gate;
      return `v${calls}`;
    };
    const both = Promise.all([loader.load("k", options, load), loader.load("k", options, load)]);
    release();
    assert.deepEqual(await both, ["v1", "v1"]);
    assert.equal(await loader.load("k", options, load), "v1");
    assert.equal(calls, 1);
    assert.deepEqual(loader.stats, { hits: 1, staleHits: 0, misses: 2, errors: 0 });
  });

  test("stale-while-revalidate: a stale value is answered at once and refreshed in the background", async () => {
    let now = 1_000_000;
    const cache = new MemoryCache({ now: () => now });
    const loader = new CachedLoader(cache, { now: () => now });
    let version = 1;
    const load = async () => `v${version}`;
    assert.equal(await loader.load("k", { ttlMs: 100, staleMs: 10_000 }, load), "v1");
    version = 2;
    now += 500; // past the ttl, inside the stale window
    assert.equal(await loader.load("k", { ttlMs: 100, staleMs: 10_000 }, load), "v1", "stale answer first");
    await waitFor(async () => (await cache.get("k"))?.value === "v2", { what: "the background refresh" });
    assert.equal(await loader.load("k", { ttlMs: 100, staleMs: 10_000 }, load), "v2");
    assert.equal(loader.stats.staleHits, 1);
    now += 60_000; // past ttl + stale: a blocking load
    version = 3;
    assert.equal(await loader.load("k", { ttlMs: 100, staleMs: 10_000 }, load), "v3");
  });

  test("a failed background refresh keeps the stale value", async () => {
    let now = 0;
    const loader = new CachedLoader(new MemoryCache({ now: () => now }), { now: () => now });
    await loader.load("k", { ttlMs: 10, staleMs: 10_000 }, async () => "old");
    now = 100;
    assert.equal(
      await loader.load("k", { ttlMs: 10, staleMs: 10_000 }, async () => {
        throw new Error("registry down");
      }),
      "old",
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await loader.peek("k"), "old");
  });

  test("invalidate drops a prefix, and a load already running does not write its old result back", async () => {
    const cache = new MemoryCache();
    const loader = new CachedLoader(cache);
    await loader.load("r:a:x", options, async () => 1);
    await loader.load("r:b:x", options, async () => 2);
    let release!: () => void;
    const slow = loader.load("r:a:y", options, async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return "before-resync";
    });
    await loader.invalidate("r:a:");
    release();
    assert.equal(await slow, "before-resync", "the caller still gets its answer");
    assert.equal(await cache.get("r:a:x"), undefined);
    assert.equal(await cache.get("r:a:y"), undefined, "not written after the invalidation");
    assert.equal((await cache.get("r:b:x"))?.value, 2);
  });

  test("a failing cache degrades to direct reads and logs a warning (rate-limited), never an error", async () => {
    const log = recordingLogger();
    const loader = new CachedLoader(new BrokenCache(), { logger: log.logger });
    let calls = 0;
    for (let i = 0; i < 5; i++) assert.equal(await loader.load("k", options, async () => ++calls), i + 1);
    assert.equal(await loader.peek("k"), undefined);
    await loader.invalidate("k");
    const warnings = log.lines.map((line) => String(line.msg));
    assert.equal(warnings.length, 1, `one warning, not one per request: ${warnings.join(", ")}`);
    assert.match(warnings[0]!, /cache read failed/);
    assert.ok(loader.stats.errors >= 10);
  });

  test("Redis dying mid-run: answers keep coming from direct reads, with a warning", async () => {
    const own = await startRedis();
    const cache = new RedisCache({ url: own.url, keyPrefix: `die:${randomUUID()}:`, commandTimeoutMs: 300 });
    try {
      await cache.ready();
      const log = recordingLogger();
      const loader = new CachedLoader(cache, { logger: log.logger });
      let calls = 0;
      const load = async () => ++calls;
      assert.equal(await loader.load("k", options, load), 1);
      assert.equal(await loader.load("k", options, load), 1, "served from redis");
      await own.stop();
      // Every request still answers (from the loader), none throws.
      for (let i = 0; i < 3; i++) {
        const value = await loader.load("k", options, load);
        assert.equal(typeof value, "number");
      }
      assert.ok(calls >= 2, "the loader was called directly");
      assert.ok(log.lines.filter((line) => line.level === "warn").length >= 1, "a warning was logged");
      assert.ok(loader.stats.errors >= 1);
    } finally {
      await cache.close();
      await own.stop();
    }
  });
});
