import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { indexTar, openTarEntry, parsePax, readTarEntry, tarBuffer } from "../../src/image/tar.ts";

async function streamToBuffer(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-tar-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const longDir = `${"d".repeat(120)}/${"e".repeat(30)}`; // fits the ustar prefix/name split
const veryLong = `${"x".repeat(200)}/${"y".repeat(150)}.txt`; // needs a pax path record

describe("tar writer + reader", () => {
  it("round-trips files, directories, symlinks, long names and streamed data", async () => {
    const big = Buffer.alloc(70_000, 7);
    const archive = await tarBuffer([
      { name: "etc", type: "directory", mtime: 1_700_000_000 },
      { name: "etc/hello.txt", data: "hello\n", mode: 0o600, mtime: 1_700_000_001, uid: 65532, gid: 65533 },
      { name: "etc/link", type: "symlink", linkname: "hello.txt" },
      { name: `${longDir}/file`, data: "in a long directory" },
      { name: veryLong, data: "very long name" },
      {
        name: "big.bin",
        size: big.length,
        data: async function* () {
          yield big.subarray(0, 1000);
          yield big.subarray(1000);
        },
      },
      { name: "empty", data: new Uint8Array(0) },
    ]);
    assert.equal(archive.length % 512, 0);
    const path = join(dir, "roundtrip.tar");
    await writeFile(path, archive);

    const entries = await indexTar(path);
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.size]),
      [
        ["etc", "directory", 0],
        ["etc/hello.txt", "file", 6],
        ["etc/link", "symlink", 0],
        [`${longDir}/file`, "file", 19],
        [veryLong, "file", 14],
        ["big.bin", "file", big.length],
        ["empty", "file", 0],
      ],
    );
    const hello = entries[1]!;
    assert.equal(hello.mode, 0o600);
    assert.equal(hello.mtime, 1_700_000_001);
    assert.deepEqual([hello.uid, hello.gid], [65532, 65533]);
    assert.deepEqual([entries[0]!.uid, entries[0]!.gid], [0, 0]);
    assert.equal(entries[2]!.linkname, "hello.txt");
    assert.equal((await readTarEntry(path, hello)).toString(), "hello\n");
    assert.equal((await readTarEntry(path, entries[4]!)).toString(), "very long name");
    assert.deepEqual(await streamToBuffer(openTarEntry(path, entries[5]!)), big);
    assert.equal((await streamToBuffer(openTarEntry(path, entries[6]!))).length, 0);
    // The data offset points into the archive itself: no extraction happened.
    assert.equal(archive.subarray(hello.offset, hello.offset + hello.size).toString(), "hello\n");
  });

  it("writes archives that GNU tar lists and extracts identically", async () => {
    const path = join(dir, "for-gnu.tar");
    await writeFile(
      path,
      await tarBuffer([
        { name: "a", type: "directory" },
        { name: "a/b.txt", data: "bee" },
        { name: veryLong, data: "long" },
      ]),
    );
    const listing = execFileSync("tar", ["-tf", path], { encoding: "utf8" }).trim().split("\n");
    assert.deepEqual(listing, ["a/", "a/b.txt", veryLong]);
    const out = join(dir, "extracted");
    await mkdir(out);
    execFileSync("tar", ["-xf", path, "-C", out]);
    assert.equal(await readFile(join(out, "a/b.txt"), "utf8"), "bee");
    assert.equal(await readFile(join(out, veryLong), "utf8"), "long");
  });

  for (const format of ["gnu", "pax", "ustar"] as const) {
    it(`indexes archives GNU tar writes in ${format} format`, async () => {
      const src = join(dir, `src-${format}`);
      const deep = format === "ustar" ? longDir : veryLong.slice(0, veryLong.lastIndexOf("/"));
      await mkdir(join(src, deep), { recursive: true });
      await writeFile(join(src, deep, "f.txt"), "deep file");
      await writeFile(join(src, "top.txt"), "top");
      await symlink("top.txt", join(src, "ln"));
      const path = join(dir, `${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", path, "-C", src, "top.txt", "ln", deep]);
      const entries = await indexTar(path);
      const byName = new Map(entries.map((e) => [e.name, e]));
      assert.equal((await readTarEntry(path, byName.get("top.txt")!)).toString(), "top");
      assert.equal(byName.get("ln")?.type, "symlink");
      assert.equal(byName.get("ln")?.linkname, "top.txt");
      const deepFile = byName.get(`${deep}/f.txt`);
      assert.ok(deepFile, `expected ${deep}/f.txt in ${[...byName.keys()].join(", ")}`);
      assert.equal((await readTarEntry(path, deepFile)).toString(), "deep file");
    });
  }

  it("rejects a file that is not a tar archive", async () => {
    const path = join(dir, "not.tar");
    await writeFile(path, Buffer.alloc(1024, 0x41));
    await assert.rejects(indexTar(path), /checksum/);
  });

  it("rejects a truncated archive", async () => {
    const full = await tarBuffer([{ name: "f", data: Buffer.alloc(5000, 1) }]);
    const path = join(dir, "truncated.tar");
    await writeFile(path, full.subarray(0, 2048));
    await assert.rejects(indexTar(path), /truncated/);
  });

  it("refuses streamed data that does not match the declared size", async () => {
    await assert.rejects(
      tarBuffer([
        {
          name: "f",
          size: 10,
          data: async function* () {
            yield Buffer.alloc(5);
          },
        },
      ]),
      /5 bytes, not 10/,
    );
  });

  it("parses pax records, including multi-byte values", () => {
    const value = "päth/ñame";
    const body = ` path=${value}\n`;
    const length = Buffer.byteLength(body) + 2;
    assert.deepEqual(parsePax(Buffer.from(`${length}${body}11 size=42\n`)), { path: value, size: "42" });
  });
});
