/** The Cache contract (./cache.contract.ts) for both backends: MemoryCache, and RedisCache on a real redis-server. */
import { randomUUID } from "node:crypto";
import { after, before } from "node:test";
import { MemoryCache } from "../../src/catalog/cache.ts";
import { RedisCache } from "../../src/catalog/redis-cache.ts";
import { type RedisProcess, startRedis } from "../catalog/redis.ts";
import { cacheContract } from "./cache.contract.ts";

cacheContract("MemoryCache", async () => {
  const cache = new MemoryCache({ maxEntries: 100_000 });
  return { cache, cleanup: () => cache.close() };
});

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

cacheContract("RedisCache (redis-server)", async () => {
  // A fresh key prefix per test: tests share one server but never each other's keys.
  const cache = new RedisCache({ url: redis.url, keyPrefix: `test:${randomUUID()}:` });
  await cache.ready();
  return { cache, cleanup: () => cache.close() };
});
