import type { ServerResponse } from "node:http";
import { countedBody, hasBody, type RequestContext, sendEmpty, sendJson } from "../../http/context.ts";
import { RegistryError } from "../../oci/errors.ts";
import { MAX_MANIFEST_BYTES, manifestTooLarge } from "../../oci/manifest.ts";
import { parseAccept } from "../../oci/media-types.ts";
import type { Metrics } from "../../server/metrics.ts";
import { blobReadBuffers } from "../../util/buffer-pool.ts";
import type { Page } from "../metadata/metadata-store.ts";
import { type ContentRange, type Registry, uploadRangeHeaders } from "../registry.ts";

/** A /v2 URL taken apart. Names may contain slashes, so the fixed parts are matched from the end. */
export interface V2Route {
  route: "ping" | "catalog" | "tags" | "manifest" | "blob" | "blob_upload" | "referrers";
  name?: string;
  reference?: string;
  uploadId?: string;
}

const ROUTES: [RegExp, V2Route["route"], ...("name" | "reference" | "uploadId")[]][] = [
  [/^\/v2\/?$/, "ping"],
  [/^\/v2\/_catalog$/, "catalog"],
  [/^\/v2\/(.+)\/tags\/list$/, "tags", "name"],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, "manifest", "name", "reference"],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/, "blob_upload", "name", "uploadId"],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, "blob", "name", "reference"],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, "referrers", "name", "reference"],
];

