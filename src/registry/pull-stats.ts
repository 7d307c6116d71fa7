/**
 * Pull statistics without slowing pulls: every successful manifest GET is counted in memory
 * (a Map per manifest, and per tag when pulled by tag) and the counts are written in batches,
 * one MetadataStore transaction each — every `flushIntervalMs` (1 s), as soon as `maxEntries`
 * distinct manifests and tags are waiting, and on close.
 *
 * What counts as a pull: a manifest GET answered 200 (by tag or by digest), as Docker Hub counts
 * pulls. HEAD only checks and a 304 sends nothing, so neither counts; blob GETs are the layers of
 * a pull already counted. The v2 module's GET handler records (src/registry/http/v2.ts), so the
 * catalogue's own manifest reads are no pulls.
 *
 * A batch that fails to be written is kept and retried with the next one, up to `maxEntries`
 * waiting entries a kind; past that, new pulls are dropped (logged once) until a write works:
 * statistics are worth less than memory.
 */
import type { Digest } from "../oci/digest.ts";
import type { Logger } from "../util/logger.ts";
import type { PullBatch } from "./metadata/metadata-store.ts";

export interface PullRecorderOptions {
  store: { recordPulls(batch: PullBatch): Promise<void> };
  logger?: Logger;
  /** Longest a pull waits in memory before it is written (default 1 s). */
  flushIntervalMs?: number;
  /** Distinct manifests (or tags) waiting that trigger a write at once (default 1,000). */
  maxEntries?: number;
  now?: () => number;
}

interface ManifestCount {
  repository: string;
  digest: Digest;
  pulls: number;
  lastPulledAt: number;
}

interface TagTime {
  repository: string;
  tag: string;
  lastPulledAt: number;
}

export class PullRecorder {
  readonly #store: PullRecorderOptions["store"];
  readonly #logger: Logger | undefined;
  readonly #intervalMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** `<repository>@<digest>` → count; `@` and `:` occur in no repository name. */
  #manifests = new Map<string, ManifestCount>();
  /** `<repository>:<tag>` → time. */
  #tags = new Map<string, TagTime>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #dropping = false;

  constructor(options: PullRecorderOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#intervalMs = options.flushIntervalMs ?? 1000;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#now = options.now ?? (() => Date.now());
  }

  /** Entries waiting to be written (manifests + tags). */
  get pending(): number {
    return this.#manifests.size + this.#tags.size;
  }

  /** Counts one pull of `digest`, through `tag` when the client asked for the tag. Synchronous and cheap. */
  record(repository: string, digest: Digest, tag?: string): void {
    if (this.#closed) return;
    const at = this.#now();
    const key = `${repository}@${digest}`;
    const counted = this.#manifests.get(key);
    if (counted) {
      counted.pulls++;
      counted.lastPulledAt = at;
    } else if (!this.#full(this.#manifests)) {
      this.#manifests.set(key, { repository, digest, pulls: 1, lastPulledAt: at });
    }
    if (tag !== undefined) {
      const tagKey = `${repository}:${tag}`;
      const seen = this.#tags.get(tagKey);
      if (seen) seen.lastPulledAt = at;
      else if (!this.#full(this.#tags)) this.#tags.set(tagKey, { repository, tag, lastPulledAt: at });
    }
    if (this.#manifests.size >= this.#maxEntries || this.#tags.size >= this.#maxEntries) {
      void this.flush();
    } else {
      this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs).unref();
    }
  }

  /** Whether a map holds as much as may wait while writes fail (ten batches' worth). */
  #full(map: Map<string, unknown>): boolean {
    if (map.size < this.#maxEntries * 10) return false;
    if (!this.#dropping)
      this.#logger?.warn("pull statistics dropped: the metadata store is not taking writes");
    this.#dropping = true;
    return true;
  }

  /** Writes what is waiting (one transaction) and resolves when it is written. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing = this.#writing.then(() => this.#write());
    return this.#writing;
  }

  async #write(): Promise<void> {
    if (this.pending === 0) return;
    const manifests = this.#manifests;
    const tags = this.#tags;
    this.#manifests = new Map();
    this.#tags = new Map();
    try {
      await this.#store.recordPulls({ manifests: [...manifests.values()], tags: [...tags.values()] });
      this.#dropping = false;
    } catch (error) {
      this.#logger?.error("writing pull statistics failed", {
        err: error,
        entries: manifests.size + tags.size,
      });
      this.#requeue(manifests, tags);
    }
  }

  /** Puts a batch that failed back in front of what arrived since. */
  #requeue(manifests: Map<string, ManifestCount>, tags: Map<string, TagTime>): void {
    for (const [key, later] of this.#manifests) {
      const earlier = manifests.get(key);
      if (earlier) {
        earlier.pulls += later.pulls;
        earlier.lastPulledAt = later.lastPulledAt;
      } else manifests.set(key, later);
    }
    for (const [key, later] of this.#tags) tags.set(key, later);
    this.#manifests = manifests;
    this.#tags = tags;
    if (!this.#closed) this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs).unref();
  }

  /** Writes what is waiting; later pulls are ignored. Call before the store closes. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
