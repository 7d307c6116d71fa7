/**
 * The contract every RegistryIndex implementation must honour. A backend's test file calls
 * `registryIndexContract("name", makeStores)`; each test gets a fresh, empty MetadataStore and
 * the RegistryIndex over the same data (for SQLite one object is both), writes through the
 * MetadataStore and checks what the index reports. Figures are exact and follow every write
 * at once: the local catalogue source derives its cache version from stats().
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MediaType } from "../../src/oci/media-types.ts";
import type { MetadataStore } from "../../src/registry/metadata/metadata-store.ts";
import type { RegistryIndex } from "../../src/registry/metadata/registry-index.ts";
import { blob, manifest } from "./metadata-store.contract.ts";

export interface RegistryIndexFixture {
  /** Where the test writes. */
  metadata: MetadataStore;
  /** What is checked: the index over `metadata`'s data. */
  index: RegistryIndex;
  cleanup(): Promise<void>;
}

export function registryIndexContract(name: string, makeStores: () => Promise<RegistryIndexFixture>): void {
  const withStores = async (body: (stores: RegistryIndexFixture) => Promise<void>) => {
    const stores = await makeStores();
    try {
      await body(stores);
    } finally {
      await stores.cleanup();
    }
  };

  describe(`RegistryIndex contract: ${name}`, () => {
    test("an empty registry has zero counts, no summaries and no tag records", () =>
      withStores(async ({ index }) => {
        assert.deepEqual(await index.stats(), {
          repositories: 0,
          manifests: 0,
          tags: 0,
          blobs: 0,
          blobBytes: 0,
        });
        assert.deepEqual(await index.repositorySummaries(), []);
        assert.equal(await index.listTagRecords("a"), undefined);
      }));

    describe("stats follow the data model", () => {
      test("a blob linked into several repositories counts once", () =>
        withStores(async ({ metadata, index }) => {
          const digest = blob("x");
          await metadata.linkBlob("one", digest, 1234);
          await metadata.linkBlob("one", digest, 1234);
          await metadata.linkBlob("two", digest, 1234);
          const stats = await index.stats();
          assert.equal(stats.blobs, 1);
          assert.equal(stats.blobBytes, 1234);
        }));

      test("blob bytes beyond 4 GiB are summed exactly", () =>
        withStores(async ({ metadata, index }) => {
          const size = 5 * 1024 ** 3 + 7;
          await metadata.linkBlob("big", blob("big"), size);
          assert.equal((await index.stats()).blobBytes, size);
        }));

      test("a blob no repository links any more counts until garbage collection removes it", () =>
        withStores(async ({ metadata, index }) => {
          const digest = blob("shared");
          await metadata.linkBlob("a", digest, 10);
          await metadata.linkBlob("b", digest, 10);
          await metadata.unlinkBlob("a", digest);
          await metadata.unlinkBlob("b", digest);
          // Its bytes are still stored: the figures say so until a sweep removes it.
          assert.equal((await index.stats()).blobs, 1);
          await metadata.sweep({ before: Date.now() + 1000, untagged: false, dryRun: false });
          assert.deepEqual(await index.stats(), {
            repositories: 0,
            manifests: 0,
            tags: 0,
            blobs: 0,
            blobBytes: 0,
          });
        }));

      test("a tag moved to another manifest counts once, and both manifests count", () =>
        withStores(async ({ metadata, index }) => {
          await metadata.putManifest("repo", manifest("first"), "latest");
          await metadata.putManifest("repo", manifest("second"), "latest");
          const stats = await index.stats();
          assert.equal(stats.tags, 1);
          assert.equal(stats.manifests, 2);
        }));

      test("a manifest pushed again, under several tags, counts once", () =>
        withStores(async ({ metadata, index }) => {
          const record = manifest("multi");
          await metadata.putManifest("repo", record, "a");
          await metadata.putManifest("repo", record, "b");
          await metadata.putManifest("repo", record);
          assert.equal((await index.stats()).manifests, 1);
        }));

      test("deleting a manifest removes it and the tags pointing at it from the counts", () =>
        withStores(async ({ metadata, index }) => {
          const doomed = manifest("doomed");
          await metadata.putManifest("repo", doomed, "a");
          await metadata.putManifest("repo", doomed, "b");
          await metadata.putManifest("repo", manifest("kept"), "c");
          await metadata.deleteManifest("repo", doomed.digest);
          const stats = await index.stats();
          assert.equal(stats.manifests, 1);
          assert.equal(stats.tags, 1);
        }));
    });

    describe("stats, summaries and tag records", () => {
      test("stats counts repositories, manifests, tags, and each blob's bytes once", () =>
        withStores(async ({ metadata, index }) => {
          await metadata.linkBlob("a", blob("x"), 100);
          await metadata.linkBlob("b", blob("x"), 100);
          await metadata.linkBlob("c", blob("x"), 100);
          await metadata.linkBlob("a", blob("y"), 50);
          await metadata.putManifest("a", manifest("m1"), "t1");
          await metadata.putManifest("a", manifest("m2"), "t2");
          await metadata.putManifest("b", manifest("m1"), "t1");
          await metadata.putManifest("d", manifest("m3"));
          // Repositories holding a manifest (c has only a blob: it is not listed either).
          assert.deepEqual(await index.stats(), {
            repositories: 3,
            manifests: 4,
            tags: 3,
            blobs: 2,
            blobBytes: 150,
          });
          // Unlinked, y is still stored (and counted) until garbage collection.
          await metadata.unlinkBlob("a", blob("y"));
          assert.equal((await index.stats()).blobBytes, 150);
        }));

      test("repositorySummaries: tags, linked bytes (each blob once), shared bytes, last change, signed", () =>
        withStores(async ({ metadata, index }) => {
          assert.deepEqual(await index.repositorySummaries(), []);
          await metadata.linkBlob("a", blob("x"), 100);
          await metadata.linkBlob("b", blob("x"), 100);
          await metadata.linkBlob("a", blob("y"), 50);
          await metadata.linkBlob("a", blob("y"), 50);
          const image = manifest("img");
          await metadata.putManifest("a", image, "t1");
          await metadata.putManifest("a", manifest("m2"), "t2");
          await metadata.putManifest("b", manifest("m1"), "t1");
          await metadata.putManifest(
            "b",
            manifest("sig", {
              subject: image.digest,
              artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
            }),
          );
          await metadata.putManifest("c", manifest("tagsig"), `sha256-${"0".repeat(64)}.sig`);
          await metadata.linkBlob("d", blob("z"), 7);
          const before = Date.now();
          const summaries = await index.repositorySummaries();
          assert.deepEqual(
            summaries.map(({ updatedAt: _, ...rest }) => rest),
            [
              { name: "a", tags: 2, bytes: 150, sharedBytes: 100, signed: false },
              { name: "b", tags: 1, bytes: 100, sharedBytes: 100, signed: true },
              { name: "c", tags: 1, bytes: 0, sharedBytes: 0, signed: true },
            ],
            "d holds no manifest: it is not listed",
          );
          for (const summary of summaries) {
            assert.ok(
              summary.updatedAt && summary.updatedAt <= before && summary.updatedAt > before - 60_000,
            );
          }
        }));

      test("listTagRecords: every tag with digest, media type and time, by tag; undefined when unknown", () =>
        withStores(async ({ metadata, index }) => {
          assert.equal(await index.listTagRecords("nope"), undefined);
          const one = manifest("one");
          const two = manifest("two", { mediaType: MediaType.OciIndex });
          await metadata.putManifest("r", one, "b");
          await metadata.putManifest("r", two, "a");
          await metadata.putManifest("r", one, "c");
          const records = await index.listTagRecords("r");
          assert.deepEqual(
            records?.map(({ updatedAt: _, ...rest }) => rest),
            [
              { tag: "a", digest: two.digest, mediaType: MediaType.OciIndex },
              { tag: "b", digest: one.digest, mediaType: MediaType.OciManifest },
              { tag: "c", digest: one.digest, mediaType: MediaType.OciManifest },
            ],
          );
          assert.ok(records!.every((record) => record.updatedAt > 0));
          await metadata.putManifest("empty", manifest("untagged"));
          assert.deepEqual(await index.listTagRecords("empty"), []);
        }));
    });
  });
}
