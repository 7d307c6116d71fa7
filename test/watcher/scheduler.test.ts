import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ScanResult, ScanStats } from "../../src/watcher/engine.ts";
import {
  type ScanEvent,
  type ScanRunner,
  type SchedulerClock,
  type WatchEntry,
  WatchScheduler,
} from "../../src/watcher/scheduler.ts";
import { parseRegistrySpec, type RegistrySpec, type RegistryStatus } from "../../src/watcher/spec.ts";
import { SqliteWatchStore } from "../../src/watcher/store.ts";
import { recordingLogger } from "../helpers/recording-logger.ts";

/** A clock whose timers fire only when the test says so, in time order. */
class FakeClock implements SchedulerClock {
  time = 0;
  #seq = 0;
  timers: { at: number; seq: number; callback: () => void }[] = [];

  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, seq: this.#seq++, callback };
    this.timers.push(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }
  /** Fires the earliest timer (moving time to it); false when none is pending. */
  fireNext(): boolean {
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const timer = this.timers.shift();
    if (!timer) return false;
    this.time = Math.max(this.time, timer.at);
    timer.callback();
    return true;
  }
}

const STATS: ScanStats = {
  tagsListed: 1,
  tagsKept: 1,
  changed: 0,
  removed: 0,
  failed: 0,
  vulnerabilityScans: 0,
  vulnerabilityFailures: 0,
  durationMs: 0,
};

function digest(n: number): string {
  return `sha256:${n.toString(16).padStart(64, "0")}`;
}

function entry(name: string, scanInterval: number): WatchEntry {
  return {
    name,
    spec: parseRegistrySpec({ url: "http://127.0.0.1:5000", repository: `team/${name}`, scanInterval }),
  };
}

interface Call {
  repository: string;
  at: number;
  previous?: RegistryStatus;
  signal?: AbortSignal;
}

/** An engine whose answer the test decides per call (default: Success with tag `v` at digest #calls). */
class FakeEngine implements ScanRunner {
  calls: Call[] = [];
  running = new Map<string, number>();
  maxConcurrentPerRepository = 0;
  answer: (call: Call) => Promise<RegistryStatus> | RegistryStatus = () => this.success();
  readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  success(): RegistryStatus {
    return {
      lastScanTime: new Date(this.clock.time).toISOString(),
      lastScanStatus: "Success",
      images: [{ tag: "v", digest: digest(this.calls.length), size: 1, platforms: [] }],
    };
  }
  async run(spec: RegistrySpec, previous?: RegistryStatus, signal?: AbortSignal): Promise<ScanResult> {
    const call: Call = { repository: spec.repository, at: this.clock.time, previous, signal };
    this.calls.push(call);
    const n = (this.running.get(spec.repository) ?? 0) + 1;
    this.running.set(spec.repository, n);
    this.maxConcurrentPerRepository = Math.max(this.maxConcurrentPerRepository, n);
    try {
      return { status: await this.answer(call), stats: STATS };
    } finally {
      this.running.set(spec.repository, (this.running.get(spec.repository) ?? 1) - 1);
    }
  }
}

function setup(
  entries: WatchEntry[],
  options: { backoffBaseMs?: number; delays?: Record<string, number> } = {},
) {
  const clock = new FakeClock();
  const engine = new FakeEngine(clock);
  const store = new SqliteWatchStore(":memory:");
  const events: ScanEvent[] = [];
  const recording = recordingLogger();
  const { logger } = recording;
  const scheduler = new WatchScheduler({
    entries,
    engine,
    store,
    clock,
    logger,
    initialDelay: (e) => options.delays?.[e.name] ?? 0,
    backoffBaseMs: options.backoffBaseMs ?? 1000,
    onScan: (event) => events.push(event),
  });
  /** Fires timers (each followed by the pass it starts) until time would pass `until`. */
  const runUntil = async (until: number) => {
    for (;;) {
      const next = clock.timers.reduce((min, t) => Math.min(min, t.at), Number.POSITIVE_INFINITY);
      if (next > until) break;
      clock.fireNext();
      await scheduler.idle();
    }
  };
  return {
    clock,
    engine,
    store,
    events,
    /** The lines logged so far (flushed first). */
    logs: () => recording.lines,
    scheduler,
    runUntil,
  };
}

