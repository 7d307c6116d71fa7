/**
 * `reestr serve` with `storage.s3`, against a real S3 endpoint (Ceph radosgw on loopback,
 * test/helpers/ceph-rgw.ts): pushes monolithic and chunked (parts of 5 MiB and more, a small
 * tail), pulls with Range, skopeo copies in and out, garbage collection removing the objects, a
 * chunked upload that goes on in a second Registry over the same bucket and metadata (another
 * replica), redirects to presigned URLs, and an S3 that stops and comes back (503 UNAVAILABLE,
 * /readyz not ready, service again without a restart).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startServer as startReestr } from "../../src/app/server.ts";
import { metadataPath } from "../../src/registry/layout.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { Registry } from "../../src/registry/registry.ts";
import { S3BlobStore } from "../../src/registry/storage/s3-blob-store.ts";
import { ConfigError } from "../../src/util/config-error.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { chunksOf, pseudoRandomBytes } from "../contract/blob-store.contract.ts";
import { type Rgw, startRgw } from "../helpers/ceph-rgw.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { freePort } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  assertError,
  digestOf,
  http,
  locationPath,
  pushBlob,
  pushImage,
  startServer,
  startUpload,
  type TestServer,
  testServerConfig,
  withQuery,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const BUCKET = "reestr-server-test";
const PREFIX = "registry/main";
const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";

let rgw: Rgw;
let server: TestServer;
let work: string;

function s3Section(prefix: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket: BUCKET,
    prefix,
    forcePathStyle: true,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
    ...extra,
  };
}

/** Keys under `<prefix>/<folder>/` in the bucket, relative to the prefix. */
async function keys(prefix: string, folder: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const page = await rgw.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/${folder}/`, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) found.push(object.Key!.slice(prefix.length + 1));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found.sort();
}

function blobKey(digest: string): string {
  const hex = digest.slice("sha256:".length);
  return `blobs/sha256/${hex.slice(0, 2)}/${hex}`;
}

function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      SKOPEO,
      ["--insecure-policy", ...args],
      { timeout: 120_000, env: { ...process.env, REGISTRY_AUTH_FILE: join(work, "auth.json") } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`skopeo ${args.join(" ")} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

function mbPerSecond(bytes: number, ms: number): string {
  return ((bytes / MiB) * (1000 / ms)).toFixed(0);
}

before(async () => {
  assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing: install it with \`apt-get install -y skopeo\``);
  work = mkdtempSync(join(tmpdir(), "reestr-s3-server-"));
  rgw = await startRgw();
  await rgw.createBucket(BUCKET);
  server = await startServer({
    config: { storage: { s3: s3Section(PREFIX, { partSize: "5MiB" }) }, gc: { gracePeriod: 0 } },
  });
});

