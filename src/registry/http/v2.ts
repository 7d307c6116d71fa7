/**
 * The OCI Distribution API on /v2 as a module: the route table (each route with the access it
 * needs, so the pipeline authorizes before a handler runs) and the handlers over the HTTP-free
 * `Registry`. Errors are thrown as RegistryError and rendered in the spec's envelope.
 *
 * What each request needs: reads are `pull`; manifest PUT and every upload method are `push`;
 * DELETE of manifests and blobs is `delete`; any other method on a known endpoint needs `push`
 * (it is then refused as UNSUPPORTED, but only to those who may write); the `/v2/` ping and
 * unknown endpoints need a known caller (clients learn the auth scheme from the ping's 401). A
 * cross-repository mount the caller may not pull the source of is not refused: the request
 * starts a plain upload, as the spec allows. A mount without `from` takes the blob from a
 * repository the caller may pull, when there is one (as zot does); otherwise it too is a plain
 * upload, so it never tells a caller about blobs of repositories it may not read.
 */
import type { ServerResponse } from "node:http";
import {
  type AccessController,
  type AccessRecord,
  type Action,
  CATALOG_ACCESS,
  repositoryAccess,
} from "../../http/access.ts";
import {
  countedBody,
  hasBody,
  pathParam,
  type RequestContext,
  readBody,
  sendEmpty,
  sendJson,
} from "../../http/context.ts";
import type { Module } from "../../http/module.ts";
import type { Method, Route } from "../../http/router.ts";
import { RegistryError } from "../../oci/errors.ts";
import { MAX_MANIFEST_BYTES, manifestTooLarge } from "../../oci/manifest.ts";
import { parseAccept } from "../../oci/media-types.ts";
import { blobReadBuffers } from "../../util/buffer-pool.ts";
import type { MetricsRegistry } from "../../util/prometheus.ts";
import type { Page, StoredManifest } from "../metadata/metadata-store.ts";
import type { PullRecorder } from "../pull-stats.ts";
import { type BlobContent, type ContentRange, type Registry, uploadRangeHeaders } from "../registry.ts";
import type { AuditLog } from "./audit.ts";
import { V2Metrics } from "./v2-metrics.ts";

/** Upper bound of `n` on tags list and catalog: keeps one response bounded. */
const MAX_PAGE_SIZE = 100_000;
/** `?tag=` parameters on one manifest push (the spec asks for at least 10; beyond this: 414). */
const MAX_TAG_PARAMETERS = 100;
/** Repositories holding a blob that a mount without `from` looks at, in batches of MOUNT_BATCH. */
const MAX_MOUNT_CANDIDATES = 1000;
const MOUNT_BATCH = 100;
const DEFAULT_CATALOG_PAGE = 1000;
const API_VERSION = { "Docker-Distribution-API-Version": "registry/2.0" };

export interface V2ModuleOptions {
  registry: Registry;
  /** Filters the catalog and decides cross-repository mounts (the pipeline decides the rest). */
  access: AccessController;
  metrics: MetricsRegistry;
  /** Push, pull and delete events, when the audit log is on. */
  audit?: AuditLog;
  /** Counts each manifest GET answered 200 (pull statistics), when they are kept. */
  pulls?: PullRecorder;
  /** Repositories served from upstream registries (the pull-through cache, src/proxy/). */
  upstream?: UpstreamSource;
}

/**
 * The v2 module's seam for repositories whose content comes from another registry (a
 * pull-through cache): manifests and missing blobs are asked of it, pushes are refused.
 */
export interface UpstreamSource {
  /** Whether `name` is served from an upstream (pushes and deletes there are refused). */
  serves(name: string): boolean;
  /** The manifest from the cache or the upstream; `stale` when a tag could not be revalidated. */
  manifest(name: string, reference: string): Promise<{ manifest: StoredManifest; stale: boolean }>;
  /**
   * Answers a GET or HEAD of a blob the cache does not hold (streaming it while it is stored);
   * false when the blob is cached now (another pull fetched it) and the caller serves it.
   */
  serveBlob(ctx: RequestContext, name: string, digest: string): Promise<boolean>;
}