/** Lets pending promise callbacks run (the pass reads the store before it calls the engine). */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("WatchScheduler", () => {
  test("runs each entry at start (after its jitter) and then on its own interval", async () => {
    const { engine, store, events, logs, scheduler, runUntil } = setup([entry("a", 10), entry("b", 30)], {
      delays: { b: 1000 },
    });
    scheduler.start();
    await runUntil(60_000);
    assert.deepEqual(
      engine.calls.map((c) => `${c.repository}@${c.at}`),
      [
        "team/a@0",
        "team/b@1000",
        "team/a@10000",
        "team/a@20000",
        "team/a@30000",
        "team/b@31000",
        "team/a@40000",
        "team/a@50000",
        "team/a@60000",
      ],
    );
    // Each pass gets the status saved by the one before (incremental scans).
    const aCalls = engine.calls.filter((c) => c.repository === "team/a");
    assert.equal(aCalls[0]!.previous, undefined);
    assert.deepEqual(aCalls[1]!.previous, events.find((e) => e.entry === "a")!.result);
    // One JSON-able log line and one event per pass, with the digest change counted.
    const scanLogs = logs().filter((l) => l.msg === "registry scan");
    assert.equal(scanLogs.length, 9);
    const { level: _level, msg: _msg, time: _time, ...fields } = scanLogs[0]!;
    assert.deepEqual(Object.keys(fields).sort(), [
      "changed",
      "durationMs",
      "entry",
      "nextInMs",
      "repository",
      "status",
      "tags",
      "url",
    ]);
    assert.equal(events.length, 9);
    assert.ok(events.every((e) => e.status === "Success" && e.tags === 1));
    assert.equal(events[0]!.changed, 1); // tag v appeared
    assert.equal(events[2]!.changed, 1); // v moved (new digest each call)
    assert.deepEqual(
      (await store.entries()).map((e) => [e.name, e.lastScanStatus]),
      [
        ["a", "Success"],
        ["b", "Success"],
      ],
    );
    assert.equal((await store.history("a")).length, 7);
    await scheduler.stop();
  });

  test("never runs two passes of one entry at once; a long pass is followed at once", async () => {
    const { clock, engine, scheduler } = setup([entry("a", 10)]);
    const gate = deferred<RegistryStatus>();
    engine.answer = () => gate.promise;
    scheduler.start();
    clock.fireNext();
    await tick();
    assert.ok(scheduler.isRunning("a"));
    // No next pass is scheduled while one runs, and a one-off pass joins the running one.
    assert.equal(clock.timers.length, 0);
    const joined = scheduler.runOnce();
    clock.time += 25_000; // the pass outlives its interval
    assert.equal(engine.calls.length, 1);
    gate.resolve(engine.success());
    const [event] = await joined;
    await scheduler.idle();
    assert.equal(event!.durationMs, 25_000);
    assert.equal(event!.nextInMs, 0);
    assert.equal(clock.timers.length, 1);
    assert.equal(clock.timers[0]!.at, 25_000);
    engine.answer = () => engine.success();
    clock.fireNext();
    await scheduler.idle();
    assert.equal(engine.calls.length, 2);
    assert.equal(engine.maxConcurrentPerRepository, 1);
    await scheduler.stop();
  });

  test("failed passes are retried with exponential backoff capped at the interval", async () => {
    const { engine, events, logs, scheduler, runUntil } = setup([entry("a", 10)], { backoffBaseMs: 1000 });
    let failuresLeft = 5;
    engine.answer = () =>
      failuresLeft-- > 0
        ? {
            lastScanTime: new Date(engine.clock.time).toISOString(),
            lastScanStatus: "Failed",
            message: "down",
            images: [],
          }
        : engine.success();
    scheduler.start();
    await runUntil(45_000);
    assert.deepEqual(
      engine.calls.map((c) => c.at),
      [0, 1000, 3000, 7000, 15000, 25000, 35000, 45000],
    );
    assert.deepEqual(
      events.map((e) => [e.status, e.failures, e.nextInMs]),
      [
        ["Failed", 1, 1000],
        ["Failed", 2, 2000],
        ["Failed", 3, 4000],
        ["Failed", 4, 8000],
        ["Failed", 5, 10000],
        ["Success", 0, 10000],
        ["Success", 0, 10000],
        ["Success", 0, 10000],
      ],
    );
    assert.equal(logs().filter((l) => l.level === "warn" && l.msg === "registry scan").length, 5);
    await scheduler.stop();
  });

  test("an engine or store error is a Failed pass, logged, and retried", async () => {
    const { engine, events, logs, scheduler, runUntil } = setup([entry("a", 10)]);
    let first = true;
    engine.answer = () => {
      if (first) {
        first = false;
        throw new Error("disk full");
      }
      return engine.success();
    };
    scheduler.start();
    await runUntil(1000);
    assert.deepEqual(
      events.map((e) => [e.status, e.message]),
      [
        ["Failed", "watch pass failed: disk full"],
        ["Success", undefined],
      ],
    );
    assert.ok(logs().some((l) => l.level === "error" && l.msg === "watch pass failed"));
    await scheduler.stop();
  });

  test("stop() cancels pending passes, aborts running ones and resolves when they ended", async () => {
    const { clock, engine, store, events, scheduler } = setup([entry("a", 10), entry("b", 10)], {
      delays: { b: 5000 },
    });
    let ended = false;
    engine.answer = (call) =>
      new Promise<RegistryStatus>((_, reject) => {
        call.signal!.addEventListener("abort", () => {
          // The engine lets requests in flight finish before it rejects.
          setImmediate(() => {
            ended = true;
            reject(call.signal!.reason);
          });
        });
      });
    scheduler.start();
    clock.fireNext(); // a starts; b is still pending
    await tick();
    assert.equal(engine.calls.length, 1);
    assert.ok(scheduler.isRunning("a"));
    assert.equal(clock.timers.length, 1);
    await scheduler.stop();
    assert.ok(ended);
    assert.ok(engine.calls[0]!.signal!.aborted);
    assert.equal(engine.calls.length, 1);
    assert.equal(clock.timers.length, 0);
    assert.equal(scheduler.isRunning("a"), false);
    // An aborted pass is neither saved nor reported.
    assert.equal(await store.load("a"), undefined);
    assert.equal(events.length, 0);
    assert.throws(() => scheduler.start(), /stopped/);
  });

  test("stop() before the pass reaches the engine: the engine is never called", async () => {
    const { clock, engine, store, events, scheduler } = setup([entry("a", 10)]);
    scheduler.start();
    clock.fireNext(); // the pass is reading the previous status
    await scheduler.stop();
    assert.equal(engine.calls.length, 0);
    assert.equal(await store.load("a"), undefined);
    assert.equal(events.length, 0);
    assert.equal(clock.timers.length, 0);
  });

  test("runOnce() scans every entry once without scheduling more", async () => {
    const { clock, engine, scheduler } = setup([entry("a", 10), entry("b", 20)]);
    const events = await scheduler.runOnce();
    assert.deepEqual(
      events.map((e) => [e.entry, e.status, e.nextInMs]),
      [
        ["a", "Success", undefined],
        ["b", "Success", undefined],
      ],
    );
    assert.equal(engine.calls.length, 2);
    assert.equal(clock.timers.length, 0);
    await scheduler.stop();
  });

  test("update() adds, removes and reschedules changed entries; unchanged ones keep their timers", async () => {
    const { clock, engine, scheduler, runUntil } = setup([entry("a", 10), entry("b", 10), entry("c", 10)]);
    scheduler.start();
    await runUntil(0);
    assert.equal(engine.calls.length, 3);
    const timerOfA = clock.timers.find((t) => t.at === 10_000);
    assert.ok(timerOfA);

    const changedB = { ...entry("b", 10), spec: { ...entry("b", 10).spec, repository: "team/b2" } };
    const update = scheduler.update([entry("a", 10), changedB, entry("d", 30)]);
    assert.deepEqual(update, { added: ["d"], removed: ["c"], changed: ["b"] });
    assert.deepEqual(
      scheduler.entries.map((e) => e.name),
      ["a", "b", "d"],
    );
    // b (changed) and d (new) are due now; c's timer is gone; a keeps its own.
    await runUntil(0);
    assert.deepEqual(
      engine.calls.slice(3).map((c) => c.repository),
      ["team/b2", "team/d"],
    );
    await runUntil(10_000);
    assert.deepEqual(
      engine.calls.slice(5).map((c) => c.repository),
      ["team/a", "team/b2"],
      "a on its old schedule, b on its new one, c never again",
    );
    assert.throws(() => scheduler.update([entry("x", 10), entry("x", 20)]), /duplicate/);
    await scheduler.stop();
  });

  test("update() aborts a removed entry's running pass, which then saves nothing", async () => {
    const { engine, store, scheduler, runUntil } = setup([entry("a", 10)]);
    const gate = deferred<RegistryStatus>();
    engine.answer = (call) => {
      call.signal?.addEventListener("abort", () => gate.reject(call.signal?.reason));
      return gate.promise;
    };
    scheduler.start();
    void runUntil(0);
    for (let i = 0; i < 20 && engine.calls.length === 0; i++) await tick();
    assert.equal(engine.calls.length, 1);
    scheduler.update([]);
    assert.equal(engine.calls[0]!.signal?.aborted, true);
    await scheduler.idle();
    assert.equal(await store.load("a"), undefined);
    await scheduler.stop();
  });

  test("scanNow() runs a pass at once, joins a running one, and reschedules from it", async () => {
    const { clock, engine, scheduler, runUntil } = setup([entry("a", 10)]);
    assert.equal(scheduler.scanNow("nope"), undefined);
    scheduler.start();
    await runUntil(0);
    clock.time = 4_000;
    const first = scheduler.scanNow("a")!;
    const joined = scheduler.scanNow("a")!;
    assert.equal(first, joined, "a second request joins the running pass");
    const event = await first;
    assert.equal(event.status, "Success");
    assert.equal(event.nextInMs, 10_000);
    assert.equal(engine.calls.length, 2);
    assert.deepEqual(
      clock.timers.map((t) => t.at),
      [14_000],
      "the next pass counts from the scan now; the old timer is gone",
    );
    await scheduler.stop();
  });

  test("duplicate entry names are refused", () => {
    assert.throws(
      () =>
        new WatchScheduler({
          entries: [entry("a", 10), entry("a", 20)],
          engine: new FakeEngine(new FakeClock()),
          store: new SqliteWatchStore(":memory:"),
        }),
      /duplicate watch entry name "a"/,
    );
  });
});
