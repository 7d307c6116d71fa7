/**
 * Writes that fail for want of space, whatever the reserve said: ENOSPC from the blob store in
 * the middle of an upload, and SQLite's SQLITE_FULL from the metadata store, become STORAGE_FULL
 * (507) with the registry's message, never a 500, and an upload that failed that way is
 * discarded whole, never half-committed. A store that reports its space gets a "disk" readiness
 * check; one that does not (memory, object storage) gets none and no reserve.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { RegistryError } from "../../src/oci/errors.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import type { ManifestRecord } from "../../src/registry/metadata/metadata-store.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { Registry } from "../../src/registry/registry.ts";
import type { StorageSpaceInfo } from "../../src/registry/storage/blob-store.ts";
import { MemoryBlobStore } from "../../src/registry/storage/memory-blob-store.ts";

const MiB = 1024 * 1024;

/** A memory store on a "disk" of `capacity` bytes: appends past it fail with ENOSPC. */
class SmallDisk extends MemoryBlobStore {
  capacity: number;
  used = 0;
  reportSpace: boolean;

  constructor(capacity: number, options: { reportSpace?: boolean } = {}) {
    super();
    this.capacity = capacity;
    this.reportSpace = options.reportSpace ?? false;
    if (!this.reportSpace) (this as { space?: unknown }).space = undefined;
  }

  override async appendUpload(
    id: string,
    data: AsyncIterable<Uint8Array>,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<number> {
    const disk = this;
    async function* limited() {
      for await (const chunk of data) {
        if (disk.used + chunk.byteLength > disk.capacity) {
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        }
        disk.used += chunk.byteLength;
        yield chunk;
      }
    }
    return super.appendUpload(id, limited(), onChunk);
  }

  override async deleteUpload(id: string): Promise<void> {
    this.used -= (await this.uploadSize(id)) ?? 0;
    await super.deleteUpload(id);
  }

  async space(): Promise<StorageSpaceInfo> {
    return { free: this.capacity - this.used, total: this.capacity };
  }
}

async function* chunks(count: number, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, i);
}

function storageFull(error: unknown): boolean {
  assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`);
  assert.equal(error.code, "STORAGE_FULL");
  assert.equal(error.status, 507);
  assert.match(error.message, /^the registry's storage is full/);
  return true;
}

async function withRegistry(
  blobs: MemoryBlobStore,
  body: (registry: Registry, metadata: SqliteMetadataStore) => Promise<void>,
  options: { reserve?: number } = {},
): Promise<void> {
  const metadata = new SqliteMetadataStore(":memory:");
  try {
    await body(new Registry({ blobs, metadata, index: metadata, reserve: options.reserve }), metadata);
  } finally {
    await metadata.close();
  }
}

describe("writes that run out of space", () => {
  test("ENOSPC in the middle of a chunk: STORAGE_FULL, and the upload is gone, bytes and session", async () => {
    const blobs = new SmallDisk(3 * MiB);
    await withRegistry(blobs, async (registry) => {
      const id = await registry.startUpload("team/app");
      await registry.appendChunk("team/app", id, chunks(2, MiB));
      await assert.rejects(registry.appendChunk("team/app", id, chunks(4, MiB)), storageFull);
      await assert.rejects(registry.uploadStatus("team/app", id), { code: "BLOB_UPLOAD_UNKNOWN" });
      assert.deepEqual(await blobs.listUploads(), []);
      assert.equal(await registry.uploadsInProgress(), 0);
    });
  });

  test("ENOSPC in a monolithic push: STORAGE_FULL, nothing committed, nothing left", async () => {
    const blobs = new SmallDisk(MiB);
    await withRegistry(blobs, async (registry) => {
      const data = Buffer.alloc(2 * MiB, 7);
      await assert.rejects(registry.putBlob("team/app", digestOf(data), chunks(2, MiB)), storageFull);
      assert.equal(await blobs.stat(digestOf(data)), undefined);
      assert.deepEqual(await blobs.listUploads(), []);
    });
  });

  test("SQLITE_FULL from the metadata store: STORAGE_FULL, not a 500", async () => {
    await withRegistry(new MemoryBlobStore(), async (registry, metadata) => {
      const config = Buffer.from("{}");
      await registry.putBlob(
        "team/app",
        digestOf(config),
        (async function* () {
          yield config;
        })(),
      );
      metadata.putManifest = async (_repository: string, _manifest: ManifestRecord) => {
        throw Object.assign(new Error("database or disk is full"), { code: "ERR_SQLITE_ERROR", errcode: 13 });
      };
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: {
            mediaType: "application/vnd.oci.image.config.v1+json",
            digest: digestOf(config),
            size: 2,
          },
          layers: [],
        }),
      );
      await assert.rejects(
        registry.putManifest("team/app", "v1", manifest, MediaType.OciManifest),
        (error) => {
          assert.ok(error instanceof RegistryError);
          assert.equal(error.code, "STORAGE_FULL");
          return true;
        },
      );
    });
  });

  test("a store reporting its space is guarded by the reserve and checked by /readyz; one that does not is not", async () => {
    const reporting = new SmallDisk(40 * MiB, { reportSpace: true });
    await withRegistry(
      reporting,
      async (registry) => {
        assert.deepEqual(
          (await registry.health()).map((check) => [check.name, check.status]),
          [
            ["storage", "healthy"],
            ["metadata", "healthy"],
            ["disk", "healthy"],
          ],
        );
        const id = await registry.startUpload("team/app");
        // 40 MiB free, 16 MiB reserve: the chunk that would cross it is refused before it is
        // written (a 40 MiB disk with no reserve would have hit ENOSPC at its 41st MiB).
        let taken = 0;
        const watched = (async function* () {
          for await (const chunk of chunks(30, MiB)) {
            taken = Math.max(taken, reporting.used);
            yield chunk;
          }
        })();
        await assert.rejects(registry.appendChunk("team/app", id, watched), storageFull);
        assert.equal(taken, 24 * MiB, "no byte written past the reserve");
        assert.equal(reporting.used, 0, "the refused upload was discarded, its space given back");
        const disk = (await registry.health()).find((check) => check.name === "disk");
        assert.equal(disk?.status, "healthy");
        const space = await registry.space();
        assert.equal(space?.reserve, 16 * MiB);
      },
      { reserve: 16 * MiB },
    );
    const plain = new SmallDisk(MiB);
    await withRegistry(plain, async (registry) => {
      assert.deepEqual(
        (await registry.health()).map((check) => check.name),
        ["storage", "metadata"],
      );
      assert.equal(await registry.space(), undefined);
    });
  });
});
