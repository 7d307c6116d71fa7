/**
 * Storage quotas over the /v2 API of a real server: each blob counted once per scope, refusals
 * (403 DENIED naming the quota, its use and its limit) at blob commit, at mount, at manifest PUT
 * and early at PATCH / monolithic POST when Content-Length already says too much; a refused
 * push leaves nothing behind (no link, no blob file, no upload, no manifest); deletes give the
 * bytes back; nested quotas all apply; concurrent pushes cannot both take the last bytes; usage
 * in GET /api/admin/quotas and in /metrics.
 *
 * One server, one quota per test (its own namespace), so tests do not share figures.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  assertHeadError,
  digestOf,
  http,
  locationPath,
  metricValue,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  putManifest,
  startServer,
  startUpload,
  type TestServer,
  withQuery,
} from "./helpers.ts";

const KIB = 1024;

let server: TestServer;

before(async () => {
  server = await startServer({
    config: {
      quotas: [
        { repositories: "refuse/**", limit: "10KiB" },
        { repositories: "early/**", limit: "10KiB" },
        { repositories: "stream/**", limit: "10KiB" },
        { repositories: "shared/**", limit: "10KiB" },
        { repositories: "mount/**", limit: "10KiB" },
        { repositories: "manifest/**", limit: "10KiB" },
        { repositories: "freed/**", limit: "10KiB" },
        { repositories: "nested/**", limit: "20KiB" },
        { repositories: "nested/inner/*", limit: "5KiB" },
        { repositories: "race/**", limit: "10KiB" },
        { repositories: "single", limit: 3000 },
      ],
    },
  });
});

after(() => server.cleanup());

interface Snapshot {
  status: unknown;
  blobFiles: string[];
  uploads: string[];
}

/** What the registry holds: its counts, the files under blobs/ and uploads/. */
async function snapshot(): Promise<Snapshot> {
  const status = (await http(server, "GET", "/api/status")).json<Record<string, unknown>>();
  const { uptimeSeconds: _uptime, ...counts } = status;
  return {
    status: counts,
    blobFiles: await files(join(server.dataDir, "blobs")),
    uploads: await files(join(server.dataDir, "uploads")),
  };
}

async function files(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
  } catch {
    return [];
  }
}

async function quotas(): Promise<{ repositories: string; limit: number; used: number; percent: number }[]> {
  const res = await http(server, "GET", "/api/admin/quotas");
  assert.equal(res.status, 200, res.text());
  return res.json<{ quotas: { repositories: string; limit: number; used: number; percent: number }[] }>()
    .quotas;
}

async function used(glob: string): Promise<number> {
  const quota = (await quotas()).find((q) => q.repositories === glob);
  assert.ok(quota, `quota ${glob}`);
  return quota.used;
}

function postBlob(repo: string, data: Buffer) {
  return http(server, "POST", `/v2/${repo}/blobs/uploads/?digest=${digestOf(data)}`, {
    headers: { "Content-Type": "application/octet-stream" },
    body: data,
  });
}

/** A body streamed without Content-Length (chunked transfer encoding). */
async function* streamed(data: Buffer): AsyncIterable<Uint8Array> {
  yield data.subarray(0, 1);
  yield data.subarray(1);
}

