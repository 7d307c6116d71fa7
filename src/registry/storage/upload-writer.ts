/**
 * Appends a request body to an upload file: the body's chunks are copied into pooled buffers
 * and written from there, several positional writes in flight, writeback started early.
 *
 * Why a copy: node:http hands every body chunk over as a fresh 64 KiB ArrayBuffer. Held until
 * their writes were done (a few MiB of them at any time), some outlived two scavenges and
 * reached V8's old generation, where only a mark-compact frees them: a run of 256 MiB pushes
 * kept up to 70 MiB of dead chunks as external memory. Copied at once, a chunk dies young and
 * the scavenger frees it (external memory stayed at ~23 MiB); the copy is a memcpy per byte.
 */
import type { FileHandle } from "node:fs/promises";
import { BufferPool } from "../../util/buffer-pool.ts";

/**
 * Bytes per write. Not more: on Linux 6.18 (ext4), writes of 1 MiB (aligned, as these are)
 * cost ~1.5× the system time of the same bytes in 256 or 512 KiB writes, whether from one
 * buffer or several (measured side by side, 256 MiB pushes).
 */
const WRITE_BYTES = 256 * 1024;
/** Writes in flight: the socket keeps receiving while the disk writes (awaiting each halved throughput). */
const WRITES_IN_FLIGHT = 4;
/** Start writeback every this many bytes, so the fsync at commit has little left to do. */
const EARLY_SYNC_BYTES = 32 * 1024 * 1024;

/** Buffers of upload bodies: one upload holds at most WRITES_IN_FLIGHT + 1 of them. */
export const uploadBuffers = new BufferPool(WRITE_BYTES, 4 * (WRITES_IN_FLIGHT + 1));

export class UploadWriter {
  readonly #handle: FileHandle;
  readonly #start: number;
  /** Where the next write goes: the bytes before it are written or being written. */
  #position: number;
  /**
   * The first chunk of a write, not copied yet: a body of one chunk (a config blob, a small
   * layer, a manifest-sized PATCH) is written from it directly and takes no pooled buffer.
   */
  #held: Uint8Array | undefined;
  /** The pooled buffer gathering the next write, filled up to #filled. */
  #buffer: Buffer | undefined;
  #filled = 0;
  readonly #inFlight: Promise<void>[] = [];
  #failedAt: number | undefined;
  #syncedTo: number;
  #syncing: Promise<void> | undefined;

  constructor(handle: FileHandle, start: number) {
    this.#handle = handle;
    this.#start = start;
    this.#position = start;
    this.#syncedTo = start;
  }

  /** Takes a chunk (the caller may drop it at once); resolves when the writer can take more. */
  async add(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    if (this.#buffer === undefined && this.#held === undefined) {
      this.#held = chunk;
      return;
    }
    if (this.#held !== undefined) {
      const held = this.#held;
      this.#held = undefined;
      await this.#copy(held);
    }
    await this.#copy(chunk);
  }

  /** Writes everything taken and waits for every write; rejects with the first failure. Answers the bytes written. */
  async finish(): Promise<number> {
    this.#flush();
    await this.#settle();
    return this.#position - this.#start;
  }

  /**
   * After the body failed: writes what arrived (a client can resume from there) and waits; a
   * failed write cuts the file back to where it began, so there is never a hole. Answers the
   * bytes that are in the file.
   */
  async abort(): Promise<number> {
    this.#flush();
    await this.#settle().catch(() => {});
    if (this.#failedAt !== undefined) await this.#handle.truncate(this.#failedAt).catch(() => {});
    return (this.#failedAt ?? this.#position) - this.#start;
  }

  /**
   * Writeback of what was written goes on after the response (a chunked push's PATCHes each
   * start theirs, and the fsync at commit is left with little to do); the handle closes after it.
   */
  closeAfterWriteback(): void {
    if (this.#buffer) uploadBuffers.release(this.#buffer);
    this.#buffer = undefined;
    const handle = this.#handle;
    const syncing = this.#syncing ?? Promise.resolve();
    const tail = this.#position > this.#syncedTo ? syncing.then(() => handle.datasync()) : syncing;
    void tail.catch(() => {}).finally(() => handle.close().catch(() => {}));
  }

  async #copy(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#buffer === undefined) {
        this.#buffer = uploadBuffers.acquire();
        this.#filled = 0;
      }
      const n = Math.min(chunk.byteLength - offset, WRITE_BYTES - this.#filled);
      this.#buffer.set(n === chunk.byteLength ? chunk : chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === WRITE_BYTES) {
        this.#flush();
        if (this.#inFlight.length >= WRITES_IN_FLIGHT) await this.#inFlight.shift();
      }
    }
  }

  /** Starts the write of what is gathered (the held chunk or the buffer). */
  #flush(): void {
    const buffer = this.#buffer;
    const bytes = this.#held ?? buffer?.subarray(0, this.#filled);
    this.#held = undefined;
    this.#buffer = undefined;
    this.#filled = 0;
    if (!bytes || bytes.byteLength === 0) {
      if (buffer) uploadBuffers.release(buffer);
      return;
    }
    const at = this.#position;
    this.#position += bytes.byteLength;
    const write = writeAll(this.#handle, bytes, at)
      .catch((error: unknown) => {
        this.#failedAt = Math.min(this.#failedAt ?? at, at);
        throw error;
      })
      .finally(() => {
        if (buffer) uploadBuffers.release(buffer);
      });
    // Failures are collected by #settle (or the await in #copy); until then none is unhandled.
    write.catch(() => {});
    this.#inFlight.push(write);
    if (this.#position - this.#syncedTo >= EARLY_SYNC_BYTES && !this.#syncing) {
      // One writeback at a time, after the writes so far.
      this.#syncedTo = this.#position;
      const handle = this.#handle;
      this.#syncing = Promise.allSettled(this.#inFlight)
        .then(() => handle.datasync())
        .catch(() => {})
        .finally(() => {
          this.#syncing = undefined;
        });
    }
  }

  async #settle(): Promise<void> {
    const results = await Promise.allSettled(this.#inFlight.splice(0));
    const failure = results.find((r) => r.status === "rejected");
    if (failure) throw (failure as PromiseRejectedResult).reason;
  }
}

/** Writes all of `bytes` at `position`, going on after a short write. */
async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    if (bytesWritten === 0) throw new Error(`no progress writing at ${position + done}`);
    done += bytesWritten;
  }
}
