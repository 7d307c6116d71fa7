/**
 * The Registry's own surface beside the distribution API: health, the catalogue's reads, the
 * uploads gauge, and how typed store errors surface. The stores stay private to the Registry;
 * tests that need to reach behind it keep their own reference to the stores they passed in.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { Registry } from "../../src/registry/registry.ts";
import { MemoryBlobStore } from "../../src/registry/storage/memory-blob-store.ts";

async function* bytes(data: Buffer | string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(data);
}

async function withRegistry(
  body: (ctx: { registry: Registry; blobs: MemoryBlobStore; metadata: SqliteMetadataStore }) => Promise<void>,
  blobs = new MemoryBlobStore(),
): Promise<void> {
  const metadata = new SqliteMetadataStore(":memory:");
  try {
    await body({ registry: new Registry({ blobs, metadata, index: metadata }), blobs, metadata });
  } finally {
    await metadata.close();
  }
}

/** Pushes a config blob and a manifest naming it, tagged `tag`. */
async function pushImage(registry: Registry, repository: string, tag: string) {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", tag }));
  await registry.putBlob(repository, digestOf(config), bytes(config));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: digestOf(config),
        size: config.length,
      },
      layers: [],
    }),
  );
  const { digest } = await registry.putManifest(repository, tag, manifest, MediaType.OciManifest);
  return { config, digest };
}

describe("Registry health", () => {
  test("reports storage then metadata, healthy, with a duration", () =>
    withRegistry(async ({ registry }) => {
      const checks = await registry.health();
      assert.deepEqual(
        checks.map(({ name, status, message }) => ({ name, status, message })),
        [
          { name: "storage", status: "healthy", message: undefined },
          { name: "metadata", status: "healthy", message: undefined },
        ],
      );
      for (const check of checks) assert.ok(check.durationMs >= 0, check.name);
    }));

  test("a failing blob store is unhealthy with its message; the metadata check still runs", () => {
    class BrokenBlobs extends MemoryBlobStore {
      override async check(): Promise<void> {
        throw new Error("disk gone");
      }
    }
    return withRegistry(async ({ registry }) => {
      const [storage, metadata] = await registry.health();
      assert.equal(storage?.status, "unhealthy");
      assert.equal(storage?.message, "disk gone");
      assert.equal(metadata?.status, "healthy");
    }, new BrokenBlobs());
  });

  test("a closed metadata store is unhealthy, and health() does not throw", () =>
    withRegistry(async ({ registry, metadata }) => {
      await metadata.close();
      const [storage, meta] = await registry.health();
      assert.equal(storage?.status, "healthy");
      assert.equal(meta?.name, "metadata");
      assert.equal(meta?.status, "unhealthy");
      assert.ok(meta?.message, "the store's error is shown");
    }));
});

describe("Registry catalogue reads", () => {
  test("stats, repository summaries, tag records and resolveTag reflect pushes", () =>
    withRegistry(async ({ registry }) => {
      assert.deepEqual(await registry.stats(), {
        repositories: 0,
        manifests: 0,
        tags: 0,
        blobs: 0,
        blobBytes: 0,
      });
      const { config, digest } = await pushImage(registry, "app", "v1");
      const other = await pushImage(registry, "other", "latest");

      const stats = await registry.stats();
      assert.equal(stats.repositories, 2);
      assert.equal(stats.manifests, 2);
      assert.equal(stats.tags, 2);
      assert.equal(stats.blobs, 2);
      assert.equal(stats.blobBytes, config.length + other.config.length);

      const summaries = await registry.repositorySummaries();
      assert.deepEqual(
        summaries.map(({ name, tags, bytes }) => ({ name, tags, bytes })),
        [
          { name: "app", tags: 1, bytes: config.length },
          { name: "other", tags: 1, bytes: other.config.length },
        ],
      );

      const records = await registry.listTagRecords("app");
      assert.deepEqual(
        records?.map(({ tag, digest, mediaType }) => ({ tag, digest, mediaType })),
        [{ tag: "v1", digest, mediaType: MediaType.OciManifest }],
      );
      assert.equal(await registry.listTagRecords("nowhere"), undefined);

      assert.equal(await registry.resolveTag("app", "v1"), digest);
      assert.equal(await registry.resolveTag("app", "v2"), undefined);
    }));
});

describe("Registry uploads", () => {
  test("uploadsInProgress counts sessions until they are completed or cancelled", () =>
    withRegistry(async ({ registry }) => {
      assert.equal(await registry.uploadsInProgress(), 0);
      const kept = await registry.startUpload("app");
      const dropped = await registry.startUpload("app");
      assert.equal(await registry.uploadsInProgress(), 2);
      await registry.cancelUpload("app", dropped);
      assert.equal(await registry.uploadsInProgress(), 1);
      await registry.completeUpload("app", kept, digestOf("done"), bytes("done"));
      assert.equal(await registry.uploadsInProgress(), 0);
    }));

  test("an upload whose bytes vanished from the store is BLOB_UPLOAD_UNKNOWN, not a store error", () =>
    withRegistry(async ({ registry, blobs }) => {
      const id = await registry.startUpload("app");
      await blobs.deleteUpload(id); // as a lost disk or an external clean-up would
      await assert.rejects(registry.completeUpload("app", id, digestOf("late"), bytes("late")), {
        code: "BLOB_UPLOAD_UNKNOWN",
      });
    }));

  test("a blob whose bytes vanished is BLOB_UNKNOWN when read or confirmed, not a store error", () =>
    withRegistry(async ({ registry, blobs }) => {
      const digest = digestOf("gone");
      await registry.putBlob("app", digest, bytes("gone"));
      await blobs.delete(digest);
      const blob = await registry.getBlob("app", digest);
      assert.equal(blob.size, 4, "the metadata still knows the blob");
      await assert.rejects(blob.open(), { code: "BLOB_UNKNOWN" });
      // A HEAD asks the store too (a quarantined blob must be pushed again, not skipped).
      await assert.rejects(registry.getBlob("app", digest, { confirmStored: true }), {
        code: "BLOB_UNKNOWN",
      });
    }));
});
