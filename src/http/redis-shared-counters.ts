/**
 * Rate-limit buckets in Redis, shared by every replica. Each bucket is one key holding its
 * "theoretical arrival time" (GCRA, the token bucket written as one number): a Lua script reads
 * Redis's own clock (so replicas' clocks do not matter), admits when the bucket holds a token
 * and sets the key to expire once the bucket is full again (an absent key = a full bucket).
 *
 * Redis down: the limits fall back to this replica's own buckets (LocalSharedCounters), with a
 * warning logged once per outage. The choice: refusing every request while Redis is down would
 * turn a cache outage into a registry outage; counting per replica keeps the limit, only N times
 * looser with N replicas, until Redis answers again (checked on every call; no restart).
 */
import { Redis } from "ioredis";
import type { Logger } from "../util/logger.ts";
import type { Bucket } from "./limits.ts";
import { LocalSharedCounters, type SharedCounters } from "./shared-counters.ts";

// KEYS[1] bucket; ARGV: interval ms (1000/rate), burst. Returns 0 or the ms until a token is back.
const TAKE = `
local t = redis.call("time")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call("get", KEYS[1]) or "0")
if tat < now then tat = now end
local after = tat + interval
local over = after - now - interval * burst
if over > 0 then return over end
redis.call("set", KEYS[1], tostring(after), "PX", math.ceil(after - now))
return 0`;

export interface RedisSharedCountersOptions {
  url: string;
  keyPrefix?: string;
  logger?: Logger;
  /** Milliseconds before a command is given up and the local buckets answer (default 500). */
  commandTimeoutMs?: number;
}

export class RedisSharedCounters implements SharedCounters {
  readonly kind = "redis" as const;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #fallback = new LocalSharedCounters();
  readonly #logger: Logger | undefined;
  #degraded = false;

  constructor(options: RedisSharedCountersOptions) {
    this.#prefix = `${options.keyPrefix ?? "reestr:"}rate:`;
    this.#logger = options.logger;
    this.#redis = new Redis(options.url, {
      // Queued while (re)connecting, so the first requests after a start do not count alone;
      // commandTimeout bounds the wait, after which the local buckets answer.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 1000),
    });
    this.#redis.on("error", () => {});
  }

  async take(key: string, bucket: Bucket): Promise<number> {
    try {
      const over = Number(
        await this.#redis.eval(
          TAKE,
          1,
          `${this.#prefix}${bucket.rate}/${bucket.burst}:${key}`,
          1000 / bucket.rate,
          bucket.burst,
        ),
      );
      if (this.#degraded) {
        this.#degraded = false;
        this.#logger?.info("rate limits shared in redis again");
      }
      return over > 0 ? Math.max(1, Math.ceil(over / 1000)) : 0;
    } catch (error) {
      if (!this.#degraded) {
        this.#degraded = true;
        this.#logger?.warn("redis unreachable: rate limits count per replica until it is back", {
          err: error,
        });
      }
      return this.#fallback.take(key, bucket);
    }
  }

  async check(): Promise<{ ok: boolean; message?: string }> {
    try {
      await this.#redis.ping();
      return { ok: true };
    } catch (error) {
      return { ok: false, message: `redis: ${(error as Error).message}; rate limits count per replica` };
    }
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
