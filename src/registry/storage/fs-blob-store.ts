import { constants, createReadStream } from "node:fs";
import { access, mkdir, open, opendir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { type Digest, parseDigest } from "../../oci/digest.ts";
import { type BlobStore, type ByteRange, UPLOAD_ID_PATTERN, type UploadInfo } from "./blob-store.ts";

/** Gather small request chunks into writes of about this size: fewer syscalls on big pushes. */
const WRITE_BATCH_BYTES = 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Blobs on the local filesystem:
 *   <root>/blobs/<algorithm>/<first two hex>/<hex>   committed, immutable
 *   <root>/uploads/<uuid>                            in progress
 * A commit fsyncs the upload, renames it into place (atomic on one filesystem) and fsyncs
 * the directory, so a blob is either wholly there or not there at all after a crash.
 */
export class FsBlobStore implements BlobStore {
  readonly #blobsDir: string;
  readonly #uploadsDir: string;

  constructor(root: string) {
    this.#blobsDir = join(root, "blobs");
    this.#uploadsDir = join(root, "uploads");
  }

  async init(): Promise<this> {
    await mkdir(this.#blobsDir, { recursive: true });
    await mkdir(this.#uploadsDir, { recursive: true });
    return this;
  }

  #blobPath(digest: Digest): string {
    // parseDigest guarantees a known algorithm and a hex encoding: no path can escape the root.
    const { algorithm, hex } = parseDigest(digest);
    return join(this.#blobsDir, algorithm, hex.slice(0, 2), hex);
  }

  #uploadPath(id: string): string {
    if (!UPLOAD_ID_PATTERN.test(id)) throw new Error(`invalid upload id ${JSON.stringify(id)}`);
    return join(this.#uploadsDir, id);
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

  async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    return openStream(this.#blobPath(digest), range);
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.#blobPath(digest), { force: true });
  }

  async *list(): AsyncIterable<Digest> {
    for (const algorithm of await readdirOrEmpty(this.#blobsDir)) {
      for (const prefix of await readdirOrEmpty(join(this.#blobsDir, algorithm))) {
        const dir = await opendir(join(this.#blobsDir, algorithm, prefix));
        for await (const entry of dir) {
          if (entry.isFile()) yield `${algorithm}:${entry.name}` as Digest;
        }
      }
    }
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
    const handle = await open(this.#uploadPath(id), constants.O_WRONLY | constants.O_APPEND);
    let written = 0;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batchBytes === 0) return;
      const buffers = batch;
      const bytes = batchBytes;
      batch = [];
      batchBytes = 0;
      await handle.writev(buffers);
      written += bytes;
    };
    try {
      for await (const chunk of data) {
        onChunk?.(chunk);
        batch.push(chunk);
        batchBytes += chunk.byteLength;
        if (batchBytes >= WRITE_BATCH_BYTES) await flush();
      }
      await flush();
    } catch (error) {
      // Keep what arrived before the client went away: it can resume from here.
      await flush().catch(() => {});
      throw Object.assign(error as Error, { bytesWritten: written });
    } finally {
      await handle.close();
    }
    return written;
  }

  async readUpload(id: string): Promise<Readable> {
    return openStream(this.#uploadPath(id));
  }

  async commitUpload(id: string, digest: Digest): Promise<void> {
    const source = this.#uploadPath(id);
    const target = this.#blobPath(digest);
    const handle = await open(source, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const targetDir = join(target, "..");
    await mkdir(targetDir, { recursive: true });
    await rename(source, target);
    // Only the new name must be durable; should the old one reappear after a crash, it is
    // just a stale upload that expiry removes.
    await fsyncDir(targetDir);
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

/** Opens first, so a missing file rejects here instead of erroring later mid-response. */
async function openStream(path: string, range?: ByteRange): Promise<Readable> {
  const handle = await open(path, "r");
  return createReadStream("", {
    fd: handle,
    start: range?.start,
    end: range?.end,
    highWaterMark: READ_CHUNK_BYTES,
  });
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
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

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ENOENT";
}
