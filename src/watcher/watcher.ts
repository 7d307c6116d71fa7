/**
 * Wiring shared by every host of the watcher (`reestr watch`, `reestr serve`): the embedded store
 * in the data directory, a scan engine with Trivy, and a scheduler over the configured entries.
 * `createWatcher` builds them without starting (for `--once`); `startWatching` also starts the
 * scheduler. `close()` stops the scheduler (cancelling running scans) and then closes the store.
 */
import { ScanEngine } from "./engine.ts";
import type { VulnerabilityScanner } from "./scanners/scanner.ts";
import { TrivyScanner } from "./scanners/trivy.ts";
import { type ScanEvent, type SchedulerClock, type WatchEntry, WatchScheduler } from "./scheduler.ts";
import { SqliteWatchStore, type WatchStore } from "./store.ts";

/** The logger methods the watcher uses (src/server/logger.ts's Logger fits). */
export interface WatcherLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface WatcherOptions {
  entries: readonly WatchEntry[];
  /** Where `watch.sqlite` goes (ignored when `store` is given). */
  dataDir?: string;
  store?: WatchStore;
  logger?: WatcherLogger;
  /** Default: Trivy (REESTR_TRIVY or `trivy` on PATH). */
  scanner?: VulnerabilityScanner;
  clock?: SchedulerClock;
  initialDelay?: (entry: WatchEntry, intervalMs: number) => number;
  onScan?: (event: ScanEvent) => void;
}

export interface Watcher {
  readonly entries: readonly WatchEntry[];
  readonly scheduler: WatchScheduler;
  readonly store: WatchStore;
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
  return {
    entries: options.entries,
    scheduler,
    store: owned,
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
export function startWatching(options: WatcherOptions): Watcher {
  const watcher = createWatcher(options);
  try {
    watcher.scheduler.start();
  } catch (error) {
    void watcher.close();
    throw error;
  }
  return watcher;
}
