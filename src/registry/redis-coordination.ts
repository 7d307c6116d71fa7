/**
 * Coordination through Redis, for replicas sharing one metadata database and blob store.
 *
 * Locks: `SET <prefix>lock:<key> <token> NX PX <ttl>`; the token (`<host>:<pid>:<uuid>`) tells
 * who holds it, and release and renewal are Lua scripts that act only while the key still holds
 * our token, so a holder whose lock expired can never release (or extend) a successor's lock.
 * While `work` runs the lock is renewed every third of its TTL; a crashed holder's lock expires
 * after the TTL. Inside the process a KeyedMutex queues holders first, so only one request per
 * key polls Redis.
 *
 * Invalidations: a Lua script numbers each message (INCR of `<prefix>seq`) and PUBLISHes it
 * atomically, so every replica receives them in order, on a second (subscriber) connection. A
 * cache is used only when this replica has received every message up to the current number
 * (one GET): a change acknowledged by another replica a moment ago, whose message is still on
 * its way, makes this replica read the store instead of a stale entry. While the subscriber is
 * down `cachesTrusted()` is false (direct reads); when it is back, listeners are reset (their
 * caches dropped), since messages sent meanwhile are lost.
 *
 * Redis unreachable for a lock: StoreUnavailable (503), never a write without the lock.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { KeyedMutex } from "../util/keyed-mutex.ts";
import {
  type Coordination,
  holderName,
  type Invalidation,
  type InvalidationListener,
} from "./coordination.ts";
import { StoreUnavailable } from "./storage/errors.ts";

export interface RedisCoordinationOptions {
  url: string;
  /** Namespace of every key and the channel (default `reestr:`). */
  keyPrefix?: string;
  /** How long lock() waits for a key before answering 503 (default 120 s). */
  lockWaitMs?: number;
  /** Milliseconds before a command is given up (default 2000). */
  commandTimeoutMs?: number;
}

const PUBLISH = `local n = redis.call("incr", KEYS[1]) redis.call("publish", KEYS[2], n .. " " .. ARGV[1]) return n`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

function connection(url: string, commandTimeoutMs: number): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    // Reconnect forever, never more often than every second.
    retryStrategy: (times) => Math.min(50 * 2 ** times, 1000),
  });
  // Failures surface through the commands (and `cachesTrusted`); no log line per retry.
  redis.on("error", () => {});
  return redis;
}

export class RedisCoordination implements Coordination {
  readonly kind = "redis" as const;
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #lockWaitMs: number;
  readonly #local = new KeyedMutex();
  readonly #listeners: InvalidationListener[] = [];
  /** Subscribed and connected: invalidations are arriving. */
  #subscribed = false;
  /** The number of the last invalidation received (all before it were received too). */
  #received = 0;
  #closed = false;

