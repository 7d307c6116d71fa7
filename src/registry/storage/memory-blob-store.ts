import { Readable } from "node:stream";
import type { Digest } from "../../oci/digest.ts";
import { chunksOf } from "../../util/chunks.ts";
import { assertUploadId, type BlobStore, type ByteRange, type UploadInfo } from "./blob-store.ts";
import { BlobNotFound, UploadNotFound } from "./errors.ts";

interface MemoryUpload {
  chunks: Buffer[];
  size: number;
  modifiedAt: Date;
}

/** Blobs in memory: for tests and throw-away registries. Nothing survives the process. */
export class MemoryBlobStore implements BlobStore {
  readonly #blobs = new Map<string, Buffer>();
  readonly #uploads = new Map<string, MemoryUpload>();
  /** Blobs a scrub found corrupt, kept aside as the filesystem store keeps them. */
  readonly #quarantined = new Map<string, Buffer>();

  async stat(digest: Digest): Promise<{ size: number } | undefined> {
    const blob = this.#blobs.get(digest);
    return blob ? { size: blob.byteLength } : undefined;
  }

  async read(digest: Digest, range?: ByteRange): Promise<AsyncIterable<Uint8Array>> {
    const blob = this.#blobs.get(digest);
    if (!blob) throw new BlobNotFound(digest);
    return chunksOf(range ? blob.subarray(range.start, range.end + 1) : blob);
  }

  async delete(digest: Digest): Promise<void> {
    this.#blobs.delete(digest);
  }

  async *list(): AsyncIterable<Digest> {
    for (const digest of [...this.#blobs.keys()]) yield digest as Digest;
  }

  async quarantine(digest: Digest): Promise<boolean> {
    const blob = this.#blobs.get(digest);
    if (!blob) return false;
    this.#quarantined.set(digest, blob);
    this.#blobs.delete(digest);
    return true;
  }

  async createUpload(id: string): Promise<void> {
    assertUploadId(id);
    if (this.#uploads.has(id)) throw Object.assign(new Error("upload exists"), { code: "EEXIST" });
    this.#uploads.set(id, { chunks: [], size: 0, modifiedAt: new Date() });
  }

  async uploadSize(id: string): Promise<number | undefined> {
    return this.#uploads.get(id)?.size;
  }

  async appendUpload(
    id: string,
    data: AsyncIterable<Uint8Array>,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    const upload = this.#upload(id);
    let written = 0;
    try {
      for await (const chunk of data) {
        onChunk?.(chunk);
        upload.chunks.push(Buffer.from(chunk));
        upload.size += chunk.byteLength;
        written += chunk.byteLength;
      }
    } catch (error) {
      throw Object.assign(error as Error, { bytesWritten: written });
    } finally {
      upload.modifiedAt = new Date();
    }
    return written;
  }

  async readUpload(id: string): Promise<Readable> {
    const upload = this.#upload(id);
    return Readable.from([Buffer.concat(upload.chunks)]);
  }

  async commitUpload(id: string, digest: Digest): Promise<void> {
    const upload = this.#upload(id);
    this.#blobs.set(digest, Buffer.concat(upload.chunks));
    this.#uploads.delete(id);
  }

  async deleteUpload(id: string): Promise<void> {
    this.#uploads.delete(id);
  }

  async listUploads(): Promise<UploadInfo[]> {
    return [...this.#uploads].map(([id, u]) => ({ id, size: u.size, modifiedAt: u.modifiedAt }));
  }

  async check(): Promise<void> {}

  /** The upload's state; the same id rule as the filesystem store, so tests here hold on disk. */
  #upload(id: string): MemoryUpload {
    const upload = this.#uploads.get(assertUploadId(id));
    if (!upload) throw new UploadNotFound(id);
    return upload;
  }
}
