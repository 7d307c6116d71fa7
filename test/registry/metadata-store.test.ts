import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, test } from "node:test";
import { type Digest, digestOf } from "../../src/oci/digest.ts";
import type { ManifestRecord } from "../../src/registry/metadata/metadata-store.ts";
import {
  SqliteMetadataStore,
  type SqliteOptions,
} from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { manifest, metadataStoreContract } from "../contract/metadata-store.contract.ts";
import { registryIndexContract } from "../contract/registry-index.contract.ts";
import { withTempDir } from "./temp-dir.ts";

/** A fresh store in a new temp directory (at `file` below it), or in memory; cleanup closes and removes it. */
async function freshStore(
  file: string | ":memory:",
  options?: SqliteOptions,
): Promise<{ store: SqliteMetadataStore; cleanup(): Promise<void> }> {
  if (file === ":memory:") {
    const store = new SqliteMetadataStore(":memory:", options);
    return { store, cleanup: () => store.close() };
  }
  const dir = await mkdtemp(join(tmpdir(), "reestr-sqlite-"));
  const store = new SqliteMetadataStore(join(dir, file), options);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

metadataStoreContract("SqliteMetadataStore (file)", () => freshStore(join("nested", "metadata.db")));
metadataStoreContract("SqliteMetadataStore (:memory:)", () => freshStore(":memory:"));
metadataStoreContract("SqliteMetadataStore (file, synchronous=normal)", () =>
  freshStore("metadata.db", { synchronous: "normal" }),
);

/** The same object is the index: it reads the database the metadata store writes. */
async function freshIndex(file: string | ":memory:") {
  const { store, cleanup } = await freshStore(file);
  return { metadata: store, index: store, cleanup };
}

registryIndexContract("SqliteMetadataStore (file)", () => freshIndex("metadata.db"));
registryIndexContract("SqliteMetadataStore (:memory:)", () => freshIndex(":memory:"));

const withDir = (body: (dir: string) => Promise<void>) => withTempDir("reestr-sqlite-", body);

describe("SqliteMetadataStore specifics", () => {
  test("everything persists across close and reopen", () =>
    withDir(async (dir) => {
      const path = join(dir, "metadata.db");
      const subject = manifest("subject");
      const referrer = manifest("referrer", {
        subject: subject.digest,
        artifactType: "application/x-sig",
        annotations: { a: "b" },
      });
      const layer = digestOf("layer");
      const session = { id: "9b2d8c9e-6f4c-4a3e-9a51-0f2b3c4d5e6f", repository: "app", createdAt: 42 };

      const first = new SqliteMetadataStore(path);
      await first.linkBlob("app", layer, 321);
      await first.putManifest("app", { ...subject, blobs: [layer] }, "v1");
      await first.putManifest("app", referrer);
      await first.createUpload(session);
      const statsBefore = await first.stats();
      await first.close();

      const second = new SqliteMetadataStore(path);
      try {
        assert.deepEqual(await second.listRepositories({ limit: 10 }), ["app"]);
        assert.equal(await second.linkedBlobSize("app", layer), 321);
        const stored = await second.getManifestByTag("app", "v1");
        assert.equal(stored?.digest, subject.digest);
        assert.deepEqual(Buffer.from(stored!.content), Buffer.from(subject.content));
        assert.deepEqual(await second.listTags("app", { limit: 10 }), ["v1"]);
        assert.deepEqual(await second.listReferrers("app", subject.digest), [
          {
            mediaType: referrer.mediaType,
            digest: referrer.digest,
            size: referrer.content.byteLength,
            artifactType: "application/x-sig",
            annotations: { a: "b" },
          },
        ]);
        assert.deepEqual(await second.getUpload(session.id), session);
        assert.deepEqual(await second.stats(), statsBefore);
      } finally {
        await second.close();
      }
    }));

  test("a putManifest whose tag violates a constraint rolls back entirely", async () => {
    const store = new SqliteMetadataStore(":memory:");
    try {
      const record = manifest("rolled back");
      // A null second tag violates tags.tag NOT NULL after the repository, the manifest and the
      // first tag were inserted in the same transaction.
      await assert.rejects(
        store.putManifest("fresh", record, ["fine", null as unknown as string]),
        /NOT NULL/,
      );
      assert.equal(await store.repositoryExists("fresh"), false);
      assert.equal(await store.getManifestByDigest("fresh", record.digest), undefined);
      assert.deepEqual(await store.stats(), {
        repositories: 0,
        manifests: 0,
        tags: 0,
        blobs: 0,
        blobBytes: 0,
      });

      // The store is still usable: no transaction was left open.
      await store.putManifest("fresh", record, "ok");
      assert.deepEqual(await store.listTags("fresh", { limit: 10 }), ["ok"]);
    } finally {
      await store.close();
    }
  });

  test("a putManifest failing on a reference rolls back and leaves the existing tag alone", async () => {
    const store = new SqliteMetadataStore(":memory:");
    try {
      const original = manifest("original");
      await store.putManifest("repo", original, "latest");
      // An unbindable child reference fails after the new manifest row was inserted.
      const broken: ManifestRecord = manifest("broken", { children: [{} as unknown as Digest] });
      await assert.rejects(store.putManifest("repo", broken, "latest"));
      assert.equal(await store.getManifestByDigest("repo", broken.digest), undefined);
      assert.equal((await store.getManifestByTag("repo", "latest"))?.digest, original.digest);
      assert.equal((await store.stats()).manifests, 1);
    } finally {
      await store.close();
    }
  });

  test("the store creates missing parent directories of its file", () =>
    withDir(async (dir) => {
      const store = new SqliteMetadataStore(join(dir, "a", "b", "c", "metadata.db"));
      await store.check();
      await store.close();
    }));

  test("a database from a newer schema is refused with a clear message", () =>
    withDir(async (dir) => {
      const path = join(dir, "metadata.db");
      const db = new DatabaseSync(path);
      db.exec("PRAGMA user_version = 999");
      db.close();
      assert.throws(() => new SqliteMetadataStore(path), /newer/);
    }));

  test("reopening an existing database keeps its schema version and data", () =>
    withDir(async (dir) => {
      const path = join(dir, "metadata.db");
      for (let i = 0; i < 3; i++) {
        const store = new SqliteMetadataStore(path);
        await store.linkBlob(`repo${i}`, digestOf(`b${i}`), i + 1);
        await store.putManifest(`repo${i}`, manifest(`m${i}`));
        await store.close();
      }
      const store = new SqliteMetadataStore(path);
      assert.deepEqual(await store.listRepositories({ limit: 10 }), ["repo0", "repo1", "repo2"]);
      await store.close();
    }));
});
