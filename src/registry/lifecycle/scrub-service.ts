/**
 * The scrub as a service of `reestr serve`: one run at a time (asked for through the API or
 * `reestr scrub`), its progress while it runs and the last run's result for `/api/admin/scrub`,
 * a log line per corrupt blob and per run, and metrics. What a run checks is in ./scrub.ts.
 */
import type { Logger } from "../../util/logger.ts";
import type { Counter, MetricsRegistry } from "../../util/prometheus.ts";
import type { Registry } from "../registry.ts";
import type { ScrubProgress, ScrubResult } from "./scrub.ts";

/** One run as `/api/admin/scrub` shows it. */
export interface ScrubRun {
  id: number;
  status: "running" | "succeeded" | "failed";
  startedAt: string;
  /** The read limit of this run, bytes per second; null: none. */
  rateBytesPerSecond: number | null;
  progress: ScrubProgress;
  /** Once finished. */
  result?: ScrubResult;
  error?: string;
}

export interface ScrubStart {
  run: ScrubRun;
  /** Settles with the run once it has finished (never rejects: a failure is a failed run). */
  done: Promise<ScrubRun>;
  /** False when a run was already in progress: `run` and `done` are that run's. */
  started: boolean;
}

export class ScrubService {
  readonly #registry: Registry;
  readonly #logger: Logger;
  readonly #runs: Counter;
  readonly #corrupt: Counter;
  #current: { run: ScrubRun; done: Promise<ScrubRun>; abort: AbortController } | undefined;
  #last: ScrubRun | undefined;
  #nextId = 1;

  constructor(options: { registry: Registry; logger: Logger; metrics: MetricsRegistry }) {
    this.#registry = options.registry;
    this.#logger = options.logger;
    this.#runs = options.metrics.counter(
      "reestr_scrub_runs_total",
      "Scrub runs finished, by result: clean, problems (corrupt blobs or missing references), failed.",
    );
    this.#corrupt = options.metrics.counter(
      "reestr_scrub_corrupt_blobs_total",
      "Blobs a scrub found not matching their digest (each quarantined).",
    );
  }

  /** The run in progress. */
  get running(): ScrubRun | undefined {
    return this.#current?.run;
  }

  /** The last finished run. */
  get last(): ScrubRun | undefined {
    return this.#last;
  }

  /** Starts a run, or hands back the one in progress (one at a time: a scrub reads everything). */
  start(options: { rateBytesPerSecond?: number } = {}): ScrubStart {
    if (this.#current) return { run: this.#current.run, done: this.#current.done, started: false };
    const abort = new AbortController();
    const run: ScrubRun = {
      id: this.#nextId++,
      status: "running",
      startedAt: new Date().toISOString(),
      rateBytesPerSecond: options.rateBytesPerSecond ?? null,
      progress: {
        phase: "blobs",
        blobsChecked: 0,
        bytesChecked: 0,
        manifestsChecked: 0,
        corrupt: 0,
        missing: 0,
      },
    };
    this.#logger.info("scrub started", { id: run.id, rateBytesPerSecond: run.rateBytesPerSecond });
    const done = this.#registry
      .scrub({
        rateBytesPerSecond: options.rateBytesPerSecond,
        signal: abort.signal,
        onProgress: (progress) => {
          run.progress = progress;
        },
        onCorrupt: (blob) => {
          this.#corrupt.inc();
          this.#logger.error("scrub: blob does not match its digest", {
            digest: blob.digest,
            actual: blob.actual,
            size: blob.size,
            quarantined: blob.quarantined,
          });
        },
      })
      .then(
        (result) => {
          run.status = "succeeded";
          run.result = result;
          const clean = result.counts.corrupt + result.counts.missing + result.counts.unreadable === 0;
          this.#runs.inc(1, { result: clean ? "clean" : "problems" });
          const log = clean ? this.#logger.info.bind(this.#logger) : this.#logger.warn.bind(this.#logger);
          log("scrub finished", {
            id: run.id,
            durationMs: result.durationMs,
            blobsChecked: result.blobsChecked,
            bytesChecked: result.bytesChecked,
            manifestsChecked: result.manifestsChecked,
            ...result.counts,
          });
          return run;
        },
        (error: unknown) => {
          run.status = "failed";
          run.error = (error as Error)?.message ?? String(error);
          this.#runs.inc(1, { result: "failed" });
          this.#logger.error("scrub failed", { id: run.id, err: error });
          return run;
        },
      )
      .finally(() => {
        this.#current = undefined;
        this.#last = run;
      });
    this.#current = { run, done, abort };
    return { run, done, started: true };
  }

  /** Stops a run in progress (server shutdown) and waits for it to end. */
  async close(): Promise<void> {
    const current = this.#current;
    if (!current) return;
    current.abort.abort(new Error("the server is shutting down"));
    await current.done;
  }
}
