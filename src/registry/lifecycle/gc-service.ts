/**
 * Garbage collection as a service of `reestr serve`: one run at a time (asked for through the
 * API or the CLI, or on the configured schedule), the last runs kept for `/api/admin/gc` and the
 * admin page, a log line and metrics per run. What a run removes and why that is safe is in
 * ./gc.ts.
 */
import { z } from "zod";
import { type CronClock, CronExpression, type CronJob, parseCron, startCronJob } from "../../util/cron.ts";
import { Duration, formatDuration } from "../../util/duration.ts";
import type { Logger } from "../../util/logger.ts";
import type { Counter, Histogram, MetricsRegistry } from "../../util/prometheus.ts";
import type { Registry } from "../registry.ts";
import type { GcPhase, GcResult } from "./gc.ts";

export const GcConfigSchema = z
  .object({
    /** Also remove manifests no tag, no index and no live subject holds (Distribution's --delete-untagged). */
    untagged: z.boolean().default(false),
    /** Nothing committed, linked or pushed more recently than this is touched. */
    gracePeriod: Duration.prefault("1h"),
    /**
     * When to run on its own: a cron expression in UTC (minute hour day-of-month month
     * day-of-week), nightly at 03:00 by default (a run only removes what nothing references, so
     * it is safe to have on, as zot has); "off" for runs only when asked.
     */
    schedule: z.union([z.literal("off"), CronExpression]).default("0 3 * * *"),
  })
  .strict();

export type GcConfig = z.infer<typeof GcConfigSchema>;

export type GcTrigger = "api" | "schedule";

/** One run as `/api/admin/gc` shows it. */
export interface GcRun {
  id: number;
  trigger: GcTrigger;
  dryRun: boolean;
  untagged: boolean;
  gracePeriod: string;
  status: "running" | "succeeded" | "failed";
  phase?: GcPhase;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  /** Counts and bytes (dry run: what would go). */
  removed?: {
    manifests: number;
    manifestBytes: number;
    links: number;
    blobs: number;
    blobBytes: number;
    repositories: number;
    strayFiles: number;
    strayBytes: number;
    uploads: number;
    /** Bytes of blob storage freed: blobs and stray files. */
    bytesFreed: number;
  };
  /** What went, up to ITEM_LIMIT of each; `truncated` says when lists were cut. */
  items?: {
    manifests: GcResult["manifests"];
    blobs: GcResult["blobs"];
    strayFiles: GcResult["strayFiles"];
    repositories: string[];
    truncated: boolean;
  };
  error?: string;
}

export interface GcRunRequest {
  dryRun?: boolean;
  trigger?: GcTrigger;
  /** Overrides the configured setting for this run. */
  untagged?: boolean;
}

const HISTORY = 20;
const ITEM_LIMIT = 1000;

export class GcService {
  readonly #registry: Registry;
  readonly #config: GcConfig;
  readonly #logger: Logger;
  readonly #runs: Counter;
  readonly #bytesFreed: Counter;
  readonly #duration: Histogram;
  readonly #history: GcRun[] = [];
  #nextId = 1;
  #running: { run: GcRun; done: Promise<GcRun> } | undefined;
  readonly #stop = new AbortController();
  #job: CronJob | undefined;
  readonly #clock: CronClock | undefined;
  readonly #onRunFinished: ((run: GcRun) => void) | undefined;

