import type { Readable } from "node:stream";
import type { Digest } from "../../oci/digest.ts";

/** An inclusive byte range, as HTTP Range headers express it. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface UploadInfo {
  id: string;
  size: number;
  modifiedAt: Date;
}

/** Free and total bytes of a filesystem (statfs: `free` is what an unprivileged writer may use). */
export interface StorageSpaceInfo {
  free: number;
  total: number;
}

/**
 * Where blob bytes live: content-addressed, immutable once committed. Uploads accumulate
 * under an id and become visible under their digest only through `commitUpload`, which
 * must be atomic and durable (after it resolves, a crash loses nothing).
 *
 * Modelled on distribution's storage driver (registry/storage/driver/storagedriver.go),
 * narrowed to what a content-addressed registry needs so an S3 backend can map uploads
 * to multipart uploads. Every implementation runs test/contract/blob-store.contract.ts.
 *
 * Errors: a missing blob or upload is never a backend's own error (an fs ENOENT, an S3
 * NoSuchKey). `read` rejects with BlobNotFound; `appendUpload`, `readUpload` and
 * `commitUpload` reject with UploadNotFound (both in ./errors.ts, carrying the digest or id).
 * Queries answer `undefined` instead (`stat`, `uploadSize`) and deletes of absent things
 * succeed. Upload ids that are not UUIDs are refused (assertUploadId) before they can reach
 * a path or a key. A backend that cannot be reached (S3 refusing connections, timing out)
 * rejects with StoreUnavailable, which the HTTP layer answers 503. Anything else (a full disk)
 * rejects with whatever the backend threw.
 */
export interface BlobStore {
  /** Size of a committed blob, or undefined when it is not stored. */
  stat(digest: Digest): Promise<{ size: number } | undefined>;
  /**
   * Streams a committed blob, or the inclusive range of it. Rejects with BlobNotFound when absent.
   * An async iterable rather than a Readable: the HTTP layer writes chunks straight to the
   * socket, and stopping the iteration early (client gone) releases the store's resources.
   */
  read(digest: Digest, range?: ByteRange): Promise<AsyncIterable<Uint8Array>>;
  /** Removes a committed blob; absent blobs are not an error. */
  delete(digest: Digest): Promise<void>;
  /** Every committed blob, for garbage collection and storage accounting. */
  list(): AsyncIterable<Digest>;
  /**
   * Moves a committed blob out of the way because its bytes do not match its digest (a scrub
   * found it): afterwards it is absent to stat, read and list, as if deleted, but its bytes are
   * kept aside for inspection (FsBlobStore: <dataDir>/quarantine/). A later commitUpload of the
   * same digest stores it again. Returns false when the blob was not stored.
   */
  quarantine(digest: Digest): Promise<boolean>;
  /**
   * Free and total bytes of the storage the blobs are written to, for the full-disk reserve and
   * /readyz. Optional: a store with no such notion (memory, object storage) leaves it out.
   */
  space?(): Promise<StorageSpaceInfo>;
  /**
   * A URL the client can fetch the blob's bytes from directly (a presigned object-storage URL),
   * so blob GETs answer with a redirect instead of streaming; undefined: stream it. Optional:
   * only stores that can hand out such URLs (S3 with `redirect`) offer it. The caller has
   * checked the blob is stored.
   */
  redirectUrl?(digest: Digest): Promise<string | undefined>;

  createUpload(id: string): Promise<void>;
  /** Bytes received so far, or undefined for an unknown upload. */
  uploadSize(id: string): Promise<number | undefined>;
  /**
   * Appends a stream of bytes to an upload and returns how many were written. `onChunk` sees
   * every chunk, in order, before it is written (the caller hashes with it). Bytes written
   * before a failure of `data` stay, so an interrupted client can resume from uploadSize();
   * the error then carries `bytesWritten`. Rejects with UploadNotFound for an unknown upload
   * (and never creates one: appending to a cancelled upload must not resurrect it).
   */
  appendUpload(
    id: string,
    data: AsyncIterable<Uint8Array>,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number>;
  /** Streams what an upload holds so far (to rebuild a hash after a restart); UploadNotFound when unknown. */
  readUpload(id: string): Promise<Readable>;
  /**
   * Makes the upload durable and visible as `digest`; the upload is gone afterwards. The caller
   * has verified the digest; committing a digest already stored keeps one copy. UploadNotFound
   * when the upload is unknown.
   */
  commitUpload(id: string, digest: Digest): Promise<void>;
  /** Removes an upload; an unknown upload is not an error. */
  deleteUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadInfo[]>;
  /** A cheap probe for /readyz: throws when the store cannot be used. */
  check(): Promise<void>;
}

/** Upload ids are UUIDs; anything else is refused before it can reach a path. */
export const UPLOAD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The id, when it is an upload id; throws otherwise. Every BlobStore checks ids with this. */
export function assertUploadId(id: string): string {
  if (!UPLOAD_ID_PATTERN.test(id)) throw new Error(`invalid upload id ${JSON.stringify(id)}`);
  return id;
}
