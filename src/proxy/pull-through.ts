/**
 * The pull-through cache: repositories under a configured prefix (`dockerhub/library/nginx`)
 * are fetched from their upstream (`library/nginx` at registry-1.docker.io) on first use and
 * stored in this registry's normal stores, under their local name — so quotas, GC and
 * retention treat them like any other content. Hooked into the v2 module as its UpstreamSource.
 *
 * - Manifests by digest are immutable: served from the cache once stored, never revalidated.
 * - Tags are served from the cache for `tagTtl`, then revalidated with a HEAD upstream; a new
 *   digest fetches the new manifest. An upstream that cannot answer (down, 5xx, 429) leaves the
 *   cached tag served with a `Warning: 110` header; what is not cached is a 502/503.
 * - Manifests are stored sparse (their blobs and children arrive when first pulled), so an
 *   index's children are fetched on demand.
 * - A missing blob is fetched once however many clients ask (one flight per digest): the first
 *   client reads it as it streams in, while the same bytes go into a BlobStore upload that
 *   becomes visible only once its digest checks out; clients that join a flight wait for it
 *   and are then served from the store.
 */
import type { ServerResponse } from "node:http";
import { RegistryClient } from "../client/registry-client.ts";
import type { RequestContext } from "../http/context.ts";
import { RegistryError } from "../oci/errors.ts";
import { blobHeaders, drained, type UpstreamSource } from "../registry/http/v2.ts";
import type { StoredManifest } from "../registry/metadata/metadata-store.ts";
import type { Registry } from "../registry/registry.ts";
import type { Logger } from "../util/logger.ts";
import { compileRepositoryGlob } from "../util/repository-glob.ts";
import type { ProxyEntry } from "./proxy-config.ts";
import { SingleFlight } from "./singleflight.ts";
import { upstreamError, upstreamUnavailable } from "./upstream-errors.ts";

export interface PullThroughOptions {
  registry: Registry;
  entries: readonly ProxyEntry[];
  logger: Logger;
  /** The clock of tag TTLs (tests move it). */
  now?: () => number;
}

/** One configured upstream and the client that talks to it. */
interface Upstream {
  entry: ProxyEntry;
  client: RegistryClient;
  allowed: RegExp[] | undefined;
}

/** A local repository name resolved to its upstream. */
interface Route {
  upstream: Upstream;
  /** The repository's name upstream (the local name without the prefix). */
  repository: string;
}

/** Longest a tag's last successful revalidation is remembered (bounded memory). */
const MAX_VALIDATED_TAGS = 100_000;

export class PullThroughCache implements UpstreamSource {
  readonly #registry: Registry;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #upstreams: Map<string, Upstream>;
  /** When each cached `<name>:<tag>` was last confirmed by its upstream. */
  readonly #validated = new Map<string, number>();
  readonly #manifestFlights = new SingleFlight<StoredManifest>();
  /** Blob fetches by digest; each resolves to the local repository the blob was stored in. */
  readonly #blobFlights = new SingleFlight<string>();
  /** Upstream blob GETs started (for tests and the benchmark: one per digest under concurrency). */
  upstreamBlobFetches = 0;