  constructor(options: {
    registry: Registry;
    config: GcConfig;
    logger: Logger;
    metrics: MetricsRegistry;
    /** Time of the schedule (tests pass a fake clock they move by hand). */
    clock?: CronClock;
    /** Told of every finished real (not dry) run, succeeded or failed (webhooks listen here). */
    onRunFinished?: (run: GcRun) => void;
  }) {
    this.#clock = options.clock;
    this.#onRunFinished = options.onRunFinished;
    this.#registry = options.registry;
    this.#config = options.config;
    this.#logger = options.logger;
    const { metrics } = options;
    this.#runs = metrics.counter("reestr_gc_runs_total", "Garbage-collection runs, by result and dry_run.");
    this.#bytesFreed = metrics.counter(
      "reestr_gc_bytes_freed_total",
      "Bytes of blob storage freed by garbage collection (blobs and stray files).",
    );
    this.#duration = metrics.histogram(
      "reestr_gc_duration_seconds",
      "Duration of garbage-collection runs.",
      [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    );
  }

  get config(): GcConfig {
    return this.#config;
  }

  /** When the schedule runs next (epoch ms); undefined without a schedule or once stopped. */
  get nextRun(): number | undefined {
    return this.#job?.nextRun;
  }

  /**
   * Starts the configured schedule (nothing without one). A scheduled time that finds a run in
   * progress (one asked for through the API) is skipped: runs never overlap.
   */
  startSchedule(): void {
    if (this.#config.schedule === "off" || this.#job) return;
    this.#job = startCronJob(
      parseCron(this.#config.schedule, "gc.schedule"),
      async () => {
        const { done, started } = this.start({ trigger: "schedule" });
        if (started) await done;
      },
      {
        clock: this.#clock,
        onError: (error) => this.#logger.error("scheduled garbage collection failed", { err: error }),
      },
    );
  }

  /** The run in progress, if any. */
  get running(): GcRun | undefined {
    return this.#running?.run;
  }

  /** The last runs, newest first (the running one included). */
  history(): GcRun[] {
    return [...this.#history].reverse();
  }

  /**
   * Starts a run, or answers `undefined` with the run in progress when there is one (runs never
   * overlap). `done` settles when the run ends; it never rejects (a failure is the run's status).
   */
  start(request: GcRunRequest = {}): { run: GcRun; done: Promise<GcRun>; started: boolean } {
    if (this.#running) return { ...this.#running, started: false };
    if (this.#stop.signal.aborted)
      throw new Error("garbage collection is stopped: the server is shutting down");
    const untagged = request.untagged ?? this.#config.untagged;
    const run: GcRun = {
      id: this.#nextId++,
      trigger: request.trigger ?? "api",
      dryRun: request.dryRun ?? false,
      untagged,
      gracePeriod: formatDuration(this.#config.gracePeriod),
      status: "running",
      startedAt: new Date().toISOString(),
    };
    this.#history.push(run);
    if (this.#history.length > HISTORY) this.#history.shift();
    const done = this.#execute(run).finally(() => {
      this.#running = undefined;
    });
    this.#running = { run, done };
    return { run, done, started: true };
  }

  async #execute(run: GcRun): Promise<GcRun> {
    const started = performance.now();
    const log = this.#logger.child({ gcRun: run.id, dryRun: run.dryRun });
    log.info("garbage collection started", { trigger: run.trigger, untagged: run.untagged });
    try {
      const result = await this.#registry.collectGarbage({
        gracePeriodMs: this.#config.gracePeriod,
        untagged: run.untagged,
        dryRun: run.dryRun,
        signal: this.#stop.signal,
        onPhase: (phase) => {
          run.phase = phase;
        },
      });
      run.status = "succeeded";
      run.removed = summarise(result);
      run.items = {
        manifests: result.manifests.slice(0, ITEM_LIMIT),
        blobs: result.blobs.slice(0, ITEM_LIMIT),
        strayFiles: result.strayFiles.slice(0, ITEM_LIMIT),
        repositories: result.repositories.slice(0, ITEM_LIMIT),
        truncated: [result.manifests, result.blobs, result.strayFiles, result.repositories].some(
          (list) => list.length > ITEM_LIMIT,
        ),
      };
      if (!run.dryRun) this.#bytesFreed.inc(run.removed.bytesFreed);
      log.info(run.dryRun ? "garbage collection dry run finished" : "garbage collection finished", {
        ...run.removed,
      });
    } catch (error) {
      run.status = "failed";
      run.error = (error as Error).message;
      log.error("garbage collection failed", { err: error });
    }
    const seconds = (performance.now() - started) / 1000;
    run.durationMs = Math.round(seconds * 1000);
    run.finishedAt = new Date().toISOString();
    run.phase = undefined;
    this.#runs.inc(1, { result: run.status === "succeeded" ? "ok" : "error", dry_run: String(run.dryRun) });
    if (!run.dryRun) this.#duration.observe(seconds);
    if (!run.dryRun) this.#onRunFinished?.(run);
    return run;
  }

  /**
   * Stops the run in progress after its current step and waits for it: every step leaves the
   * stores consistent, and the next run finishes the job.
   */
  async close(): Promise<void> {
    this.#job?.stop();
    this.#stop.abort(new Error("the server is shutting down"));
    await this.#running?.done;
  }
}

function summarise(result: GcResult): NonNullable<GcRun["removed"]> {
  return {
    manifests: result.manifests.length,
    manifestBytes: result.manifests.reduce((total, m) => total + m.size, 0),
    links: result.links,
    blobs: result.blobs.length,
    blobBytes: result.blobBytes,
    repositories: result.repositories.length,
    strayFiles: result.strayFiles.length,
    strayBytes: result.strayBytes,
    uploads: result.uploadsExpired,
    bytesFreed: result.blobBytes + result.strayBytes,
  };
}
