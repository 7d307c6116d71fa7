/**
 * Rate-limit counters, behind one seam so several replicas can share them. `LocalSharedCounters`
 * is one process's token buckets (limits.ts TokenBuckets); `RedisSharedCounters`
 * (redis-shared-counters.ts) keeps the same buckets in Redis, so a limit of N req/s per client
 * holds across every replica behind the load balancer.
 */
import { type Bucket, TokenBuckets } from "./limits.ts";

export interface SharedCounters {
  readonly kind: "local" | "redis";
  /**
   * Takes one token from the bucket `key` (created full with `bucket`'s size): 0 when allowed,
   * else the seconds until a token is back.
   */
  take(key: string, bucket: Bucket): Promise<number>;
  /** Whether the shared store answers (always true locally); for /readyz. */
  check(): Promise<{ ok: boolean; message?: string }>;
  close(): Promise<void>;
}

/** One process: a TokenBuckets per bucket setting. */
export class LocalSharedCounters implements SharedCounters {
  readonly kind = "local" as const;
  readonly #now: () => number;
  readonly #buckets = new Map<string, TokenBuckets>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async take(key: string, bucket: Bucket): Promise<number> {
    const setting = `${bucket.rate}/${bucket.burst}`;
    let buckets = this.#buckets.get(setting);
    if (!buckets) {
      buckets = new TokenBuckets(bucket, this.#now);
      this.#buckets.set(setting, buckets);
    }
    return buckets.take(key);
  }

  async check(): Promise<{ ok: boolean }> {
    return { ok: true };
  }

  async close(): Promise<void> {}
}