  constructor(options: PullThroughOptions) {
    this.#registry = options.registry;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#upstreams = new Map(
      options.entries.map((entry) => [
        entry.prefix,
        {
          entry,
          client: new RegistryClient({
            baseUrl: entry.upstream,
            username: entry.credentials?.username,
            password: entry.credentials?.password,
            retries: entry.retries,
            // A Retry-After longer than this is not waited for: the cached copy (or a 503) is the answer.
            retryMaxDelayMs: 2_000,
            headers: { "User-Agent": "reestr-pull-through" },
          }),
          allowed: entry.repositories?.map(compileRepositoryGlob),
        },
      ]),
    );
  }

  serves(name: string): boolean {
    const slash = name.indexOf("/");
    return slash > 0 && this.#upstreams.has(name.slice(0, slash));
  }

  #route(name: string): Route {
    const slash = name.indexOf("/");
    const upstream = this.#upstreams.get(name.slice(0, slash))!;
    const repository = name.slice(slash + 1);
    if (upstream.allowed && !upstream.allowed.some((glob) => glob.test(repository))) {
      throw new RegistryError(
        "DENIED",
        `${repository} is not among the repositories proxied from ${upstream.entry.upstream}`,
        { name },
      );
    }
    return { upstream, repository };
  }

  async manifest(name: string, reference: string): Promise<{ manifest: StoredManifest; stale: boolean }> {
    const route = this.#route(name);
    const cached = await this.#cachedManifest(name, reference);
    // A digest names the same bytes forever: once stored, never asked upstream again.
    if (reference.includes(":")) {
      return { manifest: cached ?? (await this.#fetchManifest(route, name, reference)), stale: false };
    }
    const key = `${name}:${reference}`;
    const checked = this.#validated.get(key);
    if (cached && checked !== undefined && this.#now() - checked < route.upstream.entry.tagTtl) {
      return { manifest: cached, stale: false };
    }
    try {
      let manifest: StoredManifest | undefined;
      if (cached) {
        const head = await route.upstream.client.headManifest(route.repository, reference);
        if (head?.digest === cached.digest) manifest = cached;
      }
      manifest ??= await this.#fetchManifest(route, name, reference);
      this.#remember(key);
      return { manifest, stale: false };
    } catch (error) {
      if (cached && upstreamUnavailable(error)) {
        this.#logger.warn("upstream unavailable: serving a cached tag unconfirmed", {
          upstream: route.upstream.entry.upstream,
          repository: name,
          tag: reference,
          err: error,
        });
        return { manifest: cached, stale: true };
      }
      throw upstreamError(route.upstream.entry.upstream, error);
    }
  }

  async #cachedManifest(name: string, reference: string): Promise<StoredManifest | undefined> {
    try {
      return await this.#registry.getManifest(name, reference);
    } catch (error) {
      if (isUnknown(error)) return undefined;
      throw error;
    }
  }

  /** GETs a manifest upstream (once for concurrent asks) and stores it sparse under `reference`. */
  #fetchManifest(route: Route, name: string, reference: string): Promise<StoredManifest> {
    return this.#manifestFlights.run(`${name}@${reference}`, async () => {
      const { upstream, repository } = route;
      let fetched: Awaited<ReturnType<RegistryClient["getManifest"]>>;
      try {
        fetched = await upstream.client.getManifest(repository, reference);
      } catch (error) {
        throw upstreamError(upstream.entry.upstream, error);
      }
      await this.#registry.putManifest(name, reference, fetched.bytes, fetched.mediaType, { sparse: true });
      this.#logger.info("cached a manifest from upstream", {
        upstream: upstream.entry.upstream,
        repository: name,
        reference,
        digest: fetched.digest,
      });
      return this.#registry.getManifest(name, fetched.digest);
    });
  }

  #remember(key: string): void {
    this.#validated.delete(key);
    this.#validated.set(key, this.#now());
    if (this.#validated.size > MAX_VALIDATED_TAGS) {
      // Oldest first (Map keeps insertion order): it is revalidated on its next pull, nothing worse.
      this.#validated.delete(this.#validated.keys().next().value!);
    }
  }

  async serveBlob(ctx: RequestContext, name: string, digest: string): Promise<boolean> {
    const route = this.#route(name);
    const upstreamUrl = route.upstream.entry.upstream;
    if (ctx.req.method === "HEAD") return this.#headBlob(ctx, route, digest);
    // Joining a flight of another pull (maybe of another repository): wait, then link and serve.
    const running = this.#blobFlights.get(digest);
    if (running) {
      const from = await running.catch(() => undefined);
      if (from !== undefined && (await this.#linked(name, from, digest))) return false;
    }
    let mine = false;
    const flight = this.#blobFlights.run(digest, async () => {
      mine = true;
      return this.#fetchBlob(ctx, route, name, digest);
    });
    if (!mine) {
      const from = await flight.catch((error: unknown) => {
        throw upstreamError(upstreamUrl, error);
      });
      if (await this.#linked(name, from, digest)) return false;
      throw new RegistryError("BLOB_UNKNOWN", undefined, { digest });
    }
    try {
      await flight;
    } catch (error) {
      if (!ctx.res.headersSent) throw upstreamError(upstreamUrl, error);
      // Bytes were already sent: cutting the connection is the only way to tell the client.
      ctx.res.destroy();
    }
    return true;
  }

  /** Whether `name` links the blob now (mounting it from the repository a flight stored it in). */
  async #linked(name: string, from: string, digest: string): Promise<boolean> {
    if (from === name) return true;
    return (await this.#registry.mountBlob(name, from, digest)) !== undefined;
  }

  async #headBlob(ctx: RequestContext, route: Route, digest: string): Promise<boolean> {
    let head: { size: number | undefined } | undefined;
    try {
      head = await route.upstream.client.headBlob(route.repository, digest);
    } catch (error) {
      throw upstreamError(route.upstream.entry.upstream, error);
    }
    if (!head)
      throw new RegistryError("BLOB_UNKNOWN", `not found upstream at ${route.upstream.entry.upstream}`, {
        digest,
      });
    ctx.res.writeHead(200, {
      ...blobHeaders(digest),
      ...(head.size === undefined ? {} : { "Content-Length": head.size }),
    });
    ctx.res.end();
    return true;
  }

  /**
   * GETs the blob upstream and tees it: each chunk goes to the client's response and into the
   * registry's putBlob, which checks the digest before the blob becomes visible (a mismatch
   * discards the upload, and the client's connection is cut). A client that goes away does not
   * stop the fetch: the blob is still stored for the next pull.
   */
  async #fetchBlob(ctx: RequestContext, route: Route, name: string, digest: string): Promise<string> {
    this.upstreamBlobFetches++;
    const response = await route.upstream.client.getBlob(route.repository, digest);
    const res = ctx.res;
    res.writeHead(200, {
      ...blobHeaders(digest),
      ...(response.length === undefined ? {} : { "Content-Length": response.length }),
    });
    const client = new ClientTee(res);
    const tee = (async function* () {
      for await (const chunk of response.stream as AsyncIterable<Buffer>) {
        await client.write(chunk);
        yield chunk;
      }
    })();
    try {
      await this.#registry.putBlob(name, digest, tee, response.length);
    } catch (error) {
      response.stream.destroy();
      throw error;
    }
    this.#logger.info("cached a blob from upstream", {
      upstream: route.upstream.entry.upstream,
      repository: name,
      digest,
      size: response.length,
    });
    res.end();
    return name;
  }

  close(): void {
    for (const upstream of this.#upstreams.values()) upstream.client.close();
  }
}

/** Writes to a client's response while it is there; once it is gone, writes are dropped. */
class ClientTee {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  async write(chunk: Buffer): Promise<void> {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    if (res.write(chunk)) return;
    // The client reads slower than the upstream sends: keep pace with it while it stays (once
    // it is gone, the fetch goes on for the store alone).
    await drained(res).catch(() => {});
  }
}

function isUnknown(error: unknown): boolean {
  return (
    error instanceof RegistryError &&
    ["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"].includes(error.code)
  );
}

/** The cache of `proxy:` entries, or undefined without any; closed with what `opened` holds. */
export function createPullThrough(options: {
  entries: readonly ProxyEntry[] | undefined;
  registry: Registry;
  logger: Logger;
  opened: { close(): unknown }[];
}): PullThroughCache | undefined {
  if (!options.entries || options.entries.length === 0) return undefined;
  const cache = new PullThroughCache({
    registry: options.registry,
    entries: options.entries,
    logger: options.logger.child({ component: "proxy" }),
  });
  options.opened.push(cache);
  options.logger.info("pull-through cache on", {
    upstreams: options.entries.map((entry) => `${entry.prefix} → ${entry.upstream}`),
  });
  return cache;
}
