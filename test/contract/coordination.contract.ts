/**
 * The contract every `Coordination` honours (src/registry/coordination.ts), on one instance: a
 * backend's test calls `coordinationContract("name", make)`; each test gets a fresh scope.
 * What only a shared backend can show (two replicas excluding each other) is in
 * test/registry/redis-coordination.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Coordination } from "../../src/registry/coordination.ts";
import { waitFor } from "../helpers/wait.ts";

export interface CoordinationFixture {
  coordination: Coordination;
  cleanup(): Promise<void>;
}

export function coordinationContract(name: string, make: () => Promise<CoordinationFixture>): void {
  const using = async (body: (coordination: Coordination) => Promise<void>) => {
    const { coordination, cleanup } = await make();
    try {
      await body(coordination);
    } finally {
      await cleanup();
    }
  };

  describe(`Coordination contract: ${name}`, () => {
    test("a key is held by one at a time, in order; other keys run meanwhile", () =>
      using(async (c) => {
        const events: string[] = [];
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const first = c.lock("k", 10_000, async () => {
          events.push("1 in");
          await gate;
          events.push("1 out");
          return 1;
        });
        await waitFor(async () => events.includes("1 in"), { what: "the first holder" });
        const second = c.lock("k", 10_000, async () => {
          events.push("2 in");
          return 2;
        });
        assert.equal(await c.lock("other", 10_000, async () => "free"), "free");
        assert.deepEqual(events, ["1 in"]);
        release();
        assert.deepEqual(await Promise.all([first, second]), [1, 2]);
        assert.deepEqual(events, ["1 in", "1 out", "2 in"]);
      }));

    test("tryLock runs when free, names a holder when taken; a failing holder releases", () =>
      using(async (c) => {
        assert.deepEqual(await c.tryLock("gc", 10_000, async () => "ran"), { value: "ran" });
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let entered = false;
        const held = c.tryLock("gc", 10_000, async () => {
          entered = true;
          await gate;
        });
        await waitFor(async () => entered, { what: "the holder" });
        const busy = await c.tryLock("gc", 10_000, async () => "ran");
        assert.ok("holder" in busy && /:\d+$/.test(busy.holder), JSON.stringify(busy));
        release();
        await held;
        await assert.rejects(
          c.lock("gc", 10_000, async () => {
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.deepEqual(await c.tryLock("gc", 10_000, async () => "again"), { value: "again" });
      }));

    test("a published invalidation reaches the listener; caches are trusted once it has", () =>
      using(async (c) => {
        const received: string[] = [];
        c.listen({ invalidate: (message) => received.push(message), reset: () => {} });
        await c.publish("tags:a/b");
        await c.publish("manifest:a/b@sha256:00");
        await waitFor(async () => received.length === 2, { what: "both messages" });
        assert.deepEqual(received, ["tags:a/b", "manifest:a/b@sha256:00"]);
        assert.equal(await c.cachesTrusted(), true);
      }));
  });
}
