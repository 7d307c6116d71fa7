/**
 * The contract every MetadataStore implementation must honour. A backend's test file calls
 * `metadataStoreContract("name", makeStore)`; each test gets a fresh, empty store and cleans it
 * up (the contract closes the store itself in the test of close()). The catalogue's figures
 * over the same data (stats, summaries, tag records, pull statistics written by recordPulls) are
 * RegistryIndex's contract, in ./registry-index.contract.ts.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { type Digest, digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import type { ManifestRecord, MetadataStore } from "../../src/registry/metadata/metadata-store.ts";

export interface MetadataStoreFixture {
  store: MetadataStore;
  cleanup(): Promise<void>;
}

/** A manifest record whose content is a small, unique JSON document. */
export function manifest(seed: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, seed }));
  return {
    digest: digestOf(content),
    mediaType: MediaType.OciManifest,
    content,
    blobs: [],
    children: [],
    ...extra,
  };
}

/** A blob digest that stands for `seed` (no bytes are stored: metadata only records digests). */
export const blob = (seed: string): Digest => digestOf(`blob:${seed}`);

function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array, message?: string): void {
  assert.ok(actual, message ?? "expected bytes");
  assert.deepEqual(Buffer.from(actual), Buffer.from(expected), message);
}

export function metadataStoreContract(name: string, makeStore: () => Promise<MetadataStoreFixture>): void {
  const withStore = async (body: (store: MetadataStore) => Promise<void>) => {
    const { store, cleanup } = await makeStore();
    try {
      await body(store);
    } finally {
      await cleanup();
    }
  };

  describe(`MetadataStore contract: ${name}`, () => {
    test("an empty store knows nothing and passes check()", () =>
      withStore(async (store) => {
        await store.check();
        assert.deepEqual(await store.listRepositories({ limit: 100 }), []);
        assert.equal(await store.repositoryExists("a"), false);
        assert.equal(await store.listTags("a", { limit: 100 }), undefined);
        assert.deepEqual(await store.listUploads(), []);
      }));

    describe("repositories", () => {
      test("are listed in lexical order with last/limit pagination", () =>
        withStore(async (store) => {
          const names = ["b", "a/b", "ab", "a", "a-b", "a_b", "a.b", "z/y/x", "0"];
          for (const [i, repository] of names.entries()) {
            if (i % 2 === 0) await store.linkBlob(repository, blob(repository), 1);
            else await store.putManifest(repository, manifest(repository));
          }
          const sorted = [...names].sort();
          assert.deepEqual(sorted, ["0", "a", "a-b", "a.b", "a/b", "a_b", "ab", "b", "z/y/x"]);
          assert.deepEqual(await store.listRepositories({ limit: 100 }), sorted);
          assert.deepEqual(await store.listRepositories({ limit: 3 }), sorted.slice(0, 3));
          assert.deepEqual(await store.listRepositories({ last: "a", limit: 3 }), ["a-b", "a.b", "a/b"]);
          assert.deepEqual(await store.listRepositories({ last: "a/b", limit: 100 }), sorted.slice(5));
          // `last` need not be an existing name.
          assert.deepEqual(await store.listRepositories({ last: "aa", limit: 2 }), ["ab", "b"]);
          assert.deepEqual(await store.listRepositories({ last: "z/y/x", limit: 10 }), []);
          assert.deepEqual(await store.listRepositories({ last: "zzz", limit: 10 }), []);

          // Paging through with a small limit visits every name exactly once.
          const paged: string[] = [];
          let last: string | undefined;
          for (;;) {
            const page = await store.listRepositories({ last, limit: 2 });
            if (page.length === 0) break;
            assert.ok(page.length <= 2);
            paged.push(...page);
            last = page.at(-1);
          }
          assert.deepEqual(paged, sorted);
          for (const repository of names) assert.equal(await store.repositoryExists(repository), true);
          assert.equal(await store.repositoryExists("a/b/c"), false);
          assert.equal(await store.repositoryExists("A"), false);
        }));
    });

    describe("blobs", () => {
      test("linkBlob records the blob and links it into one repository only", () =>
        withStore(async (store) => {
          const digest = blob("x");
          await store.linkBlob("one", digest, 1234);
          assert.equal(await store.linkedBlobSize("one", digest), 1234);
          assert.equal(await store.linkedBlobSize("two", digest), undefined);
          assert.equal(await store.blobSize(digest), 1234);
          assert.equal(await store.blobSize(blob("unknown")), undefined);
          assert.equal(await store.linkedBlobSize("one", blob("unknown")), undefined);
          assert.equal(await store.repositoryExists("one"), true);
          assert.equal(await store.repositoryExists("two"), false);

          // Linking again is harmless; linking elsewhere shares the same blob.
          await store.linkBlob("one", digest, 1234);
          await store.linkBlob("two", digest, 1234);
          assert.equal(await store.linkedBlobSize("two", digest), 1234);
        }));

      test("sizes beyond 4 GiB survive", () =>
        withStore(async (store) => {
          const size = 5 * 1024 ** 3 + 7;
          await store.linkBlob("big", blob("big"), size);
          assert.equal(await store.linkedBlobSize("big", blob("big")), size);
          assert.equal(await store.blobSize(blob("big")), size);
        }));

      test("unlinkBlob reports orphaned only when no repository links the blob any more", () =>
        withStore(async (store) => {
          const digest = blob("shared");
          await store.linkBlob("a", digest, 10);
          await store.linkBlob("b", digest, 10);

          assert.deepEqual(await store.unlinkBlob("a", digest), { unlinked: true, orphaned: false });
          assert.equal(await store.linkedBlobSize("a", digest), undefined);
          assert.equal(await store.linkedBlobSize("b", digest), 10);
          assert.equal(await store.blobSize(digest), 10);

          assert.deepEqual(await store.unlinkBlob("a", digest), { unlinked: false, orphaned: false });
          assert.deepEqual(await store.unlinkBlob("c", digest), { unlinked: false, orphaned: false });

          assert.deepEqual(await store.unlinkBlob("b", digest), { unlinked: true, orphaned: true });
          assert.equal(await store.linkedBlobSize("b", digest), undefined);
          assert.equal(await store.blobSize(digest), undefined);

          assert.deepEqual(await store.unlinkBlob("b", digest), { unlinked: false, orphaned: false });
          assert.deepEqual(await store.unlinkBlob("a", blob("never")), { unlinked: false, orphaned: false });

          // A blob can be linked again after it was orphaned.
          await store.linkBlob("a", digest, 10);
          assert.equal(await store.linkedBlobSize("a", digest), 10);
        }));

      test("missingBlobs lists each digest not linked into the repository once", () =>
        withStore(async (store) => {
          const [x, y, z, w] = [blob("x"), blob("y"), blob("z"), blob("w")];
          await store.linkBlob("repo", x, 1);
          await store.linkBlob("repo", y, 2);
          await store.linkBlob("other", z, 3);
          assert.deepEqual(await store.missingBlobs("repo", []), []);
          assert.deepEqual(await store.missingBlobs("repo", [x, y]), []);
          assert.deepEqual(
            await store.missingBlobs("repo", [x, z]),
            [z],
            "linked elsewhere is still missing here",
          );
          assert.deepEqual((await store.missingBlobs("repo", [w, x, z, w, y, z])).sort(), [w, z].sort());
          assert.deepEqual((await store.missingBlobs("nowhere", [x, y])).sort(), [x, y].sort());
        }));

      test("missingManifests lists each manifest not in the repository once", () =>
        withStore(async (store) => {
          const m1 = manifest("m1");
          const m2 = manifest("m2");
          const m3 = manifest("m3");
          await store.putManifest("repo", m1);
          await store.putManifest("repo", m2, "v2");
          await store.putManifest("other", m3);
          assert.deepEqual(await store.missingManifests("repo", []), []);
          assert.deepEqual(await store.missingManifests("repo", [m1.digest, m2.digest]), []);
          assert.deepEqual(
            (await store.missingManifests("repo", [m3.digest, m1.digest, m3.digest, blob("q")])).sort(),
            [m3.digest, blob("q")].sort(),
          );
          await store.deleteManifest("repo", m1.digest);
          assert.deepEqual(await store.missingManifests("repo", [m1.digest, m2.digest]), [m1.digest]);
        }));
    });

    describe("manifests and tags", () => {
      test("putManifest without a tag stores exact bytes and media type, reachable by digest only", () =>
        withStore(async (store) => {
          // Content is a view into a larger buffer: only the view's bytes may be stored.
          const backing = Buffer.from(
            'XXXX{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}YYYY',
          );
          const content = backing.subarray(4, backing.byteLength - 4);
          const record = manifest("ignored", {
            content,
            digest: digestOf(content),
            mediaType: MediaType.OciIndex,
          });
          await store.putManifest("repo", record);
          const stored = await store.getManifestByDigest("repo", record.digest);
          assert.ok(stored);
          assert.equal(stored.digest, record.digest);
          assert.equal(stored.mediaType, MediaType.OciIndex);
          sameBytes(stored.content, content);
          assert.equal(await store.getManifestByDigest("other", record.digest), undefined);
          assert.equal(await store.getManifestByDigest("repo", manifest("absent").digest), undefined);
          assert.equal(await store.getManifestByTag("repo", "latest"), undefined);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), []);
          assert.equal(await store.repositoryExists("repo"), true);
        }));

      test("putManifest with a tag makes it reachable by tag", () =>
        withStore(async (store) => {
          const record = manifest("tagged", { mediaType: MediaType.DockerManifest });
          await store.putManifest("repo", record, "v1");
          const byTag = await store.getManifestByTag("repo", "v1");
          assert.ok(byTag);
          assert.equal(byTag.digest, record.digest);
          assert.equal(byTag.mediaType, MediaType.DockerManifest);
          sameBytes(byTag.content, record.content);
          assert.equal(await store.getManifestByTag("repo", "V1"), undefined, "tags are case-sensitive");
          assert.equal(await store.getManifestByTag("other", "v1"), undefined);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), ["v1"]);
          assert.equal(await store.resolveTag("repo", "v1"), record.digest);
          assert.equal(await store.resolveTag("repo", "v2"), undefined);
          assert.equal(await store.resolveTag("other", "v1"), undefined);
        }));

      test("linkBlob with a finished upload removes that upload session in the same step", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload({ id, repository: "repo", createdAt: Date.now() });
          await store.linkBlob("repo", blob("finished"), 7, id);
          assert.equal(await store.getUpload(id), undefined);
          assert.equal(await store.linkedBlobSize("repo", blob("finished")), 7);
        }));

      test("binary content round-trips unchanged", () =>
        withStore(async (store) => {
          const content = new Uint8Array(256).map((_, i) => i);
          const record = manifest("binary", { content, digest: digestOf(content) });
          await store.putManifest("repo", record, "bin");
          sameBytes((await store.getManifestByDigest("repo", record.digest))?.content, content);
          sameBytes((await store.getManifestByTag("repo", "bin"))?.content, content);
        }));

      test("a tag moves to a new digest; the old manifest stays reachable by digest", () =>
        withStore(async (store) => {
          const first = manifest("first");
          const second = manifest("second");
          await store.putManifest("repo", first, "latest");
          await store.putManifest("repo", second, "latest");
          assert.equal((await store.getManifestByTag("repo", "latest"))?.digest, second.digest);
          sameBytes((await store.getManifestByTag("repo", "latest"))?.content, second.content);
          assert.equal((await store.getManifestByDigest("repo", first.digest))?.digest, first.digest);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), ["latest"]);
          // Moving it back works too.
          await store.putManifest("repo", first, "latest");
          assert.equal((await store.getManifestByTag("repo", "latest"))?.digest, first.digest);
        }));

      test("one manifest can carry several tags and be pushed again harmlessly", () =>
        withStore(async (store) => {
          const record = manifest("multi");
          await store.putManifest("repo", record, "a");
          await store.putManifest("repo", record, "b");
          await store.putManifest("repo", record);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), ["a", "b"]);
          sameBytes((await store.getManifestByTag("repo", "a"))?.content, record.content);
        }));

      test("the same manifest in two repositories is independent", () =>
        withStore(async (store) => {
          const record = manifest("shared");
          await store.putManifest("one", record, "t");
          await store.putManifest("two", record, "t");
          assert.equal(await store.deleteManifest("one", record.digest), true);
          assert.equal(await store.getManifestByDigest("one", record.digest), undefined);
          assert.equal((await store.getManifestByTag("two", "t"))?.digest, record.digest);
        }));

      test("deleteManifest removes the manifest and every tag pointing at it, nothing else", () =>
        withStore(async (store) => {
          const doomed = manifest("doomed");
          const kept = manifest("kept");
          await store.putManifest("repo", doomed, "a");
          await store.putManifest("repo", doomed, "b");
          await store.putManifest("repo", kept, "c");
          assert.equal(await store.deleteManifest("repo", doomed.digest), true);
          assert.equal(await store.getManifestByDigest("repo", doomed.digest), undefined);
          assert.equal(await store.getManifestByTag("repo", "a"), undefined);
          assert.equal(await store.getManifestByTag("repo", "b"), undefined);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), ["c"]);
          assert.equal((await store.getManifestByTag("repo", "c"))?.digest, kept.digest);
          assert.equal(await store.deleteManifest("repo", doomed.digest), false);
          assert.equal(await store.deleteManifest("nowhere", doomed.digest), false);
        }));

      test("deleteTag removes only the tag", () =>
        withStore(async (store) => {
          const record = manifest("tagged");
          await store.putManifest("repo", record, "a");
          await store.putManifest("repo", record, "b");
          assert.equal(await store.deleteTag("repo", "a"), true);
          assert.equal(await store.deleteTag("repo", "a"), false);
          assert.equal(await store.deleteTag("repo", "never"), false);
          assert.equal(await store.deleteTag("nowhere", "b"), false);
          assert.equal(await store.getManifestByTag("repo", "a"), undefined);
          assert.equal((await store.getManifestByTag("repo", "b"))?.digest, record.digest);
          assert.equal((await store.getManifestByDigest("repo", record.digest))?.digest, record.digest);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), ["b"]);
        }));

      test("listTags is lexical with last/limit pagination; undefined for an unknown repository", () =>
        withStore(async (store) => {
          const tags = ["v2", "latest", "1.0", "V2", "a_b", "v10", "v1", "_x", "1.0-rc.1", "a"];
          for (const [i, tag] of tags.entries()) await store.putManifest("repo", manifest(`t${i % 3}`), tag);
          const sorted = [...tags].sort();
          assert.deepEqual(sorted, ["1.0", "1.0-rc.1", "V2", "_x", "a", "a_b", "latest", "v1", "v10", "v2"]);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), sorted);
          assert.deepEqual(await store.listTags("repo", { limit: 3 }), sorted.slice(0, 3));
          assert.deepEqual(await store.listTags("repo", { last: "V2", limit: 3 }), ["_x", "a", "a_b"]);
          assert.deepEqual(await store.listTags("repo", { last: "b", limit: 100 }), [
            "latest",
            "v1",
            "v10",
            "v2",
          ]);
          assert.deepEqual(await store.listTags("repo", { last: "v2", limit: 100 }), []);

          const paged: string[] = [];
          let last: string | undefined;
          for (;;) {
            const page = await store.listTags("repo", { last, limit: 3 });
            assert.ok(page);
            if (page.length === 0) break;
            paged.push(...page);
            last = page.at(-1);
          }
          assert.deepEqual(paged, sorted);

          assert.equal(await store.listTags("unknown", { limit: 100 }), undefined);
          assert.equal(await store.listTags("unknown", { last: "a", limit: 1 }), undefined);
        }));

      test("a repository with blobs but no tags lists no tags", () =>
        withStore(async (store) => {
          await store.linkBlob("blobs-only", blob("b"), 1);
          assert.deepEqual(await store.listTags("blobs-only", { limit: 100 }), []);
        }));
    });

    describe("referrers", () => {
      test("listReferrers returns manifests with that subject in that repository, with artifactType and annotations", () =>
        withStore(async (store) => {
          const subject = manifest("subject");
          const other = manifest("other subject");
          await store.putManifest("repo", subject, "v1");
          const sbom = manifest("sbom", {
            subject: subject.digest,
            artifactType: "application/vnd.example.sbom.v1",
            annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z", "x.y": "z" },
          });
          const signature = manifest("signature", {
            subject: subject.digest,
            mediaType: MediaType.OciIndex,
          });
          const unrelated = manifest("unrelated", {
            subject: other.digest,
            artifactType: "application/x-other",
          });
          const elsewhere = manifest("elsewhere", {
            subject: subject.digest,
            artifactType: "application/x-else",
          });
          await store.putManifest("repo", sbom);
          await store.putManifest("repo", signature);
          await store.putManifest("repo", unrelated);
          await store.putManifest("other-repo", elsewhere);

          const referrers = (await store.listReferrers("repo", subject.digest)).sort((a, b) =>
            a.digest.localeCompare(b.digest),
          );
          const expected = [
            {
              mediaType: MediaType.OciManifest,
              digest: sbom.digest,
              size: sbom.content.byteLength,
              artifactType: "application/vnd.example.sbom.v1",
              annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z", "x.y": "z" },
            },
            { mediaType: MediaType.OciIndex, digest: signature.digest, size: signature.content.byteLength },
          ].sort((a, b) => a.digest.localeCompare(b.digest));
          assert.deepEqual(referrers, expected);

          assert.deepEqual(await store.listReferrers("repo", manifest("nobody").digest), []);
          assert.deepEqual(await store.listReferrers("nowhere", subject.digest), []);
          assert.deepEqual(
            (await store.listReferrers("other-repo", subject.digest)).map((r) => r.digest),
            [elsewhere.digest],
          );
        }));

      test("referrers may arrive before their subject", () =>
        withStore(async (store) => {
          const subject = manifest("late subject");
          const referrer = manifest("early", {
            subject: subject.digest,
            artifactType: "application/x-early",
          });
          await store.putManifest("repo", referrer);
          assert.deepEqual(
            (await store.listReferrers("repo", subject.digest)).map((r) => r.digest),
            [referrer.digest],
          );
        }));

      test("deleting a referrer removes its entry; deleting the subject keeps the others", () =>
        withStore(async (store) => {
          const subject = manifest("subject");
          const a = manifest("a", { subject: subject.digest, artifactType: "application/x-a" });
          const b = manifest("b", { subject: subject.digest, artifactType: "application/x-b" });
          await store.putManifest("repo", subject);
          await store.putManifest("repo", a);
          await store.putManifest("repo", b, "sig");
          assert.equal(await store.deleteManifest("repo", a.digest), true);
          assert.deepEqual(
            (await store.listReferrers("repo", subject.digest)).map((r) => r.digest),
            [b.digest],
          );
          assert.equal(await store.deleteManifest("repo", b.digest), true);
          assert.deepEqual(await store.listReferrers("repo", subject.digest), []);
        }));
    });

    describe("upload sessions", () => {
      test("create, get, list and delete", () =>
        withStore(async (store) => {
          const a = { id: randomUUID(), repository: "repo/a", createdAt: 1_700_000_000_000 };
          const b = { id: randomUUID(), repository: "repo/b", createdAt: 1_700_000_001_000 };
          await store.createUpload(a);
          await store.createUpload(b);
          assert.deepEqual(await store.getUpload(a.id), a);
          assert.deepEqual(await store.getUpload(b.id), b);
          assert.equal(await store.getUpload(randomUUID()), undefined);
          assert.deepEqual(
            (await store.listUploads()).sort((x, y) => x.createdAt - y.createdAt),
            [a, b],
          );
          await store.deleteUpload(a.id);
          assert.equal(await store.getUpload(a.id), undefined);
          assert.deepEqual(await store.listUploads(), [b]);
          await store.deleteUpload(a.id);
          await store.deleteUpload(randomUUID());
          assert.deepEqual(await store.listUploads(), [b]);
        }));

      test("creating a session with an id already in use rejects and keeps the first", () =>
        withStore(async (store) => {
          const session = { id: randomUUID(), repository: "first", createdAt: 1 };
          await store.createUpload(session);
          await assert.rejects(store.createUpload({ ...session, repository: "second" }));
          assert.deepEqual(await store.getUpload(session.id), session);
        }));
    });

    describe("pull statistics", () => {
      // What they add up to is read through RegistryIndex: registry-index.contract.ts.
      test("recordPulls leaves the data model alone, even for what does not exist", () =>
        withStore(async (store) => {
          const image = manifest("image");
          await store.putManifest("app", image, "v1");
          await store.recordPulls({ manifests: [], tags: [] });
          await store.recordPulls({
            manifests: [
              { repository: "app", digest: image.digest, pulls: 2, lastPulledAt: 1 },
              { repository: "ghost", digest: image.digest, pulls: 1, lastPulledAt: 1 },
            ],
            tags: [
              { repository: "app", tag: "v1", lastPulledAt: 1 },
              { repository: "app", tag: "ghost", lastPulledAt: 1 },
            ],
          });
          assert.deepEqual(await store.listRepositories({ limit: 10 }), ["app"]);
          assert.deepEqual(await store.listTags("app", { limit: 10 }), ["v1"]);
          assert.equal((await store.getManifestByTag("app", "v1"))?.digest, image.digest);
        }));
    });

    describe("check and close", () => {
      test("check() resolves and close() can be called twice", () =>
        withStore(async (store) => {
          await store.check();
          await store.close();
          await store.close();
        }));
    });
  });
}
