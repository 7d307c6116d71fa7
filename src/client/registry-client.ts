/**
 * The project's OCI Distribution client: everything a tool needs to talk to a registry
 * (Reestr, CNCF Distribution, zot, Docker Hub) — discovery with Link pagination, manifests,
 * blobs by stream, every upload flavour of the spec, mounts and deletes.
 *
 * Blob bodies are streams end to end. What is held in memory is bounded (BODY_LIMITS): list
 * pages (catalog, tags, referrers), manifests, small blobs read whole (`getBlobBytes`, by the
 * caller's cap) and upload chunks (`chunkSize`).
 *
 * Pagination follows `Link: rel="next"` only on the registry's own origin (scheme, host and
 * port of the base URL). A Link elsewhere would send our requests, and possibly a registry's
 * answers we then trust, to a host nobody configured; the listing stops there with what it has,
 * and the client logs a warning (when given a logger). Stopping rather than failing keeps a
 * registry that mislabels its pages usable; the warning says why the list may be short.
 */
import type { IncomingHttpHeaders } from "node:http";
import { Readable, Transform } from "node:stream";
import { type Digest, digestOf, isDigest, parseDigest } from "../oci/digest.ts";
import { MAX_MANIFEST_BYTES } from "../oci/manifest.ts";
import { baseMediaType, MANIFEST_MEDIA_TYPES } from "../oci/media-types.ts";
import type { Logger } from "../util/logger.ts";
import { RegistryClientError } from "./errors.ts";
import { type RateLimit, rateLimitFrom } from "./retry.ts";
import {
  contentLength,
  drain,
  header,
  readLimited,
  type SendOptions,
  Transport,
  type TransportOptions,
} from "./transport.ts";

export interface RegistryClientOptions extends TransportOptions {
  /** Where warnings go (a listing cut short by a Link to another origin). */
  logger?: Logger;
  /** Most bytes of one catalog, tag-list or referrers page (default BODY_LIMITS.page). */
  maxPageBytes?: number;
}

/** The most bytes of one response the client holds in memory, by what it is. */
export const BODY_LIMITS = {
  /** A page of `/v2/_catalog`, `tags/list` or `referrers` (JSON). */
  page: 64 * 1024 * 1024,
  /** A manifest: what registries are asked to accept at least, and Reestr's own limit. */
  manifest: MAX_MANIFEST_BYTES,
  /** Any path read by probe(). */
  probe: 1024 * 1024,
};

/** A descriptor in a referrers index (what points at a manifest: signatures, SBOMs, …). */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

type Scope = NonNullable<SendOptions["scope"]>;

export interface ManifestResponse {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
  size: number;
  /** The registry's rate-limit headers on this response (Docker Hub counts manifest GETs). */
  rateLimit?: RateLimit;
}

export interface ManifestHead {
  mediaType: string;
  digest: Digest | undefined;
  size: number | undefined;
  rateLimit?: RateLimit;
}

export interface BlobResponse {
  stream: Readable;
  /** 200 for the whole blob, 206 for a range. */
  status: number;
  /** Bytes in this response. */
  length: number | undefined;
  contentRange: string | undefined;
}

/** A blob body: bytes, or a factory that opens a fresh stream (so a failed attempt can retry). */
export type BlobBody = Buffer | (() => Readable | Promise<Readable>);

export interface PushBlobOptions {
  /** Repository to mount the blob from instead of uploading it, when the registry allows. */
  mountFrom?: string;
  /** Above this size the blob goes up in PATCH chunks of this many bytes; otherwise one PUT. */
  chunkSize?: number;
  /** Called with the number of bytes sent so far. */
  onProgress?: (bytesSent: number) => void;
  /** Skip the HEAD that checks whether the blob already exists. */
  skipExistsCheck?: boolean;
  /**
   * Cancels the push: the request in flight is destroyed and the upload session, once opened,
   * is ended with a DELETE before the promise rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** How one upload's body goes: progress, cancellation, and where the session moved to. */
export interface UploadOptions {
  /** Called with the number of bytes sent so far. */
  onProgress?: (bytesSent: number) => void;
  signal?: AbortSignal;
  /** Called with each new Location the registry answers (chunked uploads move along). */
  onLocation?: (location: string) => void;
}

/** How long the DELETE of a failed or cancelled upload may take before it is given up. */
const CANCEL_UPLOAD_TIMEOUT_MS = 10_000;

const ANY_STATUS = Array.from({ length: 500 }, (_, i) => i + 100);

export type PushBlobResult = "exists" | "mounted" | "uploaded";

function encodeRepository(repository: string): string {
  // Repository names are validated by the registry; slashes are path separators in the URL.
  return repository.split("/").map(encodeURIComponent).join("/");
}

/** The `next` target of an RFC 8288 Link header, as registries paginate with it. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (match && /(?:^|;)\s*rel\s*=\s*"?next"?/i.test(match[2]!)) return match[1];
  }
  return undefined;
}

/** Counts bytes passing through, for progress reporting. */
function counter(onProgress: ((bytes: number) => void) | undefined, start = 0): Transform {
  let bytes = start;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      onProgress?.(bytes);
      callback(null, chunk);
    },
  });
}

