import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import { type Digest, digestOf } from "../../src/oci/digest.ts";
import { FsBlobStore } from "../../src/registry/storage/fs-blob-store.ts";
import { MemoryBlobStore } from "../../src/registry/storage/memory-blob-store.ts";
import {
  blobStoreContract,
  chunksOf,
  collect,
  INVALID_UPLOAD_IDS,
  putBlob,
} from "../contract/blob-store.contract.ts";

blobStoreContract("FsBlobStore", async () => {
  const dir = await mkdtemp(join(tmpdir(), "reestr-fs-blob-"));
  const store = await new FsBlobStore(join(dir, "root")).init();
  return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

blobStoreContract("MemoryBlobStore", async () => ({ store: new MemoryBlobStore(), cleanup: async () => {} }));

/** Every file and directory under `dir`, as paths relative to it, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((entry) => relative(dir, join(dir, entry))).sort();
}

/** A temp directory holding `root/` (the store) so anything written beside the root shows up. */
async function withFsStore(
  body: (ctx: { parent: string; root: string; store: FsBlobStore }) => Promise<void>,
) {
  const parent = await mkdtemp(join(tmpdir(), "reestr-fs-blob-"));
  const root = join(parent, "root");
  try {
    await body({ parent, root, store: await new FsBlobStore(root).init() });
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
}

describe("FsBlobStore on disk", () => {
  test("a committed sha256 blob lives at blobs/sha256/<first two hex>/<hex>", () =>
    withFsStore(async ({ root, store }) => {
      const data = Buffer.from("layout check");
      const digest = await putBlob(store, data);
      const hex = digest.slice("sha256:".length);
      const path = join(root, "blobs", "sha256", hex.slice(0, 2), hex);
      assert.deepEqual(await readFile(path), data);
    }));

  test("a committed sha512 blob lives at blobs/sha512/<first two hex>/<hex>", () =>
    withFsStore(async ({ root, store }) => {
      const data = Buffer.from("sha512 layout check");
      const digest = digestOf(data, "sha512");
      const id = randomUUID();
      await store.createUpload(id);
      await store.appendUpload(id, chunksOf(data));
      await store.commitUpload(id, digest);
      const hex = digest.slice("sha512:".length);
      assert.deepEqual(await readFile(join(root, "blobs", "sha512", hex.slice(0, 2), hex)), data);
    }));

  test("uploads live in uploads/<id> and nothing remains there after commit or cancel", () =>
    withFsStore(async ({ root, store }) => {
      const committed = randomUUID();
      const cancelled = randomUUID();
      await store.createUpload(committed);
      await store.createUpload(cancelled);
      await store.appendUpload(committed, chunksOf(Buffer.from("commit me")));
      await store.appendUpload(cancelled, chunksOf(Buffer.from("cancel me")));
      assert.deepEqual((await readdir(join(root, "uploads"))).sort(), [committed, cancelled].sort());
      assert.deepEqual(await readFile(join(root, "uploads", committed)), Buffer.from("commit me"));

      await store.commitUpload(committed, digestOf("commit me"));
      await store.deleteUpload(cancelled);
      assert.deepEqual(await readdir(join(root, "uploads")), []);
    }));

  test("a new store over the same root sees committed blobs and resumes uploads in progress", () =>
    withFsStore(async ({ root, store }) => {
      const digest = await putBlob(store, Buffer.from("persisted"));
      const id = randomUUID();
      await store.createUpload(id);
      await store.appendUpload(id, chunksOf(Buffer.from("half ")));

      const reopened = await new FsBlobStore(root).init();
      assert.deepEqual(await reopened.stat(digest), { size: 9 });
      assert.deepEqual(await collect(await reopened.read(digest)), Buffer.from("persisted"));
      assert.equal(await reopened.uploadSize(id), 5);
      assert.deepEqual(await collect(await reopened.readUpload(id)), Buffer.from("half "));
      await reopened.appendUpload(id, chunksOf(Buffer.from("done")));
      await reopened.commitUpload(id, digestOf("half done"));
      assert.deepEqual(await collect(await reopened.read(digestOf("half done"))), Buffer.from("half done"));
    }));

  test("listUploads ignores stray files in uploads/ that are not upload ids", () =>
    withFsStore(async ({ root, store }) => {
      const id = randomUUID();
      await store.createUpload(id);
      await writeFile(join(root, "uploads", "leftover.tmp"), "junk");
      await mkdir(join(root, "uploads", "somedir"));
      assert.deepEqual(
        (await store.listUploads()).map((u) => u.id),
        [id],
      );
    }));

  test("init() is idempotent and check() fails once the root is gone", () =>
    withFsStore(async ({ root, store }) => {
      const digest = await putBlob(store, Buffer.from("kept across init"));
      await store.init();
      assert.deepEqual(await store.stat(digest), { size: 16 });
      await store.check();
      await rm(root, { recursive: true, force: true });
      await assert.rejects(store.check());
    }));

  test("nothing is ever written outside the root, whatever ids and digests callers pass", () =>
    withFsStore(async ({ parent, root, store }) => {
      // Normal work inside the root.
      const good = await putBlob(store, Buffer.from("inside"));

      // Hostile upload ids.
      for (const id of INVALID_UPLOAD_IDS) {
        await store.createUpload(id).catch(() => {});
        await store.appendUpload(id, chunksOf(Buffer.from("escape"))).catch(() => {});
        await store.uploadSize(id).catch(() => {});
        await store.readUpload(id).catch(() => {});
        await store.commitUpload(id, good).catch(() => {});
        await store.deleteUpload(id).catch(() => {});
      }

      // Hostile digests (callers should have parsed them, but the store must not trust that).
      const badDigests = [
        "sha256:../../../x",
        "sha256/../../x",
        "../x",
        "sha256:",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        `sha256:${"A".repeat(64)}`,
        `sha256:..${"a".repeat(62)}`,
      ] as Digest[];
      const id = randomUUID();
      await store.createUpload(id);
      await store.appendUpload(id, chunksOf(Buffer.from("escape")));
      for (const digest of badDigests) {
        await assert.rejects(store.stat(digest), `stat(${digest}) must reject`);
        await assert.rejects(store.read(digest), `read(${digest}) must reject`);
        await assert.rejects(store.delete(digest), `delete(${digest}) must reject`);
        await assert.rejects(store.commitUpload(id, digest), `commitUpload(_, ${digest}) must reject`);
      }
      assert.equal(await store.uploadSize(id), 6, "a refused commit leaves the upload in place");

      assert.deepEqual(await readdir(parent), ["root"], "nothing appeared beside the root");
      const hex = good.slice("sha256:".length);
      assert.deepEqual(await tree(root), [
        "blobs",
        "blobs/sha256",
        `blobs/sha256/${hex.slice(0, 2)}`,
        `blobs/sha256/${hex.slice(0, 2)}/${hex}`,
        "uploads",
        `uploads/${id}`,
      ]);
      assert.ok((await stat(join(root, "uploads", id))).isFile());
    }));
});

describe("FsBlobStore quarantine on disk", () => {
  test("a quarantined blob's bytes are moved, as found, to quarantine/<algorithm>/<hex>", () =>
    withFsStore(async ({ root, store }) => {
      const data = Buffer.from("bytes a scrub found wrong");
      const digest = await putBlob(store, data);
      const hex = digest.slice("sha256:".length);
      assert.equal(await store.quarantine(digest), true);
      assert.deepEqual(await readFile(join(root, "quarantine", "sha256", hex)), data);
      assert.ok(!(await tree(root)).includes(join("blobs", "sha256", hex.slice(0, 2), hex)));
    }));
});
