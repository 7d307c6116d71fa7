/**
 * Persistence: close() the server and start it again on the same data directory; manifests,
 * tags, blobs, referrers, deletions and upload sessions are all still there.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import {
  DOCKER_MANIFEST,
  digestOf,
  http,
  OCI_INDEX,
  type PushedImage,
  type PushedManifest,
  pushBlob,
  pushImage,
  pushIndex,
  startServer,
  startUpload,
  type TestServer,
  uploadedBytes,
  withQuery,
} from "./helpers.ts";

let server: TestServer;
let image: PushedImage;
let docker: PushedImage;
let index: PushedManifest;
let referrer: PushedImage;
const blob = randomBytes(100_000);
let blobDigest: string;
const sha512Blob = randomBytes(1000);
let sha512Digest: string;
const upload = randomBytes(20_000);
let uploadLocation: string;
let deletedTagImage: PushedImage;

before(async () => {
  server = await startServer();
  image = await pushImage(server, "keep/app", "v1");
  docker = await pushImage(server, "keep/app", "docker", { mediaType: DOCKER_MANIFEST });
  index = await pushIndex(server, "keep/app", "multi", [
    { ...image.descriptor, platform: { os: "linux", architecture: "amd64" } },
  ]);
  referrer = await pushImage(server, "keep/app", undefined, {
    config: Buffer.from("{}"),
    configMediaType: "application/vnd.oci.empty.v1+json",
    artifactType: "application/vnd.example.sbom",
    subject: image.descriptor,
    annotations: { "org.example": "kept" },
  });
  blobDigest = await pushBlob(server, "keep/blobs", blob);
  await pushBlob(server, "keep/other", blob);
  sha512Digest = await pushBlob(server, "keep/blobs", sha512Blob, "sha512");
  deletedTagImage = await pushImage(server, "keep/deleted", "gone");
  await pushImage(server, "keep/deleted", "stays");
  assert.equal((await http(server, "DELETE", "/v2/keep/deleted/manifests/gone")).status, 202);
  uploadLocation = await startUpload(server, "keep/upload");
  const chunk = await http(server, "PATCH", uploadLocation, {
    headers: { "Content-Range": "0-9999" },
    body: upload.subarray(0, 10_000),
  });
  assert.equal(chunk.status, 202);

  await server.restart();
});

after(() => server.cleanup());

test("manifests are pullable by tag and digest with the same bytes and headers", async () => {
  for (const [pushed, tag] of [
    [image, "v1"],
    [docker, "docker"],
    [index, "multi"],
  ] as const) {
    for (const reference of [tag, pushed.digest]) {
      const res = await http(server, "GET", `/v2/keep/app/manifests/${reference}`);
      assert.equal(res.status, 200, `${reference}: ${res.text()}`);
      assert.deepEqual(res.body, pushed.bytes);
      assert.equal(res.header("content-type"), pushed.mediaType);
      assert.equal(res.header("docker-content-digest"), pushed.digest);
    }
  }
});

test("tags list and catalog are unchanged", async () => {
  const tags = await http(server, "GET", "/v2/keep/app/tags/list");
  assert.deepEqual(tags.json<{ tags: string[] }>().tags, ["docker", "multi", "v1"]);
  const catalog = await http(server, "GET", "/v2/_catalog");
  const repos = catalog.json<{ repositories: string[] }>().repositories;
  for (const repo of ["keep/app", "keep/deleted"]) {
    assert.ok(repos.includes(repo), `${repo} in ${repos.join(",")}`);
  }
  // Repositories holding only blobs (no manifest) are not listed.
  assert.ok(!repos.includes("keep/blobs"));
});

test("blobs are readable in every repository that has them, with Range", async () => {
  for (const repo of ["keep/blobs", "keep/other"]) {
    const res = await http(server, "GET", `/v2/${repo}/blobs/${blobDigest}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(blob));
  }
  const ranged = await http(server, "GET", `/v2/keep/blobs/blobs/${blobDigest}`, {
    headers: { Range: "bytes=-10" },
  });
  assert.equal(ranged.status, 206);
  assert.ok(ranged.body.equals(blob.subarray(-10)));
  const sha512 = await http(server, "GET", `/v2/keep/blobs/blobs/${sha512Digest}`);
  assert.equal(sha512.status, 200);
  assert.ok(sha512.body.equals(sha512Blob));
  for (const layer of image.layers) {
    assert.equal((await http(server, "HEAD", `/v2/keep/app/blobs/${layer.digest}`)).status, 200);
  }
});

test("referrers are still listed", async () => {
  const res = await http(server, "GET", `/v2/keep/app/referrers/${image.digest}`);
  assert.equal(res.status, 200);
  assert.equal(res.header("content-type"), OCI_INDEX);
  assert.deepEqual(res.json<{ manifests: unknown[] }>().manifests, [
    {
      mediaType: referrer.mediaType,
      digest: referrer.digest,
      size: referrer.size,
      artifactType: "application/vnd.example.sbom",
      annotations: { "org.example": "kept" },
    },
  ]);
});

test("a deleted tag stays deleted; its manifest stays pullable by digest", async () => {
  assert.equal((await http(server, "GET", "/v2/keep/deleted/manifests/gone")).status, 404);
  assert.equal(
    (await http(server, "GET", `/v2/keep/deleted/manifests/${deletedTagImage.digest}`)).status,
    200,
  );
  const tags = await http(server, "GET", "/v2/keep/deleted/tags/list");
  assert.deepEqual(tags.json<{ tags: string[] }>().tags, ["stays"]);
});

test("an upload session started before the restart continues and verifies its digest", async () => {
  const status = await http(server, "GET", uploadLocation);
  assert.equal(status.status, 204, status.text());
  assert.equal(uploadedBytes(status), 10_000);
  const rest = await http(server, "PATCH", uploadLocation, {
    headers: { "Content-Range": "10000-19999" },
    body: upload.subarray(10_000),
  });
  assert.equal(rest.status, 202, rest.text());
  const digest = digestOf(upload);
  const put = await http(server, "PUT", withQuery(uploadLocation, { digest }));
  assert.equal(put.status, 201, put.text());
  const res = await http(server, "GET", `/v2/keep/upload/blobs/${digest}`);
  assert.ok(res.body.equals(upload));
});

test("a second restart keeps everything too", async () => {
  await server.restart();
  const res = await http(server, "GET", "/v2/keep/app/manifests/v1");
  assert.deepEqual(res.body, image.bytes);
  const referrers = await http(server, "GET", `/v2/keep/app/referrers/${image.digest}`);
  assert.equal(referrers.json<{ manifests: unknown[] }>().manifests.length, 1);
});
