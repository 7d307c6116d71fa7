import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { z } from "zod";
import type { Digest } from "../../oci/digest.ts";
import { forEachLimit } from "../../util/concurrency.ts";
import type { BlobStore, ByteRange, UploadInfo } from "./blob-store.ts";
import { BlobNotFound, StoreUnavailable, UploadNotFound } from "./errors.ts";
import { S3_MIN_PART_BYTES } from "./s3-config.ts";
import {
  digestOfS3BlobKey,
  s3BlobKey,
  s3BlobsPrefix,
  s3QuarantineKey,
  s3UploadDataKey,
  s3UploadFolder,
  s3UploadStateKey,
  s3UploadsPrefix,
  s3UploadTailKey,
  uploadIdOfS3Key,
} from "./s3-layout.ts";

export interface S3BlobStoreOptions {
  /** The S3 API's URL; undefined: AWS's endpoint for the region. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Keys live under `<prefix>/` (./s3-layout.ts); "" for the bucket's root. */
  prefix: string;
  forcePathStyle: boolean;
  /** Undefined: the AWS SDK's default chain (environment, web identity, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Bytes per multipart part (at least 5 MiB); default 8 MiB. */
  partSize?: number;
  /** Milliseconds a redirect's presigned URL is valid; undefined: blob GETs are streamed. */
  redirectExpiryMs?: number;
  /** How long check() (the /readyz probe) waits for the bucket; default 3 s. */
  checkTimeoutMs?: number;
  /**
   * Objects up to this size are copied with one CopyObject, larger ones part by part
   * (UploadPartCopy); S3's limit for one copy is 5 GiB. Lower only in tests.
   */
  copyLimitBytes?: number;
}

/** What an upload holds, kept in uploads/<id>/state.json (the shape is documented in ./s3-layout.ts). */
const UploadStateSchema = z.object({
  version: z.literal(1),
  size: z.number().int().nonnegative(),
  data: z.number().int().nonnegative(),
  multipart: z
    .object({
      uploadId: z.string().min(1),
      parts: z.array(
        z.object({
          number: z.number().int().min(1).max(10_000),
          etag: z.string(),
          size: z.number().int().nonnegative(),
        }),
      ),
    })
    .optional(),
  tailGeneration: z.number().int().nonnegative(),
  tailSize: z.number().int().nonnegative(),
  createdAt: z.number(),
  modifiedAt: z.number(),
});
type UploadState = z.infer<typeof UploadStateSchema>;
type Part = NonNullable<UploadState["multipart"]>["parts"][number];

const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;
/** Part numbers after which the part size doubles, so 10,000 parts (S3's limit) hold terabytes. */
const PARTS_PER_SIZE_STEP = 1000;
/** Parallel server-side copies of one object's ranges, and parallel deletes of an upload's objects. */
const COPY_CONCURRENCY = 4;
/** Sockets to S3: every blob being streamed to a client holds one for as long as it takes. */
const MAX_SOCKETS = 512;

/** Network failures that mean the store is unreachable, not that the request was wrong. */
const NETWORK_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EPIPE",
]);