  constructor(options: RedisCoordinationOptions) {
    this.#prefix = options.keyPrefix ?? "reestr:";
    this.#channel = `${this.#prefix}invalidate`;
    this.#lockWaitMs = options.lockWaitMs ?? 120_000;
    const timeout = options.commandTimeoutMs ?? 2000;
    this.#commands = connection(options.url, timeout);
    this.#subscriber = connection(options.url, timeout);
    this.#subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      const space = message.indexOf(" ");
      this.#received = Math.max(this.#received, Number(message.slice(0, space)));
      for (const listener of this.#listeners) listener.invalidate(message.slice(space + 1));
    });
    this.#subscriber.on("ready", () => void this.#resubscribe());
    for (const event of ["close", "end", "reconnecting"]) {
      this.#subscriber.on(event, () => {
        this.#subscribed = false;
      });
    }
  }

  /**
   * After each (re)connection of the subscriber: subscribe, learn the current message number,
   * reset the listeners (whatever was published meanwhile is lost). Retried while the command
   * connection is not back yet.
   */
  async #resubscribe(): Promise<void> {
    while (!this.#closed && this.#subscriber.status === "ready") {
      try {
        await this.#subscriber.subscribe(this.#channel);
        // Subscribed first: every message numbered after this GET's answer will arrive.
        const seq = await this.#commands.get(this.#seqKey);
        this.#received = Math.max(this.#received, Number(seq ?? 0));
        for (const listener of this.#listeners) listener.reset();
        this.#subscribed = true;
        return;
      } catch {
        await sleep(100);
      }
    }
  }

  /** Resolves once both connections are up and subscribed (rejects after `timeoutMs`). */
  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#subscribed && this.#commands.status === "ready") return;
      if (Date.now() > deadline) {
        throw new Error(`redis not reachable after ${timeoutMs} ms (status ${this.#commands.status})`);
      }
      await sleep(20);
    }
  }

  lock<T>(key: string, ttlMs: number, work: () => Promise<T>): Promise<T> {
    return this.#local.run(key, async () => {
      const held = await this.#acquire(key, ttlMs, true);
      return this.#holding(held!, ttlMs, work);
    });
  }

  /** Straight to Redis, not queued behind this process's holders: Redis knows of those too. */
  async tryLock<T>(
    key: string,
    ttlMs: number,
    work: () => Promise<T>,
  ): Promise<{ value: T } | { holder: string }> {
    const held = await this.#acquire(key, ttlMs, false);
    if (!held) {
      const token = await this.#command(() => this.#commands.get(this.#key(key)));
      return { holder: token ? token.split(":").slice(0, -1).join(":") : "another replica" };
    }
    return { value: await this.#holding(held, ttlMs, work) };
  }

  async publish(message: Invalidation): Promise<void> {
    await this.#command(() => this.#commands.eval(PUBLISH, 2, this.#seqKey, this.#channel, message));
  }

  listen(listener: InvalidationListener): void {
    this.#listeners.push(listener);
  }

  async cachesTrusted(): Promise<boolean> {
    if (!this.#subscribed || this.#closed) return false;
    try {
      const seq = Number((await this.#commands.get(this.#seqKey)) ?? 0);
      return this.#subscribed && this.#received >= seq;
    } catch {
      return false;
    }
  }

  get #seqKey(): string {
    return `${this.#prefix}seq`;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribed = false;
    this.#subscriber.disconnect();
    await this.#commands.quit().catch(() => this.#commands.disconnect());
  }

  #key(key: string): string {
    return `${this.#prefix}lock:${key}`;
  }

  /** The lock's Redis key and our token once we hold it; undefined when taken and not `wait`. */
  async #acquire(
    key: string,
    ttlMs: number,
    wait: boolean,
  ): Promise<{ key: string; token: string } | undefined> {
    const redisKey = this.#key(key);
    const token = `${holderName()}:${randomUUID()}`;
    const deadline = Date.now() + this.#lockWaitMs;
    let pause = 5;
    for (;;) {
      const set = await this.#command(() => this.#commands.set(redisKey, token, "PX", ttlMs, "NX"));
      if (set === "OK") return { key: redisKey, token };
      if (!wait) return undefined;
      if (Date.now() > deadline) {
        throw new StoreUnavailable("redis", `lock ${key} is still held after ${this.#lockWaitMs} ms`);
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 200);
    }
  }

  async #holding<T>(held: { key: string; token: string }, ttlMs: number, work: () => Promise<T>): Promise<T> {
    const renewal = setInterval(
      () => {
        this.#commands.eval(RENEW, 1, held.key, held.token, ttlMs).catch(() => {});
      },
      Math.max(50, Math.floor(ttlMs / 3)),
    );
    renewal.unref();
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      // Not released (Redis gone): the key expires after its TTL.
      await this.#commands.eval(RELEASE, 1, held.key, held.token).catch(() => {});
    }
  }

  async #command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new StoreUnavailable("redis", `redis: ${(error as Error).message}`, { cause: error });
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
