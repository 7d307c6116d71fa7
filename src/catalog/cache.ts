/**
 * The catalogue's cache seam: `Cache` holds JSON values with a freshness deadline; `MemoryCache`
 * (LRU + TTL) is the default and `RedisCache` (redis-cache.ts) is used when REESTR_REDIS_URL is
 * set. Both run the contract suite in test/contract/cache.contract.ts.
 *
 * `CachedLoader` puts stale-while-revalidate on top and swallows cache failures: a broken cache
 * costs a warning and a direct read, never a failed request.
 */
import type { Logger } from "../util/logger.ts";

export interface CacheEntry<T = unknown> {
  value: T;
  /** Epoch ms until which the value is fresh; after it, stale but usable until it expires. */
  freshUntil: number;
}

export interface CacheSetOptions {
  /** Fresh for this long. */
  ttlMs: number;
  /** Kept (stale) for this long after it stops being fresh. */
  staleMs: number;
}

export interface Cache {
  readonly kind: "memory" | "redis";
  get<T = unknown>(key: string): Promise<CacheEntry<T> | undefined>;
  /** `value` must survive JSON (Redis stores it as JSON). */
  set(key: string, value: unknown, options: CacheSetOptions): Promise<void>;
  delete(key: string): Promise<void>;
  /** Removes every key starting with `prefix` (a registry's keys on resync). */
  deletePrefix(prefix: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * In-process LRU bounded by entry count, with TTLs. Values are kept as given (not copied):
 * callers treat cached values as read-only.
 */
export class MemoryCache implements Cache {
  readonly kind = "memory" as const;
  readonly #entries = new Map<string, { value: unknown; freshUntil: number; expiresAt: number }>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  async get<T>(key: string): Promise<CacheEntry<T> | undefined> {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return { value: entry.value as T, freshUntil: entry.freshUntil };
  }

  async set(key: string, value: unknown, options: CacheSetOptions): Promise<void> {
    const now = this.#now();
    this.#entries.delete(key);
    this.#entries.set(key, {
      value,
      freshUntil: now + options.ttlMs,
      expiresAt: now + options.ttlMs + options.staleMs,
    });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}

export interface CacheStats {
  hits: number;
  staleHits: number;
  misses: number;
  errors: number;
}

/**
 * Stale-while-revalidate over a Cache. Concurrent loads of one key share one loader call.
 * `invalidate(prefix)` also makes refreshes already running for those keys drop their result.
 */
export class CachedLoader {
  readonly cache: Cache;
  readonly #logger: Logger | undefined;
  readonly #inFlight = new Map<string, Promise<unknown>>();
  readonly #now: () => number;
  /** Bumped by invalidate(): a load started before it must not write its (old) result back. */
  #generation = 0;
  #lastWarning = 0;
  readonly stats: CacheStats = { hits: 0, staleHits: 0, misses: 0, errors: 0 };

  constructor(cache: Cache, options: { logger?: Logger; now?: () => number } = {}) {
    this.cache = cache;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** The cached value when fresh; a stale one (refreshed in the background); else a fresh load. */
  async load<T>(key: string, options: CacheSetOptions, loader: () => Promise<T>): Promise<T> {
    const generation = this.#generation;
    let entry: CacheEntry<T> | undefined;
    try {
      entry = await this.cache.get<T>(key);
    } catch (error) {
      this.#warn("cache read failed; reading directly", key, error);
    }
    if (entry) {
      if (entry.freshUntil > this.#now()) {
        this.stats.hits++;
        return entry.value;
      }
      this.stats.staleHits++;
      this.#refresh(key, options, loader, generation).catch(() => {
        // A failed background refresh keeps the stale value; the next request tries again.
      });
      return entry.value;
    }
    this.stats.misses++;
    return this.#refresh(key, options, loader, generation);
  }

  /** Reads through the cache without stale-while-revalidate (a fresh value or a new load). */
  async loadFresh<T>(key: string, options: CacheSetOptions, loader: () => Promise<T>): Promise<T> {
    const generation = this.#generation;
    try {
      const entry = await this.cache.get<T>(key);
      if (entry && entry.freshUntil > this.#now()) {
        this.stats.hits++;
        return entry.value;
      }
    } catch (error) {
      this.#warn("cache read failed; reading directly", key, error);
    }
    this.stats.misses++;
    return this.#refresh(key, options, loader, generation);
  }

  /** What is cached under `key`, fresh or stale, without loading. */
  async peek<T>(key: string): Promise<T | undefined> {
    try {
      return (await this.cache.get<T>(key))?.value;
    } catch (error) {
      this.#warn("cache read failed", key, error);
      return undefined;
    }
  }

  /** `generation`: when the request began; an invalidation since then means the result is not kept. */
  #refresh<T>(
    key: string,
    options: CacheSetOptions,
    loader: () => Promise<T>,
    generation: number,
  ): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running && generation === this.#generation) return running as Promise<T>;
    const self: { promise?: Promise<T> } = {};
    const promise = (async () => {
      // Yield first: even a loader that throws synchronously settles after the map holds us.
      await null;
      try {
        const value = await loader();
        if (generation === this.#generation) {
          try {
            await this.cache.set(key, value, options);
          } catch (error) {
            this.#warn("cache write failed", key, error);
          }
        }
        return value;
      } finally {
        if (this.#inFlight.get(key) === self.promise) this.#inFlight.delete(key);
      }
    })();
    self.promise = promise;
    this.#inFlight.set(key, promise);
    return promise;
  }

  async invalidate(prefix: string): Promise<void> {
    this.#generation++;
    for (const key of [...this.#inFlight.keys()]) if (key.startsWith(prefix)) this.#inFlight.delete(key);
    try {
      await this.cache.deletePrefix(prefix);
    } catch (error) {
      this.#warn("cache invalidation failed", prefix, error);
    }
  }

  #warn(message: string, key: string, error: unknown): void {
    this.stats.errors++;
    // One line per 10 s at most: a dead Redis must not flood the log with one line per request.
    const now = this.#now();
    if (now - this.#lastWarning < 10_000) return;
    this.#lastWarning = now;
    this.#logger?.warn(message, {
      cache: this.cache.kind,
      key,
      error: (error as Error)?.message ?? String(error),
    });
  }
}
