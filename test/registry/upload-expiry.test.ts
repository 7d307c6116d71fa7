import assert from "node:assert/strict";
import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { Registry } from "../../src/registry/registry.ts";
import { FsBlobStore } from "../../src/registry/storage/fs-blob-store.ts";

test("uploads untouched for longer than the TTL are removed, active ones stay", async () => {
  const dir = await mkdtemp(join(tmpdir(), "reestr-expiry-"));
  const metadata = new SqliteMetadataStore(":memory:");
  try {
    const blobs = await new FsBlobStore(dir).init();
    const ttl = 60_000;
    const registry = new Registry({ blobs, metadata, index: metadata, uploadTtlMs: ttl });
    const stale = await registry.startUpload("app");
    const fresh = await registry.startUpload("app");
    await registry.appendChunk("app", stale, Readable.from([Buffer.from("old bytes")]));
    await registry.appendChunk("app", fresh, Readable.from([Buffer.from("new bytes")]));
    const past = new Date(Date.now() - 2 * ttl);
    await utimes(join(dir, "uploads", stale), past, past);
    // Bytes with no session at all (as a crash between the two creates would leave).
    const orphan = "00000000-0000-4000-8000-000000000000";
    await blobs.createUpload(orphan);
    await utimes(join(dir, "uploads", orphan), past, past);

    assert.equal(await registry.expireUploads(), 2);
    await assert.rejects(registry.uploadStatus("app", stale), { code: "BLOB_UPLOAD_UNKNOWN" });
    assert.equal(await registry.uploadStatus("app", fresh), 9);
    assert.deepEqual(
      (await blobs.listUploads()).map((u) => u.id),
      [fresh],
    );
  } finally {
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  }
});
