/**
 * The contract every BlobStore implementation must honour. A backend's test file calls
 * `blobStoreContract("name", makeStore)`; each test gets a fresh, empty store and cleans it up.
 *
 * What is checked: committed blobs (stat, read, inclusive range reads, delete, list), the upload
 * lifecycle (create, append in several calls, onChunk order, uploadSize, readUpload, commit,
 * delete, listUploads), BlobNotFound and UploadNotFound (with the digest or id) for absent
 * things, never a backend's own error, resumable appends after a failing source,
 * idempotent commits, quarantine (gone from stat/read/list, committable again), space(), a 20 MiB streamed round trip, and refusal of malformed upload ids.
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import { describe, test } from "node:test";
import { type Digest, digestOf } from "../../src/oci/digest.ts";
import type { BlobStore } from "../../src/registry/storage/blob-store.ts";
import { BlobNotFound, UploadNotFound } from "../../src/registry/storage/errors.ts";

export interface BlobStoreFixture {
  store: BlobStore;
  cleanup(): Promise<void>;
}

/** Upload ids that are not UUIDs and, on a path-based backend, would escape or confuse the root. */
export const INVALID_UPLOAD_IDS = [
  "../x",
  "",
  "..",
  ".",
  "a/b",
  "../../../../tmp/x",
  "/etc/passwd",
  "00000000-0000-0000-0000-000000000000/../x",
  "00000000-0000-0000-0000-00000000000G",
  "ABCDEF00-0000-0000-0000-000000000000",
];

export async function collect(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export async function* chunksOf(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

/** Deterministic bytes (SHA-256 in counter mode) so failures are reproducible. */
export function pseudoRandomBytes(size: number, seed = "reestr"): Buffer {
  const out = Buffer.alloc(size);
  let offset = 0;
  for (let counter = 0; offset < size; counter++) {
    const block = createHash("sha256").update(`${seed}/${counter}`).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

/** Uploads `data` (in the given chunks) and commits it under its sha256 digest. */
export async function putBlob(store: BlobStore, ...parts: Uint8Array[]): Promise<Digest> {
  const digest = digestOf(Buffer.concat(parts));
  const id = randomUUID();
  await store.createUpload(id);
  await store.appendUpload(id, chunksOf(...parts));
  await store.commitUpload(id, digest);
  return digest;
}

async function listAll(store: BlobStore): Promise<string[]> {
  const digests: string[] = [];
  for await (const digest of store.list()) digests.push(digest);
  return digests.sort();
}

/** Checks a rejection is BlobNotFound for this digest. */
function blobNotFound(digest: Digest): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof BlobNotFound, `expected BlobNotFound, got ${String(error)}`);
    assert.equal(error.digest, digest);
    return true;
  };
}

/** Checks a rejection is UploadNotFound for this upload id. */
function uploadNotFound(id: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof UploadNotFound, `expected UploadNotFound, got ${String(error)}`);
    assert.equal(error.id, id);
    return true;
  };
}

