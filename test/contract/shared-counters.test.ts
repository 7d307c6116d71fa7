/**
 * The SharedCounters contract against LocalSharedCounters and RedisSharedCounters on a real
 * redis-server, and what only the Redis one promises: two replicas share one bucket, and with
 * Redis down each replica counts alone (never refusing everything) until Redis is back.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { RedisSharedCounters } from "../../src/http/redis-shared-counters.ts";
import { LocalSharedCounters } from "../../src/http/shared-counters.ts";
import { type RedisProcess, startRedis } from "../catalog/redis.ts";
import { recordingLogger } from "../helpers/recording-logger.ts";
import { sharedCountersContract } from "./shared-counters.contract.ts";

sharedCountersContract("LocalSharedCounters", async () => new LocalSharedCounters());

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

const prefix = () => `test:${randomUUID()}:`;
sharedCountersContract(
  "RedisSharedCounters (redis-server)",
  async () => new RedisSharedCounters({ url: redis.url, keyPrefix: prefix() }),
);

describe("RedisSharedCounters across replicas", () => {
  const slow = { rate: 0.01, burst: 5 };

  it("two replicas take from one bucket", async () => {
    const keyPrefix = prefix();
    const a = new RedisSharedCounters({ url: redis.url, keyPrefix });
    const b = new RedisSharedCounters({ url: redis.url, keyPrefix });
    try {
      for (let i = 0; i < 3; i++) assert.equal(await a.take("client", slow), 0);
      for (let i = 0; i < 2; i++) assert.equal(await b.take("client", slow), 0);
      assert.notEqual(await a.take("client", slow), 0, "the sixth request is refused on A");
      assert.notEqual(await b.take("client", slow), 0, "and on B");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("with Redis down counts per replica and logs it once; shares again when Redis is back", async () => {
    const own = await startRedis();
    const recorded = recordingLogger();
    const keyPrefix = prefix();
    const a = new RedisSharedCounters({ url: own.url, keyPrefix, logger: recorded.logger });
    try {
      assert.equal(await a.take("k", slow), 0);
      await own.stop();
      // Per-replica buckets start full: a burst is admitted, then refused — limits still hold.
      for (let i = 0; i < slow.burst; i++)
        assert.equal(await a.take("down", slow), 0, `take ${i + 1} while down`);
      assert.notEqual(await a.take("down", slow), 0, "the local bucket still limits");
      const check = await a.check();
      assert.equal(check.ok, false);
      assert.match(check.message ?? "", /redis/);
      const warnings = recorded.lines.filter(
        (r) => r["level"] === "warn" && /redis unreachable/.test(String(r["msg"])),
      );
      assert.equal(warnings.length, 1, "one warning per outage");

      const back = await startRedis({ port: own.port });
      try {
        let ok = false;
        for (let i = 0; i < 50 && !ok; i++) {
          ok = (await a.check()).ok;
          if (!ok) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(ok, "healthy again without a restart");
        const b = new RedisSharedCounters({ url: back.url, keyPrefix });
        try {
          for (let i = 0; i < slow.burst; i++) assert.equal(await b.take("after", slow), 0);
          assert.notEqual(await a.take("after", slow), 0, "A shares B's bucket again");
        } finally {
          await b.close();
        }
      } finally {
        await back.stop();
      }
    } finally {
      await a.close();
    }
  });
});