export class RegistryClient {
  readonly transport: Transport;
  private readonly logger: Logger | undefined;
  private readonly maxPageBytes: number;

  constructor(options: RegistryClientOptions) {
    this.transport = new Transport(options);
    this.logger = options.logger;
    this.maxPageBytes = options.maxPageBytes ?? BODY_LIMITS.page;
  }

  get baseUrl(): string {
    return this.transport.base.toString().replace(/\/$/, "");
  }

  /** Rate-limit headers of the latest response that carried any (`RateLimit-Limit`/`-Remaining`). */
  get rateLimit(): RateLimit | undefined {
    return this.transport.lastRateLimit;
  }

  /** Closes pooled keep-alive connections. */
  close(): void {
    this.transport.close();
  }

  // --- discovery -------------------------------------------------------------------------

  /** GET /v2/: resolves when the registry answers 200 (after authenticating if asked to). */
  async ping(): Promise<{ apiVersion: string | undefined; headers: IncomingHttpHeaders }> {
    const response = await this.transport.send({ method: "GET", path: "/v2/", expect: [200] });
    await drain(response);
    return {
      apiVersion: header(response.headers, "docker-distribution-api-version"),
      headers: response.headers,
    };
  }

  /** Every repository, following `Link: rel="next"` pages. */
  async catalog(options: { pageSize?: number } = {}): Promise<string[]> {
    const repositories: string[] = [];
    for await (const page of this.catalogPages(options)) repositories.push(...page);
    return repositories;
  }

