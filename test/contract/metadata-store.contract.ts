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
            await store.putManifest(repository, manifest(repository));
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

      test("only repositories holding a manifest are listed", () =>
        withStore(async (store) => {
          await store.linkBlob("blobs-only", blob("b"), 1);
          const m = manifest("m");
          await store.putManifest("emptied", m, "v1");
          await store.putManifest("kept", manifest("k"));
          assert.deepEqual(await store.listRepositories({ limit: 10 }), ["emptied", "kept"]);
          await store.deleteManifest("emptied", m.digest);
          assert.deepEqual(await store.listRepositories({ limit: 10 }), ["kept"]);
          assert.deepEqual(await store.listRepositories({ limit: 10 }, { all: true }), [
            "blobs-only",
            "emptied",
            "kept",
          ]);
          assert.deepEqual(await store.listRepositories({ last: "blobs-only", limit: 1 }, { all: true }), [
            "emptied",
          ]);
          // Still known to the API (NAME_UNKNOWN versus BLOB_UNKNOWN) until garbage collection.
          assert.equal(await store.repositoryExists("emptied"), true);
          assert.equal(await store.repositoryExists("blobs-only"), true);
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

      test("unlinkBlob removes one repository's link and keeps the blob's row", () =>
        withStore(async (store) => {
          const digest = blob("shared");
          await store.linkBlob("a", digest, 10);
          await store.linkBlob("b", digest, 10);

          assert.equal(await store.unlinkBlob("a", digest), true);
          assert.equal(await store.linkedBlobSize("a", digest), undefined);
          assert.equal(await store.linkedBlobSize("b", digest), 10);
          assert.equal(await store.unlinkBlob("a", digest), false);
          assert.equal(await store.unlinkBlob("c", digest), false);
          assert.equal(await store.unlinkBlob("b", digest), true);
          assert.equal(await store.linkedBlobSize("b", digest), undefined);
          // Only garbage collection removes a blob.
          assert.equal(await store.blobSize(digest), 10);
          assert.equal(await store.unlinkBlob("a", blob("never")), false);

          await store.linkBlob("a", digest, 10);
          assert.equal(await store.linkedBlobSize("a", digest), 10);
        }));

      test("mountBlob links what the source repository links, and nothing else", () =>
        withStore(async (store) => {
          const digest = blob("mounted");
          await store.linkBlob("from", digest, 42);
          assert.equal(await store.mountBlob("to", "from", digest), 42);
          assert.equal(await store.linkedBlobSize("to", digest), 42);
          assert.equal(await store.repositoryExists("to"), true);
          assert.equal(await store.mountBlob("third", "nowhere", digest), undefined);
          assert.equal(await store.mountBlob("third", "from", blob("other")), undefined);
          assert.equal(await store.repositoryExists("third"), false);
        }));

      test("repositoriesWithBlob lists the repositories linking a blob, by name, in pages", () =>
        withStore(async (store) => {
          const [x, y] = [blob("x"), blob("y")];
          for (const repository of ["c/app", "a/app", "b/app", "d/app"])
            await store.linkBlob(repository, x, 5);
          await store.linkBlob("e/app", y, 6);
          assert.deepEqual(await store.repositoriesWithBlob(x, { limit: 10 }), [
            "a/app",
            "b/app",
            "c/app",
            "d/app",
          ]);
          assert.deepEqual(await store.repositoriesWithBlob(x, { limit: 2 }), ["a/app", "b/app"]);
          assert.deepEqual(await store.repositoriesWithBlob(x, { last: "b/app", limit: 2 }), [
            "c/app",
            "d/app",
          ]);
          assert.deepEqual(await store.repositoriesWithBlob(x, { last: "d/app", limit: 2 }), []);
          assert.deepEqual(await store.repositoriesWithBlob(blob("never"), { limit: 10 }), []);
          await store.unlinkBlob("b/app", x);
          assert.deepEqual(await store.repositoriesWithBlob(x, { limit: 10 }), ["a/app", "c/app", "d/app"]);
        }));

      test("putManifest refuses, writing nothing, when a required reference is missing or of another size", () =>
        withStore(async (store) => {
          const [x, y] = [blob("x"), blob("y")];
          await store.linkBlob("repo", x, 1);
          await store.linkBlob("other", y, 2);
          const child = manifest("child");
          await store.putManifest("repo", child);
          const childSize = child.content.byteLength;
          const required = (blobs: [Digest, number][], manifests: [Digest, number][] = []) => ({
            blobs: blobs.map(([digest, size]) => ({ digest, size })),
            manifests: manifests.map(([digest, size]) => ({ digest, size })),
          });

          const linkedElsewhere = manifest("needs-y", { blobs: [x, y] });
          assert.deepEqual(
            await store.putManifest(
              "repo",
              linkedElsewhere,
              "v1",
              required([
                [x, 1],
                [y, 2],
              ]),
            ),
            { kind: "blob", digest: y, problem: "missing" },
            "linked elsewhere is still missing here",
          );
          const wrongSize = manifest("wrong-size", { blobs: [x] });
          assert.deepEqual(await store.putManifest("repo", wrongSize, "v1", required([[x, 5]])), {
            kind: "blob",
            digest: x,
            problem: "size",
            stated: 5,
            stored: 1,
          });
          const missingChild = manifest("index", { children: [manifest("absent").digest] });
          assert.deepEqual(
            await store.putManifest(
              "repo",
              missingChild,
              "v1",
              required([], [[manifest("absent").digest, 9]]),
            ),
            { kind: "manifest", digest: manifest("absent").digest, problem: "missing" },
          );
          for (const refused of [linkedElsewhere, wrongSize, missingChild]) {
            assert.equal(await store.getManifestByDigest("repo", refused.digest), undefined);
          }
          assert.equal(await store.resolveTag("repo", "v1"), undefined);

          const good = manifest("good", { blobs: [x], children: [child.digest] });
          assert.equal(
            await store.putManifest("repo", good, "v1", required([[x, 1]], [[child.digest, childSize]])),
            undefined,
          );
          assert.equal(await store.resolveTag("repo", "v1"), good.digest);
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

      test("putManifest with several tags points each of them at it; one moved from elsewhere moves", () =>
        withStore(async (store) => {
          const first = manifest("first");
          const record = manifest("several");
          await store.putManifest("repo", first, "latest");
          await store.putManifest("repo", record, ["1.2.3", "1.2", "latest", "1.2"]);
          assert.deepEqual(await store.listTags("repo", { limit: 100 }), ["1.2", "1.2.3", "latest"]);
          for (const tag of ["1.2.3", "1.2", "latest"]) {
            assert.equal(await store.resolveTag("repo", tag), record.digest, tag);
          }
          await store.putManifest("repo", first, []);
          assert.equal(await store.resolveTag("repo", "latest"), record.digest, "no tags: none moved");
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

    describe("manifest references (for a scrub)", () => {
      /** Everything manifestReferences() yields, with the references sorted for comparison. */
      const allReferences = async (store: MetadataStore, pageSize?: number) => {
        const found = [];
        for await (const entry of store.manifestReferences(pageSize ? { pageSize } : undefined)) {
          found.push({
            ...entry,
            references: [...entry.references].sort((a, b) => a.digest.localeCompare(b.digest)),
          });
        }
        return found;
      };

      test("an empty store has no manifests to list", () =>
        withStore(async (store) => {
          assert.deepEqual(await allReferences(store), []);
        }));

      test("lists each manifest once per repository with its blobs and children, and whether each is there", () =>
        withStore(async (store) => {
          const [config, layer, gone] = [blob("config"), blob("layer"), blob("unlinked later")];
          for (const digest of [config, layer, gone]) await store.linkBlob("team/app", digest, 10);
          const image = manifest("image", { blobs: [config, layer, gone] });
          const child = manifest("child", { blobs: [config] });
          const leaving = manifest("deleted later", { blobs: [config] });
          await store.putManifest("team/app", image, "v1");
          await store.putManifest("team/app", child);
          await store.putManifest("team/app", leaving);
          const index = manifest("index", {
            mediaType: MediaType.OciIndex,
            children: [child.digest, leaving.digest],
          });
          await store.putManifest("team/app", index, "multi");
          await store.linkBlob("other", config, 10);
          await store.putManifest("other", image);
          // What a broken repository looks like: a blob link and a child manifest gone.
          await store.unlinkBlob("team/app", gone);
          await store.deleteManifest("team/app", leaving.digest);

          const ref = (digest: Digest, kind: "blob" | "manifest", present: boolean) => ({
            digest,
            kind,
            present,
          });
          const sorted = <T extends { digest: Digest }>(refs: T[]) =>
            [...refs].sort((a, b) => a.digest.localeCompare(b.digest));
          const expected = [
            {
              repository: "other",
              digest: image.digest,
              references: sorted([
                ref(config, "blob", true),
                ref(layer, "blob", false),
                ref(gone, "blob", false),
              ]),
            },
            ...[
              { digest: child.digest, references: [ref(config, "blob", true)] },
              {
                digest: image.digest,
                references: sorted([
                  ref(config, "blob", true),
                  ref(layer, "blob", true),
                  ref(gone, "blob", false),
                ]),
              },
              {
                digest: index.digest,
                references: sorted([
                  ref(child.digest, "manifest", true),
                  ref(leaving.digest, "manifest", false),
                ]),
              },
            ]
              .map((entry) => ({ repository: "team/app", ...entry }))
              .sort((a, b) => a.digest.localeCompare(b.digest)),
          ];
          assert.deepEqual(await allReferences(store), expected);
          // Small pages give the same answer, each manifest once.
          assert.deepEqual(await allReferences(store, 1), expected);
          assert.deepEqual(await allReferences(store, 2), expected);
        }));

      test("pages through many manifests in (repository, digest) order", () =>
        withStore(async (store) => {
          const written: string[] = [];
          for (let i = 0; i < 45; i++) {
            const repository = `repo-${i % 4}`;
            const record = manifest(`m${i}`);
            await store.putManifest(repository, record);
            written.push(`${repository}@${record.digest}`);
          }
          const listed = (await allReferences(store, 7)).map(
            (entry) => `${entry.repository}@${entry.digest}`,
          );
          assert.deepEqual(listed, [...written].sort());
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

    describe("storage usage (quotas)", () => {
      test("storageUsage counts each distinct blob and manifest of the repositories once", () =>
        withStore(async (store) => {
          const base = blob("base");
          const m = manifest("shared manifest");
          const size = m.content.byteLength;
          assert.equal(await store.storageUsage([]), 0);
          assert.equal(await store.storageUsage(["nowhere"]), 0);
          await store.linkBlob("team/a", base, 1000);
          await store.linkBlob("team/b", base, 1000);
          await store.linkBlob("team/b", blob("own"), 5 * 1024 ** 3);
          await store.linkBlob("other", blob("other"), 7);
          await store.putManifest("team/a", m, "v1");
          await store.putManifest("team/b", m, "v1");
          assert.equal(await store.storageUsage(["team/a"]), 1000 + size);
          // The shared blob and the manifest pushed to both count once; sizes beyond 4 GiB survive.
          assert.equal(await store.storageUsage(["team/a", "team/b"]), 1000 + 5 * 1024 ** 3 + size);
          assert.equal(await store.storageUsage(["team/b", "team/a", "team/a"]), 1000 + 5 * 1024 ** 3 + size);
          assert.equal(await store.storageUsage(["other", "unknown"]), 7);
          // Unlinked blobs and deleted manifests no longer count.
          await store.unlinkBlob("team/a", base);
          await store.deleteManifest("team/a", m.digest);
          assert.equal(await store.storageUsage(["team/a"]), 0);
          assert.equal(await store.storageUsage(["team/a", "team/b"]), 1000 + 5 * 1024 ** 3 + size);
        }));

      test("repositoriesHolding lists the repositories linking a blob or storing a manifest, once each", () =>
        withStore(async (store) => {
          const m = manifest("held");
          assert.deepEqual(await store.repositoriesHolding(blob("none")), []);
          await store.linkBlob("b", blob("x"), 1);
          await store.linkBlob("a", blob("x"), 1);
          await store.putManifest("c", m);
          await store.putManifest("a", m, "t");
          assert.deepEqual((await store.repositoriesHolding(blob("x"))).sort(), ["a", "b"]);
          assert.deepEqual((await store.repositoriesHolding(m.digest)).sort(), ["a", "c"]);
          await store.deleteManifest("c", m.digest);
          await store.unlinkBlob("b", blob("x"));
          assert.deepEqual(await store.repositoriesHolding(m.digest), ["a"]);
          assert.deepEqual(await store.repositoriesHolding(blob("x")), ["a"]);
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

    describe("garbage collection sweep", () => {
      // `before` in the future: everything already written is past the grace period.
      const now = () => Date.now() + 1000;
      const sweepAll = (store: MetadataStore, untagged = false, dryRun = false) =>
        store.sweep({ before: now(), untagged, dryRun });
      const digests = (list: { digest: Digest }[]) => list.map((item) => item.digest).sort();

      test("removes unreferenced links and then blobs nothing links or references", () =>
        withStore(async (store) => {
          const [layer, orphan, sharedElsewhere] = [blob("layer"), blob("orphan"), blob("shared")];
          await store.linkBlob("app", layer, 10);
          await store.linkBlob("app", orphan, 20);
          await store.linkBlob("app", sharedElsewhere, 30);
          await store.linkBlob("other", sharedElsewhere, 30);
          await store.putManifest("app", manifest("image", { blobs: [layer] }), "v1");
          await store.putManifest("other", manifest("uses-shared", { blobs: [sharedElsewhere] }), "v1");

          const result = await sweepAll(store);
          assert.equal(result.links, 2, "app's links to orphan and shared go");
          assert.deepEqual(result.blobs, [{ digest: orphan, size: 20 }]);
          assert.deepEqual(result.manifests, []);
          assert.equal(await store.blobSize(orphan), undefined);
          assert.equal(await store.linkedBlobSize("app", layer), 10);
          assert.equal(await store.linkedBlobSize("app", sharedElsewhere), undefined);
          assert.equal(await store.linkedBlobSize("other", sharedElsewhere), 30);
          assert.deepEqual(await sweepAll(store), { manifests: [], links: 0, blobs: [], repositories: [] });
        }));

      test("keeps a blob a manifest references even after its link was deleted", () =>
        withStore(async (store) => {
          const layer = blob("layer");
          await store.linkBlob("app", layer, 10);
          await store.putManifest("app", manifest("image", { blobs: [layer] }), "v1");
          assert.equal(await store.unlinkBlob("app", layer), true);
          const result = await sweepAll(store);
          assert.deepEqual(result.blobs, []);
          assert.equal(await store.blobSize(layer), 10);
        }));

      test("touches nothing written within the grace period", () =>
        withStore(async (store) => {
          await store.linkBlob("fresh", blob("fresh"), 1);
          await store.putManifest("fresh", manifest("untagged"));
          const result = await store.sweep({ before: Date.now() - 60_000, untagged: true, dryRun: false });
          assert.deepEqual(result, { manifests: [], links: 0, blobs: [], repositories: [] });
          assert.equal(await store.blobSize(blob("fresh")), 1);
        }));

      test("a link made again is dated anew", () =>
        withStore(async (store) => {
          await store.linkBlob("app", blob("relinked"), 1);
          const between = Date.now() + 1;
          await new Promise((resolve) => setTimeout(resolve, 5));
          await store.linkBlob("app", blob("relinked"), 1);
          const result = await store.sweep({ before: between, untagged: false, dryRun: false });
          assert.equal(result.links, 0);
          assert.equal(await store.linkedBlobSize("app", blob("relinked")), 1);
        }));

      test("with untagged, removes manifests no tag, index or live subject holds, and what they held", () =>
        withStore(async (store) => {
          const [l1, l2, l3] = [blob("l1"), blob("l2"), blob("l3")];
          for (const [digest, size] of [
            [l1, 1],
            [l2, 2],
            [l3, 3],
          ] as const)
            await store.linkBlob("app", digest, size);
          const tagged = manifest("tagged", { blobs: [l1] });
          const child = manifest("child", { blobs: [l2] });
          const index = manifest("index", { children: [child.digest] });
          const loose = manifest("loose", { blobs: [l3] });
          const signatureOfTagged = manifest("sig-tagged", { subject: tagged.digest, artifactType: "sig" });
          const signatureOfLoose = manifest("sig-loose", { subject: loose.digest, artifactType: "sig" });
          const oldIndex = manifest("old-index", { children: [loose.digest] });
          await store.putManifest("app", tagged, "v1");
          await store.putManifest("app", child);
          await store.putManifest("app", index, "multi");
          await store.putManifest("app", loose);
          await store.putManifest("app", oldIndex);
          await store.putManifest("app", signatureOfTagged);
          await store.putManifest("app", signatureOfLoose);

          assert.deepEqual((await sweepAll(store, false)).manifests, [], "without untagged no manifest goes");
          const result = await sweepAll(store, true);
          assert.deepEqual(
            digests(result.manifests),
            [loose, oldIndex, signatureOfLoose].map((m) => m.digest).sort(),
          );
          for (const m of result.manifests) {
            assert.equal(m.repository, "app");
            assert.ok(m.size > 0);
          }
          assert.deepEqual(result.blobs, [{ digest: l3, size: 3 }]);
          for (const kept of [tagged, child, index, signatureOfTagged]) {
            assert.ok(await store.getManifestByDigest("app", kept.digest), `${kept.digest} is kept`);
          }
          assert.equal(await store.getManifestByDigest("app", loose.digest), undefined);
          assert.deepEqual(
            (await store.listReferrers("app", tagged.digest)).map((r) => r.digest),
            [signatureOfTagged.digest],
          );

          // Untagging the index frees its child and the child's layer.
          await store.deleteTag("app", "multi");
          const second = await sweepAll(store, true);
          assert.deepEqual(digests(second.manifests), [child.digest, index.digest].sort());
          assert.deepEqual(second.blobs, [{ digest: l2, size: 2 }]);
        }));

      test("removes repositories left with nothing, keeps those with an upload", () =>
        withStore(async (store) => {
          const m = manifest("m", { blobs: [blob("b")] });
          await store.linkBlob("emptied", blob("b"), 1);
          await store.putManifest("emptied", m, "v1");
          await store.deleteManifest("emptied", m.digest);
          await store.linkBlob("uploading", blob("u"), 1);
          await store.unlinkBlob("uploading", blob("u"));
          await store.createUpload({ id: randomUUID(), repository: "uploading", createdAt: 1 });
          const result = await sweepAll(store);
          assert.deepEqual(result.repositories, ["emptied"]);
          assert.equal(await store.repositoryExists("emptied"), false);
          assert.equal(await store.repositoryExists("uploading"), true);
          assert.deepEqual(digests(result.blobs), [blob("b"), blob("u")].sort());
        }));

      test("a dry run reports exactly what the real run then removes, and changes nothing", () =>
        withStore(async (store) => {
          for (let i = 0; i < 30; i++) {
            await store.linkBlob(`repo${i % 3}`, blob(`b${i}`), i + 1);
            if (i % 2 === 0)
              await store.putManifest(
                `repo${i % 3}`,
                manifest(`m${i}`, { blobs: [blob(`b${i}`)] }),
                i % 4 === 0 ? `t${i}` : undefined,
              );
          }
          const before = now();
          const dry = await store.sweep({ before, untagged: true, dryRun: true });
          assert.ok(dry.blobs.length > 0 && dry.manifests.length > 0);
          assert.deepEqual(
            await store.sweep({ before, untagged: true, dryRun: true }),
            dry,
            "the dry run changed something",
          );
          const real = await store.sweep({ before, untagged: true, dryRun: false });
          assert.deepEqual(digests(real.blobs), digests(dry.blobs));
          assert.deepEqual(digests(real.manifests), digests(dry.manifests));
          assert.equal(real.links, dry.links);
          assert.deepEqual(real.repositories, dry.repositories);
        }));

      test("a manifest PUT after a sweep removed its blob's link is refused", () =>
        withStore(async (store) => {
          const layer = blob("raced");
          await store.linkBlob("app", layer, 10);
          await sweepAll(store);
          const problem = await store.putManifest("app", manifest("late", { blobs: [layer] }), "v1", {
            blobs: [{ digest: layer, size: 10 }],
            manifests: [],
          });
          assert.deepEqual(problem, { kind: "blob", digest: layer, problem: "missing" });
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
