/**
 * Runs watch entries on their own `scanInterval` (issue 3 §3): the first pass of each entry at
 * start (after a small random jitter so entries don't align), the next one `scanInterval` after
 * the previous one started (or at once if it took longer), never two passes of one entry at once.
 * A failed pass is retried with exponential backoff capped at the interval. Each result is saved
 * to the store, with the previous status handed to the engine for an incremental pass, and
 * reported as one JSON log line and an `onScan` event.
 *
 * Time goes through a `SchedulerClock`, so tests drive the scheduler with a fake clock.
 */
import type { Logger } from "../util/logger.ts";
import type { ScanResult } from "./engine.ts";
import type { RegistrySpec, RegistryStatus, ScanStatus } from "./spec.ts";
import type { WatchStore } from "./store.ts";

export interface SchedulerClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** One entry of a watch config: a name (the store key) and its spec. */
export interface WatchEntry {
  name: string;
  spec: RegistrySpec;
}

/** What the scheduler needs of the engine (ScanEngine fits). */
export interface ScanRunner {
  run(spec: RegistrySpec, previous?: RegistryStatus, signal?: AbortSignal): Promise<ScanResult>;
}

/** One pass of one entry, as logged and emitted. */
export interface ScanEvent {
  entry: string;
  url: string;
  repository: string;
  status: ScanStatus;
  message?: string;
  /** Milliseconds on the scheduler's clock. */
  durationMs: number;
  /** Images in the new status. */
  tags: number;
  /** Digest changes recorded (tags moved, appeared or disappeared). */
  changed: number;
  /** Consecutive failures so far (0 after a success). */
  failures: number;
  /** Milliseconds until the entry's next pass (undefined for a one-off pass or when stopping). */
  nextInMs?: number;
  /** The new status, and the engine's stats when the pass got that far. */
  result: RegistryStatus;
  stats?: ScanResult["stats"];
}

export interface WatchSchedulerOptions {
  entries: readonly WatchEntry[];
  engine: ScanRunner;
  store: WatchStore;
  clock?: SchedulerClock;
  logger?: Logger;
  /** Delay before an entry's first pass. Default: random, up to 10% of its interval, at most 5 s. */
  initialDelay?: (entry: WatchEntry, intervalMs: number) => number;
  /** First retry delay after a failure; doubles with each failure, capped at the interval. Default 5 s. */
  backoffBaseMs?: number;
  /** Called after each pass has been saved. */
  onScan?: (event: ScanEvent) => void;
}

interface EntryState {
  entry: WatchEntry;
  timer?: unknown;
  running?: Promise<ScanEvent>;
  controller?: AbortController;
  failures: number;
  /** Set when the entry was removed or replaced by update(): its pass in flight schedules nothing more. */
  retired?: boolean;
}

/** What update() did, by entry name. */
export interface WatchUpdate {
  added: string[];
  removed: string[];
  changed: string[];
}

const DEFAULT_BACKOFF_BASE_MS = 5000;
const MAX_INITIAL_JITTER_MS = 5000;

function defaultInitialDelay(_entry: WatchEntry, intervalMs: number): number {
  return Math.floor(Math.random() * Math.min(intervalMs * 0.1, MAX_INITIAL_JITTER_MS));
}

function assertUniqueNames(entries: readonly WatchEntry[]): void {
  const names = new Set<string>();
  for (const entry of entries) {
    if (names.has(entry.name)) throw new Error(`duplicate watch entry name "${entry.name}"`);
    names.add(entry.name);
  }
}