/**
 * Blobs in an S3 bucket, under the keys of ./s3-layout.ts (which documents them).
 *
 * Uploads are S3 multipart uploads: an append sends each full part (`partSize`, 8 MiB by default,
 * at least S3's 5 MiB) as it fills and keeps the rest, smaller than a part, as an object of its
 * own (the tail), because S3 refuses parts under 5 MiB but the last and a chunked push's PATCH
 * may end anywhere. What the upload holds (the multipart's id, its parts and their ETags, the
 * tail, the size) is in the upload's state.json, written after the bytes it describes, so the
 * next PATCH may land on any replica and a failed append leaves the previous state standing.
 *
 * Reading an upload back (the Registry does it when it holds no running hash of the upload: after
 * a restart, or when another replica received earlier chunks) needs the bytes of the parts, which
 * S3 does not serve before the multipart upload is completed. So readUpload completes it into the
 * upload's `data` object first; a later append starts a new multipart upload whose part 1 is a
 * server-side copy of `data` (UploadPartCopy), so nothing goes through Reestr twice.
 *
 * commitUpload completes the multipart upload into `data` (the tail as its last part, copied
 * server-side) and copies `data` to the blob's key. S3 makes an object visible only when it is
 * complete — a PUT, a copy or a multipart completion is all or nothing — and durable when
 * acknowledged, so a blob is never seen half-written; the copy is needed because a multipart
 * upload's key is fixed when it starts, before the digest is known (Distribution's S3 driver
 * moves its uploads the same way). The Registry verified the digest before calling commitUpload.
 * A blob already present (same key, same size) is not copied again.
 *
 * Missing keys become BlobNotFound / UploadNotFound; an S3 that cannot be reached (connection
 * refused or reset, a timeout, a 5xx after the SDK's retries) becomes StoreUnavailable, which the
 * HTTP layer answers with 503. Nothing is cached in the process: every call asks S3, so a store
 * that comes back is used again at once.
 *
 * Concurrency: one process serializes the operations on an upload (the Registry's lock); across
 * replicas, a client sends one chunk at a time, so state.json has one writer at a time. Two
 * replicas appending to the same upload at the same moment would race (S3 has no
 * compare-and-swap every server offers); the last state written would win.
 */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #redirectExpiryMs: number | undefined;
  readonly #checkTimeoutMs: number;
  readonly #copyLimit: number;
  readonly #where: string;

  constructor(options: S3BlobStoreOptions) {
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.#partSize = Math.max(options.partSize ?? DEFAULT_PART_BYTES, S3_MIN_PART_BYTES);
    this.#redirectExpiryMs = options.redirectExpiryMs;
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 3000;
    this.#copyLimit = Math.min(options.copyLimitBytes ?? MAX_COPY_BYTES, MAX_COPY_BYTES);
    this.#where = `bucket ${options.bucket} at ${options.endpoint ?? `AWS ${options.region}`}`;
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // Streamed and copied bodies carry no checksum trailers: not every S3 server takes them
      // (RGW answers 411). Each part is still signed with its SHA-256 (SigV4), and the Registry
      // checks the blob's digest.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: {
        connectionTimeout: 5000,
        // Idle time on a socket, not a deadline: a large part or a slow client may take long.
        requestTimeout: 60_000,
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      },
    });
  }

  /** True when blob GETs are answered with a redirect to S3 (`storage.s3.redirect`). */
  get redirects(): boolean {
    return this.#redirectExpiryMs !== undefined;
  }

  // ---- committed blobs ---------------------------------------------------------------

  async stat(digest: Digest): Promise<{ size: number } | undefined> {
    return this.#head(s3BlobKey(this.#prefix, digest));
  }

  async read(digest: Digest, range?: ByteRange): Promise<AsyncIterable<Uint8Array>> {
    const key = s3BlobKey(this.#prefix, digest);
    try {
      return await this.#getStream(key, range);
    } catch (error) {
      throw isMissing(error) ? new BlobNotFound(digest, { cause: error }) : error;
    }
  }

  async delete(digest: Digest): Promise<void> {
    const key = s3BlobKey(this.#prefix, digest);
    await this.#call(() => this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })));
  }

  async *list(): AsyncIterable<Digest> {
    for await (const object of this.#listObjects(s3BlobsPrefix(this.#prefix))) {
      const digest = digestOfS3BlobKey(this.#prefix, object.key);
      if (digest) yield digest;
    }
  }

  async quarantine(digest: Digest): Promise<boolean> {
    const key = s3BlobKey(this.#prefix, digest);
    const found = await this.#head(key);
    if (!found) return false;
    try {
      await this.#copyObject(key, found.size, s3QuarantineKey(this.#prefix, digest));
    } catch (error) {
      if (isMissing(error)) return false; // deleted since the HEAD
      throw error;
    }
    await this.#deleteKey(key);
    return true;
  }

  /**
   * A presigned GetObject URL for the blob (the redirect of a blob GET), or undefined when
   * redirects are off. Signed here, without asking S3: the caller has checked the blob exists.
   */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    if (this.#redirectExpiryMs === undefined) return undefined;
    const command = new GetObjectCommand({ Bucket: this.#bucket, Key: s3BlobKey(this.#prefix, digest) });
    return getSignedUrl(this.#client, command, { expiresIn: Math.round(this.#redirectExpiryMs / 1000) });
  }

  // ---- uploads -----------------------------------------------------------------------

  async createUpload(id: string): Promise<void> {
    const now = Date.now();
    const state: UploadState = {
      version: 1,
      size: 0,
      data: 0,
      tailGeneration: 0,
      tailSize: 0,
      createdAt: now,
      modifiedAt: now,
    };
    try {
      // If-None-Match: an id in use is refused by S3 itself, whichever replica created it.
      await this.#putState(id, state, { IfNoneMatch: "*" });
    } catch (error) {
      const status = httpStatus(error);
      if (status === 412 || status === 409) throw new Error(`upload ${id} already exists`, { cause: error });
      throw error;
    }
  }

  async uploadSize(id: string): Promise<number | undefined> {
    return (await this.#loadState(id))?.size;
  }

  async appendUpload(
    id: string,
    data: AsyncIterable<Uint8Array>,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    const state = await this.#requireState(id);
    const startSize = state.size;
    const oldTail = state.tailSize > 0 ? s3UploadTailKey(this.#prefix, id, state.tailGeneration) : undefined;
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    if (oldTail) {
      const tail = await this.#getBuffer(oldTail).catch((error: unknown) => {
        throw isMissing(error) ? new UploadNotFound(id, { cause: error }) : error;
      });
      pending.push(tail);
      pendingBytes = tail.byteLength;
    }
    let received = 0;
    let partsAdded = 0;
    // One part in flight while the next fills: the client keeps sending while S3 receives.
    let inFlight: Promise<void> | undefined;
    let failure: unknown;
    let storeFailed = false;
    const settle = async () => {
      const part = inFlight;
      inFlight = undefined;
      try {
        await part;
      } catch (error) {
        storeFailed = true;
        throw error;
      }
    };
    try {
      for await (const chunk of data) {
        onChunk?.(chunk);
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        received += chunk.byteLength;
        if (pendingBytes >= this.#threshold(state)) {
          const body = Buffer.concat(pending, pendingBytes);
          pending = [];
          pendingBytes = 0;
          await settle();
          inFlight = this.#appendPart(id, state, body).then(() => {
            partsAdded++;
          });
          inFlight.catch(() => {});
        }
      }
      await settle();
    } catch (error) {
      failure = error;
      await settle().catch(() => {});
    }

    if (partsAdded === 0 && (storeFailed || received === 0)) {
      // Nothing new is stored (or nothing arrived): the state as it was still describes the upload.
      if (failure !== undefined) throw withBytesWritten(failure, 0);
      return 0;
    }
    // After a failed part, the bytes from that part on are lost: keep the parts before it only.
    const tail = storeFailed || pendingBytes === 0 ? undefined : Buffer.concat(pending, pendingBytes);
    try {
      if (tail) {
        await this.#putObject(s3UploadTailKey(this.#prefix, id, state.tailGeneration + 1), tail);
        state.tailGeneration++;
      }
      state.tailSize = tail?.byteLength ?? 0;
      await this.#putState(id, state);
    } catch (error) {
      // The new state is not written: the old one stands (parts past it are replaced by the next
      // append, which sends the same part numbers again).
      throw withBytesWritten(failure ?? error, 0);
    }
    if (oldTail) await this.#deleteKey(oldTail).catch(() => {});
    const written = state.size - startSize;
    if (failure !== undefined) throw withBytesWritten(failure, written);
    return written;
  }

  async readUpload(id: string): Promise<Readable> {
    const state = await this.#requireState(id);
    if (state.multipart) await this.#compact(id, state);
    const sources: { key: string; range?: ByteRange }[] = [];
    if (state.data > 0) {
      sources.push({ key: s3UploadDataKey(this.#prefix, id), range: { start: 0, end: state.data - 1 } });
    }
    if (state.tailSize > 0) sources.push({ key: s3UploadTailKey(this.#prefix, id, state.tailGeneration) });
    const store = this;
    async function* concatenated(): AsyncGenerator<Uint8Array> {
      for (const { key, range } of sources) {
        try {
          yield* await store.#getStream(key, range);
        } catch (error) {
          throw isMissing(error) ? new UploadNotFound(id, { cause: error }) : error;
        }
      }
    }
    return Readable.from(concatenated(), { objectMode: false });
  }

  async commitUpload(id: string, digest: Digest): Promise<void> {
    const target = s3BlobKey(this.#prefix, digest);
    const state = await this.#requireState(id);
    // Content-addressed: a blob already there with this size is these bytes (the digest is verified).
    const existing = await this.#head(target);
    if (existing === undefined || existing.size !== state.size) {
      const source = await this.#materialize(id, state);
      if (source) await this.#copyObject(source, state.size, target);
      else await this.#putObject(target, Buffer.alloc(0));
    }
    await this.#removeUpload(id);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.#removeUpload(id);
  }

  async listUploads(): Promise<UploadInfo[]> {
    const folders = new Map<string, { hasState: boolean; modified: number }>();
    const seen = (id: string, modified: number | undefined) => {
      const folder = folders.get(id) ?? { hasState: false, modified: 0 };
      folder.modified = Math.max(folder.modified, modified ?? 0);
      folders.set(id, folder);
      return folder;
    };
    for await (const object of this.#listObjects(s3UploadsPrefix(this.#prefix))) {
      const id = uploadIdOfS3Key(this.#prefix, object.key);
      if (!id) continue;
      const folder = seen(id, object.modified);
      if (object.key === s3UploadStateKey(this.#prefix, id)) folder.hasState = true;
    }
    for await (const upload of this.#listMultipartUploads(s3UploadsPrefix(this.#prefix))) {
      const id = uploadIdOfS3Key(this.#prefix, upload.key);
      if (id) seen(id, upload.initiated);
    }
    const uploads: UploadInfo[] = [];
    await forEachLimit([...folders], 8, async ([id, folder]) => {
      const state = folder.hasState ? await this.#loadState(id) : undefined;
      // A folder without state is a leftover: reported (size 0) so upload expiry removes it.
      uploads.push({
        id,
        size: state?.size ?? 0,
        modifiedAt: new Date(state?.modifiedAt ?? folder.modified),
      });
    });
    return uploads;
  }

  /**
   * The /readyz probe: HEAD of the bucket, bounded by `checkTimeoutMs`. An unreachable S3 is
   * StoreUnavailable; a missing bucket or refused credentials say so.
   */
  async check(): Promise<void> {
    try {
      await this.#call(() =>
        this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }), {
          abortSignal: AbortSignal.timeout(this.#checkTimeoutMs),
        }),
      );
    } catch (error) {
      if (error instanceof StoreUnavailable) throw error;
      const status = httpStatus(error);
      if (status === 404) throw new Error(`${this.#where}: no such bucket`, { cause: error });
      if (status === 403) {
        throw new Error(`${this.#where}: access denied (check the access key and secret)`, { cause: error });
      }
      if (status === 301)
        throw new Error(`${this.#where}: the bucket is in another region`, { cause: error });
      throw error;
    }
  }

  /** Closes the client's sockets. */
  close(): void {
    this.#client.destroy();
  }

  // ---- upload internals --------------------------------------------------------------

  /** Bytes that make the next part: the part size, doubled every PARTS_PER_SIZE_STEP parts. */
  #threshold(state: UploadState): number {
    const parts = state.multipart?.parts.length ?? 0;
    return Math.min(this.#partSize * 2 ** Math.floor(parts / PARTS_PER_SIZE_STEP), MAX_PART_BYTES);
  }

  /** Sends one full part, starting the multipart upload first when there is none. */
  async #appendPart(id: string, state: UploadState, body: Buffer, retried = false): Promise<void> {
    const key = s3UploadDataKey(this.#prefix, id);
    try {
      const multipart = state.multipart ?? (await this.#startMultipart(id, state));
      const number = multipart.parts.length + 1;
      const { ETag } = await this.#call(() =>
        this.#client.send(
          new UploadPartCommand({
            Bucket: this.#bucket,
            Key: key,
            UploadId: multipart.uploadId,
            PartNumber: number,
            Body: body,
            ContentLength: body.byteLength,
          }),
        ),
      );
      multipart.parts.push({ number, etag: ETag ?? "", size: body.byteLength });
    } catch (error) {
      if (retried || !isNoSuchUpload(error) || !state.multipart) throw error;
      // The multipart upload was completed by a readUpload whose state was never written.
      await this.#adoptCompleted(id, state);
      await this.#appendPart(id, state, body, true);
    }
  }

  /** A new multipart upload onto `data`; the bytes already in `data` become its first part(s). */
  async #startMultipart(id: string, state: UploadState): Promise<NonNullable<UploadState["multipart"]>> {
    const key = s3UploadDataKey(this.#prefix, id);
    const { UploadId } = await this.#call(() =>
      this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: key })),
    );
    if (!UploadId) throw new Error("S3 started a multipart upload without an UploadId");
    const parts = state.data > 0 ? await this.#copyParts(key, UploadId, key, state.data, 1) : [];
    state.multipart = { uploadId: UploadId, parts };
    return state.multipart;
  }

  /**
   * The multipart's id in the state no longer exists: it was completed into `data` by a
   * readUpload or commit whose state was never written. Takes `data` as what the parts held when
   * its size says so; anything else is a damaged upload.
   */
  async #adoptCompleted(id: string, state: UploadState): Promise<void> {
    const partsBytes = sumParts(state.multipart?.parts ?? []);
    const data = await this.#head(s3UploadDataKey(this.#prefix, id));
    if (data?.size !== partsBytes) {
      throw new Error(
        `upload ${id}: its multipart upload is gone and data holds ${data?.size ?? "no"} bytes, not ${partsBytes}`,
      );
    }
    state.multipart = undefined;
    state.data = partsBytes;
  }

  /** Completes the multipart upload into `data`, so the bytes can be read (readUpload). */
  async #compact(id: string, state: UploadState): Promise<void> {
    const multipart = state.multipart!;
    try {
      await this.#complete(s3UploadDataKey(this.#prefix, id), multipart.uploadId, multipart.parts);
      state.data = sumParts(multipart.parts);
      state.multipart = undefined;
    } catch (error) {
      if (!isNoSuchUpload(error)) throw error;
      await this.#adoptCompleted(id, state);
    }
    await this.#putState(id, state);
  }

  /**
   * Puts every byte of the upload into one object and returns its key (undefined for an empty
   * upload): the tail alone, `data` alone, or `data` completed from the parts and the tail.
   */
  async #materialize(id: string, state: UploadState): Promise<string | undefined> {
    const dataKey = s3UploadDataKey(this.#prefix, id);
    const tailKey = state.tailSize > 0 ? s3UploadTailKey(this.#prefix, id, state.tailGeneration) : undefined;
    if (state.multipart) {
      const { uploadId, parts } = state.multipart;
      try {
        const all = tailKey
          ? [
              ...parts,
              ...(await this.#copyParts(dataKey, uploadId, tailKey, state.tailSize, parts.length + 1)),
            ]
          : parts;
        await this.#complete(dataKey, uploadId, all);
        return dataKey;
      } catch (error) {
        if (!isNoSuchUpload(error)) throw error;
        // Completed before (by a commit that failed after it, or a readUpload): see what data holds.
        const data = await this.#head(dataKey);
        if (data?.size === state.size) return dataKey;
        await this.#adoptCompleted(id, state);
      }
    }
    if (state.data > 0 && tailKey) {
      const { UploadId } = await this.#call(() =>
        this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: dataKey })),
      );
      try {
        const parts = await this.#copyParts(dataKey, UploadId!, dataKey, state.data, 1);
        parts.push(...(await this.#copyParts(dataKey, UploadId!, tailKey, state.tailSize, parts.length + 1)));
        await this.#complete(dataKey, UploadId!, parts);
      } catch (error) {
        await this.#abort(dataKey, UploadId!).catch(() => {});
        throw error;
      }
      return dataKey;
    }
    if (state.data > 0) return dataKey;
    return tailKey;
  }

  async #complete(key: string, uploadId: string, parts: readonly Part[]): Promise<void> {
    // The ETag of the answer is not used: RGW answers an empty one.
    await this.#call(() =>
      this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.number, ETag: part.etag })) },
        }),
      ),
    );
  }

  async #abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.#call(() =>
        this.#client.send(
          new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }),
        ),
      );
    } catch (error) {
      if (!isNoSuchUpload(error)) throw error;
    }
  }

  /**
   * Server-side copies of `source` (`size` bytes) as parts `first`, `first + 1`, … of a multipart
   * upload: one part when it fits a copy, else equal ranges (each under the copy limit and, the
   * source being larger than it, well over S3's 5 MiB minimum).
   */
  async #copyParts(
    key: string,
    uploadId: string,
    source: string,
    size: number,
    first: number,
  ): Promise<Part[]> {
    const count = Math.max(1, Math.ceil(size / this.#copyLimit));
    const step = Math.ceil(size / count);
    const parts: Part[] = [];
    await forEachLimit(
      Array.from({ length: count }, (_, index) => index),
      COPY_CONCURRENCY,
      async (index) => {
        const start = index * step;
        const end = Math.min(size, start + step) - 1;
        const { CopyPartResult } = await this.#call(() =>
          this.#client.send(
            new UploadPartCopyCommand({
              Bucket: this.#bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: first + index,
              CopySource: this.#copySource(source),
              CopySourceRange: count > 1 ? `bytes=${start}-${end}` : undefined,
            }),
          ),
        );
        parts[index] = { number: first + index, etag: CopyPartResult?.ETag ?? "", size: end - start + 1 };
      },
    );
    return parts;
  }

  /** Copies an object within the bucket: one CopyObject, or a multipart copy above the copy limit. */
  async #copyObject(source: string, size: number, target: string): Promise<void> {
    if (size <= this.#copyLimit) {
      await this.#call(() =>
        this.#client.send(
          new CopyObjectCommand({ Bucket: this.#bucket, Key: target, CopySource: this.#copySource(source) }),
        ),
      );
      return;
    }
    const { UploadId } = await this.#call(() =>
      this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: target })),
    );
    try {
      await this.#complete(target, UploadId!, await this.#copyParts(target, UploadId!, source, size, 1));
    } catch (error) {
      await this.#abort(target, UploadId!).catch(() => {});
      throw error;
    }
  }

  /** Removes everything of an upload: its state first (from then on it is unknown), then the rest. */
  async #removeUpload(id: string): Promise<void> {
    const folder = s3UploadFolder(this.#prefix, id);
    await this.#deleteKey(s3UploadStateKey(this.#prefix, id));
    for await (const upload of this.#listMultipartUploads(folder))
      await this.#abort(upload.key, upload.uploadId);
    const keys: string[] = [];
    for await (const object of this.#listObjects(folder)) keys.push(object.key);
    await forEachLimit(keys, COPY_CONCURRENCY, (key) => this.#deleteKey(key));
  }

  async #loadState(id: string): Promise<UploadState | undefined> {
    const key = s3UploadStateKey(this.#prefix, id);
    let text: string;
    try {
      text = (await this.#getBuffer(key)).toString("utf8");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const parsed = UploadStateSchema.safeParse(safeJson(text));
    if (!parsed.success)
      throw new Error(`upload ${id}: ${key} is not an upload state: ${parsed.error.message}`);
    return parsed.data;
  }

  async #requireState(id: string): Promise<UploadState> {
    const state = await this.#loadState(id);
    if (!state) throw new UploadNotFound(id);
    return state;
  }

  async #putState(id: string, state: UploadState, conditions: { IfNoneMatch?: string } = {}): Promise<void> {
    state.size = (state.multipart ? sumParts(state.multipart.parts) : state.data) + state.tailSize;
    // Never backwards, whatever the clocks of the replicas say.
    state.modifiedAt = Math.max(Date.now(), state.modifiedAt);
    await this.#putObject(s3UploadStateKey(this.#prefix, id), Buffer.from(JSON.stringify(state)), {
      ContentType: "application/json",
      ...conditions,
    });
  }

  // ---- S3 calls ----------------------------------------------------------------------

  /** Runs one S3 call; an unreachable S3 becomes StoreUnavailable, every other error stays as S3 said it. */
  async #call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (isUnreachable(error)) {
        throw new StoreUnavailable(
          "s3",
          `S3 storage (${this.#where}) is unavailable: ${describeError(error)}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  #copySource(key: string): string {
    // Keys are made of URL-safe characters only (./s3-layout.ts), so they need no escaping.
    return `${this.#bucket}/${key}`;
  }

  async #head(key: string): Promise<{ size: number } | undefined> {
    try {
      const out = await this.#call(() =>
        this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key })),
      );
      return { size: out.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async #getStream(key: string, range?: ByteRange): Promise<AsyncIterable<Uint8Array>> {
    const out = await this.#call(() =>
      this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      ),
    );
    // In Node the body is the response's IncomingMessage: an async iterable of Buffers, destroyed
    // (its socket released) when the consumer stops early.
    return out.Body as unknown as AsyncIterable<Uint8Array>;
  }

  async #getBuffer(key: string): Promise<Buffer> {
    const out = await this.#call(() =>
      this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key })),
    );
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  async #putObject(
    key: string,
    body: Buffer,
    extra: { ContentType?: string; IfNoneMatch?: string } = {},
  ): Promise<void> {
    await this.#call(() =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: body,
          ContentLength: body.byteLength,
          ...extra,
        }),
      ),
    );
  }

  async #deleteKey(key: string): Promise<void> {
    await this.#call(() => this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })));
  }

  async *#listObjects(prefix: string): AsyncGenerator<{ key: string; modified: number | undefined }> {
    let token: string | undefined;
    do {
      const page = await this.#call(() =>
        this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) yield { key: object.Key, modified: object.LastModified?.getTime() };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async *#listMultipartUploads(
    prefix: string,
  ): AsyncGenerator<{ key: string; uploadId: string; initiated: number | undefined }> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.#call(() =>
        this.#client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.#bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        ),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key && upload.UploadId) {
          yield { key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated?.getTime() };
        }
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }
}