export function createV2Module(options: V2ModuleOptions): Module {
  const api = new V2Api(
    options.registry,
    new V2Metrics(options.metrics, options.registry),
    options.access,
    options.pulls,
    options.upstream,
  );
  const repository =
    (action: Action) =>
    (ctx: RequestContext): AccessRecord[] => [repositoryAccess(pathParam(ctx, "name"), action)];
  const route = (
    method: Method | "*",
    path: string,
    name: string,
    access: Route["access"],
    handle: Route["handle"],
    extra: Partial<Route> = {},
  ): Route => ({
    method,
    path: `/v2${path}`,
    name,
    access,
    realm: "registry",
    format: "oci",
    headers: API_VERSION,
    handle,
    ...extra,
  });
  /** Any other method on a known endpoint: refused, but only to callers who may write there. */
  const unsupported = (ctx: RequestContext) => {
    throw new RegistryError("UNSUPPORTED", `${ctx.req.method} is not supported on this endpoint`);
  };
  const stream = { streamsBody: true };
  const upstream = options.upstream;
  /** Writes into a repository served from an upstream are refused: its content is the upstream's. */
  const local =
    (handle: Route["handle"]): Route["handle"] =>
    (ctx) => {
      const name = pathParam(ctx, "name");
      if (upstream?.serves(name)) {
        throw new RegistryError(
          "DENIED",
          `${name} is a pull-through cache of an upstream registry: it is read-only`,
          {
            name,
          },
        );
      }
      return handle(ctx);
    };
  const routes: Route[] = [
    // Tried in this order: the hottest paths (manifests, then blobs) first.
    route("GET", "/{name+}/manifests/{reference}", "manifest", repository("pull"), (ctx) =>
      api.getManifest(ctx),
    ),
    route(
      "PUT",
      "/{name+}/manifests/{reference}",
      "manifest",
      repository("push"),
      local((ctx) => api.putManifest(ctx)),
    ),
    route(
      "DELETE",
      "/{name+}/manifests/{reference}",
      "manifest",
      repository("delete"),
      local((ctx) => api.deleteManifest(ctx)),
    ),
    route("*", "/{name+}/manifests/{reference}", "manifest", repository("push"), unsupported),
    route("GET", "/{name+}/blobs/{digest}", "blob", repository("pull"), (ctx) => api.getBlob(ctx)),
    route(
      "DELETE",
      "/{name+}/blobs/{digest}",
      "blob",
      repository("delete"),
      local((ctx) => api.deleteBlob(ctx)),
    ),
    route("*", "/{name+}/blobs/{digest}", "blob", repository("push"), unsupported),
    route(
      "POST",
      "/{name+}/blobs/uploads/",
      "blob_upload",
      repository("push"),
      local((ctx) => api.startUpload(ctx)),
      stream,
    ),
    route("*", "/{name+}/blobs/uploads/", "blob_upload", repository("push"), unsupported),
    route(
      "GET",
      "/{name+}/blobs/uploads/{id}",
      "blob_upload",
      repository("push"),
      local((ctx) => api.uploadStatus(ctx)),
    ),
    route(
      "PATCH",
      "/{name+}/blobs/uploads/{id}",
      "blob_upload",
      repository("push"),
      local((ctx) => api.patchUpload(ctx)),
      stream,
    ),
    route(
      "PUT",
      "/{name+}/blobs/uploads/{id}",
      "blob_upload",
      repository("push"),
      local((ctx) => api.completeUpload(ctx)),
      stream,
    ),
    route(
      "DELETE",
      "/{name+}/blobs/uploads/{id}",
      "blob_upload",
      repository("push"),
      local((ctx) => api.cancelUpload(ctx)),
    ),
    route("*", "/{name+}/blobs/uploads/{id}", "blob_upload", repository("push"), unsupported),
    route("GET", "/{name+}/tags/list", "tags", repository("pull"), (ctx) => api.tags(ctx)),
    route("*", "/{name+}/tags/list", "tags", repository("push"), unsupported),
    route("GET", "/{name+}/referrers/{digest}", "referrers", repository("pull"), (ctx) => api.referrers(ctx)),
    route("*", "/{name+}/referrers/{digest}", "referrers", repository("push"), unsupported),
    route("GET", "/", "ping", "authenticated", (ctx) => sendJson(ctx, 200, {})),
    route("*", "/", "ping", "authenticated", unsupported),
    route(
      "GET",
      "/_catalog",
      "catalog",
      () => [CATALOG_ACCESS],
      (ctx) => api.catalog(ctx),
    ),
    route("*", "/_catalog", "catalog", () => [CATALOG_ACCESS], unsupported),
    // Any caller who is someone may learn that an endpoint does not exist.
    route("*", "/{rest*}", "v2_unknown", "authenticated", (ctx) => {
      throw new RegistryError(
        "UNSUPPORTED",
        `no such endpoint: ${ctx.path.slice(0, 200)}`,
        undefined,
        {},
        404,
      );
    }),
  ];
  return {
    name: "v2",
    routes,
    health: () => options.registry.health(),
    onFinished: options.audit ? (ctx, status) => options.audit!.record(ctx, status) : undefined,
  };
}