export function matchV2(path: string): V2Route | undefined {
  for (const [pattern, route, ...groups] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    const result: V2Route = { route };
    groups.forEach((group, i) => {
      result[group] = safeDecode(match[i + 1] ?? "");
    });
    return result;
  }
  return undefined;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Upper bound of `n` on tags list and catalog: keeps one response bounded. */
const MAX_PAGE_SIZE = 100_000;
const DEFAULT_CATALOG_PAGE = 1000;

export interface V2ApiOptions {
  /** Which repositories the request's caller may see in the catalog; undefined: all (auth's hook). */
  catalogFilter?: (ctx: RequestContext) => ((repository: string) => boolean) | undefined;
}

/** Handlers for the OCI Distribution API; errors are thrown as RegistryError. */
export class V2Api {
  readonly #registry: Registry;
  readonly #metrics: Metrics;
  readonly #catalogFilter: V2ApiOptions["catalogFilter"];

  constructor(registry: Registry, metrics: Metrics, options: V2ApiOptions = {}) {
    this.#registry = registry;
    this.#metrics = metrics;
    this.#catalogFilter = options.catalogFilter;
  }

  async handle(ctx: RequestContext, route: V2Route): Promise<void> {
    const method = ctx.req.method ?? "GET";
    const name = route.name ?? "";
    switch (route.route) {
      case "ping":
        if (method === "GET" || method === "HEAD") return sendJson(ctx, 200, {});
        break;
      case "catalog":
        if (method === "GET") return this.#catalog(ctx);
        break;
      case "tags":
        if (method === "GET") return this.#tags(ctx, name);
        break;
      case "manifest":
        if (method === "GET" || method === "HEAD") return this.#getManifest(ctx, name, route.reference!);
        if (method === "PUT") return this.#putManifest(ctx, name, route.reference!);
        if (method === "DELETE") return this.#deleteManifest(ctx, name, route.reference!);
        break;
      case "blob":
        if (method === "GET" || method === "HEAD") return this.#getBlob(ctx, name, route.reference!);
        if (method === "DELETE") return this.#deleteBlob(ctx, name, route.reference!);
        break;
      case "blob_upload":
        if (!route.uploadId) {
          if (method === "POST") return this.#startUpload(ctx, name);
          break;
        }
        if (method === "GET") return this.#uploadStatus(ctx, name, route.uploadId);
        if (method === "PATCH") return this.#patchUpload(ctx, name, route.uploadId);
        if (method === "PUT") return this.#completeUpload(ctx, name, route.uploadId);
        if (method === "DELETE") return this.#cancelUpload(ctx, name, route.uploadId);
        break;
      case "referrers":
        if (method === "GET") return this.#referrers(ctx, name, route.reference!);
        break;
    }
    throw new RegistryError("UNSUPPORTED", `${method} is not supported on this endpoint`);
  }

  async #catalog(ctx: RequestContext): Promise<void> {
    const page = pageOf(ctx, DEFAULT_CATALOG_PAGE);
    const visible = this.#catalogFilter?.(ctx);
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

  async #tags(ctx: RequestContext, name: string): Promise<void> {
    const page = pageOf(ctx, MAX_PAGE_SIZE);
    const tags = await this.#registry.listTags(name, { ...page, limit: page.limit + 1 });
    sendPaged(ctx, `/v2/${name}/tags/list`, { name, tags: tags.slice(0, page.limit) }, tags, page);
  }

  async #getManifest(ctx: RequestContext, name: string, reference: string): Promise<void> {
    const manifest = await this.#registry.getManifest(name, reference);
    const accepted = parseAccept(ctx.req.headers.accept);
    if (accepted !== "any" && !accepted.has(manifest.mediaType)) {
      throw new RegistryError(
        "MANIFEST_UNKNOWN",
        `manifest is ${manifest.mediaType}, which the Accept header does not include`,
        { reference, mediaType: manifest.mediaType },
      );
    }
    const etag = `"${manifest.digest}"`;
    const headers = {
      "Content-Type": manifest.mediaType,
      "Docker-Content-Digest": manifest.digest,
      ETag: etag,
      "Content-Length": manifest.content.byteLength,
    };
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
    ctx.res.end(manifest.content);
  }

  async #putManifest(ctx: RequestContext, name: string, reference: string): Promise<void> {
    const declared = Number(ctx.req.headers["content-length"] ?? 0);
    if (declared > MAX_MANIFEST_BYTES) throw manifestTooLarge();
    const body = await readLimited(ctx, MAX_MANIFEST_BYTES);
    const result = await this.#registry.putManifest(name, reference, body, ctx.req.headers["content-type"]);
    this.#metrics.manifestPushes.inc();
    const headers: Record<string, string | number> = {
      Location: `/v2/${name}/manifests/${result.digest}`,
      "Docker-Content-Digest": result.digest,
    };
    if (result.subject) headers["OCI-Subject"] = result.subject;
    sendEmpty(ctx, 201, headers);
  }

  async #deleteManifest(ctx: RequestContext, name: string, reference: string): Promise<void> {
    await this.#registry.deleteManifest(name, reference);
    sendEmpty(ctx, 202);
  }

  async #getBlob(ctx: RequestContext, name: string, digest: string): Promise<void> {
    const blob = await this.#registry.getBlob(name, digest);
    const headers: Record<string, string | number> = {
      "Content-Type": blob.manifest?.mediaType ?? "application/octet-stream",
      "Docker-Content-Digest": digest,
      ETag: `"${digest}"`,
      "Accept-Ranges": "bytes",
      "Cache-Control": "max-age=31536000",
    };
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

  async #deleteBlob(ctx: RequestContext, name: string, digest: string): Promise<void> {
    await this.#registry.deleteBlob(name, digest);
    sendEmpty(ctx, 202, { "Docker-Content-Digest": digest });
  }

  async #startUpload(ctx: RequestContext, name: string): Promise<void> {
    const mount = ctx.query.get("mount");
    const from = ctx.query.get("from");
    if (mount && from) {
      const mounted = await this.#registry.mountBlob(name, from, mount);
      if (mounted) return blobCreated(ctx, name, mounted.digest);
      // Not readable from `from`: fall back to a regular upload session, as the spec says.
    }
    const digest = ctx.query.get("digest");
    if (digest) {
      const blob = await this.#registry.putBlob(name, digest, countedBody(ctx));
      this.#blobCommitted(ctx);
      return blobCreated(ctx, name, blob.digest);
    }
    const id = await this.#registry.startUpload(name);
    sendEmpty(ctx, 202, { ...uploadRangeHeaders(name, id, 0), "OCI-Chunk-Min-Length": 0 });
  }

  async #uploadStatus(ctx: RequestContext, name: string, id: string): Promise<void> {
    const size = await this.#registry.uploadStatus(name, id);
    sendEmpty(ctx, 204, uploadRangeHeaders(name, id, size));
  }

  async #patchUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
    const range = parseContentRange(ctx.req.headers["content-range"]);
    const lengthHeader = ctx.req.headers["content-length"];
    const size = await this.#registry.appendChunk(
      name,
      id,
      countedBody(ctx),
      range,
      lengthHeader === undefined ? undefined : Number(lengthHeader),
    );
    this.#metrics.blobUploadBytes.inc(ctx.bytesIn);
    sendEmpty(ctx, 202, uploadRangeHeaders(name, id, size));
  }

  async #completeUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
    const body = hasBody(ctx) ? countedBody(ctx) : undefined;
    const blob = await this.#registry.completeUpload(name, id, ctx.query.get("digest") ?? undefined, body);
    this.#blobCommitted(ctx);
    blobCreated(ctx, name, blob.digest);
  }

  async #cancelUpload(ctx: RequestContext, name: string, id: string): Promise<void> {
    await this.#registry.cancelUpload(name, id);
    sendEmpty(ctx, 204);
  }

  async #referrers(ctx: RequestContext, name: string, digest: string): Promise<void> {
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

function drained(res: ServerResponse): Promise<void> {
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

/** Parses `bytes=a-b`, `bytes=a-` and `bytes=-n`. Several ranges are answered with the whole blob. */
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
    if (last !== "" && Number(last) < start) return null;
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

async function readLimited(ctx: RequestContext, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req) {
    total += (chunk as Buffer).byteLength;
    if (total > limit) throw manifestTooLarge();
    chunks.push(chunk as Buffer);
  }
  ctx.bytesIn += total;
  return Buffer.concat(chunks, total);
}
