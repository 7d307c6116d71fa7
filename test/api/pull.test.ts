/**
 * Pull: /v2/ ping, manifests by tag and digest with Accept negotiation and conditional GET,
 * blobs with Range requests, and the not-found errors of each.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  assertHeadError,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  digestOf,
  http,
  OCI_INDEX,
  OCI_MANIFEST,
  type PushedImage,
  type PushedManifest,
  pushBlob,
  pushImage,
  pushIndex,
  putManifest,
  startServer,
  type TestServer,
} from "./helpers.ts";

let server: TestServer;
let ociImage: PushedImage;
let dockerImage: PushedImage;
let ociIndex: PushedManifest;
let dockerList: PushedManifest;
const blobData = randomBytes(1024);
let blobDigest: string;

before(async () => {
  server = await startServer();
  ociImage = await pushImage(server, "pull/image", "v1");
  dockerImage = await pushImage(server, "pull/image", "docker", { mediaType: DOCKER_MANIFEST });
  const arm = await pushImage(server, "pull/image", undefined);
  ociIndex = await pushIndex(server, "pull/image", "multi", [
    { ...ociImage.descriptor, platform: { os: "linux", architecture: "amd64" } },
    { ...arm.descriptor, platform: { os: "linux", architecture: "arm64" } },
  ]);
  const dockerArm = await pushImage(server, "pull/image", undefined, { mediaType: DOCKER_MANIFEST });
  dockerList = await pushIndex(
    server,
    "pull/image",
    "list",
    [
      { ...dockerImage.descriptor, platform: { os: "linux", architecture: "amd64" } },
      { ...dockerArm.descriptor, platform: { os: "linux", architecture: "arm64" } },
    ],
    { mediaType: DOCKER_LIST },
  );
  blobDigest = await pushBlob(server, "pull/blobs", blobData);
});

after(() => server.cleanup());

describe("/v2/", () => {
  test("GET answers 200 with Docker-Distribution-API-Version", async () => {
    const res = await http(server, "GET", "/v2/");
    assert.equal(res.status, 200);
    assert.equal(res.header("docker-distribution-api-version"), "registry/2.0");
  });

  test("HEAD answers 200 without a body", async () => {
    const res = await http(server, "HEAD", "/v2/");
    assert.equal(res.status, 200);
    assert.equal(res.header("docker-distribution-api-version"), "registry/2.0");
    assert.equal(res.body.byteLength, 0);
  });

  test("error responses under /v2 carry the API version header too", async () => {
    const res = await http(server, "GET", "/v2/nosuchrepo/manifests/latest");
    assertError(res, 404, "NAME_UNKNOWN");
    assert.equal(res.header("docker-distribution-api-version"), "registry/2.0");
  });
});

describe("manifests", () => {
  function assertManifestHeaders(res: Awaited<ReturnType<typeof http>>, pushed: PushedManifest): void {
    assert.equal(res.header("content-type"), pushed.mediaType);
    assert.equal(res.header("docker-content-digest"), pushed.digest);
    assert.equal(res.header("content-length"), String(pushed.size));
    const etag = res.header("etag");
    assert.ok(etag?.includes(pushed.digest), `ETag ${etag} should name the digest`);
  }

  test("GET by tag returns the exact bytes with Content-Type, Docker-Content-Digest, Content-Length, ETag", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/v1", {
      headers: { Accept: OCI_MANIFEST },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, ociImage.bytes);
    assertManifestHeaders(res, ociImage);
  });

  test("GET by digest returns the exact bytes", async () => {
    const res = await http(server, "GET", `/v2/pull/image/manifests/${ociImage.digest}`, {
      headers: { Accept: OCI_MANIFEST },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, ociImage.bytes);
    assertManifestHeaders(res, ociImage);
  });

  test("HEAD by tag and by digest: same headers, no body", async () => {
    for (const reference of ["v1", ociImage.digest]) {
      const res = await http(server, "HEAD", `/v2/pull/image/manifests/${reference}`, {
        headers: { Accept: OCI_MANIFEST },
      });
      assert.equal(res.status, 200, reference);
      assert.equal(res.body.byteLength, 0);
      assertManifestHeaders(res, ociImage);
    }
  });

  test("Docker schema 2 manifest is served with its media type", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/docker", {
      headers: { Accept: DOCKER_MANIFEST },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, dockerImage.bytes);
    assertManifestHeaders(res, dockerImage);
  });

  test("Docker manifest list is served with its media type", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/list", {
      headers: { Accept: `${DOCKER_LIST}, ${DOCKER_MANIFEST}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, dockerList.bytes);
    assertManifestHeaders(res, dockerList);
  });

  test("OCI index is served when the Accept header includes it", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/multi", {
      headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, ociIndex.bytes);
    assertManifestHeaders(res, ociIndex);
  });

  test("Accept given as several header lines", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/multi", {
      headers: { Accept: [OCI_MANIFEST, OCI_INDEX] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.header("content-type"), OCI_INDEX);
  });

  test("Accept with q-values; q=0 excludes a type", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/multi", {
      headers: { Accept: `${OCI_MANIFEST};q=0.9, ${OCI_INDEX};q=0.5, ${DOCKER_MANIFEST}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.header("content-type"), OCI_INDEX);
    const refused = await http(server, "GET", "/v2/pull/image/manifests/multi", {
      headers: { Accept: `${OCI_INDEX};q=0, ${OCI_MANIFEST}` },
    });
    assertError(refused, 404, "MANIFEST_UNKNOWN");
  });

  test("a stored index requested with an Accept that excludes it is MANIFEST_UNKNOWN", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/multi", {
      headers: { Accept: `${OCI_MANIFEST}, ${DOCKER_MANIFEST}` },
    });
    assertError(res, 404, "MANIFEST_UNKNOWN");
    const head = await http(server, "HEAD", "/v2/pull/image/manifests/multi", {
      headers: { Accept: OCI_MANIFEST },
    });
    assertHeadError(head, 404);
  });

  test("an OCI manifest requested with an Accept of Docker types only is MANIFEST_UNKNOWN", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/v1", {
      headers: { Accept: `${DOCKER_MANIFEST}, ${DOCKER_LIST}` },
    });
    assertError(res, 404, "MANIFEST_UNKNOWN");
  });

  test("no Accept header (or */*) serves whatever is stored", async () => {
    const none = await http(server, "GET", "/v2/pull/image/manifests/multi");
    assert.equal(none.status, 200);
    assert.deepEqual(none.body, ociIndex.bytes);
    assert.equal(none.header("content-type"), OCI_INDEX);
    const any = await http(server, "GET", "/v2/pull/image/manifests/list", { headers: { Accept: "*/*" } });
    assert.equal(any.status, 200);
    assert.equal(any.header("content-type"), DOCKER_LIST);
  });

  test("If-None-Match with the current ETag answers 304 without a body", async () => {
    const first = await http(server, "GET", "/v2/pull/image/manifests/v1");
    const etag = first.header("etag");
    assert.ok(etag);
    const res = await http(server, "GET", "/v2/pull/image/manifests/v1", {
      headers: { "If-None-Match": etag },
    });
    assert.equal(res.status, 304, res.text());
    assert.equal(res.body.byteLength, 0);
    assert.equal(res.header("etag"), etag);
    assert.equal(res.header("docker-content-digest"), ociImage.digest);
  });

  test("If-None-Match on HEAD answers 304", async () => {
    const res = await http(server, "HEAD", `/v2/pull/image/manifests/${ociImage.digest}`, {
      headers: { "If-None-Match": `"${ociImage.digest}"` },
    });
    assert.equal(res.status, 304);
  });

  test("If-None-Match with a list of entity tags (RFC 9110) that includes the current one answers 304", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/v1", {
      headers: { "If-None-Match": `"sha256:${"0".repeat(64)}", "${ociImage.digest}"` },
    });
    assert.equal(res.status, 304, res.text());
  });

  test("If-None-Match with another ETag serves the manifest", async () => {
    const res = await http(server, "GET", "/v2/pull/image/manifests/v1", {
      headers: { "If-None-Match": `"${dockerImage.digest}"` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, ociImage.bytes);
  });

  test("unknown tag and unknown digest in a known repository are MANIFEST_UNKNOWN", async () => {
    assertError(await http(server, "GET", "/v2/pull/image/manifests/nope"), 404, "MANIFEST_UNKNOWN");
    const digest = digestOf("not a manifest");
    assertError(await http(server, "GET", `/v2/pull/image/manifests/${digest}`), 404, "MANIFEST_UNKNOWN");
    assertHeadError(await http(server, "HEAD", "/v2/pull/image/manifests/nope"), 404);
  });

  test("a manifest of another repository is not visible", async () => {
    const res = await http(server, "GET", `/v2/pull/blobs/manifests/${ociImage.digest}`);
    assertError(res, 404, "MANIFEST_UNKNOWN");
  });

  test("unknown repository is NAME_UNKNOWN", async () => {
    assertError(await http(server, "GET", "/v2/pull/nothing/manifests/v1"), 404, "NAME_UNKNOWN");
    assertHeadError(await http(server, "HEAD", "/v2/pull/nothing/manifests/v1"), 404);
  });
});

