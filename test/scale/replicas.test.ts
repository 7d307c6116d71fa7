/**
 * Three `reestr serve` replicas sharing PostgreSQL (metadata), Ceph radosgw (S3 blobs) and
 * Redis (locks, cache invalidation), behind a round-robin proxy on loopback, as a load balancer
 * would spread clients over them:
 *
 * - a push split across replicas (POST on one, PATCH on the next, PUT on the third);
 * - a tag moved and a tag added on one replica, seen on the others at once (their caches were
 *   warm: the invalidation reached them before the next request);
 * - a delete on one seen by all;
 * - skopeo copies in and out through the proxy;
 * - GC on one replica while pushes go through the others: every acknowledged push stays whole,
 *   and a second replica's run is refused while one is collecting;
 * - a replica without redis.url is refused at start while the others run (exit 2).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  digestOf,
  http,
  locationPath,
  OCI_MANIFEST,
  pushImage,
  putManifest,
  type TestServer,
} from "../api/helpers.ts";
import { type RedisProcess, startRedis } from "../catalog/redis.ts";
import { type Rgw, startRgw } from "../helpers/ceph-rgw.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { type PostgresCluster, postgresMissing, startPostgres } from "../helpers/postgres.ts";
import { REESTR_BIN, type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { type RoundRobinProxy, startRoundRobinProxy } from "../helpers/round-robin-proxy.ts";
import { waitFor } from "../helpers/wait.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const BUCKET = "reestr-replicas";

let postgres: PostgresCluster;
let rgw: Rgw;
let redis: RedisProcess;
let proxy: RoundRobinProxy;
let work: string;
const replicas: ServerProcess[] = [];

/** A replica as the api helpers want a server (they only use its url). */
const at = (replica: ServerProcess | RoundRobinProxy) => ({ url: replica.url }) as TestServer;

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function skopeo(args: string[]): Promise<void> {
  const result = await run(SKOPEO, ["--insecure-policy", ...args]);
  assert.equal(result.code, 0, `skopeo ${args.join(" ")}: ${result.stderr}`);
}

async function tags(server: ServerProcess | RoundRobinProxy, repo: string): Promise<string[]> {
  const res = await http(at(server), "GET", `/v2/${repo}/tags/list`);
  assert.equal(res.status, 200, res.text());
  return res.json<{ tags: string[] }>().tags;
}

async function tagDigest(server: ServerProcess, repo: string, tag: string): Promise<string | undefined> {
  const res = await http(at(server), "GET", `/v2/${repo}/manifests/${tag}`, {
    headers: { Accept: OCI_MANIFEST },
  });
  return res.status === 200 ? res.header("docker-content-digest") : undefined;
}