/** The handlers; errors are thrown as RegistryError. */
class V2Api {
  readonly #registry: Registry;
  readonly #metrics: V2Metrics;
  readonly #access: AccessController;
  readonly #pulls: PullRecorder | undefined;
  readonly #upstream: UpstreamSource | undefined;

  constructor(
    registry: Registry,
    metrics: V2Metrics,
    access: AccessController,
    pulls?: PullRecorder,
    upstream?: UpstreamSource,
  ) {
    this.#registry = registry;
    this.#upstream = upstream;
    this.#metrics = metrics;
    this.#access = access;
    this.#pulls = pulls;
  }

  async catalog(ctx: RequestContext): Promise<void> {
    const page = pageOf(ctx, DEFAULT_CATALOG_PAGE);
    const visible = this.#access.pullFilter(ctx.caller);
    const names = visible
      ? await this.#visibleCatalog(page, visible)
      : await this.#registry.catalog({ ...page, limit: page.limit + 1 });
    sendPaged(ctx, "/v2/_catalog", { repositories: names.slice(0, page.limit) }, names, page);
  }

  /** Up to `limit + 1` names the caller may see, after `last`: reads on past hidden ones in batches. */
  async #visibleCatalog(page: Page, visible: (name: string) => boolean): Promise<string[]> {
    const batch = Math.max(page.limit + 1, DEFAULT_CATALOG_PAGE);
    const names: string[] = [];
    let last = page.last;
    for (;;) {
      const chunk = await this.#registry.catalog({ last, limit: batch });
      for (const name of chunk) {
        if (visible(name)) names.push(name);
        if (names.length > page.limit) return names;
      }
      if (chunk.length < batch) return names;
      last = chunk.at(-1);
    }
  }

  async tags(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const page = pageOf(ctx, MAX_PAGE_SIZE);
    const tags = await this.#registry.listTags(name, { ...page, limit: page.limit + 1 });
    sendPaged(ctx, `/v2/${name}/tags/list`, { name, tags: tags.slice(0, page.limit) }, tags, page);
  }

  async getManifest(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const reference = pathParam(ctx, "reference");
    let manifest: StoredManifest;
    let stale = false;
    if (this.#upstream?.serves(name)) ({ manifest, stale } = await this.#upstream.manifest(name, reference));
    else manifest = await this.#registry.getManifest(name, reference);
    const accepted = parseAccept(ctx.req.headers.accept);
    if (accepted !== "any" && !accepted.has(manifest.mediaType)) {
      throw new RegistryError(
        "MANIFEST_UNKNOWN",
        `manifest is ${manifest.mediaType}, which the Accept header does not include`,
        { reference, mediaType: manifest.mediaType },
      );
    }
    const etag = `"${manifest.digest}"`;
    const headers: Record<string, string | number> = {
      "Content-Type": manifest.mediaType,
      "Docker-Content-Digest": manifest.digest,
      ETag: etag,
      "Content-Length": manifest.content.byteLength,
    };
    // RFC 7234's warning for a cached tag the upstream could not confirm.
    if (stale) headers.Warning = '110 - "Response is Stale"';
    if (matchesEtag(ctx.req.headers["if-none-match"], etag)) {
      const { "Content-Length": _length, ...notModified } = headers;
      ctx.res.writeHead(304, notModified);
      ctx.res.end();
      return;
    }
    ctx.res.writeHead(200, headers);
    if (ctx.req.method === "HEAD") {
      ctx.res.end();
      return;
    }
    this.#metrics.manifestPulls.inc();
    // A tag never contains ":", a digest always does.
    this.#pulls?.record(name, manifest.digest, reference.includes(":") ? undefined : reference);
    ctx.res.end(manifest.content);
  }

  async putManifest(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const reference = pathParam(ctx, "reference");
    const tags = ctx.query.getAll("tag");
    if (tags.length > MAX_TAG_PARAMETERS) {
      throw new RegistryError(
        "MANIFEST_INVALID",
        `at most ${MAX_TAG_PARAMETERS} tag parameters per push`,
        { tags: tags.length },
        {},
        414,
      );
    }
    const body = await readBody(ctx, MAX_MANIFEST_BYTES, manifestTooLarge);
    const result = await this.#registry.putManifest(name, reference, body, ctx.req.headers["content-type"], {
      tags,
      digestAlgorithm: ctx.query.get("digest-algorithm") ?? undefined,
    });
    this.#metrics.manifestPushes.inc();
    const headers: Record<string, string | number | string[]> = {
      Location: `/v2/${name}/manifests/${result.digest}`,
      "Docker-Content-Digest": result.digest,
    };
    if (result.subject) headers["OCI-Subject"] = result.subject;
    // One OCI-Tag line per tag a `?tag=` push set (the spec's confirmation; clients fall back to
    // pushing by tag when it is missing).
    if (tags.length > 0) headers["OCI-Tag"] = result.tags;
    sendEmpty(ctx, 201, headers);
  }

  async deleteManifest(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const reference = pathParam(ctx, "reference");
    await this.#registry.deleteManifest(name, reference);
    sendEmpty(ctx, 202);
  }

  async getBlob(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const digest = pathParam(ctx, "digest");
    const blob = await this.#cachedBlob(ctx, name, digest);
    if (!blob) return;
    const headers: Record<string, string | number> = {
      ...blobHeaders(digest, blob.manifest?.mediaType),
      "Accept-Ranges": "bytes",
    };
    // Redirected to the object store (storage.s3.redirect), ranged or not: S3 serves ranges too.
    // HEAD and empty blobs are answered here: there are no bytes to offload.
    const location = ctx.req.method === "GET" && blob.size > 0 ? await blob.redirect?.() : undefined;
    if (location) {
      sendEmpty(ctx, 307, { Location: location, "Docker-Content-Digest": digest });
      return;
    }
    const range = parseRange(ctx.req.headers.range, blob.size);
    if (range === "unsatisfiable") {
      throw new RegistryError("RANGE_INVALID", undefined, undefined, {
        "Content-Range": `bytes */${blob.size}`,
      });
    }
    const status = range ? 206 : 200;
    if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${blob.size}`;
    const length = range ? range.end - range.start + 1 : blob.size;
    headers["Content-Length"] = length;
    if (ctx.req.method === "HEAD" || length === 0) {
      ctx.res.writeHead(status, headers);
      ctx.res.end();
      return;
    }
    const chunks = await blob.open(range ?? undefined);
    ctx.res.writeHead(status, headers);
    try {
      await writeChunks(ctx.res, chunks);
      this.#metrics.blobDownloadBytes.inc(length);
    } catch {
      ctx.res.destroy(); // the client went away mid-blob, or the store failed: nothing to answer
    }
  }

  /** The blob as stored; undefined when the upstream source answered the request itself. */
  async #cachedBlob(ctx: RequestContext, name: string, digest: string): Promise<BlobContent | undefined> {
    const confirmStored = ctx.req.method === "HEAD";
    if (!this.#upstream?.serves(name)) return this.#registry.getBlob(name, digest, { confirmStored });
    try {
      return await this.#registry.getBlob(name, digest, { confirmStored });
    } catch (error) {
      if (!(error instanceof RegistryError) || !["BLOB_UNKNOWN", "NAME_UNKNOWN"].includes(error.code))
        throw error;
    }
    if (await this.#upstream.serveBlob(ctx, name, digest)) return undefined;
    return this.#registry.getBlob(name, digest, { confirmStored });
  }

  async deleteBlob(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const digest = pathParam(ctx, "digest");
    await this.#registry.deleteBlob(name, digest);
    sendEmpty(ctx, 202, { "Docker-Content-Digest": digest });
  }

  async startUpload(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const mount = ctx.query.get("mount");
    const from = ctx.query.get("from");
    if (mount) {
      // Pull on the source is needed for the mount, not for the request (push on `name` is).
      const source =
        from === null
          ? await this.#mountSource(ctx, name, mount)
          : from === name || this.#mayPull(ctx, from)
            ? from
            : undefined;
      if (source !== undefined) {
        const mounted = await this.#registry.mountBlob(name, source, mount);
        if (mounted) return blobCreated(ctx, name, mounted.digest);
      }
      // Not readable from a source the caller may pull: a regular upload session, as the spec says.
    }
    const digest = ctx.query.get("digest");
    if (digest) {
      const blob = await this.#registry.putBlob(name, digest, countedBody(ctx), contentLengthOf(ctx));
      this.#blobCommitted(ctx);
      return blobCreated(ctx, name, blob.digest);
    }
    const id = await this.#registry.startUpload(name, ctx.query.get("digest-algorithm") ?? undefined);
    sendEmpty(ctx, 202, { ...uploadRangeHeaders(name, id, 0), "OCI-Chunk-Min-Length": 0 });
  }

  #mayPull(ctx: RequestContext, repository: string): boolean {
    return this.#access.authorize(ctx.caller, [repositoryAccess(repository, "pull")]).allowed;
  }

  /**
   * For a mount without `from`: a repository holding the blob that the caller may pull (the
   * target itself when it already has the blob), or undefined. Asked per candidate so bearer
   * tokens' grants count too; bounded, in batches of repositories in name order.
   */
  async #mountSource(ctx: RequestContext, name: string, digest: string): Promise<string | undefined> {
    let last: string | undefined;
    for (let seen = 0; seen < MAX_MOUNT_CANDIDATES; seen += MOUNT_BATCH) {
      const batch = await this.#registry.repositoriesWithBlob(digest, { last, limit: MOUNT_BATCH });
      if (batch.includes(name)) return name;
      const readable = batch.find((repository) => this.#mayPull(ctx, repository));
      if (readable !== undefined) return readable;
      if (batch.length < MOUNT_BATCH) return undefined;
      last = batch.at(-1);
    }
    return undefined;
  }

  async uploadStatus(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const id = pathParam(ctx, "id");
    const size = await this.#registry.uploadStatus(name, id);
    sendEmpty(ctx, 204, uploadRangeHeaders(name, id, size));
  }

  async patchUpload(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const id = pathParam(ctx, "id");
    const size = await this.#registry.appendChunk(
      name,
      id,
      countedBody(ctx),
      parseContentRange(ctx.req.headers["content-range"]),
      contentLengthOf(ctx),
    );
    this.#metrics.blobUploadBytes.inc(ctx.bytesIn);
    sendEmpty(ctx, 202, uploadRangeHeaders(name, id, size));
  }

  async completeUpload(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const id = pathParam(ctx, "id");
    const body = hasBody(ctx) ? countedBody(ctx) : undefined;
    // A final chunk with a Content-Range is checked like a PATCH's (416 when out of order).
    const range = body ? parseContentRange(ctx.req.headers["content-range"]) : undefined;
    const blob = await this.#registry.completeUpload(
      name,
      id,
      ctx.query.get("digest") ?? undefined,
      body,
      range,
      contentLengthOf(ctx),
    );
    this.#blobCommitted(ctx);
    blobCreated(ctx, name, blob.digest);
  }

  async cancelUpload(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const id = pathParam(ctx, "id");
    await this.#registry.cancelUpload(name, id);
    sendEmpty(ctx, 204);
  }

  async referrers(ctx: RequestContext): Promise<void> {
    const name = pathParam(ctx, "name");
    const digest = pathParam(ctx, "digest");
    const artifactType = ctx.query.get("artifactType") ?? undefined;
    const { index, filtered } = await this.#registry.listReferrers(name, digest, artifactType);
    sendJson(ctx, 200, index, {
      "Content-Type": index.mediaType,
      ...(filtered ? { "OCI-Filters-Applied": "artifactType" } : {}),
    });
  }

  #blobCommitted(ctx: RequestContext): void {
    this.#metrics.blobUploads.inc();
    this.#metrics.blobUploadBytes.inc(ctx.bytesIn);
  }
}

/**
 * Writes chunks to the response, waiting for 'drain' when the socket buffer is full. Leaving
 * the loop early (client gone) ends the source's iteration, which releases its file.
 */
async function writeChunks(res: ServerResponse, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const chunk of chunks) {
    if (res.destroyed) throw new Error("client went away");
    // Once the socket has taken the bytes, a pooled read buffer can serve the next read.
    const flushed = res.write(chunk, (error) => {
      if (!error) blobReadBuffers.release(chunk);
    });
    if (!flushed) await drained(res);
  }
  await new Promise<void>((resolve, reject) => {
    res.once("error", reject);
    res.end(resolve);
  });
}

/** The headers of every blob answer (here and the pull-through cache's): content named by its digest never changes. */
export function blobHeaders(digest: string, mediaType = "application/octet-stream"): Record<string, string> {
  return {
    "Content-Type": mediaType,
    "Docker-Content-Digest": digest,
    ETag: `"${digest}"`,
    "Cache-Control": "max-age=31536000",
  };
}

/** Settles once the socket takes more ('drain'); rejects when the client goes away first. */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error("client went away"));
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/** The request's Content-Length when it is a number (the full-disk check refuses what cannot fit). */
function contentLengthOf(ctx: RequestContext): number | undefined {
  const length = Number(ctx.req.headers["content-length"]);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

function blobCreated(ctx: RequestContext, name: string, digest: string): void {
  sendEmpty(ctx, 201, { Location: `/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest });
}

