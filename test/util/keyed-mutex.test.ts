import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KeyedMutex } from "../../src/util/keyed-mutex.ts";

test("runs work for one key one at a time, in order, and different keys concurrently", async () => {
  const mutex = new KeyedMutex();
  const events: string[] = [];
  const job = (key: string, name: string, ms: number) =>
    mutex.run(key, async () => {
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
      return name;
    });
  const results = await Promise.all([job("a", "a1", 20), job("a", "a2", 1), job("b", "b1", 1)]);
  assert.deepEqual(results, ["a1", "a2", "b1"]);
  // a2 must not start before a1 ends; b1 runs while a1 is still going.
  assert.ok(events.indexOf("end a1") < events.indexOf("start a2"));
  assert.ok(events.indexOf("end b1") < events.indexOf("end a1"));
});

test("a failing job releases the key", async () => {
  const mutex = new KeyedMutex();
  await assert.rejects(
    mutex.run("k", async () => {
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(await mutex.run("k", async () => 42), 42);
});
