/**
 * The controller's work queue, after client-go's workqueue: keys (`namespace/name`), not objects,
 * so ten events for one object before a worker gets to it make one reconcile.
 *
 *  - de-duplicating: a key waiting in the queue is not added twice; a key being processed is
 *    marked dirty and re-queued when its worker calls `done`, so one key is never reconciled by
 *    two workers at once and no event is lost;
 *  - delayed adds (`addAfter`): one timer per key, the earliest wins (a requeue after scanInterval
 *    does not push back an earlier retry);
 *  - rate-limited retries (`addRateLimited`): per-key exponential backoff, base·2^(failures−1)
 *    capped at max, reset by `forget` after a success.
 */

export interface WorkQueueOptions {
  /** First retry delay in ms (default 1000). */
  baseDelayMs?: number;
  /** Longest retry delay in ms (default 300000). */
  maxDelayMs?: number;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 1000;
    this.#maxDelayMs = options.maxDelayMs ?? 300_000;
  }

  /** Keys waiting (not counting delayed ones or those being processed). */
  get length(): number {
    return this.#queue.length;
  }

  /** Keys waiting on a timer. */
  get delayed(): number {
    return this.#timers.size;
  }

  get shuttingDown(): boolean {
    return this.#shutDown;
  }

  add(key: string): void {
    if (this.#shutDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
  }

  /** Adds the key after `delayMs`; an earlier pending add of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.#timers.set(key, { at, timer });
  }

  /** The delay the next `addRateLimited` of this key will use. */
  nextDelay(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  /** Counts a failure of the key and re-adds it after its backoff; returns the delay used. */
  addRateLimited(key: string): number {
    const delay = this.nextDelay(key);
    this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
    this.addAfter(key, delay);
    return delay;
  }

  /** Failures counted for the key since the last `forget`. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Resets the key's backoff (after a success). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Drops the key's pending timer and backoff (the object is gone). */
  drop(key: string): void {
    const pending = this.#timers.get(key);
    if (pending) clearTimeout(pending.timer);
    this.#timers.delete(key);
    this.#failures.delete(key);
  }

  /** The next key to process; undefined once shut down. The caller must call `done(key)`. */
  get(): Promise<string | undefined> {
    if (this.#shutDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#queued.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks the key processed; if it was added meanwhile it goes back in the queue. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
  }

  /** Stops handing out keys: waiting `get`s resolve undefined, timers are cleared. */
  shutdown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#queued.clear();
    this.#dirty.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }
}