after(async () => {
  await server?.cleanup();
  await rgw?.down();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("reestr serve with storage.s3", { timeout: 600_000 }, () => {
  test("a 64 MiB blob pushed in one request and pulled whole and by Range; its bytes are in the bucket", async (t) => {
    const data = pseudoRandomBytes(64 * MiB, "64MiB");
    const digest = digestOf(data);
    let started = performance.now();
    await pushBlob(server, "s3/big", data);
    const pushMs = performance.now() - started;
    assert.ok((await keys(PREFIX, "blobs")).includes(blobKey(digest)));
    assert.deepEqual(await keys(PREFIX, "uploads"), [], "nothing left of the upload");

    started = performance.now();
    const whole = await http(server, "GET", `/v2/s3/big/blobs/${digest}`);
    const pullMs = performance.now() - started;
    assert.equal(whole.status, 200);
    assert.equal(digestOf(whole.body), digest);
    t.diagnostic(
      `64 MiB through the server on radosgw: push ${mbPerSecond(data.byteLength, pushMs)} MB/s, pull ${mbPerSecond(data.byteLength, pullMs)} MB/s (one run, noisy)`,
    );

    const start = 33 * MiB - 7;
    const ranged = await http(server, "GET", `/v2/s3/big/blobs/${digest}`, {
      headers: { Range: `bytes=${start}-${start + 2 * MiB}` },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.header("content-range"), `bytes ${start}-${start + 2 * MiB}/${data.byteLength}`);
    assert.deepEqual(ranged.body, data.subarray(start, start + 2 * MiB + 1));
    const head = await http(server, "HEAD", `/v2/s3/big/blobs/${digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.header("content-length"), String(data.byteLength));
  });

  test("a chunked push: PATCHes of 6 MiB and 5 MiB, then the final PUT with a small tail", async () => {
    const data = pseudoRandomBytes(11 * MiB + 1000, "chunked");
    const digest = digestOf(data);
    let path = await startUpload(server, "s3/chunked");
    const chunks = [data.subarray(0, 6 * MiB), data.subarray(6 * MiB, 11 * MiB)];
    let offset = 0;
    for (const chunk of chunks) {
      const res = await http(server, "PATCH", path, {
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Range": `${offset}-${offset + chunk.byteLength - 1}`,
        },
        body: chunk,
      });
      assert.equal(res.status, 202, res.text());
      offset += chunk.byteLength;
      assert.equal(res.header("range"), `0-${offset - 1}`);
      path = locationPath(res);
    }
    // The upload's state is in the bucket: the parts went to S3's multipart upload.
    const uploadKeys = await keys(PREFIX, "uploads");
    assert.ok(
      uploadKeys.some((key) => key.endsWith("/state.json")),
      `state.json in ${uploadKeys.join(", ")}`,
    );
    const tail = data.subarray(offset);
    const put = await http(server, "PUT", withQuery(path, { digest }), {
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Range": `${offset}-${data.byteLength - 1}`,
      },
      body: tail,
    });
    assert.equal(put.status, 201, put.text());
    const pulled = await http(server, "GET", `/v2/s3/chunked/blobs/${digest}`);
    assert.equal(digestOf(pulled.body), digest);
    assert.deepEqual(await keys(PREFIX, "uploads"), []);
  });

  test("skopeo copies an image in and out with every digest kept", async () => {
    const source = join(work, "src");
    const image = await makeOciImage(source, { tag: "v1", layers: 2, layerSize: 256 * 1024 });
    const hostPort = new URL(server.url).host;
    await skopeo([
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${source}:v1`,
      `docker://${hostPort}/s3/skopeo:v1`,
    ]);
    const back = join(work, "back");
    await skopeo([
      "copy",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${hostPort}/s3/skopeo:v1`,
      `oci:${back}:v1`,
    ]);
    const index = JSON.parse(readFileSync(join(back, "index.json"), "utf8")) as {
      manifests: { digest: string }[];
    };
    assert.equal(index.manifests[0]?.digest, image.digest);
    const stored = await keys(PREFIX, "blobs");
    for (const blob of image.blobs) {
      const [, hex] = blob.digest.split(":");
      assert.equal(digestOf(readFileSync(join(back, "blobs", "sha256", hex!))), blob.digest);
      assert.ok(stored.includes(blobKey(blob.digest)), `${blob.digest} in the bucket`);
    }
  });

  test("garbage collection removes the objects of a deleted image from the bucket", async () => {
    const image = await pushImage(server, "s3/gc", "doomed", {
      layers: [pseudoRandomBytes(MiB, "gc-layer-1"), pseudoRandomBytes(300_000, "gc-layer-2")],
    });
    const digests = [image.config.digest, ...image.layers.map((layer) => layer.digest)];
    const before = await keys(PREFIX, "blobs");
    for (const digest of digests) assert.ok(before.includes(blobKey(digest)));
    const deleted = await http(server, "DELETE", `/v2/s3/gc/manifests/${image.digest}`);
    assert.equal(deleted.status, 202);
    const run = await http(server, "POST", "/api/admin/gc?wait=true");
    assert.equal(run.status, 200, run.text());
    assert.equal(run.json<{ status: string }>().status, "succeeded", run.text());
    const after = await keys(PREFIX, "blobs");
    for (const digest of digests) assert.ok(!after.includes(blobKey(digest)), `${digest} removed`);
  });

  test("a chunked upload goes on in a second Registry over the same bucket and metadata (a replica change)", async () => {
    // The second replica: its own S3BlobStore and SQLite connection over the server's files (only
    // one process may hold the data directory's lock, so it is built here, not started).
    const blobs = new S3BlobStore({
      endpoint: rgw.endpoint,
      region: rgw.region,
      bucket: BUCKET,
      prefix: PREFIX,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      partSize: 5 * MiB,
    });
    const metadata = new SqliteMetadataStore(metadataPath(server.dataDir));
    const replica = new Registry({ blobs, metadata, index: metadata });
    try {
      const repo = "s3/replicas";
      const data = pseudoRandomBytes(13 * MiB + 77, "replica");
      const digest = digestOf(data);

      // A: first 6 MiB. B: the next 6 MiB. A: the final PUT with the tail. A's running hash saw
      // only its own chunk, so A must read the upload back from S3 to verify the digest.
      const path = await startUpload(server, repo);
      const id = path.split("/").at(-1)!;
      const first = await http(server, "PATCH", path, { body: data.subarray(0, 6 * MiB) });
      assert.equal(first.status, 202, first.text());
      const size = await replica.appendChunk(repo, id, chunksOf(data.subarray(6 * MiB, 12 * MiB)), {
        start: 6 * MiB,
        end: 12 * MiB - 1,
      });
      assert.equal(size, 12 * MiB);
      const status = await http(server, "GET", path);
      assert.equal(status.status, 204);
      assert.equal(status.header("range"), `0-${12 * MiB - 1}`, "A sees B's bytes");
      const put = await http(server, "PUT", withQuery(path, { digest }), { body: data.subarray(12 * MiB) });
      assert.equal(put.status, 201, put.text());
      assert.equal(digestOf((await http(server, "GET", `/v2/${repo}/blobs/${digest}`)).body), digest);

      // And the other way: A takes the chunk, B completes it (B never saw a byte of it).
      const other = pseudoRandomBytes(7 * MiB + 3, "replica-2");
      const otherPath = await startUpload(server, repo);
      const otherId = otherPath.split("/").at(-1)!;
      assert.equal((await http(server, "PATCH", otherPath, { body: other })).status, 202);
      const done = await replica.completeUpload(repo, otherId, digestOf(other));
      assert.deepEqual(done, { digest: digestOf(other), size: other.byteLength });
      const pulled = await http(server, "GET", `/v2/${repo}/blobs/${digestOf(other)}`);
      assert.equal(pulled.status, 200);
      assert.equal(digestOf(pulled.body), digestOf(other));
      assert.deepEqual(await keys(PREFIX, "uploads"), []);
    } finally {
      await metadata.close();
      blobs.close();
    }
  });

  test("with redirect, blob GETs answer 307 to a presigned URL that serves the bytes; HEAD answers directly", async () => {
    const redirecting = await startServer({
      config: { storage: { s3: s3Section("registry/redirect", { redirect: true, redirectExpiry: "5m" }) } },
    });
    try {
      const data = pseudoRandomBytes(3 * MiB + 5, "redirect");
      const digest = await pushBlob(redirecting, "s3/redirect", data);
      const res = await http(redirecting, "GET", `/v2/s3/redirect/blobs/${digest}`);
      assert.equal(res.status, 307);
      const location = res.header("location") ?? "";
      assert.ok(
        location.startsWith(`${rgw.endpoint}/${BUCKET}/registry/redirect/${blobKey(digest)}?`),
        location,
      );
      assert.match(location, /X-Amz-Expires=300/);
      assert.equal(res.header("docker-content-digest"), digest);

      // A client following the redirect (fetch does) gets the bytes from S3, ranges too.
      const followed = await fetch(`${redirecting.url}/v2/s3/redirect/blobs/${digest}`);
      assert.equal(followed.status, 200);
      assert.equal(digestOf(Buffer.from(await followed.arrayBuffer())), digest);
      const ranged = await fetch(`${redirecting.url}/v2/s3/redirect/blobs/${digest}`, {
        headers: { Range: "bytes=100-199" },
      });
      assert.equal(ranged.status, 206);
      assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), data.subarray(100, 200));

      const head = await http(redirecting, "HEAD", `/v2/s3/redirect/blobs/${digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.header("content-length"), String(data.byteLength));
    } finally {
      await redirecting.cleanup();
    }
  });

  test("a missing bucket stops the start naming it; an S3 that does not answer yet does not", async () => {
    const dataDir = join(work, "missing-bucket");
    const config = testServerConfig(
      { config: { storage: { s3: { ...s3Section("x"), bucket: "no-such-bucket" } } } },
      dataDir,
    );
    await assert.rejects(
      startReestr(config, { logger: new JsonLogger({ level: "error", sink: { write: () => {} } }) }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(
          error.message,
          /^storage\.s3: bucket no-such-bucket at http:\/\/127\.0\.0\.1:\d+: no such bucket/,
        );
        return true;
      },
    );
    const port = await freePort();
    const early = await startServer({
      config: { storage: { s3: { ...s3Section("x"), endpoint: `http://127.0.0.1:${port}` } } },
    });
    try {
      assert.equal((await http(early, "GET", "/readyz")).status, 503);
      assert.ok(early.logs.some((line) => line.includes("S3 storage is not reachable yet")));
    } finally {
      await early.cleanup();
    }
  });

  test("S3 stopped: 503 UNAVAILABLE in the OCI envelope and /readyz not ready; service again when it is back", async () => {
    const data = Buffer.from(`kept while S3 is down ${randomUUID()}`);
    const digest = await pushBlob(server, "s3/outage", data);
    assert.equal((await http(server, "GET", "/readyz")).status, 200);

    await rgw.stopGateway();
    try {
      const pull = await http(server, "GET", `/v2/s3/outage/blobs/${digest}`);
      assertError(pull, 503, "UNAVAILABLE");
      assert.doesNotMatch(pull.text(), new RegExp(rgw.accessKeyId), "no credentials in the answer");
      assert.equal((await http(server, "HEAD", `/v2/s3/outage/blobs/${digest}`)).status, 503);
      const push = await http(server, "POST", `/v2/s3/outage/blobs/uploads/?digest=${digestOf("x")}`, {
        body: "x",
      });
      assertError(push, 503, "UNAVAILABLE");
      assert.equal(push.header("retry-after"), "5");
      const ready = await http(server, "GET", "/readyz");
      assert.equal(ready.status, 503);
      const storage = ready
        .json<{ checks: { name: string; status: string; message?: string }[] }>()
        .checks.find((check) => check.name === "storage");
      assert.equal(storage?.status, "unhealthy");
      assert.match(storage?.message ?? "", /unavailable/);
      // Logged as warnings with the cause, never with the secret.
      const warnings = server.logs.filter((line) => line.includes('"request failed"'));
      assert.ok(warnings.length > 0);
      assert.ok(
        warnings.every((line) => line.includes('"level":"warn"')),
        warnings.join("\n"),
      );
      assert.ok(
        !server.logs.some((line) => line.includes(rgw.secretAccessKey)),
        "the secret is never logged",
      );
    } finally {
      await rgw.startGateway();
    }

    await waitFor(async () => (await http(server, "GET", "/readyz")).status === 200, {
      what: "/readyz to be ready again",
      timeoutMs: 60_000,
    });
    const again = await http(server, "GET", `/v2/s3/outage/blobs/${digest}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, data);
    const hash = createHash("sha256").update("after the outage").digest("hex");
    assert.equal(
      await pushBlob(server, "s3/outage", "after the outage"),
      `sha256:${hash}`,
      "pushes work again too",
    );
  });
});
