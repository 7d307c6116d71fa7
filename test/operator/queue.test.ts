/** The work queue: de-duplication, one worker per key, delayed adds, rate-limited retries, shutdown. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { WorkQueue } from "../../src/operator/queue.ts";

test("a key waiting in the queue is not added twice", async () => {
  const queue = new WorkQueue();
  queue.add("a/x");
  queue.add("a/y");
  queue.add("a/x");
  assert.equal(queue.length, 2);
  assert.equal(await queue.get(), "a/x");
  assert.equal(await queue.get(), "a/y");
  queue.shutdown();
});

test("a key added while processed comes back once, after done", async () => {
  const queue = new WorkQueue();
  queue.add("a/x");
  const key = (await queue.get())!;
  queue.add("a/x");
  queue.add("a/x");
  assert.equal(queue.length, 0, "not handed to a second worker while the first has it");
  queue.done(key);
  assert.equal(queue.length, 1);
  assert.equal(await queue.get(), "a/x");
  queue.done("a/x");
  assert.equal(queue.length, 0);
  queue.shutdown();
});

test("a waiting worker gets a key added later", async () => {
  const queue = new WorkQueue();
  const waiting = queue.get();
  queue.add("a/x");
  assert.equal(await waiting, "a/x");
  queue.shutdown();
});

test("addAfter: the earliest pending add wins", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const queue = new WorkQueue();
  queue.addAfter("a/x", 60_000);
  queue.addAfter("a/x", 10);
  queue.addAfter("a/x", 30_000);
  assert.equal(queue.delayed, 1);
  t.mock.timers.tick(9);
  assert.equal(queue.length, 0, "not before its delay");
  t.mock.timers.tick(1);
  assert.equal(await queue.get(), "a/x");
  assert.equal(queue.delayed, 0);
  queue.done("a/x");
  t.mock.timers.tick(60_000);
  assert.equal(queue.length, 0, "the later adds were dropped");
  queue.shutdown();
});

test("rate-limited retries double from the base up to the cap; forget resets", () => {
  const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
  const delays = [1, 2, 3, 4, 5, 6].map(() => queue.addRateLimited("a/x"));
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  assert.equal(queue.failures("a/x"), 6);
  assert.equal(queue.nextDelay("a/y"), 100, "per key");
  queue.forget("a/x");
  assert.equal(queue.nextDelay("a/x"), 100);
  queue.shutdown();
});

test("shutdown ends waiting workers and drops timers", async () => {
  const queue = new WorkQueue();
  const waiting = queue.get();
  queue.addAfter("a/x", 60_000);
  queue.shutdown();
  assert.equal(await waiting, undefined);
  assert.equal(queue.delayed, 0);
  queue.add("a/y");
  assert.equal(await queue.get(), undefined);
});