  async *catalogPages(options: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<string[]> {
    const first = `/v2/_catalog${options.pageSize ? `?n=${options.pageSize}` : ""}`;
    for await (const json of this.pages<{ repositories?: string[] | null }>(
      first,
      { catalog: true },
      options,
    )) {
      yield json.repositories ?? [];
    }
  }

  /** Every tag of a repository, following `Link: rel="next"` pages. */
  async listTags(
    repository: string,
    options: { pageSize?: number; signal?: AbortSignal } = {},
  ): Promise<string[]> {
    const first = `/v2/${encodeRepository(repository)}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ""}`;
    const scope = { repository, actions: ["pull"] };
    const tags: string[] = [];
    for await (const json of this.pages<{ tags?: string[] | null }>(first, scope, {
      ...options,
      fallbackCode: "NAME_UNKNOWN",
    })) {
      tags.push(...(json.tags ?? []));
    }
    return tags;
  }

  /**
   * The referrers of a manifest (OCI 1.1 referrers API), following `Link` pages. A registry
   * without the API answers 404 (or 400/405/501), raised as RegistryClientError; an answer that
   * is not an image index raises UNSUPPORTED.
   */
  async listReferrers(
    repository: string,
    digest: Digest | string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ReferrerDescriptor[]> {
    const first = `/v2/${encodeRepository(repository)}/referrers/${digest}`;
    const scope = { repository, actions: ["pull"] };
    const referrers: ReferrerDescriptor[] = [];
    for await (const json of this.pages<{ manifests?: unknown }>(first, scope, {
      ...options,
      accept: "application/vnd.oci.image.index.v1+json",
    })) {
      if (!Array.isArray(json.manifests)) {
        throw new RegistryClientError({
          status: 200,
          code: "UNSUPPORTED",
          message: "the answer is not an image index",
          method: "GET",
          url: this.url(first),
        });
      }
      referrers.push(...(json.manifests as ReferrerDescriptor[]));
    }
    return referrers;
  }

  /** The JSON pages of a listing, from `first` along same-origin `Link: rel="next"` headers. */
  private async *pages<T>(
    first: string,
    scope: Scope,
    options: { fallbackCode?: string; signal?: AbortSignal; accept?: string },
  ): AsyncGenerator<T> {
    const seen = new Set<string>();
    let path: string | undefined = first;
    while (path) {
      seen.add(path);
      const url = this.url(path);
      const response = await this.transport.send({
        method: "GET",
        path,
        scope,
        expect: [200],
        fallbackCode: options.fallbackCode,
        headers: { accept: options.accept ?? "application/json" },
        signal: options.signal,
      });
      const body = await readLimited(response, this.maxPageBytes, { method: "GET", url });
      yield JSON.parse(body.toString("utf8")) as T;
      path = this.nextPage(header(response.headers, "link"), url);
      // A registry naming the same page again would keep us listing forever.
      if (path && seen.has(path)) path = undefined;
    }
  }

  /** The next page of a Link header when it stays on the registry's origin; else none (warned). */
  private nextPage(link: string | undefined, current: string): string | undefined {
    const next = nextLink(link);
    if (!next) return undefined;
    const target = this.transport.url(next);
    if (target.origin === this.transport.base.origin) return next;
    this.logger?.warn("registry listing stopped: the next page is on another origin", {
      registry: this.transport.base.origin,
      page: current,
      nextOrigin: target.origin,
    });
    return undefined;
  }

  /**
   * GET (or POST or DELETE, without a body) any path on the registry's host (`/readyz`, `/api/status`) and
   * parse JSON if it is JSON. Never throws for an HTTP status: tools use it to probe optional
   * endpoints and to call Reestr's own API. A POST is never retried; the credentials are those learnt from /v2/.
   */
  async probe(
    path: string,
    options: { method?: "GET" | "POST" | "DELETE"; maxBytes?: number; basicAuth?: boolean } = {},
  ): Promise<{ status: number; headers: IncomingHttpHeaders; json: unknown }> {
    const method = options.method ?? "GET";
    const response = await this.transport.send({
      method,
      path,
      expect: ANY_STATUS,
      basicAuth: options.basicAuth,
    });
    const body = await readLimited(response, options.maxBytes ?? BODY_LIMITS.probe, {
      method,
      url: this.url(path),
    });
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      json = undefined;
    }
    return { status: response.statusCode ?? 0, headers: response.headers, json };
  }

  // --- manifests -------------------------------------------------------------------------

  /**
   * Fetches a manifest by tag or digest, accepting every manifest type by default. The bytes
   * are verified against the requested digest, or against Docker-Content-Digest for a tag.
   */
  async getManifest(
    repository: string,
    reference: string,
    options: { accept?: readonly string[]; signal?: AbortSignal } = {},
  ): Promise<ManifestResponse> {
    const path = `/v2/${encodeRepository(repository)}/manifests/${encodeURIComponent(reference)}`;
    const response = await this.transport.send({
      method: "GET",
      path,
      headers: { accept: (options.accept ?? MANIFEST_MEDIA_TYPES).join(", ") },
      scope: { repository, actions: ["pull"] },
      expect: [200],
      fallbackCode: "MANIFEST_UNKNOWN",
      signal: options.signal,
    });
    const bytes = await readLimited(response, BODY_LIMITS.manifest, { method: "GET", url: this.url(path) });
    const claimed = header(response.headers, "docker-content-digest");
    const expected = isDigest(reference) ? reference : claimed && isDigest(claimed) ? claimed : undefined;
    const algorithm = expected ? parseDigest(expected).algorithm : "sha256";
    const digest = digestOf(bytes, algorithm);
    if (expected && digest !== expected) {
      throw new RegistryClientError({
        status: 200,
        code: "DIGEST_INVALID",
        message: `manifest content hashes to ${digest}, expected ${expected}`,
        method: "GET",
        url: `${repository}:${reference}`,
      });
    }
    let mediaType = baseMediaType(header(response.headers, "content-type"));
    if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
      // Some registries answer application/json; the body's own mediaType is then the truth.
      try {
        const declared = (JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown }).mediaType;
        if (typeof declared === "string") mediaType = declared;
      } catch {
        // leave as is; parseManifest will complain if it matters
      }
    }
    const rateLimit = rateLimitFrom(response.headers);
    return { bytes, mediaType, digest, size: bytes.length, ...(rateLimit ? { rateLimit } : {}) };
  }

  /** HEAD a manifest; undefined when the registry does not have it. */
  async headManifest(
    repository: string,
    reference: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ManifestHead | undefined> {
    const response = await this.transport.send({
      method: "HEAD",
      path: `/v2/${encodeRepository(repository)}/manifests/${encodeURIComponent(reference)}`,
      headers: { accept: MANIFEST_MEDIA_TYPES.join(", ") },
      scope: { repository, actions: ["pull"] },
      expect: [200, 404],
      fallbackCode: "MANIFEST_UNKNOWN",
      signal: options.signal,
    });
    await drain(response);
    if (response.statusCode === 404) return undefined;
    const digest = header(response.headers, "docker-content-digest");
    const rateLimit = rateLimitFrom(response.headers);
    return {
      mediaType: baseMediaType(header(response.headers, "content-type")),
      digest: digest && isDigest(digest) ? digest : undefined,
      size: contentLength(response.headers),
      ...(rateLimit ? { rateLimit } : {}),
    };
  }

  /** PUT a manifest under a tag or its digest. Returns the digest the registry reports. */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ digest: Digest; location: string | undefined; subject: string | undefined }> {
    const response = await this.transport.send({
      method: "PUT",
      path: `/v2/${encodeRepository(repository)}/manifests/${encodeURIComponent(reference)}`,
      headers: { "content-type": mediaType },
      body: bytes,
      scope: { repository, actions: ["pull", "push"] },
      expect: [201, 200],
      // Putting the same bytes under the same reference twice is harmless.
      idempotent: true,
      signal: options.signal,
    });
    await drain(response);
    const reported = header(response.headers, "docker-content-digest");
    return {
      digest: reported && isDigest(reported) ? reported : digestOf(bytes),
      location: header(response.headers, "location"),
      subject: header(response.headers, "oci-subject"),
    };
  }

  async deleteManifest(repository: string, reference: string): Promise<void> {
    const response = await this.transport.send({
      method: "DELETE",
      path: `/v2/${encodeRepository(repository)}/manifests/${encodeURIComponent(reference)}`,
      scope: { repository, actions: ["delete"] },
      expect: [202, 200, 204],
      fallbackCode: "MANIFEST_UNKNOWN",
    });
    await drain(response);
  }

  // --- blobs -----------------------------------------------------------------------------

  /** HEAD a blob; its size, or undefined when the registry does not have it. */
  async headBlob(
    repository: string,
    digest: Digest | string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ size: number | undefined } | undefined> {
    const response = await this.transport.send({
      method: "HEAD",
      path: `/v2/${encodeRepository(repository)}/blobs/${digest}`,
      scope: { repository, actions: ["pull"] },
      expect: [200, 404],
      fallbackCode: "BLOB_UNKNOWN",
      signal: options.signal,
    });
    await drain(response);
    if (response.statusCode === 404) return undefined;
    return { size: contentLength(response.headers) };
  }

  /**
   * Streams a blob, or a byte range of it (`end` inclusive, as HTTP ranges are). The caller is
   * responsible for verifying the digest of what it reads (see DigestingStream). An abort of
   * `signal` while the stream is being read destroys it with the signal's reason.
   */
  async getBlob(
    repository: string,
    digest: Digest | string,
    options: { range?: { start: number; end?: number }; signal?: AbortSignal } = {},
  ): Promise<BlobResponse> {
    const headers: Record<string, string> = {};
    if (options.range) headers.range = `bytes=${options.range.start}-${options.range.end ?? ""}`;
    const response = await this.transport.send({
      method: "GET",
      path: `/v2/${encodeRepository(repository)}/blobs/${digest}`,
      headers,
      scope: { repository, actions: ["pull"] },
      expect: options.range ? [200, 206] : [200],
      fallbackCode: "BLOB_UNKNOWN",
      signal: options.signal,
    });
    return {
      stream: response,
      status: response.statusCode ?? 0,
      length: contentLength(response.headers),
      contentRange: header(response.headers, "content-range"),
    };
  }

  /**
   * A small blob (an image config, a README) read whole and checked against its digest; more
   * than `maxBytes` is refused (SIZE_INVALID) without reading it when the size is announced.
   */
  async getBlobBytes(
    repository: string,
    digest: Digest | string,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<Buffer> {
    const path = `/v2/${encodeRepository(repository)}/blobs/${digest}`;
    const response = await this.transport.send({
      method: "GET",
      path,
      scope: { repository, actions: ["pull"] },
      expect: [200],
      fallbackCode: "BLOB_UNKNOWN",
      signal: options.signal,
    });
    const bytes = await readLimited(response, options.maxBytes, { method: "GET", url: this.url(path) });
    if (isDigest(digest) && digestOf(bytes, parseDigest(digest).algorithm) !== digest) {
      throw new RegistryClientError({
        status: 200,
        code: "DIGEST_INVALID",
        message: `blob content does not hash to ${digest}`,
        method: "GET",
        url: this.url(path),
      });
    }
    return bytes;
  }

  async deleteBlob(repository: string, digest: Digest | string): Promise<void> {
    const response = await this.transport.send({
      method: "DELETE",
      path: `/v2/${encodeRepository(repository)}/blobs/${digest}`,
      scope: { repository, actions: ["delete"] },
      expect: [202, 200, 204],
      fallbackCode: "BLOB_UNKNOWN",
    });
    await drain(response);
  }

  // --- uploads ---------------------------------------------------------------------------

  /** POST /blobs/uploads/: opens an upload session and returns its Location. */
  async startUpload(repository: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const response = await this.transport.send({
      method: "POST",
      path: `/v2/${encodeRepository(repository)}/blobs/uploads/`,
      scope: { repository, actions: ["pull", "push"] },
      expect: [202],
      signal: options.signal,
    });
    await drain(response);
    return this.location(response.headers);
  }

  /**
   * Cross-repository mount. `mounted: true` when the registry linked the blob (201); otherwise
   * (202: the source is unreadable or mounting unsupported) the upload session it opened instead.
   */
  async mountBlob(
    repository: string,
    digest: Digest | string,
    from: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const query = new URLSearchParams({ mount: digest, from });
    const response = await this.transport.send({
      method: "POST",
      path: `/v2/${encodeRepository(repository)}/blobs/uploads/?${query}`,
      scope: { repository, actions: ["pull", "push"] },
      expect: [201, 202],
      signal: options.signal,
    });
    await drain(response);
    if (response.statusCode === 201) return { mounted: true };
    return { mounted: false, location: this.location(response.headers) };
  }

  /** Upload status: how many bytes the registry holds (from the `Range: 0-<end>` header). */
  async uploadStatus(repository: string, location: string): Promise<{ offset: number; location: string }> {
    const response = await this.transport.send({
      method: "GET",
      path: location,
      scope: { repository, actions: ["pull", "push"] },
      expect: [204, 200],
      fallbackCode: "BLOB_UPLOAD_UNKNOWN",
    });
    await drain(response);
    const range = header(response.headers, "range");
    const match = range ? /^(?:bytes=)?0-(\d+)$/.exec(range) : null;
    // "0-0" is what registries (Distribution, Reestr) send for an empty session as well as for
    // one byte; like containerd we read it as empty: resending one byte is harmless.
    const end = match ? Number(match[1]) : 0;
    return { offset: end === 0 ? 0 : end + 1, location: this.location(response.headers, location) };
  }

  async cancelUpload(
    repository: string,
    location: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const response = await this.transport.send({
      method: "DELETE",
      path: location,
      scope: { repository, actions: ["pull", "push"] },
      expect: [204, 200, 202],
      fallbackCode: "BLOB_UPLOAD_UNKNOWN",
      signal: options.signal,
    });
    await drain(response);
  }

  /** Finishes an upload session with the whole blob in one PUT (monolithic upload). */
  async putUpload(
    repository: string,
    location: string,
    digest: Digest | string,
    size: number,
    body: BlobBody,
    options: UploadOptions = {},
  ): Promise<void> {
    const url = this.withQuery(location, { digest });
    const stream = await this.bodyStream(body, options.onProgress);
    const response = await this.transport.send({
      method: "PUT",
      path: url,
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      body: stream,
      scope: { repository, actions: ["pull", "push"] },
      expect: [201],
      signal: options.signal,
    });
    await drain(response);
  }

  /**
   * Chunked upload: PATCH chunks of `chunkSize` bytes with Content-Range, then a PUT with the
   * digest. Holds at most one chunk in memory.
   */
  async uploadChunked(
    repository: string,
    location: string,
    digest: Digest | string,
    body: BlobBody,
    chunkSize: number,
    options: UploadOptions = {},
  ): Promise<void> {
    const { onProgress, signal } = options;
    let current = location;
    let offset = 0;
    const sendChunk = async (chunk: Buffer) => {
      const response = await this.transport.send({
        method: "PATCH",
        path: current,
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
        scope: { repository, actions: ["pull", "push"] },
        expect: [202, 204],
        signal,
      });
      await drain(response);
      current = this.location(response.headers, current);
      options.onLocation?.(current);
      offset += chunk.length;
      onProgress?.(offset);
    };
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : await body();
    // Aborted between chunks, the source (a file) would stay open: close it with the reason.
    const onAbort = () => source.destroy(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.sendChunks(source, chunkSize, sendChunk);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    const response = await this.transport.send({
      method: "PUT",
      path: this.withQuery(current, { digest }),
      scope: { repository, actions: ["pull", "push"] },
      expect: [201],
      signal,
    });
    await drain(response);
  }

  /** Cuts `source` into chunks of `chunkSize` bytes (the last one shorter) and sends each in turn. */
  private async sendChunks(
    source: Readable,
    chunkSize: number,
    sendChunk: (chunk: Buffer) => Promise<void>,
  ): Promise<void> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const data of source) {
      let chunk = data as Buffer;
      while (pendingBytes + chunk.length >= chunkSize) {
        const take = chunkSize - pendingBytes;
        pending.push(chunk.subarray(0, take));
        await sendChunk(Buffer.concat(pending));
        chunk = chunk.subarray(take);
        pending = [];
        pendingBytes = 0;
      }
      if (chunk.length > 0) {
        pending.push(chunk);
        pendingBytes += chunk.length;
      }
    }
    if (pendingBytes > 0) await sendChunk(Buffer.concat(pending));
  }

  /**
   * Single-request upload: POST with `?digest=` and the body. Returns false when the registry
   * answered 202 (it ignored the body and opened a session), so the caller uploads normally.
   */
  async postBlob(
    repository: string,
    digest: Digest | string,
    size: number,
    body: BlobBody,
  ): Promise<{ created: true } | { created: false; location: string }> {
    const response = await this.transport.send({
      method: "POST",
      path: `/v2/${encodeRepository(repository)}/blobs/uploads/?${new URLSearchParams({ digest })}`,
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      body: Buffer.isBuffer(body) ? body : await body(),
      scope: { repository, actions: ["pull", "push"] },
      expect: [201, 202],
    });
    await drain(response);
    if (response.statusCode === 201) return { created: true };
    return { created: false, location: this.location(response.headers) };
  }

  /**
   * Pushes a blob the sensible way: skip it if present, else try a mount, else upload it
   * (monolithic, or chunked above `chunkSize`).
   */
  async pushBlob(
    repository: string,
    blob: { digest: Digest | string; size: number },
    body: BlobBody,
    options: PushBlobOptions = {},
  ): Promise<PushBlobResult> {
    const { signal } = options;
    if (!options.skipExistsCheck && (await this.headBlob(repository, blob.digest, { signal }))) {
      return "exists";
    }
    let location: string;
    if (options.mountFrom && options.mountFrom !== repository) {
      const mount = await this.mountBlob(repository, blob.digest, options.mountFrom, { signal });
      if (mount.mounted) return "mounted";
      location = mount.location;
    } else {
      location = await this.startUpload(repository, { signal });
    }
    const upload: UploadOptions = {
      onProgress: options.onProgress,
      signal,
      onLocation: (next) => {
        location = next;
      },
    };
    try {
      if (options.chunkSize && blob.size > options.chunkSize) {
        await this.uploadChunked(repository, location, blob.digest, body, options.chunkSize, upload);
      } else {
        await this.putUpload(repository, location, blob.digest, blob.size, body, upload);
      }
    } catch (error) {
      // A failed or cancelled upload would hold its session (and the bytes sent) on the registry
      // until it expires, 24 h on Reestr and Distribution: end it now, on a signal of its own.
      await this.cancelUpload(repository, location, {
        signal: AbortSignal.timeout(CANCEL_UPLOAD_TIMEOUT_MS),
      }).catch(() => {});
      throw error;
    }
    return "uploaded";
  }

  // --- helpers ---------------------------------------------------------------------------

  private async bodyStream(body: BlobBody, onProgress?: (bytes: number) => void): Promise<Readable> {
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : await body();
    if (!onProgress) return source;
    const counting = counter(onProgress);
    source.on("error", (error) => counting.destroy(error));
    return source.pipe(counting);
  }

  private url(path: string): string {
    return this.transport.url(path).toString();
  }

  private location(headers: IncomingHttpHeaders, fallback?: string): string {
    const value = header(headers, "location") ?? fallback;
    if (!value) {
      throw new RegistryClientError({
        status: 0,
        code: "BLOB_UPLOAD_INVALID",
        message: "registry answered without a Location header",
        method: "POST",
        url: this.baseUrl,
      });
    }
    // Locations are absolute URLs or absolute paths on the registry's host (any base path included).
    return new URL(value, this.transport.base).toString();
  }

  private withQuery(location: string, params: Record<string, string>): string {
    const url = this.transport.url(location);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.toString();
  }
}
