/**
 * S3BlobStore against a real S3 endpoint (Ceph radosgw on loopback, test/helpers/ceph-rgw.ts):
 * the BlobStore contract, then what is particular to S3 — the keys in the bucket, uploads that
 * go on in another store instance (another replica), reading back an upload in the middle of a
 * multipart upload, copies above the copy limit, presigned redirects, an S3 that is down.
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { digestOf } from "../../src/oci/digest.ts";
import { StoreUnavailable, UploadNotFound } from "../../src/registry/storage/errors.ts";
import { S3BlobStore, type S3BlobStoreOptions } from "../../src/registry/storage/s3-blob-store.ts";
import {
  blobStoreContract,
  chunksOf,
  collect,
  pseudoRandomBytes,
  putBlob,
} from "../contract/blob-store.contract.ts";
import { type Rgw, startRgw } from "../helpers/ceph-rgw.ts";

const MiB = 1024 * 1024;
const BUCKET = "reestr-store-test";
let rgw: Rgw;

before(async () => {
  rgw = await startRgw();
  await rgw.createBucket(BUCKET);
});

after(async () => {
  await rgw?.down();
});

function makeStore(prefix: string, extra: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  return new S3BlobStore({
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket: BUCKET,
    prefix,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    // The smallest part S3 allows, so a few MiB exercise multipart uploads.
    partSize: 5 * MiB,
    ...extra,
  });
}

/** Every key under `prefix/` in the test bucket, relative to it, sorted. */
async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await rgw.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/`, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) keys.push(object.Key!.slice(prefix.length + 1));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** Removes what a store left under its prefix (blobs, uploads, quarantine). */
async function emptyStore(store: S3BlobStore): Promise<void> {
  for await (const digest of store.list()) await store.delete(digest);
  for (const upload of await store.listUploads()) await store.deleteUpload(upload.id);
  store.close();
}

blobStoreContract("S3BlobStore (radosgw)", async () => {
  // A prefix of its own per test: an empty store in the one bucket.
  const store = makeStore(`contract/${randomUUID()}`);
  return { store, cleanup: () => emptyStore(store) };
});

/** `size` bytes, deterministic, in chunks of `chunk`. */
function* chunked(data: Buffer, chunk: number): Generator<Buffer> {
  for (let offset = 0; offset < data.byteLength; offset += chunk) yield data.subarray(offset, offset + chunk);
}

async function* asAsync(chunks: Iterable<Buffer>): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

describe("S3BlobStore in the bucket", { timeout: 300_000 }, () => {
  test("blobs live at <prefix>/blobs/<alg>/<xx>/<hex>; an upload at uploads/<id>/ and nothing after commit", async () => {
    const prefix = `layout/${randomUUID()}`;
    const store = makeStore(prefix);
    try {
      const digest = await putBlob(store, Buffer.from("layout check"));
      const hex = digest.slice("sha256:".length);
      assert.deepEqual(await keysUnder(prefix), [`blobs/sha256/${hex.slice(0, 2)}/${hex}`]);

      const id = randomUUID();
      await store.createUpload(id);
      const data = pseudoRandomBytes(6 * MiB + 123, "layout");
      await store.appendUpload(id, asAsync(chunked(data, 64 * 1024)));
      // One part of 6 MiB went to the multipart upload (not an object yet); 123 bytes are the tail.
      assert.deepEqual(await keysUnder(prefix), [
        `blobs/sha256/${hex.slice(0, 2)}/${hex}`,
        `uploads/${id}/state.json`,
        `uploads/${id}/tail-1`,
      ]);
      await store.commitUpload(id, digestOf(data));
      const second = digestOf(data).slice("sha256:".length);
      assert.deepEqual(
        await keysUnder(prefix),
        [`blobs/sha256/${hex.slice(0, 2)}/${hex}`, `blobs/sha256/${second.slice(0, 2)}/${second}`].sort(),
      );
      assert.deepEqual(await store.listUploads(), []);
    } finally {
      await emptyStore(store);
    }
  });

  test("a chunked upload goes on in another store instance: parts, a small tail, a read-back, a commit", async () => {
    const prefix = `replicas/${randomUUID()}`;
    const a = makeStore(prefix);
    const b = makeStore(prefix);
    try {
      const data = pseudoRandomBytes(17 * MiB + 4321, "replicas");
      const id = randomUUID();
      await a.createUpload(id);
      // 5 MiB + 1 on A: one part and a 1-byte tail.
      await a.appendUpload(id, asAsync(chunked(data.subarray(0, 5 * MiB + 1), 256 * 1024)));
      assert.equal(await b.uploadSize(id), 5 * MiB + 1);
      // B appends 7 MiB (the tail from A joins the next part) and reads everything back.
      await b.appendUpload(id, asAsync(chunked(data.subarray(5 * MiB + 1, 12 * MiB + 1), MiB)));
      assert.equal(await a.uploadSize(id), 12 * MiB + 1);
      assert.deepEqual(await collect(await b.readUpload(id)), data.subarray(0, 12 * MiB + 1));
      // A goes on after the read-back (the new multipart starts with a copy of what was read).
      await a.appendUpload(id, asAsync(chunked(data.subarray(12 * MiB + 1), MiB)));
      assert.deepEqual(await collect(await a.readUpload(id)), data);
      await b.commitUpload(id, digestOf(data));
      assert.deepEqual(await a.stat(digestOf(data)), { size: data.byteLength });
      const back = createHash("sha256");
      for await (const chunk of await a.read(digestOf(data))) back.update(chunk);
      assert.equal(`sha256:${back.digest("hex")}`, digestOf(data));
      assert.deepEqual(
        await collect(await b.read(digestOf(data), { start: 5 * MiB - 10, end: 5 * MiB + 10 })),
        data.subarray(5 * MiB - 10, 5 * MiB + 11),
      );
      assert.deepEqual(await a.listUploads(), []);
      assert.ok(
        !(await keysUnder(prefix)).some((key) => key.startsWith("uploads/")),
        "no upload objects left",
      );
    } finally {
      await emptyStore(a);
      b.close();
    }
  });

  test("a blob larger than the copy limit is committed and quarantined by ranged part copies", async () => {
    const prefix = `copy/${randomUUID()}`;
    const store = makeStore(prefix, { copyLimitBytes: 10 * MiB });
    try {
      const data = pseudoRandomBytes(21 * MiB + 5, "copy");
      const id = randomUUID();
      await store.createUpload(id);
      await store.appendUpload(id, asAsync(chunked(data, MiB)));
      // Read back: the multipart is completed into data, and the next append copies 20 MiB of it
      // in two ranged parts.
      assert.equal((await collect(await store.readUpload(id))).byteLength, data.byteLength);
      const more = Buffer.from("and a little more");
      await store.appendUpload(id, asAsync([more]));
      const all = Buffer.concat([data, more]);
      await store.commitUpload(id, digestOf(all));
      assert.deepEqual(await collect(await store.read(digestOf(all))), all);
      assert.equal(await store.quarantine(digestOf(all)), true);
      const hex = digestOf(all).slice("sha256:".length);
      assert.deepEqual(await keysUnder(prefix), [`quarantine/sha256/${hex}`]);
    } finally {
      await emptyStore(store);
    }
  });

  test("a failing source after a part keeps the part and the bytes after it", async () => {
    const store = makeStore(`failing/${randomUUID()}`);
    try {
      const id = randomUUID();
      await store.createUpload(id);
      const data = pseudoRandomBytes(6 * MiB, "failing");
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield* chunked(data, MiB);
        throw new Error("client went away");
      }
      await assert.rejects(store.appendUpload(id, failing()), (error: Error & { bytesWritten?: number }) => {
        assert.equal(error.message, "client went away");
        assert.equal(error.bytesWritten, data.byteLength);
        return true;
      });
      assert.equal(await store.uploadSize(id), data.byteLength);
      assert.deepEqual(await collect(await store.readUpload(id)), data);
    } finally {
      await emptyStore(store);
    }
  });

  test("leftovers of an upload without state are listed (for expiry) and removed by deleteUpload", async () => {
    const prefix = `leftover/${randomUUID()}`;
    const store = makeStore(prefix);
    try {
      const id = randomUUID();
      await store.createUpload(id);
      await store.appendUpload(id, asAsync(chunked(pseudoRandomBytes(5 * MiB + 10, "leftover"), MiB)));
      // As if a cancel crashed after removing state.json: the multipart upload and the tail remain.
      const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
      await rgw.client.send(
        new DeleteObjectCommand({ Bucket: BUCKET, Key: `${prefix}/uploads/${id}/state.json` }),
      );
      assert.equal(await store.uploadSize(id), undefined);
      await assert.rejects(store.appendUpload(id, chunksOf(Buffer.from("x"))), UploadNotFound);
      const listed = await store.listUploads();
      assert.deepEqual(
        listed.map((upload) => [upload.id, upload.size]),
        [[id, 0]],
      );
      await store.deleteUpload(id);
      assert.deepEqual(await store.listUploads(), []);
      assert.deepEqual(await keysUnder(prefix), []);
    } finally {
      await emptyStore(store);
    }
  });

  test("redirectUrl signs a GetObject URL that serves the blob, and ranges of it", async () => {
    const store = makeStore(`redirect/${randomUUID()}`, { redirectExpiryMs: 60_000 });
    const plain = makeStore(`redirect/${randomUUID()}`);
    try {
      const data = Buffer.from("bytes that bypass the registry");
      const digest = await putBlob(store, data);
      const url = (await store.redirectUrl(digest)) ?? "";
      assert.ok(url.startsWith(`${rgw.endpoint}/${BUCKET}/`), url);
      assert.match(url, /X-Amz-Expires=60/);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), data);
      const ranged = await fetch(url, { headers: { Range: "bytes=6-9" } });
      assert.equal(ranged.status, 206);
      assert.equal(await ranged.text(), "that");
      assert.equal(await plain.redirectUrl(digest), undefined, "no redirects unless configured");
    } finally {
      await emptyStore(store);
      plain.close();
    }
  });

  test("check() names a missing bucket and refused credentials", async () => {
    const missing = new S3BlobStore({ ...optionsOf(), bucket: "no-such-bucket-here" });
    const refused = new S3BlobStore({
      ...optionsOf(),
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: "wrong-secret-wrong-secret" },
    });
    try {
      await assert.rejects(missing.check(), /no such bucket/);
      await assert.rejects(refused.check(), /access denied/);
    } finally {
      missing.close();
      refused.close();
    }
  });

  test("an S3 nobody answers is StoreUnavailable for every call, and check() says so quickly", async () => {
    // A port with nothing behind it: connection refused.
    const { createServer } = await import("node:net");
    const server = createServer();
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const { port } = server.address() as { port: number };
    await new Promise<void>((ok) => server.close(() => ok()));
    const store = new S3BlobStore({ ...optionsOf(), endpoint: `http://127.0.0.1:${port}` });
    try {
      const unavailable = (error: unknown) => {
        assert.ok(error instanceof StoreUnavailable, `StoreUnavailable, got ${String(error)}`);
        assert.equal(error.store, "s3");
        assert.match(error.message, /ECONNREFUSED/);
        assert.doesNotMatch(error.message, new RegExp(rgw.secretAccessKey));
        return true;
      };
      await assert.rejects(store.check(), unavailable);
      await assert.rejects(store.stat(digestOf("x")), unavailable);
      await assert.rejects(store.read(digestOf("x")), unavailable);
      await assert.rejects(store.createUpload(randomUUID()), unavailable);
      await assert.rejects(store.uploadSize(randomUUID()), unavailable);
      await assert.rejects(store.listUploads(), unavailable);
    } finally {
      store.close();
    }
  });
});

function optionsOf(): S3BlobStoreOptions {
  return {
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket: BUCKET,
    prefix: `misc/${randomUUID()}`,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  };
}
