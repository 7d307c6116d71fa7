/**
 * Errors: every failure on /v2 answers the spec's envelope `{"errors":[{"code","message",...}]}`
 * with the right HTTP status. Codes covered here: BLOB_UNKNOWN, BLOB_UPLOAD_INVALID,
 * BLOB_UPLOAD_UNKNOWN, DIGEST_INVALID, MANIFEST_BLOB_UNKNOWN, MANIFEST_INVALID, MANIFEST_UNKNOWN,
 * NAME_INVALID (including path traversal: nothing outside the data directory may be touched),
 * NAME_UNKNOWN, SIZE_INVALID, UNSUPPORTED. UNAUTHORIZED, DENIED and TOOMANYREQUESTS come with
 * authentication and rate limits, which this server does not have yet.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  digestOf,
  type HttpResponse,
  http,
  OCI_EMPTY,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  putManifest,
  snapshotTree,
  startServer,
  startUpload,
  type TestServer,
  uploadedBytes,
  withQuery,
} from "./helpers.ts";

let server: TestServer;
let layerDigest: string;

before(async () => {
  // The data directory sits two levels down, so `../..` from it still lands inside our temp root.
  server = await startServer({}, { dataSubdir: "outer/inner/data" });
  await writeFile(join(server.root, "outer", "sentinel"), "do not touch");
  await writeFile(join(server.root, "outer", "inner", "sentinel"), "do not touch");
  const image = await pushImage(server, "err/app", "v1");
  layerDigest = image.layers[0]!.digest;
});

after(() => server.cleanup());

/** The envelope and status, whatever the code (for failures the spec gives no code for). */
function assertEnvelope(res: HttpResponse, status: number): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status} ${res.text().slice(0, 300)}`);
  const body = res.json<{ errors: { code: unknown; message: unknown }[] }>();
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, res.text());
  assert.equal(typeof body.errors[0]!.code, "string");
  assert.equal(typeof body.errors[0]!.message, "string");
}

describe("error codes", () => {
  test("BLOB_UNKNOWN → 404", async () => {
    assertError(await http(server, "GET", `/v2/err/app/blobs/${digestOf("nope")}`), 404, "BLOB_UNKNOWN");
  });

  for (const range of ["abc", "bytes=a-b", "10", "-5", "5-", "1-2-3"]) {
    test(`BLOB_UPLOAD_INVALID → 400 for Content-Range "${range}"`, async () => {
      const location = await startUpload(server, "err/app");
      const res = await http(server, "PATCH", location, {
        headers: { "Content-Range": range, "Content-Type": "application/octet-stream" },
        body: "hello",
      });
      assertError(res, 400, "BLOB_UPLOAD_INVALID");
    });
  }

  test("BLOB_UPLOAD_UNKNOWN → 404", async () => {
    const res = await http(server, "GET", "/v2/err/app/blobs/uploads/00000000-0000-4000-8000-000000000000");
    assertError(res, 404, "BLOB_UPLOAD_UNKNOWN");
  });

  test("DIGEST_INVALID → 400 (mismatch, malformed in a path, malformed in a query)", async () => {
    const mismatch = await http(server, "POST", `/v2/err/app/blobs/uploads/?digest=${digestOf("a")}`, {
      body: "b",
    });
    assertError(mismatch, 400, "DIGEST_INVALID");
    assertError(await http(server, "GET", "/v2/err/app/blobs/sha256:abc"), 400, "DIGEST_INVALID");
    assertError(await http(server, "GET", "/v2/err/app/manifests/sha256:abc"), 400, "DIGEST_INVALID");
    assertError(await http(server, "GET", "/v2/err/app/blobs/notadigest"), 400, "DIGEST_INVALID");
    const location = await startUpload(server, "err/app");
    assertError(await http(server, "PUT", withQuery(location, { digest: "sha256:" })), 400, "DIGEST_INVALID");
  });

  test("MANIFEST_BLOB_UNKNOWN → 400", async () => {
    const config = {
      mediaType: OCI_EMPTY,
      digest: await pushBlob(server, "err/app", Buffer.from("{}")),
      size: 2,
    };
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: [{ mediaType: OCI_LAYER, digest: digestOf("missing"), size: 7 }],
    };
    assertError(
      await putManifest(server, "err/app", "broken", manifest, OCI_MANIFEST),
      400,
      "MANIFEST_BLOB_UNKNOWN",
    );
  });

  test("MANIFEST_INVALID → 400", async () => {
    assertError(
      await putManifest(server, "err/app", "bad", Buffer.from("nope"), OCI_MANIFEST),
      400,
      "MANIFEST_INVALID",
    );
  });

  test("MANIFEST_UNKNOWN → 404", async () => {
    assertError(await http(server, "GET", "/v2/err/app/manifests/nosuchtag"), 404, "MANIFEST_UNKNOWN");
  });

  test("NAME_UNKNOWN → 404", async () => {
    assertError(await http(server, "GET", "/v2/err/none/tags/list"), 404, "NAME_UNKNOWN");
    assertError(await http(server, "GET", "/v2/err/none/manifests/v1"), 404, "NAME_UNKNOWN");
    assertError(await http(server, "GET", `/v2/err/none/blobs/${layerDigest}`), 404, "NAME_UNKNOWN");
  });

  test("SIZE_INVALID → 400 when Content-Length does not match Content-Range; nothing is appended", async () => {
    const location = await startUpload(server, "err/app");
    const ok = await http(server, "PATCH", location, {
      headers: { "Content-Range": "0-9" },
      body: randomBytes(10),
    });
    assert.equal(ok.status, 202);
    const res = await http(server, "PATCH", location, {
      headers: { "Content-Range": "10-19", "Content-Type": "application/octet-stream" },
      body: randomBytes(5),
    });
    assertError(res, 400, "SIZE_INVALID");
    assert.equal(uploadedBytes(await http(server, "GET", location)), 10);
  });

  const unsupported: [string, string][] = [
    ["POST", "/v2/err/app/manifests/v1"],
    ["PATCH", "/v2/err/app/manifests/v1"],
    ["POST", "/v2/_catalog"],
    ["DELETE", "/v2/_catalog"],
    ["PUT", "/v2/err/app/tags/list"],
    ["DELETE", "/v2/err/app/tags/list"],
    ["POST", "/v2/err/app/blobs/sha256:" + "0".repeat(64)],
    ["PATCH", "/v2/err/app/blobs/sha256:" + "0".repeat(64)],
    ["PUT", "/v2/err/app/blobs/sha256:" + "0".repeat(64)],
    ["GET", "/v2/err/app/blobs/uploads/"],
    ["PUT", "/v2/err/app/blobs/uploads/"],
    ["POST", "/v2/err/app/blobs/uploads/00000000-0000-4000-8000-000000000000"],
    ["PUT", "/v2/"],
    ["DELETE", "/v2/"],
  ];
  for (const [method, path] of unsupported) {
    test(`UNSUPPORTED → 405 for ${method} ${path.slice(0, 40)}`, async () => {
      assertError(await http(server, method, path), 405, "UNSUPPORTED");
    });
  }

  test("an unknown /v2 endpoint is 404 with the error envelope", async () => {
    assertEnvelope(await http(server, "GET", "/v2/err/app/nothing/here"), 404);
    assertEnvelope(await http(server, "GET", "/v2/err/app"), 404);
  });

  test("HEAD failures have the status and no body", async () => {
    const res = await http(server, "HEAD", `/v2/err/app/blobs/${digestOf("nope")}`);
    assert.equal(res.status, 404);
    assert.equal(res.body.byteLength, 0);
  });
});

describe("NAME_INVALID and path traversal", () => {
  const badNames = [
    "UPPER",
    "Err/app",
    "a..b",
    "-a",
    "a-",
    ".a",
    "a_",
    "a___b",
    "a//b",
    "a/",
    "a%20b",
    "a%00b",
    "a/../b",
    "x".repeat(256),
  ];
  for (const name of badNames) {
    test(`/v2/${name.slice(0, 20)}/… is NAME_INVALID on every endpoint`, async () => {
      assertError(await http(server, "GET", `/v2/${name}/tags/list`), 400, "NAME_INVALID");
      assertError(await http(server, "GET", `/v2/${name}/manifests/latest`), 400, "NAME_INVALID");
      assertError(await http(server, "GET", `/v2/${name}/blobs/${layerDigest}`), 400, "NAME_INVALID");
      assertError(await http(server, "POST", `/v2/${name}/blobs/uploads/`), 400, "NAME_INVALID");
      assertError(await http(server, "GET", `/v2/${name}/referrers/${layerDigest}`), 400, "NAME_INVALID");
    });
  }

  test("a 255-character name is valid", async () => {
    const name = `${"a".repeat(127)}/${"b".repeat(127)}`;
    assert.equal(name.length, 255);
    const res = await http(server, "POST", `/v2/${name}/blobs/uploads/`);
    assert.equal(res.status, 202, res.text());
  });

  test("traversal attempts are refused and touch nothing outside the data directory", async () => {
    const before = await snapshotTree(server.root, [server.dataDir]);
    const body = Buffer.from("escape attempt");
    const digest = digestOf(body);
    const attempts: [string, string, Buffer?][] = [
      ["GET", "/v2/../../etc/tags/list"],
      ["GET", "/v2/../../../../../../etc/passwd/tags/list"],
      ["GET", "/v2/%2e%2e/%2e%2e/etc/tags/list"],
      ["GET", "/v2/%2E%2E%2F%2E%2E%2Fetc/tags/list"],
      ["GET", "/v2/..%2f..%2fsentinel/manifests/latest"],
      ["GET", "/v2/..%5c..%5csentinel/manifests/latest"],
      ["POST", "/v2/../../escape/blobs/uploads/"],
      ["POST", `/v2/..%2F..%2Fescape/blobs/uploads/?digest=${digest}`, body],
      ["POST", `/v2/%2e%2e%2fescape/blobs/uploads/?digest=${digest}`, body],
      ["PUT", "/v2/..%2F..%2Fescape/manifests/latest", Buffer.from("{}")],
      ["PUT", "/v2/err/app/manifests/..%2F..%2F..%2Fsentinel", Buffer.from("{}")],
      ["GET", "/v2/err/app/manifests/..%2F..%2Fsentinel"],
      ["GET", "/v2/err/app/blobs/sha256:..%2F..%2F..%2Fsentinel"],
      ["GET", "/v2/err/app/blobs/..%2F..%2F..%2Fsentinel"],
      ["DELETE", "/v2/err/app/blobs/sha256%3A..%2F..%2F..%2Fsentinel"],
      ["PATCH", "/v2/err/app/blobs/uploads/..%2F..%2F..%2Fsentinel", body],
      ["PUT", `/v2/err/app/blobs/uploads/..%2F..%2F..%2Fescape?digest=${digest}`, body],
      ["DELETE", "/v2/err/app/blobs/uploads/..%2F..%2F..%2Fsentinel"],
      ["GET", "/v2/err/app/blobs/uploads/..%2F..%2Fmetadata.sqlite"],
      ["POST", `/v2/err/app/blobs/uploads/?mount=sha256:..%2F..%2Fsentinel&from=..%2F..%2Fouter`],
    ];
    for (const [method, path, payload] of attempts) {
      const res = await http(server, method, path, payload ? { body: payload } : {});
      if (method === "POST" && path.startsWith("/v2/err/app/")) {
        // A valid repository with a bad mount: refused or a plain upload session, never a mount.
        assert.ok(res.status === 202 || res.status === 400, `${method} ${path}: ${res.status}`);
        continue;
      }
      assert.ok(res.status >= 400 && res.status < 500, `${method} ${path}: ${res.status} ${res.text()}`);
      assertEnvelope(res, res.status);
    }
    const after = await snapshotTree(server.root, [server.dataDir]);
    assert.deepEqual(after, before, "nothing outside the data directory changed");
    const top = await readdir(server.dataDir);
    for (const entry of top) {
      assert.ok(
        ["blobs", "uploads", "reestr.lock"].includes(entry) || entry.startsWith("metadata.sqlite"),
        `unexpected entry in the data directory: ${entry}`,
      );
    }
    const escaped = await http(server, "GET", `/v2/escape/blobs/${digest}`);
    assertError(escaped, 404, "NAME_UNKNOWN");
  });
});
