/**
 * Content management: DELETE of manifests (by digest and by tag) and blobs, and the same three
 * refused with UNSUPPORTED when deletion is turned off.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  digestOf,
  http,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  putManifest,
  startServer,
  type TestServer,
} from "./helpers.ts";

async function tags(server: TestServer, repo: string): Promise<string[]> {
  const res = await http(server, "GET", `/v2/${repo}/tags/list`);
  assert.equal(res.status, 200, res.text());
  return res.json<{ tags: string[] }>().tags;
}

describe("delete enabled (the default)", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.cleanup());

  test("DELETE manifest by digest → 202; then GET/HEAD 404 MANIFEST_UNKNOWN and its tags are gone", async () => {
    const image = await pushImage(server, "del/app", "v1");
    assert.equal((await putManifest(server, "del/app", "also", image.bytes, OCI_MANIFEST)).status, 201);
    const keep = await pushImage(server, "del/app", "keep");

    const del = await http(server, "DELETE", `/v2/del/app/manifests/${image.digest}`);
    assert.equal(del.status, 202, del.text());

    assertError(await http(server, "GET", `/v2/del/app/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
    assert.equal((await http(server, "HEAD", `/v2/del/app/manifests/${image.digest}`)).status, 404);
    for (const tag of ["v1", "also"]) {
      assertError(await http(server, "GET", `/v2/del/app/manifests/${tag}`), 404, "MANIFEST_UNKNOWN");
    }
    assert.deepEqual(await tags(server, "del/app"), ["keep"]);
    const other = await http(server, "GET", `/v2/del/app/manifests/keep`);
    assert.equal(other.header("docker-content-digest"), keep.digest);
  });

  test("DELETE by tag → 202; only the tag goes, the manifest stays pullable by digest and other tags", async () => {
    const image = await pushImage(server, "del/tag", "v1");
    assert.equal((await putManifest(server, "del/tag", "stable", image.bytes, OCI_MANIFEST)).status, 201);

    const del = await http(server, "DELETE", "/v2/del/tag/manifests/v1");
    assert.equal(del.status, 202, del.text());

    assertError(await http(server, "GET", "/v2/del/tag/manifests/v1"), 404, "MANIFEST_UNKNOWN");
    assert.deepEqual(await tags(server, "del/tag"), ["stable"]);
    const byDigest = await http(server, "GET", `/v2/del/tag/manifests/${image.digest}`);
    assert.equal(byDigest.status, 200);
    assert.deepEqual(byDigest.body, image.bytes);
    assert.equal((await http(server, "GET", "/v2/del/tag/manifests/stable")).status, 200);
  });

  test("DELETE blob → 202; then GET/HEAD 404 BLOB_UNKNOWN", async () => {
    const data = randomBytes(500);
    const digest = await pushBlob(server, "del/blob", data);
    const del = await http(server, "DELETE", `/v2/del/blob/blobs/${digest}`);
    assert.equal(del.status, 202, del.text());
    assertError(await http(server, "GET", `/v2/del/blob/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assert.equal((await http(server, "HEAD", `/v2/del/blob/blobs/${digest}`)).status, 404);
  });

  test("deleting a blob from one repository leaves it readable in another that has it", async () => {
    const data = randomBytes(700);
    const digest = await pushBlob(server, "del/shared-a", data);
    await pushBlob(server, "del/shared-b", data);
    assert.equal((await http(server, "DELETE", `/v2/del/shared-a/blobs/${digest}`)).status, 202);
    assertError(await http(server, "GET", `/v2/del/shared-a/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    const other = await http(server, "GET", `/v2/del/shared-b/blobs/${digest}`);
    assert.equal(other.status, 200);
    assert.ok(other.body.equals(data));
  });

  test("a deleted blob can be pushed again", async () => {
    const data = randomBytes(300);
    const digest = await pushBlob(server, "del/again", data);
    assert.equal((await http(server, "DELETE", `/v2/del/again/blobs/${digest}`)).status, 202);
    await pushBlob(server, "del/again", data);
    const res = await http(server, "GET", `/v2/del/again/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(data));
  });

  test("a deleted manifest can be pushed again", async () => {
    const image = await pushImage(server, "del/repush", "v1");
    assert.equal((await http(server, "DELETE", `/v2/del/repush/manifests/${image.digest}`)).status, 202);
    assert.equal((await putManifest(server, "del/repush", "v1", image.bytes, OCI_MANIFEST)).status, 201);
    assert.equal((await http(server, "GET", "/v2/del/repush/manifests/v1")).status, 200);
  });

  test("deleting what is not there: MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN", async () => {
    await pushImage(server, "del/missing", "v1");
    const digest = digestOf("nothing");
    assertError(await http(server, "DELETE", `/v2/del/missing/manifests/${digest}`), 404, "MANIFEST_UNKNOWN");
    assertError(await http(server, "DELETE", "/v2/del/missing/manifests/nosuchtag"), 404, "MANIFEST_UNKNOWN");
    assertError(await http(server, "DELETE", `/v2/del/missing/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assertError(await http(server, "DELETE", `/v2/del/nowhere/manifests/${digest}`), 404, "NAME_UNKNOWN");
    assertError(await http(server, "DELETE", `/v2/del/nowhere/blobs/${digest}`), 404, "NAME_UNKNOWN");
  });

  test("deleting twice: the second is 404", async () => {
    const image = await pushImage(server, "del/twice", "v1");
    assert.equal((await http(server, "DELETE", `/v2/del/twice/manifests/${image.digest}`)).status, 202);
    assertError(
      await http(server, "DELETE", `/v2/del/twice/manifests/${image.digest}`),
      404,
      "MANIFEST_UNKNOWN",
    );
    const layer = image.layers[0]!.digest;
    assert.equal((await http(server, "DELETE", `/v2/del/twice/blobs/${layer}`)).status, 202);
    assertError(await http(server, "DELETE", `/v2/del/twice/blobs/${layer}`), 404, "BLOB_UNKNOWN");
  });

  test("a malformed digest on DELETE is DIGEST_INVALID", async () => {
    await pushImage(server, "del/bad", "v1");
    assertError(await http(server, "DELETE", "/v2/del/bad/blobs/sha256:zzz"), 400, "DIGEST_INVALID");
    assertError(await http(server, "DELETE", "/v2/del/bad/manifests/sha256:zzz"), 400, "DIGEST_INVALID");
  });
});

describe("delete disabled", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ deleteEnabled: false });
  });
  after(() => server.cleanup());

  test("DELETE manifest by digest, by tag and blob → 405 UNSUPPORTED; nothing is removed", async () => {
    const image = await pushImage(server, "nodel/app", "v1");
    const layer = image.layers[0]!.digest;
    assertError(await http(server, "DELETE", `/v2/nodel/app/manifests/${image.digest}`), 405, "UNSUPPORTED");
    assertError(await http(server, "DELETE", "/v2/nodel/app/manifests/v1"), 405, "UNSUPPORTED");
    assertError(await http(server, "DELETE", `/v2/nodel/app/blobs/${layer}`), 405, "UNSUPPORTED");

    assert.equal((await http(server, "GET", "/v2/nodel/app/manifests/v1")).status, 200);
    assert.equal((await http(server, "GET", `/v2/nodel/app/manifests/${image.digest}`)).status, 200);
    assert.equal((await http(server, "GET", `/v2/nodel/app/blobs/${layer}`)).status, 200);
    assert.deepEqual(await tags(server, "nodel/app"), ["v1"]);
  });

  test("cancelling an upload still works (it is not content deletion)", async () => {
    const post = await http(server, "POST", "/v2/nodel/app/blobs/uploads/");
    assert.equal(post.status, 202);
    const location = new URL(post.header("location")!, server.url).pathname;
    assert.equal((await http(server, "DELETE", location)).status, 204);
  });
});
