/**
 * What replicas of one registry must agree on, behind one seam: mutual exclusion (the per-digest
 * blob lock of lifecycle/gc.ts's protocol, upload locks, the GC leader) and cache invalidation
 * (tag lists, manifests). `LocalCoordination` is the one-process answer (a KeyedMutex, no
 * messages); `RedisCoordination` (redis-coordination.ts) shares both through Redis.
 */
import { hostname } from "node:os";
import { KeyedMutex } from "../util/keyed-mutex.ts";

/** Something a cache must drop: `tags:<repo>` or `manifest:<repo>@<digest>`. */
export type Invalidation = string;

export interface InvalidationListener {
  /** Another replica (or this one) changed what `message` names. */
  invalidate(message: Invalidation): void;
  /** Messages may have been missed (the connection to Redis was lost): drop everything. */
  reset(): void;
}

export interface Coordination {
  readonly kind: "local" | "redis";
  /**
   * Runs `work` while no other holder of `key` (in this process or, with Redis, any replica)
   * runs; waits for the key. `ttlMs` bounds how long a crashed holder keeps it (renewed while
   * `work` runs, so long work keeps it).
   */
  lock<T>(key: string, ttlMs: number, work: () => Promise<T>): Promise<T>;
  /** Like lock, without waiting: `{ holder }` (who has it) when the key is taken. */
  tryLock<T>(key: string, ttlMs: number, work: () => Promise<T>): Promise<{ value: T } | { holder: string }>;
  /** Tells every replica's listener (this one's too); resolves once Redis took the message. */
  publish(message: Invalidation): Promise<void>;
  listen(listener: InvalidationListener): void;
  /**
   * Whether caches can be trusted now: every invalidation published so far has been received.
   * False with Redis down, when a replica would not hear of another's changes: read the stores
   * directly.
   */
  cachesTrusted(): boolean | Promise<boolean>;
  close(): Promise<void>;
}

/** Who holds a lock, as other replicas are told: `<host>:<pid>`. */
export function holderName(): string {
  return `${hostname()}:${process.pid}`;
}

/** One process: locks are a KeyedMutex, invalidations go straight to the listeners. */
export class LocalCoordination implements Coordination {
  readonly kind = "local" as const;
  readonly #mutex = new KeyedMutex();
  readonly #held = new Set<string>();
  readonly #listeners: InvalidationListener[] = [];

  lock<T>(key: string, _ttlMs: number, work: () => Promise<T>): Promise<T> {
    return this.#mutex.run(key, work);
  }

  async tryLock<T>(
    key: string,
    _ttlMs: number,
    work: () => Promise<T>,
  ): Promise<{ value: T } | { holder: string }> {
    if (this.#held.has(key)) return { holder: holderName() };
    this.#held.add(key);
    try {
      return { value: await this.#mutex.run(key, work) };
    } finally {
      this.#held.delete(key);
    }
  }

  async publish(message: Invalidation): Promise<void> {
    for (const listener of this.#listeners) listener.invalidate(message);
  }

  listen(listener: InvalidationListener): void {
    this.#listeners.push(listener);
  }

  cachesTrusted(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}
