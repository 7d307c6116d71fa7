/**
 * One run of an async task per key at a time: callers that ask while it runs share its result
 * (a missing blob is fetched once from upstream however many clients pull it at once).
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>();

  /** The running task of `key`, if any. */
  get(key: string): Promise<T> | undefined {
    return this.#running.get(key);
  }

  /** Joins the running task of `key`, or starts `task`; the key is free again once it settles. */
  run(key: string, task: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running) return running;
    const started = task().finally(() => this.#running.delete(key));
    this.#running.set(key, started);
    return started;
  }

  get size(): number {
    return this.#running.size;
  }
}
