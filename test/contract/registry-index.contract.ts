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
              { name: "a", tags: 2, bytes: 150, sharedBytes: 100, signed: false, pulls: 0 },
              { name: "b", tags: 1, bytes: 100, sharedBytes: 100, signed: true, pulls: 0 },
              { name: "c", tags: 1, bytes: 0, sharedBytes: 0, signed: true, pulls: 0 },
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
              { tag: "a", digest: two.digest, mediaType: MediaType.OciIndex, pulls: 0 },
              { tag: "b", digest: one.digest, mediaType: MediaType.OciManifest, pulls: 0 },
              { tag: "c", digest: one.digest, mediaType: MediaType.OciManifest, pulls: 0 },
            ],
          );
          assert.ok(records!.every((record) => record.updatedAt > 0));
          await metadata.putManifest("empty", manifest("untagged"));
          assert.deepEqual(await index.listTagRecords("empty"), []);
        }));

      test("listManifestEntries: every manifest, tagged or not, with push time, subject and children", () =>
        withStores(async ({ metadata, index }) => {
          assert.equal(await index.listManifestEntries("nope"), undefined);
          const amd64 = manifest("amd64");
          const arm64 = manifest("arm64");
          const list = manifest("list", {
            mediaType: MediaType.OciIndex,
            children: [arm64.digest, amd64.digest],
          });
          const signature = manifest("sig", { subject: list.digest, artifactType: "application/x-sig" });
          const before = Date.now();
          for (const record of [amd64, arm64, signature]) await metadata.putManifest("r", record);
          await metadata.putManifest("r", list, "latest");
          const entries = await index.listManifestEntries("r");
          const expected = [
            { digest: amd64.digest, mediaType: MediaType.OciManifest, children: [], pulls: 0 },
            { digest: arm64.digest, mediaType: MediaType.OciManifest, children: [], pulls: 0 },
            {
              digest: list.digest,
              mediaType: MediaType.OciIndex,
              children: [amd64.digest, arm64.digest].sort(),
              pulls: 0,
            },
            {
              digest: signature.digest,
              mediaType: MediaType.OciManifest,
              subject: list.digest,
              children: [],
              pulls: 0,
            },
          ].sort((a, b) => (a.digest < b.digest ? -1 : 1));
          assert.deepEqual(
            entries?.map(({ pushedAt: _, ...rest }) => rest),
            expected,
          );
          assert.ok(
            entries!.every((entry) => entry.pushedAt >= before - 1000 && entry.pushedAt <= Date.now()),
          );
        }));
    });

    describe("pull statistics (written by MetadataStore.recordPulls)", () => {
      const pulls = (
        manifests: [string, string, number, number][],
        tags: [string, string, number][] = [],
      ) => ({
        manifests: manifests.map(([repository, digest, count, lastPulledAt]) => ({
          repository,
          digest: digest as ReturnType<typeof blob>,
          pulls: count,
          lastPulledAt,
        })),
        tags: tags.map(([repository, tag, lastPulledAt]) => ({ repository, tag, lastPulledAt })),
      });

      test("counts add up and the latest time wins, in tag records, summaries, manifest entries and stats", () =>
        withStores(async ({ metadata, index }) => {
          const image = manifest("image");
          const other = manifest("other");
          await metadata.putManifest("app", image, "v1");
          await metadata.putManifest("app", image, "stable");
          await metadata.putManifest("app", other, "v2");
          await metadata.putManifest("quiet", manifest("quiet"), "v1");
          await metadata.recordPulls(pulls([["app", image.digest, 3, 5_000]], [["app", "v1", 5_000]]));
          // An older batch (written late) adds its count but does not move the time back.
          await metadata.recordPulls(
            pulls(
              [
                ["app", image.digest, 2, 4_000],
                ["app", other.digest, 1, 6_000],
              ],
              [["app", "v1", 1_000]],
            ),
          );
          const tags = await index.listTagRecords("app");
          assert.deepEqual(
            tags?.map(({ tag, pulls: count, lastPulledAt }) => ({ tag, pulls: count, lastPulledAt })),
            [
              { tag: "stable", pulls: 5, lastPulledAt: 5_000 },
              { tag: "v1", pulls: 5, lastPulledAt: 5_000 },
              { tag: "v2", pulls: 1, lastPulledAt: 6_000 },
            ],
          );
          const summaries = await index.repositorySummaries();
          assert.deepEqual(
            summaries.map(({ name, pulls: count, lastPulledAt }) => ({ name, pulls: count, lastPulledAt })),
            [
              { name: "app", pulls: 6, lastPulledAt: 6_000 },
              { name: "quiet", pulls: 0, lastPulledAt: undefined },
            ],
          );
          const entries = await index.listManifestEntries("app");
          const byDigest = new Map(entries?.map((entry) => [entry.digest, entry]));
          assert.equal(byDigest.get(image.digest)?.pulls, 5);
          assert.equal(byDigest.get(image.digest)?.lastPulledAt, 5_000);
          assert.equal((await index.stats()).lastPulledAt, 6_000);
          assert.equal(
            (await index.listTagRecords("quiet"))?.[0]?.lastPulledAt,
            undefined,
            "never pulled: no time",
          );
        }));

      test("a tag's last pull is the later of a pull by its name and a pull of its manifest", () =>
        withStores(async ({ metadata, index }) => {
          const image = manifest("image");
          await metadata.putManifest("app", image, "by-name");
          await metadata.putManifest("app", image, "by-digest");
          await metadata.recordPulls(pulls([["app", image.digest, 1, 2_000]], [["app", "by-name", 9_000]]));
          const tags = await index.listTagRecords("app");
          assert.deepEqual(
            tags?.map(({ tag, lastPulledAt }) => [tag, lastPulledAt]),
            [
              ["by-digest", 2_000],
              ["by-name", 9_000],
            ],
          );
        }));

      test("statistics of a manifest or tag that does not exist are dropped", () =>
        withStores(async ({ metadata, index }) => {
          const image = manifest("image");
          await metadata.putManifest("app", image, "v1");
          await metadata.recordPulls(
            pulls(
              [
                ["app", manifest("never pushed").digest, 4, 1_000],
                ["nowhere", image.digest, 4, 1_000],
              ],
              [
                ["app", "no-such-tag", 1_000],
                ["nowhere", "v1", 1_000],
              ],
            ),
          );
          await metadata.recordPulls(pulls([]));
          assert.equal(await metadata.repositoryExists("nowhere"), false, "no repository is made");
          assert.deepEqual(
            (await index.repositorySummaries()).map((s) => [s.name, s.pulls]),
            [["app", 0]],
          );
          assert.equal((await index.listTagRecords("app"))?.[0]?.lastPulledAt, undefined);
          assert.equal((await index.stats()).lastPulledAt, undefined);
        }));

      test("deleting a tag removes its pull time; deleting a manifest removes its statistics and its tags'", () =>
        withStores(async ({ metadata, index }) => {
          const image = manifest("image");
          const kept = manifest("kept");
          await metadata.putManifest("app", image, "a");
          await metadata.putManifest("app", image, "b");
          await metadata.putManifest("app", kept, "c");
          await metadata.recordPulls(
            pulls(
              [
                ["app", image.digest, 2, 3_000],
                ["app", kept.digest, 1, 1_000],
              ],
              [
                ["app", "a", 3_000],
                ["app", "c", 1_000],
              ],
            ),
          );
          await metadata.deleteTag("app", "a");
          // Pushed again, the tag starts without the old name's pull time (its manifest's remains).
          await metadata.putManifest("app", kept, "a");
          assert.equal((await index.listTagRecords("app"))?.find((t) => t.tag === "a")?.lastPulledAt, 1_000);
          await metadata.deleteManifest("app", image.digest);
          await metadata.putManifest("app", image, "b");
          const tags = await index.listTagRecords("app");
          assert.deepEqual(
            tags?.map(({ tag, pulls: count, lastPulledAt }) => [tag, count, lastPulledAt]),
            [
              ["a", 1, 1_000],
              ["b", 0, undefined],
              ["c", 1, 1_000],
            ],
          );
          assert.equal((await index.repositorySummaries())[0]?.pulls, 1);
        }));
    });
  });
}