before(async () => {
  const missing = postgresMissing();
  assert.equal(missing, undefined, missing);
  assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing`);
  work = mkdtempSync(join(tmpdir(), "reestr-replicas-"));
  // One after another, each assigned at once: a failing start leaves the others to after().
  redis = await startRedis();
  postgres = await startPostgres();
  rgw = await startRgw();
  await rgw.createBucket(BUCKET);
  const database = await postgres.createDatabase();
  const config = (withRedis: boolean) => ({
    log: { level: "warn", accessLog: false },
    metadata: { postgres: { url: database } },
    storage: {
      s3: {
        endpoint: rgw.endpoint,
        region: rgw.region,
        bucket: BUCKET,
        prefix: "replicas",
        forcePathStyle: true,
        accessKeyId: rgw.accessKeyId,
        secretAccessKey: rgw.secretAccessKey,
      },
    },
    gc: { gracePeriod: 0 },
    ...(withRedis ? { redis: { url: redis.url } } : {}),
  });
  // JSON is YAML.
  writeFileSync(join(work, "replica.yaml"), JSON.stringify(config(true)));
  writeFileSync(join(work, "alone.yaml"), JSON.stringify(config(false)));
  for (let i = 0; i < 3; i++) {
    replicas.push(await startReestr({ extraArgs: ["--config", join(work, "replica.yaml")] }));
  }
  proxy = await startRoundRobinProxy(replicas.map((replica) => replica.port));
});

after(async () => {
  await proxy?.close();
  for (const replica of replicas) await replica.cleanup();
  await redis?.stop();
  await rgw?.down();
  await postgres?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("three replicas on PostgreSQL + S3 + Redis", { timeout: 900_000 }, () => {
  test("a replica without redis.url is refused at start while the others run", async () => {
    const result = await run(process.execPath, [
      REESTR_BIN,
      "serve",
      "--config",
      join(work, "alone.yaml"),
      "--port",
      "0",
      "--data",
      join(work, "alone-data"),
    ]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /another replica \(.+:\d+(, .+:\d+)*\) is running on this database; several replicas need redis\.url for shared locks and caches/,
    );
  });

  test("a push split across replicas: POST on one, PATCH on the next, PUT on the third", async () => {
    const [a, b, c] = replicas as [ServerProcess, ServerProcess, ServerProcess];
    const layer = randomBytes(300_000);
    const digest = digestOf(layer);
    const started = await http(at(a), "POST", "/v2/split/app/blobs/uploads/");
    assert.equal(started.status, 202, started.text());
    const first = layer.subarray(0, 100_000);
    const patched = await http(at(b), "PATCH", locationPath(started), {
      headers: { "Content-Type": "application/octet-stream", "Content-Range": `0-${first.length - 1}` },
      body: first,
    });
    assert.equal(patched.status, 202, patched.text());
    const url = new URL(locationPath(patched), "http://x");
    url.searchParams.set("digest", digest);
    const put = await http(at(c), "PUT", url.pathname + url.search, {
      headers: { "Content-Type": "application/octet-stream" },
      body: layer.subarray(100_000),
    });
    assert.equal(put.status, 201, put.text());
    for (const replica of replicas) {
      const res = await http(at(replica), "GET", `/v2/split/app/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(digestOf(res.body), digest);
    }
  });

  test("a tag moved and a tag added on one replica are seen on the others at once; a delete by all", async () => {
    const [a, b, c] = replicas as [ServerProcess, ServerProcess, ServerProcess];
    const first = await pushImage(at(a), "moves/app", "v1");
    // Warm every replica's caches: the tag list and the manifest.
    for (const replica of replicas) {
      assert.deepEqual(await tags(replica, "moves/app"), ["v1"]);
      assert.equal(await tagDigest(replica, "moves/app", "v1"), first.digest);
    }
    for (let round = 0; round < 5; round++) {
      const moved = await pushImage(at(b), "moves/app", "v1");
      const added = await putManifest(at(b), "moves/app", `r${round}`, moved.bytes, OCI_MANIFEST);
      assert.equal(added.status, 201);
      for (const replica of [a, c]) {
        assert.equal(await tagDigest(replica, "moves/app", "v1"), moved.digest, `round ${round}: tag moved`);
        assert.ok((await tags(replica, "moves/app")).includes(`r${round}`), `round ${round}: tag added`);
      }
    }
    // A delete on c, of a manifest a and b have read (and cached).
    const doomed = await pushImage(at(c), "moves/app", "doomed");
    for (const replica of replicas) {
      const res = await http(at(replica), "GET", `/v2/moves/app/manifests/${doomed.digest}`);
      assert.equal(res.status, 200);
    }
    const deleted = await http(at(c), "DELETE", `/v2/moves/app/manifests/${doomed.digest}`);
    assert.equal(deleted.status, 202, deleted.text());
    for (const replica of replicas) {
      const res = await http(at(replica), "GET", `/v2/moves/app/manifests/${doomed.digest}`);
      assert.equal(res.status, 404, `replica ${replica.port} still serves the deleted manifest`);
      assert.ok(!(await tags(replica, "moves/app")).includes("doomed"));
    }
  });

  test("skopeo copies in and out through the round-robin proxy", async () => {
    const layout = join(work, "layout");
    const image = await makeOciImage(layout, { tag: "v1", layers: 3, layerSize: 2_000_000 });
    const before = [...proxy.connections];
    await skopeo([
      "copy",
      "--dest-tls-verify=false",
      `oci:${layout}:v1`,
      `docker://${proxy.hostPort}/skopeo/app:v1`,
    ]);
    const spread = proxy.connections.map((n, i) => n - before[i]!);
    assert.ok(spread.filter((n) => n > 0).length >= 2, `the push went to one replica only: ${spread}`);
    for (const replica of replicas) {
      assert.equal(await tagDigest(replica, "skopeo/app", "v1"), image.digest);
    }
    const out = join(work, "out");
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      `docker://${proxy.hostPort}/skopeo/app:v1`,
      `oci:${out}:v1`,
    ]);
    const inspected = await run(SKOPEO, ["inspect", "--raw", `oci:${out}:v1`]);
    assert.equal(digestOf(Buffer.from(inspected.stdout)), image.digest);
  });

  test("GC on one replica while pushes go through the others loses nothing acknowledged", async () => {
    const [a, b, c] = replicas as [ServerProcess, ServerProcess, ServerProcess];
    const acknowledged: { repo: string; tag: string; digest: string; blobs: string[] }[] = [];
    let refused = 0;
    const pusher = async (replica: ServerProcess, name: string) => {
      for (let i = 0; i < 12; i++) {
        // As clients do: a push refused because GC swept its fresh blobs is pushed again.
        for (let attempt = 0; ; attempt++) {
          try {
            const image = await pushImage(at(replica), `gc/${name}`, `t${i}`);
            acknowledged.push({
              repo: `gc/${name}`,
              tag: `t${i}`,
              digest: image.digest,
              blobs: [image.config.digest, ...image.layers.map((l) => l.digest)],
            });
            break;
          } catch (error) {
            refused++;
            if (attempt >= 20) throw error;
          }
        }
      }
    };
    const runs: { status: string; error?: string }[] = [];
    let elsewhere = 0;
    let pushing = true;
    const collector = (async () => {
      let seen = -1;
      while (pushing) {
        // A run per push acknowledged at least: GC and pushes interleave, and pushes progress.
        await waitFor(async () => !pushing || acknowledged.length > seen, {
          what: "a push",
          timeoutMs: 300_000,
        });
        if (!pushing) break;
        seen = acknowledged.length;
        // Two replicas asked at once: one collects, the other is refused naming the holder (or,
        // when the first has finished already, runs after it).
        const answers = await Promise.all([a, c].map((r) => http(at(r), "POST", "/api/admin/gc?wait=true")));
        for (const res of answers) {
          assert.equal(res.status, 200, res.text());
          const run = res.json<{ status: string; error?: string }>();
          if (run.status === "failed") {
            assert.match(run.error ?? "", /garbage collection is already running on replica .+:\d+/);
            elsewhere++;
          } else {
            runs.push(run);
          }
        }
      }
    })();
    try {
      await Promise.all([pusher(b, "b"), pusher(c, "c")]);
    } finally {
      pushing = false;
      await collector;
    }
    assert.ok(runs.length >= 1);
    assert.ok(
      runs.every((r) => r.status === "succeeded"),
      JSON.stringify(runs),
    );
    // One more run once the pushes are done: nothing acknowledged may go.
    const last = await http(at(b), "POST", "/api/admin/gc?wait=true");
    assert.equal(last.json<{ status: string }>().status, "succeeded");
    assert.equal(acknowledged.length, 24);
    for (const pushed of acknowledged) {
      for (const replica of replicas) {
        assert.equal(await tagDigest(replica, pushed.repo, pushed.tag), pushed.digest);
      }
      for (const blob of pushed.blobs) {
        const res = await http(at(proxy), "GET", `/v2/${pushed.repo}/blobs/${blob}`);
        assert.equal(res.status, 200, `${pushed.repo} lost ${blob}`);
        assert.equal(digestOf(res.body), blob);
      }
    }
    console.log(
      `gc runs: ${runs.length} collected, ${elsewhere} refused while another replica collected; ${refused} pushes retried`,
    );
  });
});