function sumParts(parts: readonly Part[]): number {
  return parts.reduce((total, part) => total + part.size, 0);
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** A key that is not there: NoSuchKey (GET), NotFound (HEAD, no body to name it). */
function isMissing(error: unknown): boolean {
  const name = (error as Error)?.name;
  return (
    name === "NoSuchKey" || name === "NotFound" || (httpStatus(error) === 404 && name !== "NoSuchBucket")
  );
}

function isNoSuchUpload(error: unknown): boolean {
  return (error as Error)?.name === "NoSuchUpload";
}

function isUnreachable(error: unknown): boolean {
  const { code, name } = (error ?? {}) as NodeJS.ErrnoException;
  if (code !== undefined && NETWORK_ERRORS.has(code)) return true;
  if (name === "TimeoutError" || name === "AbortError") return true;
  const status = httpStatus(error);
  return status !== undefined && status >= 500;
}

function describeError(error: unknown): string {
  const { code, message, name } = (error ?? {}) as NodeJS.ErrnoException;
  const status = httpStatus(error);
  return [code ?? name, status ? `HTTP ${status}` : undefined, message].filter(Boolean).join(": ");
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The error with how many bytes the failed append stored (BlobStore.appendUpload's contract). */
function withBytesWritten(error: unknown, bytesWritten: number): Error {
  const failure = error instanceof Error ? error : new Error(String(error));
  return Object.assign(failure, { bytesWritten });
}
