/**
 * The Registry controller for one leadership term: an informer feeding keys into the work queue,
 * and workers taking keys off it and running the reconciler. Watch events that change nothing we
 * act on (our own status writes, re-lists of unchanged objects) still enqueue the key; the
 * reconciler's due-time check makes those cheap (one GET, no scan).
 */
import type { Logger } from "../util/logger.ts";
import { FINALIZER } from "./crd.ts";
import { objectKey, RegistryInformer } from "./informer.ts";
import type { KubeApi, RegistryObject } from "./kube.ts";
import { apiErrorText } from "./kube.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { WorkQueue } from "./queue.ts";
import type { ReconcileResult, Reconciler } from "./reconciler.ts";

export interface ControllerOptions {
  api: KubeApi;
  reconciler: Reconciler;
  namespace?: string;
  /** Reconciles at once (default 2; each is one registry's scan). */
  workers?: number;
  metrics?: OperatorMetrics;
  logger?: Logger;
  /** Retry backoff for reconciles that threw (API errors): base and cap, ms. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  watchTimeoutSeconds?: number;
  informerRetryDelayMs?: number;
  /** Every reconcile's outcome (tests and the CLI's --json progress). */
  onReconcile?: (key: string, result: ReconcileResult | { action: "error"; error: string }) => void;
}

export class Controller {
  readonly queue: WorkQueue;
  readonly informer: RegistryInformer;
  readonly #options: ControllerOptions;
  #workers: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.#options = options;
    this.queue = new WorkQueue({
      baseDelayMs: options.retryBaseDelayMs ?? 1000,
      maxDelayMs: options.retryMaxDelayMs ?? 300_000,
    });
    const { metrics, reconciler } = options;
    this.informer = new RegistryInformer(
      options.api,
      {
        upsert: (object, previous) => {
          const key = objectKey(object);
          // Deleting: stop the scan now rather than after it finishes.
          if (object.metadata.deletionTimestamp) reconciler.cancel(key);
          if (this.#worthReconciling(object, previous)) this.queue.add(key);
        },
        remove: (object) => {
          const key = objectKey(object);
          reconciler.cancel(key);
          reconciler.forget(key);
          this.queue.drop(key);
        },
      },
      {
        ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
        ...(options.watchTimeoutSeconds !== undefined
          ? { watchTimeoutSeconds: options.watchTimeoutSeconds }
          : {}),
        ...(options.informerRetryDelayMs !== undefined ? { retryDelayMs: options.informerRetryDelayMs } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        onWatchEvent: (type) => metrics?.watchEvents.inc(1, { type }),
        onRelist: () => metrics?.relists.inc(),
      },
    );
  }

  /**
   * Whether an event needs a reconcile: new objects, spec changes (generation), deletion, a
   * missing finalizer. A status-only change (ours) does not; requeues take care of schedules.
   */
  #worthReconciling(object: RegistryObject, previous: RegistryObject | undefined): boolean {
    if (!previous) return true;
    if (object.metadata.deletionTimestamp) return true;
    if (!(object.metadata.finalizers ?? []).includes(FINALIZER)) return true;
    return object.metadata.generation !== previous.metadata.generation;
  }

  /** Starts listing and watching, and the workers; resolves once the first list is in. */
  async start(): Promise<void> {
    this.informer.start();
    const count = Math.max(1, this.#options.workers ?? 2);
    for (let i = 0; i < count; i++) this.#workers.push(this.#work());
    await this.informer.synced;
  }

  /** Stops the informer, cancels scans in flight, and waits for the workers to finish. */
  async stop(): Promise<void> {
    this.queue.shutdown();
    this.#options.reconciler.cancelAll();
    await this.informer.stop();
    await Promise.all(this.#workers);
    this.#workers = [];
  }

  async #work(): Promise<void> {
    const { reconciler, metrics, logger, onReconcile } = this.#options;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = Date.now();
      try {
        const result = await reconciler.reconcile(key);
        metrics?.reconciles.inc(1, { result: "success" });
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined && Number.isFinite(result.requeueAfterMs)) {
          this.queue.addAfter(key, result.requeueAfterMs);
        }
        onReconcile?.(key, result);
      } catch (error) {
        metrics?.reconciles.inc(1, { result: "error" });
        if (!this.queue.shuttingDown) {
          const delay = this.queue.addRateLimited(key);
          logger?.warn("reconcile failed; retrying", {
            registry: key,
            err: apiErrorText(error),
            retryInMs: delay,
          });
          onReconcile?.(key, { action: "error", error: apiErrorText(error) });
        }
      } finally {
        metrics?.reconcileDuration.observe((Date.now() - started) / 1000);
        this.queue.done(key);
      }
    }
  }
}
