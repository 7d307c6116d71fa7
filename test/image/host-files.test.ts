import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  directoryEntries,
  hostPathEntries,
  parseLdd,
  withParentDirectories,
} from "../../src/image/host-files.ts";
import { indexTar, type TarInputEntry, tarBuffer } from "../../src/image/tar.ts";
import { digestOf } from "../../src/oci/digest.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-host-files-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(entries: AsyncIterable<TarInputEntry>): Promise<TarInputEntry[]> {
  const out: TarInputEntry[] = [];
  for await (const entry of entries) out.push(entry);
  return out;
}

describe("directoryEntries", () => {
  test("walks in sorted order with normalised modes, one mtime, the owner asked for, and symlinks kept", async () => {
    const tree = join(dir, "tree");
    await mkdir(join(tree, "b/nested"), { recursive: true });
    await writeFile(join(tree, "b/nested/z.txt"), "z");
    await writeFile(join(tree, "a.sh"), "#!/bin/sh\n");
    await chmod(join(tree, "a.sh"), 0o700);
    await writeFile(join(tree, "secret"), "s");
    await chmod(join(tree, "secret"), 0o600);
    await writeFile(join(tree, "skip.map"), "{}");
    await symlink("a.sh", join(tree, "link"));

    const entries = await collect(
      directoryEntries(tree, "app", { uid: 7, gid: 8, mtime: 1234, skip: (rel) => rel.endsWith(".map") }),
    );
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.mode ?? null, e.linkname ?? null]),
      [
        ["app", "directory", 0o755, null],
        ["app/a.sh", "file", 0o755, null],
        ["app/b", "directory", 0o755, null],
        ["app/b/nested", "directory", 0o755, null],
        ["app/b/nested/z.txt", "file", 0o644, null],
        ["app/link", "symlink", null, "a.sh"],
        // 0600 on the host would be unreadable for the image's user: files are 0644.
        ["app/secret", "file", 0o644, null],
      ],
    );
    assert.ok(entries.every((e) => e.uid === 7 && e.gid === 8 && e.mtime === 1234));

    const archive = join(dir, "tree.tar");
    const first = await tarBuffer(directoryEntries(tree, "app"));
    await writeFile(archive, first);
    const indexed = await indexTar(archive);
    assert.equal(indexed.find((e) => e.name === "app/b/nested/z.txt")?.size, 1);
    assert.equal(indexed.find((e) => e.name === "app/link")?.linkname, "a.sh");
    // Same files, same bytes: the layer digest does not depend on when or how often it is built.
    assert.equal(digestOf(await tarBuffer(directoryEntries(tree, "app"))), digestOf(first));
  });

  test("a skipped directory leaves out everything below it; a file is not a tree", async () => {
    const tree = join(dir, "pkg");
    await mkdir(join(tree, "node_modules/dep"), { recursive: true });
    await writeFile(join(tree, "node_modules/dep/index.js"), "");
    await writeFile(join(tree, "index.js"), "");
    const names = (await collect(directoryEntries(tree, "p", { skip: (rel) => rel === "node_modules" }))).map(
      (e) => e.name,
    );
    assert.deepEqual(names, ["p", "p/index.js"]);
    await assert.rejects(collect(directoryEntries(join(tree, "index.js"), "p")), /not a directory/);
  });
});

describe("hostPathEntries", () => {
  test("reproduces every symlink on the way and stores the file at its real path", async () => {
    // root/lib → usr/lib (merged /usr), usr/lib/libx.so.1 → libx.so.1.2.3 (a soname link).
    const root = join(dir, "root");
    await mkdir(join(root, "usr/lib"), { recursive: true });
    await symlink("usr/lib", join(root, "lib"));
    await writeFile(join(root, "usr/lib/libx.so.1.2.3"), "ELF");
    await symlink("libx.so.1.2.3", join(root, "usr/lib/libx.so.1"));

    const entries = await hostPathEntries(join(root, "lib/libx.so.1"), { mtime: 5 });
    const base = root.slice(1);
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.linkname ?? null]),
      [
        [`${base}/lib`, "symlink", "usr/lib"],
        [`${base}/usr/lib/libx.so.1`, "symlink", "libx.so.1.2.3"],
        [`${base}/usr/lib/libx.so.1.2.3`, "file", null],
      ],
    );
    assert.ok(entries.every((e) => e.mtime === 5 && e.uid === 0));
  });

  test("refuses a relative path and a loop", async () => {
    await assert.rejects(hostPathEntries("lib/libc.so.6"), /absolute/);
    await symlink("loop-b", join(dir, "loop-a"));
    await symlink("loop-a", join(dir, "loop-b"));
    await assert.rejects(hostPathEntries(join(dir, "loop-a")), /symbolic links/);
  });
});

describe("withParentDirectories", () => {
  test("adds each missing parent once, before its first child, and drops exact repeats", async () => {
    const out = await collect(
      withParentDirectories(
        [
          { name: "data", type: "directory", uid: 65532, gid: 65532 },
          { name: "lib", type: "symlink", linkname: "usr/lib" },
          { name: "usr/lib/libc.so.6", data: "c" },
          { name: "lib", type: "symlink", linkname: "usr/lib" },
          { name: "usr/lib/libm.so.6", data: "m" },
        ],
        { mtime: 9 },
      ),
    );
    assert.deepEqual(
      out.map((e) => e.name),
      ["data", "lib", "usr", "usr/lib", "usr/lib/libc.so.6", "usr/lib/libm.so.6"],
    );
    assert.equal(out.find((e) => e.name === "usr")?.mtime, 9);
    assert.equal(out.find((e) => e.name === "data")?.uid, 65532);
  });

  test("refuses a path through a symlink or a file, and a name listed twice differently", async () => {
    await assert.rejects(
      collect(
        withParentDirectories([{ name: "lib", type: "symlink", linkname: "usr/lib" }, { name: "lib/x" }]),
      ),
      /lib\/x runs through lib/,
    );
    await assert.rejects(collect(withParentDirectories([{ name: "f" }, { name: "f/x" }])), /runs through f/);
    await assert.rejects(
      collect(
        withParentDirectories([
          { name: "a/b", data: "1" },
          { name: "a/b", data: "2" },
        ]),
      ),
      /twice/,
    );
    await assert.rejects(
      collect(withParentDirectories([{ name: "data/x" }, { name: "data", type: "directory", uid: 65532 }])),
      /list a directory before its contents/,
    );
  });
});

describe("parseLdd", () => {
  test("lists the libraries and the loader, not the vDSO", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd6b1f2000)",
      "\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f58c8690000)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f58c8400000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f58c813e000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f58c86a8000)",
      "",
    ].join("\n");
    assert.deepEqual(parseLdd(output), [
      "/lib/x86_64-linux-gnu/libdl.so.2",
      "/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ]);
    assert.deepEqual(parseLdd("\tnot a dynamic executable\n"), []);
    assert.deepEqual(parseLdd("\tstatically linked\n"), []);
  });

  test("a library ldd cannot find is an error naming it", () => {
    assert.throws(
      () => parseLdd("\tlibfoo.so.1 => not found\n", "/usr/bin/x"),
      /\/usr\/bin\/x needs libfoo\.so\.1/,
    );
  });
});