describe("schema 1 is refused", () => {
  const schema1 = {
    schemaVersion: 1,
    name: "pull/legacy",
    tag: "v1",
    architecture: "amd64",
    fsLayers: [{ blobSum: digestOf("layer") }],
    history: [{ v1Compatibility: "{}" }],
  };

  for (const contentType of [DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1, undefined]) {
    test(`PUT of a schema 1 manifest (Content-Type ${contentType ?? "none"}) is MANIFEST_INVALID with a clear message`, async () => {
      const res = await putManifest(server, "pull/legacy", "v1", schema1, contentType);
      const [error] = assertError(res, 400, "MANIFEST_INVALID");
      assert.match(error!.message, /schema ?1/i);
      assertError(await http(server, "GET", "/v2/pull/legacy/manifests/v1"), 404, "NAME_UNKNOWN");
    });
  }
});

describe("blobs", () => {
  test("GET returns the bytes with Docker-Content-Digest, Content-Length, Content-Type and ETag", async () => {
    const res = await http(server, "GET", `/v2/pull/blobs/blobs/${blobDigest}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, blobData);
    assert.equal(res.header("docker-content-digest"), blobDigest);
    assert.equal(res.header("content-length"), String(blobData.byteLength));
    assert.ok(res.header("content-type"));
    assert.ok(res.header("etag")?.includes(blobDigest));
  });

  test("HEAD returns the headers without a body", async () => {
    const res = await http(server, "HEAD", `/v2/pull/blobs/blobs/${blobDigest}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.byteLength, 0);
    assert.equal(res.header("docker-content-digest"), blobDigest);
    assert.equal(res.header("content-length"), String(blobData.byteLength));
  });

  const ranges: [string, number, number][] = [
    ["bytes=10-19", 10, 19],
    ["bytes=0-0", 0, 0],
    ["bytes=-100", 924, 1023],
    ["bytes=-5000", 0, 1023],
    ["bytes=1000-", 1000, 1023],
    ["bytes=1000-5000", 1000, 1023],
    ["bytes=1023-1023", 1023, 1023],
  ];
  for (const [range, start, end] of ranges) {
    test(`Range ${range} → 206 with Content-Range bytes ${start}-${end}/1024`, async () => {
      const res = await http(server, "GET", `/v2/pull/blobs/blobs/${blobDigest}`, {
        headers: { Range: range },
      });
      assert.equal(res.status, 206);
      assert.equal(res.header("content-range"), `bytes ${start}-${end}/1024`);
      assert.equal(res.header("content-length"), String(end - start + 1));
      assert.deepEqual(res.body, blobData.subarray(start, end + 1));
      assert.equal(res.header("docker-content-digest"), blobDigest);
    });
  }

  test("HEAD with Range → 206 with Content-Range, no body", async () => {
    const res = await http(server, "HEAD", `/v2/pull/blobs/blobs/${blobDigest}`, {
      headers: { Range: "bytes=0-99" },
    });
    assert.equal(res.status, 206);
    assert.equal(res.header("content-range"), "bytes 0-99/1024");
    assert.equal(res.header("content-length"), "100");
    assert.equal(res.body.byteLength, 0);
  });

  for (const range of ["bytes=1024-", "bytes=5000-6000", "bytes=-0"]) {
    test(`unsatisfiable Range ${range} → 416 with Content-Range: bytes */1024`, async () => {
      const res = await http(server, "GET", `/v2/pull/blobs/blobs/${blobDigest}`, {
        headers: { Range: range },
      });
      assert.equal(res.status, 416);
      assert.equal(res.header("content-range"), "bytes */1024");
    });
  }

  test("open-ended Range on a multi-MiB blob returns exactly the requested bytes", async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const digest = await pushBlob(server, "pull/blobs", big);
    const start = 1024 * 1024 - 3;
    const res = await http(server, "GET", `/v2/pull/blobs/blobs/${digest}`, {
      headers: { Range: `bytes=${start}-` },
    });
    assert.equal(res.status, 206);
    assert.equal(res.header("content-range"), `bytes ${start}-${big.byteLength - 1}/${big.byteLength}`);
    assert.ok(res.body.equals(big.subarray(start)));
  });

  test("unknown blob in a known repository is BLOB_UNKNOWN (GET and HEAD)", async () => {
    const digest = digestOf("never pushed");
    assertError(await http(server, "GET", `/v2/pull/blobs/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    assertHeadError(await http(server, "HEAD", `/v2/pull/blobs/blobs/${digest}`), 404);
  });

  test("a blob of another repository is BLOB_UNKNOWN here", async () => {
    const res = await http(server, "GET", `/v2/pull/image/blobs/${blobDigest}`);
    assertError(res, 404, "BLOB_UNKNOWN");
  });

  test("blob in an unknown repository is NAME_UNKNOWN", async () => {
    assertError(await http(server, "GET", `/v2/pull/nothing/blobs/${blobDigest}`), 404, "NAME_UNKNOWN");
    assertHeadError(await http(server, "HEAD", `/v2/pull/nothing/blobs/${blobDigest}`), 404);
  });
});