export function blobStoreContract(name: string, makeStore: () => Promise<BlobStoreFixture>): void {
  /** Runs `body` against a fresh store and always cleans up. */
  const withStore = async (body: (store: BlobStore) => Promise<void>) => {
    const { store, cleanup } = await makeStore();
    try {
      await body(store);
    } finally {
      await cleanup();
    }
  };

  describe(`BlobStore contract: ${name}`, () => {
    describe("committed blobs", () => {
      test("an empty store has no blobs, no uploads and passes check()", () =>
        withStore(async (store) => {
          await store.check();
          assert.deepEqual(await listAll(store), []);
          assert.deepEqual(await store.listUploads(), []);
        }));

      test("stat of an absent blob is undefined and read rejects with BlobNotFound", () =>
        withStore(async (store) => {
          const digest = digestOf("never stored");
          assert.equal(await store.stat(digest), undefined);
          await assert.rejects(store.read(digest), blobNotFound(digest));
          await assert.rejects(store.read(digest, { start: 0, end: 0 }), blobNotFound(digest));
        }));

      test("a committed blob has its size and reads back byte for byte", () =>
        withStore(async (store) => {
          const data = Buffer.from("hello, registry");
          const digest = await putBlob(store, data);
          assert.deepEqual(await store.stat(digest), { size: data.byteLength });
          assert.deepEqual(await collect(await store.read(digest)), data);
          // Reading twice works: a read does not consume the blob.
          assert.deepEqual(await collect(await store.read(digest)), data);
        }));

      test("range reads are inclusive at both ends", () =>
        withStore(async (store) => {
          const data = Buffer.from("0123456789abcdef");
          const digest = await putBlob(store, data);
          const range = async (start: number, end: number) =>
            (await collect(await store.read(digest, { start, end }))).toString();
          assert.equal(await range(0, 0), "0");
          assert.equal(await range(2, 5), "2345");
          assert.equal(await range(10, 15), "abcdef");
          assert.equal(await range(15, 15), "f");
          assert.equal(await range(0, 15), data.toString());
        }));

      test("an empty blob can be stored and read", () =>
        withStore(async (store) => {
          const digest = await putBlob(store);
          assert.equal(digest, digestOf(""));
          assert.deepEqual(await store.stat(digest), { size: 0 });
          assert.equal((await collect(await store.read(digest))).byteLength, 0);
        }));

      test("delete removes a blob; deleting an absent blob is not an error", () =>
        withStore(async (store) => {
          const keep = await putBlob(store, Buffer.from("keep"));
          const drop = await putBlob(store, Buffer.from("drop"));
          await store.delete(drop);
          assert.equal(await store.stat(drop), undefined);
          await assert.rejects(store.read(drop), blobNotFound(drop));
          assert.deepEqual(await store.stat(keep), { size: 4 });
          await store.delete(drop);
          await store.delete(digestOf("never stored"));
          assert.deepEqual(await listAll(store), [keep]);
        }));

      test("list yields every committed blob exactly once, sha256 and sha512 alike", () =>
        withStore(async (store) => {
          const a = await putBlob(store, Buffer.from("a"));
          const b = await putBlob(store, Buffer.from("b"));
          const sha512Data = Buffer.from("sha512 content");
          const c = digestOf(sha512Data, "sha512");
          const id = randomUUID();
          await store.createUpload(id);
          await store.appendUpload(id, chunksOf(sha512Data));
          await store.commitUpload(id, c);
          assert.deepEqual(await listAll(store), [a, b, c].sort());
          assert.deepEqual(await store.stat(c), { size: sha512Data.byteLength });
          assert.deepEqual(await collect(await store.read(c)), sha512Data);
          // Uploads in progress are not blobs.
          await store.createUpload(randomUUID());
          assert.deepEqual(await listAll(store), [a, b, c].sort());
        }));

      test("committing the same digest twice is fine and keeps the content", () =>
        withStore(async (store) => {
          const data = Buffer.from("same bytes, pushed twice");
          const first = await putBlob(store, data);
          const second = await putBlob(store, data.subarray(0, 5), data.subarray(5));
          assert.equal(first, second);
          assert.deepEqual(await store.stat(first), { size: data.byteLength });
          assert.deepEqual(await collect(await store.read(first)), data);
          assert.deepEqual(await listAll(store), [first]);
          assert.deepEqual(await store.listUploads(), []);
        }));
    });

    describe("quarantine", () => {
      test("a quarantined blob is gone from stat, read and list; an absent one answers false", () =>
        withStore(async (store) => {
          const keep = await putBlob(store, Buffer.from("keep"));
          const bad = await putBlob(store, Buffer.from("found corrupt"));
          assert.equal(await store.quarantine(bad), true);
          assert.equal(await store.stat(bad), undefined);
          await assert.rejects(store.read(bad), blobNotFound(bad));
          assert.deepEqual(await listAll(store), [keep]);
          assert.deepEqual(await collect(await store.read(keep)), Buffer.from("keep"));
          assert.equal(await store.quarantine(bad), false);
          assert.equal(await store.quarantine(digestOf("never stored")), false);
          // Deleting a quarantined blob is deleting an absent one: not an error.
          await store.delete(bad);
        }));

      test("the same digest can be committed again after quarantine, and quarantined again", () =>
        withStore(async (store) => {
          const data = Buffer.from("pushed again with the right bytes");
          const digest = await putBlob(store, data);
          assert.equal(await store.quarantine(digest), true);
          assert.equal(await putBlob(store, data), digest);
          assert.deepEqual(await store.stat(digest), { size: data.byteLength });
          assert.deepEqual(await collect(await store.read(digest)), data);
          assert.deepEqual(await listAll(store), [digest]);
          assert.equal(await store.quarantine(digest), true);
          assert.deepEqual(await listAll(store), []);
        }));

      test("space(), where offered, reports free bytes no larger than the total", () =>
        withStore(async (store) => {
          if (!store.space) return;
          const { free, total } = await store.space();
          assert.ok(Number.isSafeInteger(free) && free >= 0, `free ${free}`);
          assert.ok(Number.isSafeInteger(total) && total > 0, `total ${total}`);
          assert.ok(free <= total);
        }));
    });

    describe("uploads", () => {
      test("full lifecycle: create, append in several calls, read back, commit", () =>
        withStore(async (store) => {
          const id = randomUUID();
          assert.equal(await store.uploadSize(id), undefined);
          await store.createUpload(id);
          assert.equal(await store.uploadSize(id), 0);
          assert.equal((await collect(await store.readUpload(id))).byteLength, 0);

          const parts = [Buffer.from("first "), new Uint8Array([0x73, 0x65, 0x63]), Buffer.from("ond third")];
          const seen: Uint8Array[] = [];
          const onChunk = (chunk: Uint8Array) => {
            seen.push(Buffer.from(chunk));
          };
          assert.equal(await store.appendUpload(id, chunksOf(parts[0]!), onChunk), 6);
          assert.equal(await store.uploadSize(id), 6);
          assert.equal(await store.appendUpload(id, chunksOf(parts[1]!), onChunk), 3);
          assert.equal(await store.uploadSize(id), 9);
          assert.equal(await store.appendUpload(id, chunksOf(parts[2]!), onChunk), 9);
          const all = Buffer.concat(parts);
          assert.equal(await store.uploadSize(id), all.byteLength);
          assert.deepEqual(Buffer.concat(seen), all);
          assert.deepEqual(await collect(await store.readUpload(id)), all);

          const digest = digestOf(all);
          assert.equal(await store.stat(digest), undefined, "not visible before commit");
          await store.commitUpload(id, digest);
          assert.deepEqual(await store.stat(digest), { size: all.byteLength });
          assert.deepEqual(await collect(await store.read(digest)), all);
          assert.equal(await store.uploadSize(id), undefined, "the upload is gone after commit");
          assert.deepEqual(await store.listUploads(), []);
          await assert.rejects(store.readUpload(id), uploadNotFound(id));
          await assert.rejects(store.appendUpload(id, chunksOf(Buffer.from("late"))), uploadNotFound(id));
        }));

      test("onChunk sees every byte in order across many small chunks", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          const data = pseudoRandomBytes(300_000, "chunks");
          const parts: Uint8Array[] = [];
          for (let offset = 0, step = 1; offset < data.byteLength; offset += step, step = (step * 7) % 9973) {
            parts.push(data.subarray(offset, Math.min(offset + step, data.byteLength)));
          }
          const hash = createHash("sha256");
          let seenBytes = 0;
          const written = await store.appendUpload(id, chunksOf(...parts), (chunk) => {
            hash.update(chunk);
            seenBytes += chunk.byteLength;
          });
          assert.equal(written, data.byteLength);
          assert.equal(seenBytes, data.byteLength);
          assert.equal(`sha256:${hash.digest("hex")}`, digestOf(data));
          assert.deepEqual(await collect(await store.readUpload(id)), data);
        }));

      test("a body of several MiB in chunks of every size is stored whole, also after an odd offset", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          const data = pseudoRandomBytes(6 * 1024 * 1024 + 12_345, "big body");
          // A first append of an odd length, so the second one starts mid-way through a block.
          assert.equal(await store.appendUpload(id, chunksOf(data.subarray(0, 1001))), 1001);
          const sizes = [1, 65_536, 300_000, 7, 262_144, 3 * 1024 * 1024, 65_535, 262_145];
          const rest: Uint8Array[] = [];
          for (let offset = 1001, i = 0; offset < data.byteLength; offset += sizes[i++ % sizes.length]!) {
            rest.push(data.subarray(offset, offset + sizes[i % sizes.length]!));
          }
          const hash = createHash("sha256").update(data.subarray(0, 1001));
          const written = await store.appendUpload(id, chunksOf(...rest), (chunk) => hash.update(chunk));
          assert.equal(written, data.byteLength - 1001);
          assert.equal(await store.uploadSize(id), data.byteLength);
          assert.equal(`sha256:${hash.digest("hex")}`, digestOf(data));
          assert.ok((await collect(await store.readUpload(id))).equals(data), "the bytes read back differ");
        }));

      test("concurrent appends to different uploads keep their bytes apart", () =>
        withStore(async (store) => {
          const bodies = [0, 1, 2].map((i) => pseudoRandomBytes(2 * 1024 * 1024 + i * 777, `body ${i}`));
          const ids = bodies.map(() => randomUUID());
          for (const id of ids) await store.createUpload(id);
          async function* slowly(data: Buffer): AsyncGenerator<Uint8Array> {
            for (let offset = 0; offset < data.byteLength; offset += 100_000) {
              yield data.subarray(offset, offset + 100_000);
              await new Promise((resolve) => setImmediate(resolve));
            }
          }
          const written = await Promise.all(ids.map((id, i) => store.appendUpload(id, slowly(bodies[i]!))));
          assert.deepEqual(
            written,
            bodies.map((b) => b.byteLength),
          );
          for (const [i, id] of ids.entries()) {
            assert.ok((await collect(await store.readUpload(id))).equals(bodies[i]!), `upload ${i} differs`);
          }
        }));

      test("a source failing after several MiB keeps every byte before the failure", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          const data = pseudoRandomBytes(3 * 1024 * 1024 + 5, "cut off");
          async function* failing(): AsyncGenerator<Uint8Array> {
            for (let offset = 0; offset < data.byteLength; offset += 65_536) {
              yield data.subarray(offset, offset + 65_536);
            }
            throw new Error("connection reset");
          }
          await assert.rejects(store.appendUpload(id, failing()), (error: unknown) => {
            assert.equal((error as { bytesWritten?: number }).bytesWritten, data.byteLength);
            return true;
          });
          assert.equal(await store.uploadSize(id), data.byteLength);
          assert.ok((await collect(await store.readUpload(id))).equals(data), "the kept bytes differ");
        }));

      test("appending nothing writes nothing", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          assert.equal(await store.appendUpload(id, chunksOf()), 0);
          assert.equal(await store.uploadSize(id), 0);
        }));

      test("creating an upload with an id already in use rejects", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          await store.appendUpload(id, chunksOf(Buffer.from("keep me")));
          await assert.rejects(store.createUpload(id));
          assert.equal(await store.uploadSize(id), 7, "the existing upload is untouched");
        }));

      test("appending to an unknown upload rejects with UploadNotFound and creates nothing", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await assert.rejects(store.appendUpload(id, chunksOf(Buffer.from("x"))), uploadNotFound(id));
          assert.equal(await store.uploadSize(id), undefined);
          assert.deepEqual(await store.listUploads(), []);
        }));

      test("a cancelled upload is gone: append rejects with UploadNotFound and it is not resurrected", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          await store.appendUpload(id, chunksOf(Buffer.from("partial")));
          await store.deleteUpload(id);
          assert.equal(await store.uploadSize(id), undefined);
          await assert.rejects(store.appendUpload(id, chunksOf(Buffer.from("more"))), uploadNotFound(id));
          await assert.rejects(store.readUpload(id), uploadNotFound(id));
          assert.equal(await store.uploadSize(id), undefined);
          assert.deepEqual(await store.listUploads(), []);
          // Deleting again (or deleting an unknown upload) is not an error.
          await store.deleteUpload(id);
          await store.deleteUpload(randomUUID());
        }));

      test("readUpload and commitUpload of an unknown upload reject with UploadNotFound", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await assert.rejects(store.readUpload(id), uploadNotFound(id));
          await assert.rejects(store.commitUpload(id, digestOf("")), uploadNotFound(id));
          assert.equal(await store.stat(digestOf("")), undefined);
        }));

      test("a source failing mid-append keeps the bytes before the failure and reports bytesWritten", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          const before = Buffer.from("bytes that arrived ");
          const failure = new Error("client went away");
          async function* failing(): AsyncGenerator<Uint8Array> {
            yield before.subarray(0, 6);
            yield before.subarray(6);
            throw failure;
          }
          const seen: Buffer[] = [];
          await assert.rejects(
            store.appendUpload(id, failing(), (chunk) => {
              seen.push(Buffer.from(chunk));
            }),
            (error: unknown) => {
              assert.equal((error as Error).message, "client went away");
              assert.equal((error as { bytesWritten?: number }).bytesWritten, before.byteLength);
              return true;
            },
          );
          assert.deepEqual(Buffer.concat(seen), before);
          assert.equal(await store.uploadSize(id), before.byteLength);
          assert.deepEqual(await collect(await store.readUpload(id)), before);

          // The client resumes from uploadSize() and finishes the blob.
          const rest = Buffer.from("before the failure");
          assert.equal(await store.appendUpload(id, chunksOf(rest)), rest.byteLength);
          const all = Buffer.concat([before, rest]);
          await store.commitUpload(id, digestOf(all));
          assert.deepEqual(await collect(await store.read(digestOf(all))), all);
        }));

      test("a source failing before its first chunk reports bytesWritten 0 and keeps earlier appends", () =>
        withStore(async (store) => {
          const id = randomUUID();
          await store.createUpload(id);
          await store.appendUpload(id, chunksOf(Buffer.from("earlier")));
          // biome-ignore lint/correctness/useYield: a source that fails before yielding anything
          async function* failing(): AsyncGenerator<Uint8Array> {
            throw new Error("reset");
          }
          await assert.rejects(store.appendUpload(id, failing()), (error: unknown) => {
            assert.equal((error as { bytesWritten?: number }).bytesWritten, 0);
            return true;
          });
          assert.equal(await store.uploadSize(id), 7);
          assert.deepEqual((await collect(await store.readUpload(id))).toString(), "earlier");
        }));

      test("listUploads reports each upload with its size and a modification time", () =>
        withStore(async (store) => {
          const a = randomUUID();
          const b = randomUUID();
          await store.createUpload(a);
          await store.createUpload(b);
          await store.appendUpload(b, chunksOf(Buffer.from("12345")));
          const uploads = await store.listUploads();
          assert.deepEqual(uploads.map((u) => u.id).sort(), [a, b].sort());
          for (const upload of uploads) {
            assert.ok(upload.modifiedAt instanceof Date, "modifiedAt is a Date");
            assert.ok(!Number.isNaN(upload.modifiedAt.getTime()), "modifiedAt is a valid date");
          }
          assert.equal(uploads.find((u) => u.id === a)?.size, 0);
          const beforeAppend = uploads.find((u) => u.id === b)!;
          assert.equal(beforeAppend.size, 5);

          await store.appendUpload(b, chunksOf(Buffer.from("678")));
          const after = (await store.listUploads()).find((u) => u.id === b)!;
          assert.equal(after.size, 8);
          assert.ok(
            after.modifiedAt.getTime() >= beforeAppend.modifiedAt.getTime(),
            "modifiedAt never goes back",
          );

          await store.deleteUpload(a);
          assert.deepEqual(
            (await store.listUploads()).map((u) => u.id),
            [b],
          );
        }));

      test("concurrent uploads stay independent", () =>
        withStore(async (store) => {
          const ids = [randomUUID(), randomUUID(), randomUUID()];
          await Promise.all(ids.map((id) => store.createUpload(id)));
          const contents = ids.map((_, i) => pseudoRandomBytes(50_000 + i * 1000, `concurrent/${i}`));
          for (let round = 0; round < 5; round++) {
            await Promise.all(
              ids.map((id, i) => {
                const data = contents[i]!;
                const size = data.byteLength / 5;
                return store.appendUpload(id, chunksOf(data.subarray(round * size, (round + 1) * size)));
              }),
            );
          }
          await Promise.all(ids.map((id, i) => store.commitUpload(id, digestOf(contents[i]!))));
          for (const data of contents) {
            assert.deepEqual(await collect(await store.read(digestOf(data))), data);
          }
          assert.deepEqual(await store.listUploads(), []);
        }));

      test("a 20 MiB blob streams through append, commit and read with a matching digest", () =>
        withStore(async (store) => {
          const size = 20 * 1024 * 1024;
          const block = pseudoRandomBytes(64 * 1024, "large");
          async function* source(): AsyncGenerator<Uint8Array> {
            // Vary each block a little so the blob is not periodic, without holding 20 MiB.
            for (let i = 0; i < size / block.byteLength; i++) {
              const chunk = Buffer.from(block);
              chunk.writeUInt32BE(i, 0);
              yield chunk;
            }
          }
          const expected = createHash("sha256");
          for await (const chunk of source()) expected.update(chunk);
          const expectedDigest = `sha256:${expected.digest("hex")}` as Digest;

          const id = randomUUID();
          await store.createUpload(id);
          const hash = createHash("sha256");
          // Two appends, as a chunked push would do.
          let written = 0;
          async function* half(which: 0 | 1): AsyncGenerator<Uint8Array> {
            let i = 0;
            for await (const chunk of source()) {
              if (i++ < size / block.byteLength / 2 === (which === 0)) yield chunk;
            }
          }
          written += await store.appendUpload(id, half(0), (chunk) => hash.update(chunk));
          assert.equal(await store.uploadSize(id), size / 2);
          written += await store.appendUpload(id, half(1), (chunk) => hash.update(chunk));
          assert.equal(written, size);
          const digest = `sha256:${hash.digest("hex")}` as Digest;
          assert.equal(digest, expectedDigest);
          await store.commitUpload(id, digest);
          assert.deepEqual(await store.stat(digest), { size });

          const readHash = createHash("sha256");
          let readBytes = 0;
          for await (const chunk of await store.read(digest)) {
            readHash.update(chunk as Buffer);
            readBytes += (chunk as Buffer).byteLength;
          }
          assert.equal(readBytes, size);
          assert.equal(`sha256:${readHash.digest("hex")}`, expectedDigest);

          // A range that crosses 64 KiB and 1 MiB boundaries.
          const start = 1024 * 1024 - 100;
          const end = 1024 * 1024 + 70_000;
          const slice = await collect(await store.read(digest, { start, end }));
          assert.equal(slice.byteLength, end - start + 1);
          const expectedSlice: Buffer[] = [];
          let offset = 0;
          for await (const chunk of source()) {
            const from = Math.max(start, offset);
            const to = Math.min(end + 1, offset + chunk.byteLength);
            if (from < to) expectedSlice.push(Buffer.from(chunk.subarray(from - offset, to - offset)));
            offset += chunk.byteLength;
          }
          assert.deepEqual(slice, Buffer.concat(expectedSlice));
        }));

      test("malformed upload ids are refused by every upload operation", () =>
        withStore(async (store) => {
          const digest = digestOf("x");
          for (const id of INVALID_UPLOAD_IDS) {
            const label = `upload id ${JSON.stringify(id)}`;
            await assert.rejects(store.createUpload(id), `${label}: createUpload must reject`);
            await assert.rejects(
              store.appendUpload(id, chunksOf(Buffer.from("x"))),
              `${label}: appendUpload must reject`,
            );
            await assert.rejects(store.readUpload(id), `${label}: readUpload must reject`);
            await assert.rejects(store.commitUpload(id, digest), `${label}: commitUpload must reject`);
            // Queries may refuse the id or report it as unknown, but must never find anything.
            const size = await store.uploadSize(id).catch(() => undefined);
            assert.equal(size, undefined, `${label}: uploadSize`);
            await store.deleteUpload(id).catch(() => {});
          }
          assert.deepEqual(await store.listUploads(), []);
          assert.equal(await store.stat(digest), undefined);
          assert.deepEqual(await listAll(store), []);
        }));
    });
  });
}