describe("quotas", () => {
  test("a blob that would exceed the quota is refused with 403 DENIED naming the quota, its use and its limit", async () => {
    await pushBlob(server, "refuse/app", randomBytes(8 * KIB));
    assert.equal(await used("refuse/**"), 8 * KIB);
    const before = await snapshot();
    const data = randomBytes(3 * KIB);
    const res = await postBlob("refuse/app", data);
    const [error] = assertError(res, 403, "DENIED");
    assert.equal(
      error!.message,
      'quota "refuse/**" exceeded: 8 KiB used + 3 KiB would exceed the limit of 10 KiB',
    );
    assert.deepEqual(error!.detail, {
      quota: "refuse/**",
      used: 8 * KIB,
      requested: 3 * KIB,
      limit: 10 * KIB,
    });
    // Nothing half-written: no link, no blob file, no upload left behind.
    assert.deepEqual(await snapshot(), before);
    assertHeadError(await http(server, "HEAD", `/v2/refuse/app/blobs/${digestOf(data)}`), 404);
    // Up to the limit exactly is allowed.
    await pushBlob(server, "refuse/other", randomBytes(2 * KIB));
    assert.equal(await used("refuse/**"), 10 * KIB);
    assertError(await postBlob("refuse/app", randomBytes(1)), 403, "DENIED");
    // An empty blob adds nothing, so it fits even in a full quota.
    await pushBlob(server, "refuse/app", Buffer.alloc(0));
  });

  test("a chunked upload whose Content-Length would exceed is refused at PATCH, before its bytes are stored, and ended", async () => {
    await pushBlob(server, "early/app", randomBytes(6 * KIB));
    const location = await startUpload(server, "early/app");
    const first = await http(server, "PATCH", location, {
      headers: { "Content-Type": "application/octet-stream", "Content-Range": `0-${2 * KIB - 1}` },
      body: randomBytes(2 * KIB),
    });
    assert.equal(first.status, 202, first.text());
    const before = await snapshot();
    // 2 KiB held + 3 KiB announced, over the 4 KiB left.
    const res = await http(server, "PATCH", locationPath(first), {
      headers: { "Content-Type": "application/octet-stream", "Content-Range": `${2 * KIB}-${5 * KIB - 1}` },
      body: randomBytes(3 * KIB),
    });
    const [error] = assertError(res, 403, "DENIED");
    assert.match(
      error!.message,
      /^quota "early\/\*\*" exceeded: 6 KiB used \+ 5 KiB would exceed the limit of 10 KiB$/,
    );
    // The upload is gone: no session, no bytes.
    assertError(await http(server, "GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    const after = await snapshot();
    assert.deepEqual(after.status, before.status);
    assert.deepEqual(after.blobFiles, before.blobFiles);
    assert.equal(after.uploads.length, before.uploads.length - 1);
    assert.equal(await used("early/**"), 6 * KIB);
  });

  test("a monolithic POST whose Content-Length would exceed is refused before any byte is stored", async () => {
    await pushBlob(server, "early/mono", randomBytes(3 * KIB));
    const before = await snapshot();
    const data = randomBytes(2 * KIB);
    // The server answers before reading the body: the refusal does not depend on the bytes.
    assertError(await postBlob("early/mono", data), 403, "DENIED");
    assert.deepEqual(await snapshot(), before);
  });

  test("a streamed upload (no Content-Length) is refused at the final PUT; its bytes are discarded", async () => {
    await pushBlob(server, "stream/app", randomBytes(8 * KIB));
    const before = await snapshot();
    const data = randomBytes(4 * KIB);
    const location = await startUpload(server, "stream/app");
    const patch = await http(server, "PATCH", location, {
      headers: { "Content-Type": "application/octet-stream" },
      body: streamed(data),
    });
    assert.equal(patch.status, 202, patch.text());
    const put = await http(server, "PUT", withQuery(locationPath(patch), { digest: digestOf(data) }));
    assertError(put, 403, "DENIED");
    assertError(await http(server, "GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    assert.deepEqual(await snapshot(), before);

    // The same with the bytes in the PUT itself.
    const other = await startUpload(server, "stream/app");
    const direct = await http(server, "PUT", withQuery(other, { digest: digestOf(data) }), {
      headers: { "Content-Type": "application/octet-stream" },
      body: streamed(data),
    });
    assertError(direct, 403, "DENIED");
    assert.deepEqual(await snapshot(), before);
  });

  test("each blob counts once per scope: the same layer in another repository of the scope costs nothing", async () => {
    const layer = randomBytes(7 * KIB);
    await pushBlob(server, "shared/one", layer);
    await pushBlob(server, "shared/two", layer);
    await pushBlob(server, "shared/deep/three", layer);
    assert.equal(await used("shared/**"), 7 * KIB);
    // The quota is nearly full, yet pushing the layer again anywhere in it is fine.
    await pushBlob(server, "shared/four", randomBytes(3 * KIB));
    await pushBlob(server, "shared/five", layer);
    assertError(await postBlob("shared/six", randomBytes(1)), 403, "DENIED");
    // A repository outside the scope has no quota.
    await pushBlob(server, "unlimited/app", randomBytes(20 * KIB));
  });

  test("a cross-repository mount is refused when the blob is new to the scope, free when it is not", async () => {
    const big = randomBytes(6 * KIB);
    const bigDigest = await pushBlob(server, "elsewhere/src", big);
    await pushBlob(server, "mount/a", randomBytes(5 * KIB));
    const before = await snapshot();
    const refused = await http(
      server,
      "POST",
      `/v2/mount/b/blobs/uploads/?mount=${bigDigest}&from=elsewhere/src`,
    );
    const [error] = assertError(refused, 403, "DENIED");
    assert.match(error!.message, /quota "mount\/\*\*" exceeded: 5 KiB used \+ 6 KiB/);
    assert.deepEqual(await snapshot(), before);
    assertHeadError(await http(server, "HEAD", `/v2/mount/b/blobs/${bigDigest}`), 404);

    // Mounting a blob the scope already holds adds nothing.
    const small = randomBytes(4 * KIB);
    const smallDigest = await pushBlob(server, "mount/a", small);
    assert.equal(await used("mount/**"), 9 * KIB);
    const mounted = await http(
      server,
      "POST",
      `/v2/mount/c/blobs/uploads/?mount=${smallDigest}&from=mount/a`,
    );
    assert.equal(mounted.status, 201, mounted.text());
    assert.equal(await used("mount/**"), 9 * KIB);
  });

  test("a manifest whose bytes would exceed the quota is refused; no manifest, no tag", async () => {
    const image = await pushImage(server, "manifest/app", "v1", { layers: [randomBytes(4 * KIB)] });
    const afterFirst = await used("manifest/**");
    assert.equal(afterFirst, image.config.size + 4 * KIB + image.size);
    // Fill the quota to a few bytes below the limit with a layer.
    const room = 10 * KIB - afterFirst;
    const layer = randomBytes(room - 100);
    const layerDigest = await pushBlob(server, "manifest/app", layer);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: image.config,
      layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: layer.byteLength }],
      annotations: { padding: "x".repeat(200) },
    };
    const before = await snapshot();
    const res = await putManifest(server, "manifest/app", "v2", manifest, OCI_MANIFEST);
    const [error] = assertError(res, 403, "DENIED");
    assert.match(error!.message, /^quota "manifest\/\*\*" exceeded: /);
    assert.deepEqual(await snapshot(), before);
    assertError(await http(server, "GET", "/v2/manifest/app/manifests/v2"), 404, "MANIFEST_UNKNOWN");

    // Tagging a manifest the scope already holds adds nothing, even with the quota full.
    const again = await putManifest(server, "manifest/app", "v1-again", image.bytes, OCI_MANIFEST);
    assert.equal(again.status, 201, again.text());
    const copy = await putManifest(server, "manifest/app", image.digest, image.bytes, OCI_MANIFEST);
    assert.equal(copy.status, 201, copy.text());
  });

  test("deleting blobs and manifests gives their bytes back", async () => {
    const image = await pushImage(server, "freed/app", "v1", { layers: [randomBytes(6 * KIB)] });
    assertError(await postBlob("freed/app", randomBytes(5 * KIB)), 403, "DENIED");
    const layer = image.layers[0]!.digest;
    assert.equal((await http(server, "DELETE", `/v2/freed/app/manifests/${image.digest}`)).status, 202);
    assert.equal((await http(server, "DELETE", `/v2/freed/app/blobs/${layer}`)).status, 202);
    assert.equal(await used("freed/**"), image.config.size);
    await pushBlob(server, "freed/app", randomBytes(5 * KIB));
  });

  test("a repository under several quotas is held to every one of them", async () => {
    await pushBlob(server, "nested/inner/app", randomBytes(4 * KIB));
    // The inner quota (5 KiB) refuses first although the outer one (20 KiB) has room.
    const [inner] = assertError(await postBlob("nested/inner/app", randomBytes(2 * KIB)), 403, "DENIED");
    assert.match(inner!.message, /^quota "nested\/inner\/\*" exceeded/);
    await pushBlob(server, "nested/outer", randomBytes(15 * KIB));
    // Now the outer one is the one that refuses, even for a blob the inner quota could take.
    const [outer] = assertError(await postBlob("nested/inner/app", randomBytes(KIB + 1)), 403, "DENIED");
    assert.match(outer!.message, /^quota "nested\/\*\*" exceeded/);
    await pushBlob(server, "nested/inner/app", randomBytes(KIB));
    const figures = await quotas();
    assert.equal(figures.find((q) => q.repositories === "nested/**")!.used, 20 * KIB);
    assert.equal(figures.find((q) => q.repositories === "nested/inner/*")!.used, 5 * KIB);
  });

  test("concurrent pushes cannot both take the last bytes", async () => {
    const blobs = Array.from({ length: 4 }, () => randomBytes(4 * KIB));
    const answers = await Promise.all(blobs.map((data, i) => postBlob(`race/app${i}`, data)));
    const statuses = answers.map((res) => res.status).sort();
    assert.deepEqual(statuses, [201, 201, 403, 403], answers.map((res) => res.text()).join("\n"));
    assert.equal(await used("race/**"), 8 * KIB);
  });

  test("a quota on one repository (a glob without wildcards) covers that repository only", async () => {
    await pushBlob(server, "single", randomBytes(2000));
    assertError(await postBlob("single", randomBytes(1001)), 403, "DENIED");
    await pushBlob(server, "single/child", randomBytes(2000));
  });

  test("GET /api/admin/quotas and /metrics report each quota's usage and limit", async () => {
    await pushBlob(server, "refuse/app", Buffer.alloc(0));
    const figures = await quotas();
    const refuse = figures.find((q) => q.repositories === "refuse/**");
    assert.deepEqual(refuse, { repositories: "refuse/**", limit: 10 * KIB, used: 10 * KIB, percent: 100 });
    const single = figures.find((q) => q.repositories === "single");
    assert.equal(single?.limit, 3000);
    assert.equal(single?.percent, Math.round((single!.used / 3000) * 1000) / 10);
    assert.equal(figures.length, 11);

    const metrics = (await http(server, "GET", "/metrics")).text();
    assert.match(metrics, /# TYPE reestr_quota_bytes_used gauge/);
    assert.equal(metricValue(metrics, "reestr_quota_bytes_used", { quota: "refuse/**" }), 10 * KIB);
    assert.equal(metricValue(metrics, "reestr_quota_bytes_limit", { quota: "refuse/**" }), 10 * KIB);
    assert.equal(metricValue(metrics, "reestr_quota_bytes_limit", { quota: "single" }), 3000);
  });

  test("usage survives a restart (it is measured from the store, not remembered)", async () => {
    const before = await quotas();
    await server.restart();
    assert.deepEqual(await quotas(), before);
    assertError(await postBlob("refuse/app", randomBytes(1)), 403, "DENIED");
  });
});