function abortReason(signal: AbortSignal): string {
  return signal.reason instanceof Error ? signal.reason.message : "watcher stopping";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class WatchScheduler {
  readonly #options: WatchSchedulerOptions;
  readonly #clock: SchedulerClock;
  readonly #states = new Map<string, EntryState>();
  /** Passes of retired entries still winding down (awaited by stop() and idle()). */
  readonly #retiring = new Set<Promise<ScanEvent>>();
  #started = false;
  #stopped = false;

  constructor(options: WatchSchedulerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    assertUniqueNames(options.entries);
    for (const entry of options.entries) this.#states.set(entry.name, { entry, failures: 0 });
  }

  /** The entries scheduled now (after any update()). */
  get entries(): WatchEntry[] {
    return [...this.#states.values()].map((state) => state.entry);
  }

  /**
   * Replaces the entries (a reloaded config): new ones are scheduled like at start, removed ones
   * are cancelled (a running pass is aborted), changed ones (any spec field) are cancelled and
   * scheduled afresh with the new spec. Unchanged entries keep their timers. Forgetting the
   * removed entries' stored results is the caller's choice (Watcher.reload does it).
   */
  update(entries: readonly WatchEntry[]): WatchUpdate {
    if (this.#stopped) throw new Error("watch scheduler was stopped");
    assertUniqueNames(entries);
    const next = new Map(entries.map((entry) => [entry.name, entry]));
    const result: WatchUpdate = { added: [], removed: [], changed: [] };
    for (const [name, state] of this.#states) {
      if (!next.has(name)) {
        this.#retire(state);
        this.#states.delete(name);
        result.removed.push(name);
      }
    }
    const initialDelay = this.#options.initialDelay ?? defaultInitialDelay;
    for (const entry of entries) {
      const current = this.#states.get(entry.name);
      if (current && JSON.stringify(current.entry.spec) === JSON.stringify(entry.spec)) continue;
      if (current) {
        this.#retire(current);
        result.changed.push(entry.name);
      } else {
        result.added.push(entry.name);
      }
      const state: EntryState = { entry, failures: 0 };
      this.#states.set(entry.name, state);
      if (this.#started) {
        this.#schedule(state, Math.max(0, initialDelay(entry, entry.spec.scanInterval * 1000)));
      }
    }
    return result;
  }

  /**
   * A pass of one entry now ("scan now"), undefined for an unknown name. A pass already running is
   * returned instead of starting a second one. When the scheduler runs, the entry's next pass is
   * scheduled from this one, as after any other pass.
   */
  scanNow(name: string): Promise<ScanEvent> | undefined {
    const state = this.#states.get(name);
    if (!state) return undefined;
    if (state.running) return state.running;
    if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
    state.timer = undefined;
    return this.#pass(state, this.#started && !this.#stopped);
  }

  #retire(state: EntryState): void {
    state.retired = true;
    if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
    state.timer = undefined;
    state.controller?.abort(new DOMException("watch entry removed or changed", "AbortError"));
    const running = state.running;
    if (running) {
      this.#retiring.add(running);
      void running.finally(() => this.#retiring.delete(running));
    }
  }

  /** Schedules every entry's first pass; passes then follow on their own intervals until stop(). */
  start(): void {
    if (this.#stopped) throw new Error("watch scheduler was stopped");
    if (this.#started) return;
    this.#started = true;
    const initialDelay = this.#options.initialDelay ?? defaultInitialDelay;
    for (const state of this.#states.values()) {
      this.#schedule(state, Math.max(0, initialDelay(state.entry, state.entry.spec.scanInterval * 1000)));
    }
  }

  /**
   * One pass of every entry now (concurrently), without scheduling more; an entry already
   * scanning is awaited rather than scanned twice. For `reestr watch --once`.
   */
  async runOnce(): Promise<ScanEvent[]> {
    return Promise.all([...this.#states.values()].map((state) => this.#pass(state, false)));
  }

  /** Whether an entry has a pass in flight. */
  isRunning(name: string): boolean {
    return this.#states.get(name)?.running !== undefined;
  }

  /** Resolves when the passes in flight now have finished (and their next ones are scheduled). */
  async idle(): Promise<void> {
    await Promise.allSettled([
      ...[...this.#states.values()].map((state) => state.running),
      ...this.#retiring,
    ]);
  }

  /** Cancels pending passes, aborts running ones and resolves when they have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const running: Promise<unknown>[] = [];
    for (const state of this.#states.values()) {
      if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
      state.timer = undefined;
      if (state.running) {
        state.controller?.abort(new DOMException("watch scheduler stopping", "AbortError"));
        running.push(state.running);
      }
    }
    await Promise.allSettled([...running, ...this.#retiring]);
  }

  #schedule(state: EntryState, delayMs: number): void {
    if (this.#stopped) return;
    state.timer = this.#clock.setTimeout(() => {
      state.timer = undefined;
      void this.#pass(state, true);
    }, delayMs);
  }

  #pass(state: EntryState, scheduleNext: boolean): Promise<ScanEvent> {
    if (state.running) return state.running;
    const controller = new AbortController();
    state.controller = controller;
    const running = this.#scan(state, controller.signal, scheduleNext).finally(() => {
      state.running = undefined;
      state.controller = undefined;
    });
    state.running = running;
    return running;
  }

  async #scan(state: EntryState, signal: AbortSignal, scheduleNext: boolean): Promise<ScanEvent> {
    const { entry } = state;
    const { spec } = entry;
    const { store, engine, logger } = this.#options;
    const started = this.#clock.now();
    const intervalMs = spec.scanInterval * 1000;
    let result: RegistryStatus;
    let stats: ScanResult["stats"] | undefined;
    let changed = 0;
    let aborted = false;
    try {
      const previous = await store.load(entry.name);
      signal.throwIfAborted();
      const outcome = await engine.run(spec, previous, signal);
      // A pass whose entry was removed or changed meanwhile must not save the old spec's result.
      signal.throwIfAborted();
      result = outcome.status;
      stats = outcome.stats;
      const target = { url: spec.url, repository: spec.repository };
      changed = (await store.save(entry.name, target, result, outcome.findings)).length;
    } catch (error) {
      aborted = signal.aborted;
      // The engine rejects only when aborted; anything else is the store's or a bug: Failed.
      result = {
        lastScanTime: new Date().toISOString(),
        lastScanStatus: "Failed",
        message: aborted ? `scan aborted: ${abortReason(signal)}` : `watch pass failed: ${errorText(error)}`,
        images: [],
      };
      if (!aborted) logger?.error("watch pass failed", { entry: entry.name, err: error });
    }
    const status: ScanStatus = result.lastScanStatus ?? "Success";
    state.failures = status === "Failed" ? state.failures + 1 : 0;
    const durationMs = this.#clock.now() - started;
    let nextInMs: number | undefined;
    if (scheduleNext && !this.#stopped && !state.retired) {
      nextInMs =
        status === "Failed"
          ? Math.min(
              (this.#options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS) * 2 ** (state.failures - 1),
              intervalMs,
            )
          : Math.max(0, intervalMs - durationMs);
      this.#schedule(state, nextInMs);
    }
    const event: ScanEvent = {
      entry: entry.name,
      url: spec.url,
      repository: spec.repository,
      status,
      durationMs,
      tags: result.images.length,
      changed,
      failures: state.failures,
      result,
    };
    if (result.message !== undefined) event.message = result.message;
    if (nextInMs !== undefined) event.nextInMs = nextInMs;
    if (stats) event.stats = stats;
    if (!aborted) {
      const fields: Record<string, unknown> = {
        entry: event.entry,
        url: event.url,
        repository: event.repository,
        status: event.status,
        durationMs: event.durationMs,
        tags: event.tags,
        changed: event.changed,
      };
      if (event.message !== undefined) fields.message = event.message;
      if (event.failures > 0) fields.failures = event.failures;
      if (event.nextInMs !== undefined) fields.nextInMs = event.nextInMs;
      if (status === "Failed") logger?.warn("registry scan", fields);
      else logger?.info("registry scan", fields);
      try {
        this.#options.onScan?.(event);
      } catch (error) {
        logger?.error("onScan listener failed", { entry: entry.name, err: error });
      }
    }
    return event;
  }
}
