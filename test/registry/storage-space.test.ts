/**
 * The full-disk guard's arithmetic, over a probe the test controls: the reserve (bytes or a share
 * of the disk), measures at most every maxAgeMs with the bytes written since counted down, the
 * guard stopping a body before it would eat into the reserve, and the refusal's message.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RegistryError } from "../../src/oci/errors.ts";
import { isOutOfSpace, StorageReserve, StorageSpace } from "../../src/registry/storage-space.ts";

const MiB = 1024 * 1024;

/** A disk of `total` bytes whose free space the test sets; counts statfs calls. */
function fakeDisk(free: number, total = 64 * MiB) {
  const disk = { free, total, probes: 0, now: 0 };
  const probe = async () => {
    disk.probes++;
    return { free: disk.free, total: disk.total };
  };
  return { disk, probe, now: () => disk.now };
}

async function* chunks(count: number, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size);
}

/** Consumes a body as a store would: each chunk taken is written, so the disk has less free. */
async function write(disk: { free: number }, body: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    disk.free -= chunk.byteLength;
  }
  return bytes;
}

function storageFull(error: unknown): boolean {
  assert.ok(error instanceof RegistryError, String(error));
  assert.equal(error.code, "STORAGE_FULL");
  assert.equal(error.status, 507);
  return true;
}

describe("StorageSpace", () => {
  test("a push that would take free space below the reserve is refused, saying what is free and needed", async () => {
    const { probe, now } = fakeDisk(40 * MiB);
    const space = new StorageSpace({ probe, reserve: 16 * MiB, now });
    await space.assertRoom();
    await space.assertRoom(24 * MiB);
    await assert.rejects(space.assertRoom(25 * MiB), (error: unknown) => {
      storageFull(error);
      assert.match(
        (error as Error).message,
        /^the registry's storage is full \(40 MiB free of 41 MiB needed; 16 MiB is kept in reserve for metadata and deletes\): delete images or add space, then push again$/,
      );
      assert.deepEqual((error as RegistryError).detail, {
        free: 40 * MiB,
        needed: 41 * MiB,
        reserve: 16 * MiB,
        total: 64 * MiB,
      });
      return true;
    });
    // Plenty is still free (twice the reserve): one push too big for it does not make it full.
    assert.equal((await space.status()).full, false);
    await space.assertRoom(MiB);
  });

  test("filled down to the reserve it is full, refusing every push, until twice the reserve is free", async () => {
    const { disk, probe, now } = fakeDisk(40 * MiB);
    const space = new StorageSpace({ probe, reserve: 16 * MiB, now });
    await assert.rejects(write(disk, space.guard(chunks(30, MiB))), storageFull);
    // 24 MiB fit above the reserve; the chunk that would cross it is not handed on.
    assert.equal(disk.free, 16 * MiB);
    const full = await space.status();
    assert.deepEqual(full, {
      free: 16 * MiB,
      total: 64 * MiB,
      reserve: 16 * MiB,
      resumeAt: 32 * MiB,
      full: true,
    });
    // Even an empty push (POST of an upload) is refused now, and the message says what is needed.
    await assert.rejects(space.assertRoom(), (error: unknown) => {
      storageFull(error);
      assert.match((error as Error).message, /\(16 MiB free of 32 MiB needed;/);
      return true;
    });
    disk.free = 31 * MiB; // a delete freed some, not enough
    await assert.rejects(space.assertRoom(), storageFull);
    disk.free = 32 * MiB; // enough: the refusal's fresh measure sees it
    await space.assertRoom();
    assert.equal((await space.status()).full, false);
    assert.equal(await write(disk, space.guard(chunks(8, MiB))), 8 * MiB);
  });

  test("the first measure decides: below twice the reserve, a start is full", async () => {
    for (const [free, full] of [
      [8 * MiB, true],
      [20 * MiB, true],
      [32 * MiB, false],
    ] as const) {
      const { probe, now } = fakeDisk(free);
      const space = new StorageSpace({ probe, reserve: 16 * MiB, now });
      assert.equal((await space.status()).full, full, `${free / MiB} MiB free`);
    }
  });

  test("a reserve given as a share of the disk is resolved against its size", async () => {
    const { probe, now } = fakeDisk(700 * MiB, 1000 * MiB);
    const space = new StorageSpace({ probe, reserve: { percent: 1 }, now });
    const status = await space.status();
    assert.equal(status.reserve, 10 * MiB);
    assert.equal(status.resumeAt, 20 * MiB);
    assert.equal(status.full, false);
    assert.deepEqual(StorageReserve.parse("1%"), { percent: 1 });
    assert.equal(StorageReserve.parse("16MiB"), 16 * MiB);
    assert.equal(StorageReserve.parse(1024), 1024);
    assert.equal(StorageReserve.safeParse("50%").success, false);
    assert.equal(StorageReserve.safeParse("lots").success, false);
  });

  test("measures at most every maxAgeMs, counting down what was written in between", async () => {
    const { disk, probe, now } = fakeDisk(60 * MiB);
    const space = new StorageSpace({ probe, reserve: 16 * MiB, maxAgeMs: 1000, now });
    assert.equal((await space.status()).free, 60 * MiB);
    assert.equal(await write(disk, space.guard(chunks(10, MiB))), 10 * MiB);
    assert.equal(disk.probes, 1, "no statfs while the estimate has room");
    assert.equal((await space.status()).free, 50 * MiB);
    disk.now += 1000;
    disk.free -= MiB; // something else wrote too
    assert.equal((await space.status()).free, 49 * MiB);
    assert.equal(disk.probes, 2);
    space.invalidate();
    await space.status();
    assert.equal(disk.probes, 3);
  });

  test("ENOSPC, EDQUOT and SQLite's SQLITE_FULL are out of space; other errors are not", () => {
    assert.equal(isOutOfSpace(Object.assign(new Error("x"), { code: "ENOSPC" })), true);
    assert.equal(isOutOfSpace(Object.assign(new Error("x"), { code: "EDQUOT" })), true);
    assert.equal(
      isOutOfSpace(
        Object.assign(new Error("database or disk is full"), { code: "ERR_SQLITE_ERROR", errcode: 13 }),
      ),
      true,
    );
    assert.equal(
      isOutOfSpace(Object.assign(new Error("x"), { code: "ERR_SQLITE_ERROR", errcode: 5 })),
      false,
    );
    assert.equal(isOutOfSpace(Object.assign(new Error("x"), { code: "EIO" })), false);
    assert.equal(isOutOfSpace(undefined), false);
  });
});
