/**
 * Wiring shared by every host of the watcher (`reestr watch`, `reestr serve`): the embedded store
 * in the data directory, a scan engine with Trivy, and a scheduler over the configured entries.
 * `createWatcher` builds them without starting (for `--once`); `startWatching` also starts the
 * scheduler. `close()` stops the scheduler (cancelling running scans) and then closes the store.
 */
import type { Logger } from "../util/logger.ts";
import { ScanEngine } from "./engine.ts";
import type { VulnerabilityScanner } from "./scanners/scanner.ts";
import { TrivyScanner } from "./scanners/trivy.ts";
import {
  type ScanEvent,
  type SchedulerClock,
  type WatchEntry,
  WatchScheduler,
  type WatchUpdate,
} from "./scheduler.ts";
import { SqliteWatchStore, type WatchStore } from "./store.ts";

export interface WatcherOptions {
  entries: readonly WatchEntry[];
  /** Where `watch.sqlite` goes (ignored when `store` is given). */
  dataDir?: string;
  store?: WatchStore;
  logger?: Logger;
  /** Default: Trivy (REESTR_TRIVY or `trivy` on PATH). */
  scanner?: VulnerabilityScanner;
  clock?: SchedulerClock;
  initialDelay?: (entry: WatchEntry, intervalMs: number) => number;
  onScan?: (event: ScanEvent) => void;
}

export interface Watcher {
  /** The entries watched now (after any reload). */
  readonly entries: readonly WatchEntry[];
  readonly scheduler: WatchScheduler;
  readonly store: WatchStore;
  /**
   * Forgets stored results of entries no longer configured, then starts the scheduler. Hosts
   * call this (not scheduler.start()) so a renamed or deleted entry leaves no stale rows.
   */
  start(): Promise<void>;
  /** Applies a reloaded config: see WatchScheduler.update; removed entries' results are forgotten. */
  reload(entries: readonly WatchEntry[]): Promise<WatchUpdate>;
  /** Stops the scheduler (running scans are aborted and awaited), then closes the store. Idempotent. */
  close(): Promise<void>;
}

export function createWatcher(options: WatcherOptions): Watcher {
  let store = options.store;
  if (!store) {
    if (options.dataDir === undefined) throw new Error("createWatcher: a dataDir or a store is required");
    store = SqliteWatchStore.inDataDir(options.dataDir);
  }
  const { logger } = options;
  const scheduler = new WatchScheduler({
    entries: options.entries,
    engine: new ScanEngine({ scanner: options.scanner ?? new TrivyScanner(), logger }),
    store,
    logger,
    clock: options.clock,
    initialDelay: options.initialDelay,
    onScan: options.onScan,
  });
  let closing: Promise<void> | undefined;
  const owned = store;
  const forgetUnconfigured = async () => {
    const configured = new Set(scheduler.entries.map((entry) => entry.name));
    for (const record of await owned.entries()) {
      if (configured.has(record.name)) continue;
      await owned.remove(record.name);
      logger?.info("forgot watch entry no longer configured", { entry: record.name });
    }
  };
  return {
    get entries() {
      return scheduler.entries;
    },
    scheduler,
    store: owned,
    async start() {
      await forgetUnconfigured();
      scheduler.start();
    },
    async reload(entries) {
      const update = scheduler.update(entries);
      await forgetUnconfigured();
      logger?.info("watch config reloaded", { ...update, entries: entries.length });
      return update;
    },
    close() {
      closing ??= (async () => {
        try {
          await scheduler.stop();
        } finally {
          await owned.close();
        }
      })();
      return closing;
    },
  };
}

/** `createWatcher` and start the scheduler: every entry then scans on its own interval until close(). */
export async function startWatching(options: WatcherOptions): Promise<Watcher> {
  const watcher = createWatcher(options);
  try {
    await watcher.start();
  } catch (error) {
    await watcher.close();
    throw error;
  }
  return watcher;
}
