/**
 * List-then-watch of Registry objects (client-go's Reflector, for one resource): a list gives the
 * objects and a resourceVersion; a watch from that version streams changes; bookmarks move the
 * version forward while nothing changes, so a reconnect does not replay or miss anything. When
 * the API server has compacted past our version (410 Gone, as an HTTP status or as an ERROR
 * event in the stream), the informer lists again and reports what disappeared meanwhile.
 * A stream that ends normally (timeoutSeconds, a load balancer) is resumed from the last version.
 */
import type { Logger } from "../util/logger.ts";
import {
  type KubeApi,
  type RegistryObject,
  statusCodeOf,
  type WatchEventType,
  type WatchHandle,
} from "./kube.ts";

export interface InformerHandlers {
  /** An object was listed, added or modified; `previous` is the cached one, if any. */
  upsert(object: RegistryObject, previous: RegistryObject | undefined): void;
  /** An object is gone (deleted, or missing from a re-list). */
  remove(object: RegistryObject): void;
}

export interface InformerOptions {
  /** Watch only this namespace (default: all). */
  namespace?: string;
  /** Server-side watch timeout in seconds (default 300; the stream is then resumed). */
  watchTimeoutSeconds?: number;
  /** Delay before retrying after a failed list or watch, doubled up to 30 s (default 1000 ms). */
  retryDelayMs?: number;
  logger?: Logger;
  /** Counts for metrics: each event type, and each re-list. */
  onWatchEvent?: (type: WatchEventType) => void;
  onRelist?: () => void;
}

export function objectKey(object: { metadata: { namespace?: string; name?: string } }): string {
  return `${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`;
}

/** Resolves after `ms`, or at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class RegistryInformer {
  readonly cache = new Map<string, RegistryObject>();
  /** The resourceVersion the next watch starts from. */
  resourceVersion = "";
  /** Lists done (the first included). */
  lists = 0;
  readonly #api: KubeApi;
  readonly #handlers: InformerHandlers;
  readonly #options: InformerOptions;
  readonly #stop = new AbortController();
  #watch: WatchHandle | undefined;
  #running: Promise<void> | undefined;
  #synced!: () => void;
  /** Resolves once the first list is in the cache. */
  readonly synced: Promise<void>;

  constructor(api: KubeApi, handlers: InformerHandlers, options: InformerOptions = {}) {
    this.#api = api;
    this.#handlers = handlers;
    this.#options = options;
    this.synced = new Promise((resolve) => {
      this.#synced = resolve;
    });
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#watch?.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    const base = this.#options.retryDelayMs ?? 1000;
    let needList = true;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.#list();
          needList = false;
        }
        const opened = Date.now();
        const outcome = await this.#watchOnce();
        failures = 0;
        // A server that ends every stream at once must not make us spin.
        if (outcome === "ended" && Date.now() - opened < 1000) await pause(base, signal);
        if (outcome === "gone") {
          this.#options.logger?.info("watch expired (410 Gone): listing again", {
            resourceVersion: this.resourceVersion,
          });
          this.#options.onRelist?.();
          needList = true;
        }
      } catch (error) {
        if (signal.aborted) break;
        if (statusCodeOf(error) === 410) {
          this.#options.onRelist?.();
          needList = true;
          continue;
        }
        failures++;
        const delay = Math.min(30_000, base * 2 ** Math.min(failures - 1, 10));
        this.#options.logger?.warn(needList ? "list of registries failed" : "watch of registries failed", {
          err: error instanceof Error ? error.message : String(error),
          retryInMs: delay,
        });
        await pause(delay, signal);
      }
    }
  }

  async #list(): Promise<void> {
    const list = await this.#api.listRegistries(this.#options.namespace);
    if (this.#stop.signal.aborted) return;
    this.lists++;
    const seen = new Set<string>();
    for (const object of list.items) {
      const key = objectKey(object);
      seen.add(key);
      const previous = this.cache.get(key);
      this.cache.set(key, object);
      this.#handlers.upsert(object, previous);
    }
    for (const [key, object] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.#handlers.remove(object);
    }
    this.resourceVersion = list.resourceVersion;
    this.#synced();
  }

  /** One watch stream; resolves "ended" when it closes normally, "gone" on 410. */
  #watchOnce(): Promise<"ended" | "gone"> {
    return new Promise((resolve, reject) => {
      let gone = false;
      const onEvent = (type: WatchEventType, raw: Record<string, unknown>) => {
        if (this.#stop.signal.aborted) return;
        this.#options.onWatchEvent?.(type);
        if (type === "ERROR") {
          const code = (raw as { code?: unknown }).code;
          if (code === 410) gone = true;
          else this.#options.logger?.warn("watch error event", { status: raw });
          return;
        }
        const object = raw as unknown as RegistryObject;
        const version = object.metadata?.resourceVersion;
        if (typeof version === "string" && version !== "") this.resourceVersion = version;
        if (type === "BOOKMARK") return;
        const key = objectKey(object);
        if (type === "DELETED") {
          this.cache.delete(key);
          this.#handlers.remove(object);
          return;
        }
        const previous = this.cache.get(key);
        this.cache.set(key, object);
        this.#handlers.upsert(object, previous);
      };
      const onDone = (error: unknown) => {
        this.#watch = undefined;
        if (gone || statusCodeOf(error) === 410) resolve("gone");
        // client-node ends a watch that was silent for 30 s (no event, no bookmark) with a
        // TimeoutError: a quiet cluster, not a failure. Resume from the same resourceVersion.
        else if ((error as { name?: unknown } | undefined)?.name === "TimeoutError") resolve("ended");
        else if (error && !this.#stop.signal.aborted) reject(error);
        else resolve("ended");
      };
      this.#api
        .watchRegistries(
          this.#options.namespace,
          this.resourceVersion,
          this.#options.watchTimeoutSeconds ?? 300,
          onEvent,
          onDone,
        )
        .then((handle) => {
          this.#watch = handle;
          if (this.#stop.signal.aborted) handle.abort();
        }, reject);
    });
  }
}
