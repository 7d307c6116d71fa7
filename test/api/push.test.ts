/**
 * Push: monolithic blob uploads (POST then PUT, single POST with ?digest=), cross-repository
 * mount, digest verification, sha512, and manifest PUT with its validation.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  digestOf,
  http,
  locationPath,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
  putManifest,
  startServer,
  startUpload,
  type TestServer,
  withQuery,
} from "./helpers.ts";

let server: TestServer;

before(async () => {
  server = await startServer();
});

after(() => server.cleanup());

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

async function assertBlob(repo: string, digest: string, data: Buffer): Promise<void> {
  const res = await http(server, "GET", `/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET blob ${digest}: ${res.status} ${res.text()}`);
  assert.ok(res.body.equals(data), "blob bytes differ");
  assert.equal(res.header("docker-content-digest"), digest);
}

async function assertNoBlob(repo: string, digest: string): Promise<void> {
  const res = await http(server, "HEAD", `/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 404, `blob ${digest} should not exist`);
}

describe("monolithic blob upload", () => {
  test("POST then PUT ?digest=: 202 with Location, then 201 with Location and Docker-Content-Digest", async () => {
    const data = randomBytes(5000);
    const digest = digestOf(data);
    const post = await http(server, "POST", "/v2/push/mono/blobs/uploads/");
    assert.equal(post.status, 202);
    const location = locationPath(post);
    assert.match(location, UUID, "Location names the upload session");
    assert.match(location, /^\/v2\/push\/mono\/blobs\/uploads\//);
    const put = await http(server, "PUT", withQuery(location, { digest }), {
      headers: { "Content-Type": "application/octet-stream" },
      body: data,
    });
    assert.equal(put.status, 201, put.text());
    assert.equal(locationPath(put), `/v2/push/mono/blobs/${digest}`);
    assert.equal(put.header("docker-content-digest"), digest);
    await assertBlob("push/mono", digest, data);
  });

  test("single POST with ?digest=: 201 with Location", async () => {
    const data = randomBytes(3000);
    const digest = digestOf(data);
    const res = await http(server, "POST", `/v2/push/mono/blobs/uploads/?digest=${digest}`, {
      headers: { "Content-Type": "application/octet-stream" },
      body: data,
    });
    assert.equal(res.status, 201, res.text());
    assert.equal(locationPath(res), `/v2/push/mono/blobs/${digest}`);
    assert.equal(res.header("docker-content-digest"), digest);
    await assertBlob("push/mono", digest, data);
  });

  test("an empty blob can be pushed and pulled", async () => {
    const data = Buffer.alloc(0);
    const digest = await pushBlob(server, "push/mono", data);
    assert.equal(digest, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const res = await http(server, "GET", `/v2/push/mono/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.header("content-length"), "0");
    assert.equal(res.body.byteLength, 0);
  });

  test("pushing the same blob twice is fine (content-addressed)", async () => {
    const data = randomBytes(100);
    const digest = await pushBlob(server, "push/mono", data);
    assert.equal(await pushBlob(server, "push/mono", data), digest);
    assert.equal(await pushBlob(server, "push/other", data), digest);
    await assertBlob("push/mono", digest, data);
    await assertBlob("push/other", digest, data);
  });

  test("PUT with a digest that does not match the body is DIGEST_INVALID; nothing is stored", async () => {
    const data = randomBytes(1000);
    const claimed = digestOf("something else");
    const location = await startUpload(server, "push/mono");
    const res = await http(server, "PUT", withQuery(location, { digest: claimed }), { body: data });
    assertError(res, 400, "DIGEST_INVALID");
    await assertNoBlob("push/mono", claimed);
    await assertNoBlob("push/mono", digestOf(data));
  });

  test("single POST with a digest that does not match the body is DIGEST_INVALID; nothing is stored", async () => {
    const data = randomBytes(1000);
    const claimed = digestOf("yet something else");
    const res = await http(server, "POST", `/v2/push/mono/blobs/uploads/?digest=${claimed}`, { body: data });
    assertError(res, 400, "DIGEST_INVALID");
    await assertNoBlob("push/mono", claimed);
    await assertNoBlob("push/mono", digestOf(data));
  });

  const malformed = [
    "sha256:xyz",
    "sha256:" + "A".repeat(64),
    "sha256:" + "0".repeat(63),
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "nodigest",
    "sha512:" + "0".repeat(64),
  ];
  for (const digest of malformed) {
    test(`malformed digest ${digest.slice(0, 24)}… on PUT and on POST is DIGEST_INVALID`, async () => {
      const location = await startUpload(server, "push/mono");
      const put = await http(server, "PUT", withQuery(location, { digest }), { body: "abc" });
      assertError(put, 400, "DIGEST_INVALID");
      const post = await http(server, "POST", withQuery("/v2/push/mono/blobs/uploads/", { digest }), {
        body: "abc",
      });
      assertError(post, 400, "DIGEST_INVALID");
    });
  }

  test("PUT without ?digest= is DIGEST_INVALID", async () => {
    const location = await startUpload(server, "push/mono");
    const res = await http(server, "PUT", location, { body: "abc" });
    assertError(res, 400, "DIGEST_INVALID");
  });
});

describe("sha512", () => {
  test("sha512 blob: single POST and POST+PUT, pulled by its sha512 digest", async () => {
    const data = randomBytes(4096);
    const digest = await pushBlob(server, "push/sha512", data, "sha512");
    assert.match(digest, /^sha512:[0-9a-f]{128}$/);
    await assertBlob("push/sha512", digest, data);

    const other = randomBytes(777);
    const otherDigest = digestOf(other, "sha512");
    const location = await startUpload(server, "push/sha512");
    const put = await http(server, "PUT", withQuery(location, { digest: otherDigest }), { body: other });
    assert.equal(put.status, 201, put.text());
    assert.equal(put.header("docker-content-digest"), otherDigest);
    await assertBlob("push/sha512", otherDigest, other);
  });

  test("sha512 digest mismatch is DIGEST_INVALID", async () => {
    const res = await http(
      server,
      "POST",
      `/v2/push/sha512/blobs/uploads/?digest=${digestOf("other", "sha512")}`,
      { body: "data" },
    );
    assertError(res, 400, "DIGEST_INVALID");
  });

  test("manifest with sha512 blobs, PUT by its sha512 digest, pulled by digest", async () => {
    const image = await pushImage(server, "push/sha512", undefined, { algorithm: "sha512" });
    assert.match(image.digest, /^sha512:/);
    const res = await http(server, "GET", `/v2/push/sha512/manifests/${image.digest}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, image.bytes);
    assert.equal(res.header("docker-content-digest"), image.digest);
    const head = await http(server, "HEAD", `/v2/push/sha512/manifests/${image.digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.header("content-length"), String(image.size));
  });
});

describe("cross-repository mount", () => {
  test("?mount=&from= of a blob the source has → 201 with Location; readable in the target", async () => {
    const data = randomBytes(2048);
    const digest = await pushBlob(server, "mount/source", data);
    const res = await http(
      server,
      "POST",
      `/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`,
    );
    assert.equal(res.status, 201, res.text());
    assert.equal(locationPath(res), `/v2/mount/target/blobs/${digest}`);
    assert.equal(res.header("docker-content-digest"), digest);
    await assertBlob("mount/target", digest, data);
    await assertBlob("mount/source", digest, data);
  });

  for (const [label, from] of [
    ["a repository that lacks the blob", "mount/source"],
    ["a repository that does not exist", "mount/nowhere"],
    ["an invalid repository name", "Mount/..%2F..%2Fsource"],
  ] as const) {
    test(`mount from ${label} falls back to an upload session (202) that works`, async () => {
      const data = randomBytes(512);
      const digest = digestOf(data);
      const res = await http(
        server,
        "POST",
        `/v2/mount/fallback/blobs/uploads/?mount=${digest}&from=${from}`,
      );
      assert.equal(res.status, 202, res.text());
      const location = locationPath(res);
      assert.match(location, UUID);
      await assertNoBlob("mount/fallback", digest);
      const put = await http(server, "PUT", withQuery(location, { digest }), { body: data });
      assert.equal(put.status, 201, put.text());
      await assertBlob("mount/fallback", digest, data);
    });
  }
});

describe("manifest PUT", () => {
  test("by tag: 201 with Location and Docker-Content-Digest; pullable by tag and digest", async () => {
    const image = await pushImage(server, "push/manifest", "v1");
    const bytes = image.bytes;
    // Push again under another tag to look at the response itself.
    const res = await putManifest(server, "push/manifest", "v1-again", bytes, OCI_MANIFEST);
    assert.equal(res.status, 201);
    assert.equal(res.header("docker-content-digest"), image.digest);
    assert.equal(locationPath(res), `/v2/push/manifest/manifests/${image.digest}`);
    for (const reference of ["v1", "v1-again", image.digest]) {
      const get = await http(server, "GET", `/v2/push/manifest/manifests/${reference}`);
      assert.equal(get.status, 200, reference);
      assert.deepEqual(get.body, bytes);
    }
  });

  test("by digest: 201; no tag is created", async () => {
    const image = await pushImage(server, "push/bydigest", undefined);
    const get = await http(server, "GET", `/v2/push/bydigest/manifests/${image.digest}`);
    assert.equal(get.status, 200);
    const tags = await http(server, "GET", "/v2/push/bydigest/tags/list");
    assert.deepEqual(tags.json<{ tags: string[] }>().tags, []);
  });

  test("re-pushing a tag moves it to the new manifest", async () => {
    const first = await pushImage(server, "push/moving", "latest");
    const second = await pushImage(server, "push/moving", "latest");
    assert.notEqual(first.digest, second.digest);
    const get = await http(server, "GET", "/v2/push/moving/manifests/latest");
    assert.equal(get.header("docker-content-digest"), second.digest);
    const old = await http(server, "GET", `/v2/push/moving/manifests/${first.digest}`);
    assert.equal(old.status, 200, "the old manifest stays pullable by digest");
  });

  test("OCI manifest without a mediaType field is accepted by Content-Type and served with it", async () => {
    const configBytes = Buffer.from("{}");
    const config = {
      mediaType: OCI_EMPTY,
      digest: await pushBlob(server, "push/nomt", configBytes),
      size: 2,
    };
    const manifest = { schemaVersion: 2, config, layers: [] };
    const pushed = await pushManifest(server, "push/nomt", "v1", manifest, OCI_MANIFEST);
    const get = await http(server, "GET", "/v2/push/nomt/manifests/v1");
    assert.equal(get.header("content-type"), OCI_MANIFEST);
    assert.deepEqual(get.body, pushed.bytes);
  });

  test("without Content-Type the body's mediaType decides; Content-Type parameters are dropped", async () => {
    const image = await pushImage(server, "push/ctype", "v1");
    const bare = await putManifest(server, "push/ctype", "bare", image.bytes);
    assert.equal(bare.status, 201, bare.text());
    const get = await http(server, "GET", "/v2/push/ctype/manifests/bare");
    assert.equal(get.header("content-type"), OCI_MANIFEST);
    const param = await putManifest(
      server,
      "push/ctype",
      "param",
      image.bytes,
      `${OCI_MANIFEST}; charset=utf-8`,
    );
    assert.equal(param.status, 201, param.text());
    const got = await http(server, "GET", "/v2/push/ctype/manifests/param");
    assert.equal(got.header("content-type"), OCI_MANIFEST);
  });

  test("a 128-character tag is accepted; 129 characters or a bad first character is refused with 400", async () => {
    const image = await pushImage(server, "push/tags", undefined);
    const long = `t${"a".repeat(127)}`;
    assert.equal((await putManifest(server, "push/tags", long, image.bytes, OCI_MANIFEST)).status, 201);
    assert.equal((await http(server, "GET", `/v2/push/tags/manifests/${long}`)).status, 200);
    for (const tag of [`t${"a".repeat(128)}`, "-bad", ".bad", "b%2Fad"]) {
      const res = await putManifest(server, "push/tags", tag, image.bytes, OCI_MANIFEST);
      assert.equal(res.status, 400, `${tag}: ${res.status}`);
      assert.ok(res.json<{ errors: unknown[] }>().errors.length > 0);
    }
    const tags = await http(server, "GET", "/v2/push/tags/tags/list");
    assert.deepEqual(tags.json<{ tags: string[] }>().tags, [long]);
  });

  test("concurrent pushes of the same blob and manifest all succeed", async () => {
    const data = randomBytes(50_000);
    const results = await Promise.all(
      [1, 2, 3, 4].map(() =>
        http(server, "POST", `/v2/push/concurrent/blobs/uploads/?digest=${digestOf(data)}`, { body: data }),
      ),
    );
    for (const res of results) assert.equal(res.status, 201, res.text());
    await assertBlob("push/concurrent", digestOf(data), data);
    const image = await pushImage(server, "push/concurrent", "v1");
    const puts = await Promise.all(
      ["a", "b", "c", image.digest].map((ref) =>
        putManifest(server, "push/concurrent", ref, image.bytes, OCI_MANIFEST),
      ),
    );
    for (const res of puts) assert.equal(res.status, 201, res.text());
  });

  test("the stored bytes are exactly the pushed bytes (whitespace and key order kept)", async () => {
    const configBytes = Buffer.from("{}");
    const digest = await pushBlob(server, "push/exact", configBytes);
    const text = `{\n  "schemaVersion": 2,\n  "mediaType": "${OCI_MANIFEST}",\n  "layers": [ ],\n  "config": {"size": 2, "digest": "${digest}", "mediaType": "${OCI_EMPTY}"}\n}\n`;
    const pushed = await pushManifest(server, "push/exact", "v1", Buffer.from(text), OCI_MANIFEST);
    const get = await http(server, "GET", `/v2/push/exact/manifests/${pushed.digest}`);
    assert.equal(get.text(), text);
  });

  test("body digest different from the digest reference is DIGEST_INVALID", async () => {
    const image = await pushImage(server, "push/mismatch", "v1");
    const other = digestOf("other manifest");
    const res = await putManifest(server, "push/mismatch", other, image.bytes, OCI_MANIFEST);
    assertError(res, 400, "DIGEST_INVALID");
    assertError(await http(server, "GET", `/v2/push/mismatch/manifests/${other}`), 404, "MANIFEST_UNKNOWN");
  });

  test("malformed digest reference is DIGEST_INVALID", async () => {
    const image = await pushImage(server, "push/mismatch", "v2");
    const res = await putManifest(server, "push/mismatch", "sha256:1234", image.bytes, OCI_MANIFEST);
    assertError(res, 400, "DIGEST_INVALID");
  });

  test("missing layer is MANIFEST_BLOB_UNKNOWN", async () => {
    const configBytes = Buffer.from("{}");
    const config = {
      mediaType: OCI_EMPTY,
      digest: await pushBlob(server, "push/missing", configBytes),
      size: 2,
    };
    const layer = { mediaType: OCI_LAYER, digest: digestOf("absent layer"), size: 12 };
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] };
    const res = await putManifest(server, "push/missing", "v1", manifest, OCI_MANIFEST);
    assertError(res, 400, "MANIFEST_BLOB_UNKNOWN");
    assertError(await http(server, "GET", "/v2/push/missing/manifests/v1"), 404, "MANIFEST_UNKNOWN");
  });

  test("missing config is MANIFEST_BLOB_UNKNOWN", async () => {
    const layerBytes = randomBytes(100);
    const layer = {
      mediaType: OCI_LAYER,
      digest: await pushBlob(server, "push/missing", layerBytes),
      size: 100,
    };
    const config = { mediaType: OCI_CONFIG, digest: digestOf("absent config"), size: 13 };
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] };
    const res = await putManifest(server, "push/missing", "v2", manifest, OCI_MANIFEST);
    assertError(res, 400, "MANIFEST_BLOB_UNKNOWN");
  });

  test("a blob that exists only in another repository is MANIFEST_BLOB_UNKNOWN", async () => {
    const configBytes = Buffer.from(JSON.stringify({ nonce: randomBytes(8).toString("hex") }));
    const digest = await pushBlob(server, "push/elsewhere", configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest, size: configBytes.byteLength },
      layers: [],
    };
    const res = await putManifest(server, "push/missing", "v3", manifest, OCI_MANIFEST);
    assertError(res, 400, "MANIFEST_BLOB_UNKNOWN");
  });

  test("index referencing an absent child manifest is MANIFEST_BLOB_UNKNOWN", async () => {
    const present = await pushImage(server, "push/index", undefined);
    const absent = { mediaType: OCI_MANIFEST, digest: digestOf("no such manifest"), size: 16 };
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [present.descriptor, absent] };
    const res = await putManifest(server, "push/index", "multi", index, OCI_INDEX);
    assertError(res, 400, "MANIFEST_BLOB_UNKNOWN");
  });

  test("index and Docker manifest list whose children exist are accepted", async () => {
    const oci = await pushImage(server, "push/index", undefined);
    await pushIndex(server, "push/index", "oci", [oci.descriptor]);
    const docker = await pushImage(server, "push/index", undefined, { mediaType: DOCKER_MANIFEST });
    await pushIndex(
      server,
      "push/index",
      "docker",
      [{ ...docker.descriptor, platform: { os: "linux", architecture: "amd64" } }],
      { mediaType: DOCKER_LIST },
    );
  });

  const invalid: [string, string | Record<string, unknown>, string][] = [
    ["invalid JSON", "{not json", OCI_MANIFEST],
    ["a JSON array", "[]", OCI_MANIFEST],
    ["schemaVersion 3", { schemaVersion: 3, mediaType: OCI_MANIFEST, config: {}, layers: [] }, OCI_MANIFEST],
    ["no schemaVersion", { mediaType: OCI_MANIFEST, layers: [] }, OCI_MANIFEST],
    [
      "a config without digest",
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_EMPTY, size: 2 }, layers: [] },
      OCI_MANIFEST,
    ],
    [
      "a layer with a malformed digest",
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_EMPTY, digest: digestOf("{}"), size: 2 },
        layers: [{ mediaType: OCI_LAYER, digest: "sha256:nothex", size: 1 }],
      },
      OCI_MANIFEST,
    ],
    [
      "a negative size",
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_EMPTY, digest: digestOf("{}"), size: -2 },
        layers: [],
      },
      OCI_MANIFEST,
    ],
    [
      "a descriptor without mediaType",
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: digestOf("{}"), size: 2 }, layers: [] },
      OCI_MANIFEST,
    ],
    [
      "layers that are not an array",
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_EMPTY, digest: digestOf("{}"), size: 2 },
        layers: {},
      },
      OCI_MANIFEST,
    ],
    ["an index without manifests", { schemaVersion: 2, mediaType: OCI_INDEX }, OCI_INDEX],
    [
      "a Docker manifest list entry without platform",
      {
        schemaVersion: 2,
        mediaType: DOCKER_LIST,
        manifests: [{ mediaType: DOCKER_MANIFEST, digest: digestOf("child"), size: 5 }],
      },
      DOCKER_LIST,
    ],
    [
      "an annotation that is not a string",
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_EMPTY, digest: digestOf("{}"), size: 2 },
        layers: [],
        annotations: { n: 1 },
      },
      OCI_MANIFEST,
    ],
    [
      "a body mediaType that contradicts Content-Type",
      { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] },
      OCI_MANIFEST,
    ],
  ];
  for (const [label, body, contentType] of invalid) {
    test(`${label} is MANIFEST_INVALID`, async () => {
      const bytes = typeof body === "string" ? Buffer.from(body) : body;
      const res = await putManifest(server, "push/invalid", "v1", bytes, contentType);
      assertError(res, 400, "MANIFEST_INVALID");
    });
  }

  test("a manifest of exactly 4 MiB is accepted", async () => {
    const configBytes = Buffer.from("{}");
    const digest = await pushBlob(server, "push/large", configBytes);
    const base = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_EMPTY, digest, size: 2 },
      layers: [],
      annotations: { pad: "" },
    };
    const padding = 4 * 1024 * 1024 - Buffer.byteLength(JSON.stringify(base));
    base.annotations.pad = "x".repeat(padding);
    const bytes = Buffer.from(JSON.stringify(base));
    assert.equal(bytes.byteLength, 4 * 1024 * 1024);
    await pushManifest(server, "push/large", "max", bytes, OCI_MANIFEST);
  });

  test("a manifest over 4 MiB is refused with 413 (with Content-Length)", async () => {
    const bytes = Buffer.alloc(4 * 1024 * 1024 + 1, " ");
    const res = await putManifest(server, "push/large", "toobig", bytes, OCI_MANIFEST);
    assert.equal(res.status, 413);
    assert.ok(Array.isArray(res.json<{ errors: unknown[] }>().errors));
  });

  test("a manifest over 4 MiB is refused with 413 (streamed, no Content-Length)", async () => {
    async function* body() {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(1024 * 1024, " ");
    }
    const res = await http(server, "PUT", "/v2/push/large/manifests/streamed", {
      headers: { "Content-Type": OCI_MANIFEST },
      body: body(),
    });
    assert.equal(res.status, 413);
  });

  test("`subject` is answered with the OCI-Subject header (even when the subject is not pushed yet)", async () => {
    const subject = { mediaType: OCI_MANIFEST, digest: digestOf("future subject"), size: 14 };
    const configBytes = Buffer.from("{}");
    const config = {
      mediaType: OCI_EMPTY,
      digest: await pushBlob(server, "push/subject", configBytes),
      size: 2,
    };
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.example.sig",
      config,
      layers: [],
      subject,
    };
    const res = await putManifest(
      server,
      "push/subject",
      digestOf(JSON.stringify(manifest)),
      manifest,
      OCI_MANIFEST,
    );
    assert.equal(res.status, 201, res.text());
    assert.equal(res.header("oci-subject"), subject.digest);
  });

  test("no OCI-Subject header without a subject", async () => {
    const image = await pushImage(server, "push/subject", "plain");
    const res = await putManifest(server, "push/subject", "plain2", image.bytes, OCI_MANIFEST);
    assert.equal(res.status, 201);
    assert.equal(res.header("oci-subject"), undefined);
  });
});
