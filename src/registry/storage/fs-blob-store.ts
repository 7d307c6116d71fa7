import {
  close as closeCallback,
  constants,
  fstat as fstatCallback,
  open as openCallback,
  read as readCallback,
} from "node:fs";
import { access, mkdir, open, opendir, readdir, rename, rm, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import type { Digest } from "../../oci/digest.ts";
import { blobReadBuffers } from "../../util/buffer-pool.ts";
import { fsyncPath } from "../../util/fs.ts";
import { blobPath, blobsDir, digestOfBlobFile, quarantinePath, uploadPath, uploadsDir } from "../layout.ts";
import {
  type BlobStore,
  type ByteRange,
  type StorageSpaceInfo,
  UPLOAD_ID_PATTERN,
  type UploadInfo,
} from "./blob-store.ts";
import { BlobNotFound, UploadNotFound } from "./errors.ts";
import { UploadWriter } from "./upload-writer.ts";

/**
 * Blobs on the local filesystem, under blobs/ and uploads/ of the data directory (the paths are
 * built in ../layout.ts, which documents them). A commit fsyncs the upload, renames it into
 * place (atomic on one filesystem) and fsyncs the directory, so a blob is either wholly there
 * or not there at all after a crash.
 */
export class FsBlobStore implements BlobStore {
  readonly #root: string;
  readonly #blobsDir: string;
  readonly #uploadsDir: string;

  constructor(root: string) {
    this.#root = root;
    this.#blobsDir = blobsDir(root);
    this.#uploadsDir = uploadsDir(root);
  }

  async init(): Promise<this> {
    await mkdir(this.#blobsDir, { recursive: true });
    await mkdir(this.#uploadsDir, { recursive: true });
    return this;
  }

  #blobPath(digest: Digest): string {
    return blobPath(this.#root, digest);
  }

  #uploadPath(id: string): string {
    return uploadPath(this.#root, id);
  }

  async stat(digest: Digest): Promise<{ size: number } | undefined> {
    try {
      const info = await stat(this.#blobPath(digest));
      return { size: info.size };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async read(digest: Digest, range?: ByteRange): Promise<AsyncIterable<Uint8Array>> {
    return orNotFound(
      openChunks(this.#blobPath(digest), range),
      (cause) => new BlobNotFound(digest, { cause }),
    );
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.#blobPath(digest), { force: true });
  }

  async *list(): AsyncIterable<Digest> {
    for (const algorithm of await readdirOrEmpty(this.#blobsDir)) {
      for (const prefix of await readdirOrEmpty(join(this.#blobsDir, algorithm))) {
        const dir = await opendir(join(this.#blobsDir, algorithm, prefix));
        for await (const entry of dir) {
          if (entry.isFile()) yield digestOfBlobFile(algorithm, entry.name);
        }
      }
    }
  }

  async quarantine(digest: Digest): Promise<boolean> {
    const target = quarantinePath(this.#root, digest);
    await mkdir(join(target, ".."), { recursive: true });
    try {
      // A rename within the data directory: no copy, and the blob is gone from blobs/ at once.
      await rename(this.#blobPath(digest), target);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    await fsyncPath(join(target, ".."));
    return true;
  }

  async space(): Promise<StorageSpaceInfo> {
    const info = await statfs(this.#root);
    // bavail, not bfree: the blocks kept for root are not ours to count on.
    return { free: info.bavail * info.bsize, total: info.blocks * info.bsize };
  }

  async createUpload(id: string): Promise<void> {
    const handle = await open(this.#uploadPath(id), "wx");
    await handle.close();
  }

  async uploadSize(id: string): Promise<number | undefined> {
    try {
      return (await stat(this.#uploadPath(id))).size;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async appendUpload(
    id: string,
    data: AsyncIterable<Uint8Array>,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    // No O_CREAT: appending to an upload that was cancelled must fail, not resurrect it.
    const handle = await orNotFound(
      open(this.#uploadPath(id), constants.O_WRONLY),
      (cause) => new UploadNotFound(id, { cause }),
    );
    let start: number;
    try {
      start = (await handle.stat()).size;
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    // Copies into pooled buffers, writes them several at a time (see upload-writer.ts).
    const writer = new UploadWriter(handle, start);
    try {
      for await (const chunk of data) {
        onChunk?.(chunk);
        await writer.add(chunk);
      }
      return await writer.finish();
    } catch (error) {
      throw Object.assign(error as Error, { bytesWritten: await writer.abort() });
    } finally {
      writer.closeAfterWriteback();
    }
  }

  async readUpload(id: string): Promise<Readable> {
    const chunks = await orNotFound(
      openChunks(this.#uploadPath(id)),
      (cause) => new UploadNotFound(id, { cause }),
    );
    return Readable.from(chunks, { objectMode: false });
  }

  async commitUpload(id: string, digest: Digest): Promise<void> {
    const source = this.#uploadPath(id);
    const target = this.#blobPath(digest);
    const missing = (cause: unknown) => new UploadNotFound(id, { cause });
    await orNotFound(fsyncPath(source), missing);
    const targetDir = join(target, "..");
    await mkdir(targetDir, { recursive: true });
    await orNotFound(rename(source, target), missing);
    // Only the new name must be durable; should the old one reappear after a crash, it is
    // just a stale upload that expiry removes.
    await fsyncPath(targetDir);
  }

  async deleteUpload(id: string): Promise<void> {
    await rm(this.#uploadPath(id), { force: true });
  }

  async listUploads(): Promise<UploadInfo[]> {
    const uploads: UploadInfo[] = [];
    for (const name of await readdirOrEmpty(this.#uploadsDir)) {
      if (!UPLOAD_ID_PATTERN.test(name)) continue;
      try {
        const info = await stat(join(this.#uploadsDir, name));
        uploads.push({ id: name, size: info.size, modifiedAt: info.mtime });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return uploads;
  }

  async check(): Promise<void> {
    await access(this.#blobsDir, constants.R_OK | constants.W_OK);
    await access(this.#uploadsDir, constants.R_OK | constants.W_OK);
  }
}

const openFd = promisify(openCallback);
const readFd = promisify(readCallback);
const closeFd = promisify(closeCallback);

/** Reads kept in flight ahead of the consumer, so disk reads overlap socket writes. */
const READ_AHEAD = 3;

/**
 * Opens first, so a missing file rejects here instead of erroring later mid-response. Then
 * streams the file with a few reads in flight: a plain createReadStream reads only after the
 * socket drained, leaving the disk and the network idle in turn (half the throughput here).
 */
async function openChunks(path: string, range?: ByteRange): Promise<AsyncIterable<Uint8Array>> {
  const fd = await openFd(path, "r");
  const start = range?.start ?? 0;
  let end: number;
  try {
    end = range ? range.end + 1 : (await promisify(fstatCallback)(fd)).size;
  } catch (error) {
    await closeFd(fd);
    throw error;
  }
  return readAhead(fd, start, end);
}

async function* readAhead(fd: number, start: number, end: number): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer>[] = [];
  let next = start;
  const issue = () => {
    while (pending.length < READ_AHEAD && next < end) {
      const length = Math.min(blobReadBuffers.bufferSize, end - next);
      const position = next;
      next += length;
      const buffer = blobReadBuffers.acquire();
      pending.push(
        readFd(fd, buffer, 0, length, position).then(({ bytesRead }) => {
          if (bytesRead !== length) throw new Error(`short read at ${position}: file changed while reading`);
          return buffer.subarray(0, length);
        }),
      );
    }
  };
  try {
    issue();
    while (pending.length > 0) {
      const chunk = await pending.shift()!;
      issue();
      yield chunk;
    }
  } finally {
    // Let reads still in flight finish before the fd goes away, then close it.
    await Promise.allSettled(pending);
    await closeFd(fd);
  }
}

async function readdirOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ENOENT";
}

/** The result of `work`, with a missing file (ENOENT) turned into the store's typed error. */
async function orNotFound<T>(work: Promise<T>, notFound: (cause: unknown) => Error): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw isNotFound(error) ? notFound(error) : error;
  }
}