function pageOf(ctx: RequestContext, defaultLimit: number): Page {
  const n = ctx.query.get("n");
  let limit = defaultLimit;
  if (n !== null) {
    limit = Number(n);
    if (!/^\d+$/.test(n) || limit > MAX_PAGE_SIZE) {
      throw new RegistryError(
        "PAGINATION_NUMBER_INVALID",
        `n must be an integer between 0 and ${MAX_PAGE_SIZE}`,
        {
          n,
        },
      );
    }
  }
  return { last: ctx.query.get("last") ?? undefined, limit };
}

/** Sends a page and, when more items exist (we asked for one extra), the `Link` to the next one. */
function sendPaged(ctx: RequestContext, path: string, body: unknown, items: string[], page: Page): void {
  const headers: Record<string, string> = {};
  if (items.length > page.limit && page.limit > 0) {
    const last = items[page.limit - 1]!;
    headers.Link = `<${path}?n=${page.limit}&last=${encodeURIComponent(last)}>; rel="next"`;
  }
  sendJson(ctx, 200, body, headers);
}

/** If-None-Match per RFC 9110: a list of entity tags, weak ones (`W/"…"`) included, or `*`. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}

/**
 * Parses `bytes=a-b`, `bytes=a-` and `bytes=-n`. Several ranges, or a header that is not of this
 * form, are ignored (the whole blob, RFC 9110 §14.2). A range that cannot be served — starting
 * past the end, `-0`, or ending before it starts (`500-0`: invalid to RFC 9110, refused with 416
 * by Go's net/http and so by Distribution, and what the conformance suite expects) — is 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match;
  let start: number;
  let end: number;
  if (first === "") {
    if (last === "") return null;
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== "" && Number(last) < start) return "unsatisfiable";
  }
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** Content-Range on an upload chunk: `<start>-<end>` (the spec's form) or `bytes <start>-<end>/<total>`. */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  if (!header) return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match)
    throw new RegistryError("BLOB_UPLOAD_INVALID", `invalid Content-Range "${header.slice(0, 100)}"`);
  return { start: Number(match[1]), end: Number(match[2]) };
}
