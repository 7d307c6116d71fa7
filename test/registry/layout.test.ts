/**
 * src/registry/layout.ts documents every file under the data directory. The registry's own paths
 * are built there; these tests check that the names the other modules write under dataDir are
 * the ones layout.ts lists (and its header comment shows), so the map cannot silently go stale.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { describe, test } from "node:test";
import { loadSigningKey } from "../../src/auth/token-keys.ts";
import { EmbeddedUserStore } from "../../src/auth/user-store.ts";
import { AuthStore } from "../../src/auth/web-sessions.ts";
import { runUser } from "../../src/cli/user.ts";
import { type Digest, digestOf } from "../../src/oci/digest.ts";
import { blobPath, DATA_DIR_FILES, metadataPath, uploadPath } from "../../src/registry/layout.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { FsBlobStore } from "../../src/registry/storage/fs-blob-store.ts";
import { tlsPaths } from "../../src/tls/files.ts";
import { SqliteWatchStore } from "../../src/watcher/store.ts";
import { withTempDir } from "./temp-dir.ts";

const withDataDir = (body: (dataDir: string) => Promise<void>) => withTempDir("reestr-layout-", body);

const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

describe("the data directory layout", () => {
  test("the header comment shows every name layout.ts lists", () => {
    const source = readFileSync(new URL("../../src/registry/layout.ts", import.meta.url), "utf8");
    const header = source.slice(0, source.indexOf("*/"));
    for (const [what, name] of Object.entries(DATA_DIR_FILES)) {
      const shown = name.split("/").at(-1)!;
      assert.ok(header.includes(`-> ${shown}`), `${what} (${name}) is missing from the header comment`);
    }
  });

  test("blob and upload paths are the ones the comment shows", () => {
    const hex = "ab".padEnd(64, "0");
    assert.equal(blobPath("/data", `sha256:${hex}` as Digest), `/data/blobs/sha256/ab/${hex}`);
    const id = "9b2d8c9e-6f4c-4a3e-9a51-0f2b3c4d5e6f";
    assert.equal(uploadPath("/data", id), `/data/uploads/${id}`);
    assert.equal(metadataPath("/data"), "/data/metadata.sqlite");
  });

  test("path building refuses what is not a digest or an upload id", () => {
    assert.throws(() => blobPath("/data", "sha256:../../x" as Digest));
    assert.throws(() => uploadPath("/data", "../x"), /invalid upload id/);
  });

  test("the registry's stores write blobs/, uploads/ and metadata.sqlite, nothing else", () =>
    withDataDir(async (dataDir) => {
      const blobs = await new FsBlobStore(dataDir).init();
      const metadata = new SqliteMetadataStore(metadataPath(dataDir));
      try {
        const id = "9b2d8c9e-6f4c-4a3e-9a51-0f2b3c4d5e6f";
        await blobs.createUpload(id);
        await blobs.commitUpload(id, digestOf(""));
        await metadata.linkBlob("app", digestOf(""), 0);
        const entries = (await readdir(dataDir)).filter((name) => !/-(wal|shm)$/.test(name)).sort();
        assert.deepEqual(entries, [DATA_DIR_FILES.blobs, DATA_DIR_FILES.metadata, DATA_DIR_FILES.uploads]);
        assert.ok(existsSync(blobPath(dataDir, digestOf(""))));
      } finally {
        await metadata.close();
      }
    }));

  test("the watcher, users, web sessions, signing key and TLS files are where layout.ts says", () =>
    withDataDir(async (dataDir) => {
      const watch = SqliteWatchStore.inDataDir(dataDir);
      await watch.close();
      assert.ok(existsSync(join(dataDir, DATA_DIR_FILES.watch)), DATA_DIR_FILES.watch);

      new EmbeddedUserStore(dataDir).close();
      assert.ok(existsSync(join(dataDir, DATA_DIR_FILES.users)), DATA_DIR_FILES.users);

      AuthStore.inDataDir(dataDir).close();
      assert.ok(existsSync(join(dataDir, DATA_DIR_FILES.auth)), DATA_DIR_FILES.auth);

      await loadSigningKey({ dataDir });
      assert.ok(existsSync(join(dataDir, DATA_DIR_FILES.tokenSigningKey)), DATA_DIR_FILES.tokenSigningKey);

      const tls = tlsPaths(dataDir);
      assert.equal(tls.dir, join(dataDir, DATA_DIR_FILES.tls));
      for (const file of [tls.caCert, tls.caKey, tls.serverCert, tls.serverKey]) {
        assert.equal(join(file, ".."), tls.dir, file);
      }
    }));

  test("`reestr user add` without --htpasswd writes the documented htpasswd file", () =>
    withDataDir(async (dataDir) => {
      const code = await runUser(["add", "alice", "--password-stdin", "--data", dataDir], {
        stdin: Readable.from([Buffer.from("correct horse battery staple")]),
        stdout: sink(),
        stderr: sink(),
        env: {},
        cost: 4,
      });
      assert.equal(code, 0);
      assert.ok(existsSync(join(dataDir, DATA_DIR_FILES.htpasswd)), DATA_DIR_FILES.htpasswd);
    }));
});
