/**
 * The SharedCounters contract (src/http/shared-counters.ts): what every implementation of the
 * rate-limit seam must do, run against LocalSharedCounters and RedisSharedCounters on a real
 * redis-server (./shared-counters.test.ts). Rates are slow (one token per 100 s) so no token comes
 * back while a test runs: the counts below are exact on any machine.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { SharedCounters } from "../../src/http/shared-counters.ts";

const SLOW = { rate: 0.01, burst: 5 };

export function sharedCountersContract(name: string, make: () => Promise<SharedCounters>): void {
  describe(`SharedCounters contract: ${name}`, () => {
    it("admits a full bucket's burst, then refuses with the seconds until a token is back", async () => {
      const counters = await make();
      try {
        const key = randomUUID();
        for (let i = 0; i < SLOW.burst; i++) assert.equal(await counters.take(key, SLOW), 0, `take ${i + 1}`);
        const wait = await counters.take(key, SLOW);
        assert.ok(wait >= 1 && wait <= 100, `refused with a wait of 1–100 s, got ${wait}`);
      } finally {
        await counters.close();
      }
    });

    it("keeps keys and bucket settings apart", async () => {
      const counters = await make();
      try {
        const a = randomUUID();
        const b = randomUUID();
        for (let i = 0; i < SLOW.burst; i++) await counters.take(a, SLOW);
        assert.notEqual(await counters.take(a, SLOW), 0);
        assert.equal(await counters.take(b, SLOW), 0, "another key has its own bucket");
        assert.equal(
          await counters.take(a, { rate: 0.01, burst: 50 }),
          0,
          "another setting has its own bucket",
        );
      } finally {
        await counters.close();
      }
    });

    it("refills at its rate", async () => {
      const counters = await make();
      try {
        const key = randomUUID();
        const fast = { rate: 50, burst: 1 };
        assert.equal(await counters.take(key, fast), 0);
        // A token is back after 20 ms; wait until it is (bounded), never asserting on time itself.
        let waited = 0;
        while ((await counters.take(key, fast)) !== 0 && waited < 50) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          waited++;
        }
        assert.ok(waited < 50, "a token came back");
      } finally {
        await counters.close();
      }
    });

    it("reports itself healthy while its store answers", async () => {
      const counters = await make();
      try {
        assert.deepEqual((await counters.check()).ok, true);
      } finally {
        await counters.close();
      }
    });
  });
}
