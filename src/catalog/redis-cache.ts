/**
 * The catalogue cache in Redis (ioredis), for several Reestr replicas sharing one cache. Values
 * are JSON `{"f": freshUntil, "v": value}` under `<prefix><key>`, expiring (PX) at the end of
 * their stale window.
 *
 * Failing fast matters more than retrying here: with the offline queue off and a short command
 * timeout, a dead Redis makes every command reject at once, and the CachedLoader above reads
 * the registry directly instead. ioredis keeps reconnecting in the background.
 */
import { Redis } from "ioredis";
import type { Cache, CacheEntry, CacheSetOptions } from "./cache.ts";

export interface RedisCacheOptions {
  url: string;
  /** Namespace of every key (default `reestr:catalog:`). */
  keyPrefix?: string;
  /** Milliseconds before a command is given up (default 500). */
  commandTimeoutMs?: number;
}

export class RedisCache implements Cache {
  readonly kind = "redis" as const;
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisCacheOptions) {
    this.#prefix = options.keyPrefix ?? "reestr:catalog:";
    this.#redis = new Redis(options.url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: 2000,
      // Reconnect forever, but never more often than every 2 s.
      retryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
    });
    // Errors surface through the commands; without a listener ioredis would print each one.
    this.#redis.on("error", () => {});
  }

  /** Resolves once connected (rejects after `timeoutMs`). */
  async ready(timeoutMs = 5000): Promise<void> {
    if (this.#redis.status === "ready") return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`redis not ready after ${timeoutMs} ms (status ${this.#redis.status})`));
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.#redis.off("ready", onReady);
      };
      this.#redis.on("ready", onReady);
    });
  }

  get status(): string {
    return this.#redis.status;
  }

  async get<T>(key: string): Promise<CacheEntry<T> | undefined> {
    const text = await this.#redis.get(this.#prefix + key);
    if (text === null) return undefined;
    const parsed = JSON.parse(text) as { f: number; v: T };
    return { value: parsed.v, freshUntil: parsed.f };
  }

  async set(key: string, value: unknown, options: CacheSetOptions): Promise<void> {
    const text = JSON.stringify({ f: Date.now() + options.ttlMs, v: value });
    const px = Math.max(1, Math.round(options.ttlMs + options.staleMs));
    await this.#redis.set(this.#prefix + key, text, "PX", px);
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    const pattern = `${escapeGlob(this.#prefix + prefix)}*`;
    let cursor = "0";
    // SCAN, not KEYS: it does not block a Redis shared with others.
    do {
      const [next, keys] = await this.#redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await this.#redis.unlink(...keys);
    } while (cursor !== "0");
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}
