import assert from "node:assert/strict";
import { test } from "node:test";
import { LruCache } from "../../src/util/lru-cache.ts";

test("evicts the least recently used entries once over the weight bound", () => {
  const cache = new LruCache<string, string>(10, (v) => v.length);
  cache.set("a", "aaaa");
  cache.set("b", "bbbb");
  assert.equal(cache.get("a"), "aaaa"); // a is now the most recent
  cache.set("c", "cccc"); // 12 > 10: b goes
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), "aaaa");
  assert.equal(cache.get("c"), "cccc");
});

test("ignores values heavier than the whole cache and replaces existing keys", () => {
  const cache = new LruCache<string, string>(5, (v) => v.length);
  cache.set("big", "123456");
  assert.equal(cache.get("big"), undefined);
  cache.set("k", "12");
  cache.set("k", "123");
  cache.set("j", "12");
  assert.equal(cache.get("k"), "123");
  assert.equal(cache.size, 2);
  cache.delete("k");
  assert.equal(cache.get("k"), undefined);
});
