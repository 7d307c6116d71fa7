/**
 * Online garbage collection through the API, against a real server on a real data directory:
 * what goes (unreferenced blobs and links, untagged manifests, empty repositories, stray files,
 * expired uploads), what stays (everything a manifest references), dry runs, blob DELETE as an
 * unlink, and a push/delete load racing repeated runs (src/registry/lifecycle/gc.ts describes the
 * protocol this last test proves).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { blobPath } from "../../src/registry/layout.ts";
import type { GcRun } from "../../src/registry/lifecycle/gc-service.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  digestOf,
  http,
  metricValue,
  type PushedImage,
  pushBlob,
  pushImage,
  pushIndex,
  startServer,
  startUpload,
  type TestServer,
} from "./helpers.ts";

const MiB = 1024 * 1024;

async function gc(server: TestServer, query = ""): Promise<GcRun> {
  const res = await http(server, "POST", `/api/admin/gc?wait=true${query}`);
  assert.equal(res.status, 200, res.text());
  const run = res.json<GcRun>();
  assert.equal(run.status, "succeeded", run.error);
  return run;
}

/** Files under the data directory's blobs/ (the bytes actually on disk). */
async function blobFiles(server: TestServer): Promise<string[]> {
  const files: string[] = [];
  const root = join(server.dataDir, "blobs");
  for (const algorithm of await readdir(root).catch(() => [])) {
    for (const prefix of await readdir(join(root, algorithm))) {
      for (const name of await readdir(join(root, algorithm, prefix))) files.push(`${algorithm}:${name}`);
    }
  }
  return files.sort();
}

async function storageBytes(server: TestServer): Promise<number> {
  const res = await http(server, "GET", "/api/status");
  return res.json<{ storageBytes: number }>().storageBytes;
}

async function catalog(server: TestServer): Promise<string[]> {
  return (await http(server, "GET", "/v2/_catalog")).json<{ repositories: string[] }>().repositories;
}

/** Every blob of an image is served with its exact bytes, and the manifest too. */
async function assertPullable(server: TestServer, repo: string, image: PushedImage): Promise<void> {
  const manifest = await http(server, "GET", `/v2/${repo}/manifests/${image.digest}`);
  assert.equal(manifest.status, 200, `${repo}@${image.digest}: ${manifest.text()}`);
  for (const descriptor of [image.config, ...image.layers]) {
    const res = await http(server, "GET", `/v2/${repo}/blobs/${descriptor.digest}`);
    assert.equal(res.status, 200, `${repo} blob ${descriptor.digest}: ${res.status}`);
    assert.equal(digestOf(res.body), descriptor.digest);
  }
}

describe("garbage collection frees what deleted images held", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ config: { gc: { gracePeriod: 0 } } });
  });
  after(() => server.cleanup());

  test("10 images with 1 MiB layers, all deleted: bytes, storage figures and the catalogue go", async () => {
    const images: PushedImage[] = [];
    for (let i = 0; i < 10; i++) {
      images.push(await pushImage(server, "gc/ten", `v${i}`, { layers: [randomBytes(MiB)] }));
    }
    await pushImage(server, "gc/kept", "v1", { layers: [randomBytes(MiB)] });
    assert.ok((await storageBytes(server)) >= 11 * MiB);
    for (const image of images) {
      assert.equal((await http(server, "DELETE", `/v2/gc/ten/manifests/${image.digest}`)).status, 202);
    }
    // Gone from the catalogue at once, before any collection.
    assert.deepEqual(await catalog(server), ["gc/kept"]);

    const dry = await gc(server, "&dryRun=true");
    assert.equal(dry.dryRun, true);
    assert.equal(dry.removed!.blobs, 20, "10 layers and 10 configs would go");
    assert.ok(dry.removed!.blobBytes >= 10 * MiB);
    assert.equal((await blobFiles(server)).length, 22, "a dry run deletes nothing");

    const run = await gc(server);
    assert.equal(run.removed!.blobs, dry.removed!.blobs);
    assert.equal(run.removed!.bytesFreed, dry.removed!.blobBytes);
    assert.deepEqual(
      run.items!.blobs.map((b) => b.digest).sort(),
      dry.items!.blobs.map((b) => b.digest).sort(),
      "the dry run listed exactly what went",
    );
    assert.deepEqual(run.items!.repositories, ["gc/ten"]);
    assert.equal((await blobFiles(server)).length, 2, "only the kept image's config and layer stay");
    assert.ok((await storageBytes(server)) < 2 * MiB);
    const status = (await http(server, "GET", "/api/status")).json<{ repositories: number }>();
    assert.equal(status.repositories, 1);
    // The emptied repository is unknown now, as if never pushed.
    const tags = await http(server, "GET", "/v2/gc/ten/tags/list");
    assert.equal(tags.status, 404);

    const metrics = (await http(server, "GET", "/metrics")).text();
    assert.ok(metricValue(metrics, "reestr_gc_bytes_freed_total")! >= 10 * MiB);
    assert.ok(metrics.includes('reestr_gc_runs_total{result="ok",dry_run="true"} 1'));
    assert.ok(metrics.includes("reestr_gc_duration_seconds_count 1"));

    const history = (await http(server, "GET", "/api/admin/gc")).json<{ runs: GcRun[]; running: null }>();
    assert.equal(history.running, null);
    assert.deepEqual(
      history.runs.map((r) => [r.id, r.dryRun]),
      [
        [run.id, false],
        [dry.id, true],
      ],
    );
  });

  test("blob DELETE unlinks: the bytes stay while a manifest references them, and a re-push heals", async () => {
    const layer = randomBytes(64 * 1024);
    const image = await pushImage(server, "gc/unlink", "v1", { layers: [layer] });
    const digest = image.layers[0]!.digest;
    assert.equal((await http(server, "DELETE", `/v2/gc/unlink/blobs/${digest}`)).status, 202);
    assert.equal((await http(server, "GET", `/v2/gc/unlink/blobs/${digest}`)).status, 404);
    await gc(server);
    assert.ok((await blobFiles(server)).includes(digest), "referenced bytes survive collection");
    await pushBlob(server, "gc/unlink", layer);
    await assertPullable(server, "gc/unlink", image);
  });

  test("a blob pushed to two repositories and deleted from one stays for the other", async () => {
    const bytes = randomBytes(1000);
    const a = await pushImage(server, "gc/share-a", "v1", { layers: [bytes] });
    const b = await pushImage(server, "gc/share-b", "v1", { layers: [bytes] });
    assert.equal((await http(server, "DELETE", `/v2/gc/share-a/manifests/${a.digest}`)).status, 202);
    await gc(server);
    await assertPullable(server, "gc/share-b", b);
    assert.equal((await http(server, "GET", `/v2/gc/share-a/blobs/${a.layers[0]!.digest}`)).status, 404);
  });

  test("untagged manifests go only when asked, with what they alone held", async () => {
    const child = await pushImage(server, "gc/untagged", undefined);
    const index = await pushIndex(server, "gc/untagged", "multi", [
      { ...child.descriptor, platform: { os: "linux", architecture: "amd64" } },
    ]);
    const loose = await pushImage(server, "gc/untagged", undefined);
    const signature = await pushImage(server, "gc/untagged", undefined, {
      artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
      subject: loose.descriptor,
    });
    const kept = await gc(server);
    assert.equal(kept.removed!.manifests, 0, "gc.untagged is off by default");
    const run = await gc(server, "&untagged=true");
    assert.deepEqual(
      run.items!.manifests.map((m) => m.digest).sort(),
      [loose.digest, signature.digest].sort(),
      "the loose image and its signature go; the index and its child stay",
    );
    assert.equal((await http(server, "GET", `/v2/gc/untagged/manifests/${loose.digest}`)).status, 404);
    assert.equal((await http(server, "GET", `/v2/gc/untagged/manifests/${index.digest}`)).status, 200);
    await assertPullable(server, "gc/untagged", child);
    assert.ok(!(await blobFiles(server)).includes(loose.layers[0]!.digest));
  });

  test("stray files with no blob row and expired uploads are swept", async () => {
    const strayBytes = Buffer.from("left by a crash");
    const stray = digestOf(strayBytes);
    const path = blobPath(server.dataDir, stray as never);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, strayBytes);
    const run = await gc(server);
    assert.deepEqual(run.items!.strayFiles, [{ digest: stray, size: strayBytes.byteLength }]);
    await assert.rejects(stat(path));
  });
});

test("expired uploads are swept by a run, not only hourly", async () => {
  const server = await startServer({ uploadExpiryMs: 1, config: { gc: { gracePeriod: 0 } } });
  try {
    const location = await startUpload(server, "gc/uploads");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const run = await gc(server);
    assert.equal(run.removed!.uploads, 1);
    assert.equal((await http(server, "GET", location)).status, 404);
  } finally {
    await server.cleanup();
  }
});

test("the grace period keeps what a push in flight has not referenced yet", async () => {
  const server = await startServer();
  try {
    const layer = randomBytes(1000);
    const digest = await pushBlob(server, "gc/grace", layer);
    const run = await gc(server, "&untagged=true");
    assert.equal(run.gracePeriod, "1h");
    assert.equal(run.removed!.blobs, 0);
    assert.equal((await http(server, "GET", `/v2/gc/grace/blobs/${digest}`)).status, 200);
  } finally {
    await server.cleanup();
  }
});

test("a second run while one is in progress is refused with 409 naming the run", async () => {
  const server = await startServer({ config: { gc: { gracePeriod: 0 } } });
  try {
    for (let i = 0; i < 50; i++) await pushBlob(server, "gc/busy", randomBytes(100));
    const first = await http(server, "POST", "/api/admin/gc");
    assert.equal(first.status, 202);
    const started = first.json<GcRun>();
    assert.equal(started.status, "running");
    const second = await http(server, "POST", "/api/admin/gc?wait=true");
    if (second.status === 409) {
      const body = second.json<{ error: { code: string; message: string; details: GcRun } }>();
      assert.equal(body.error.code, "CONFLICT");
      assert.equal(body.error.details.id, started.id);
    } else {
      // The first run finished before the second request arrived: then it simply runs.
      assert.equal(second.status, 200);
    }
    const bad = await http(server, "POST", "/api/admin/gc?dryRun=maybe");
    assert.equal(bad.status, 400);
    assert.match(bad.text(), /dryRun/);
  } finally {
    await server.cleanup();
  }
});

test("pushes and deletes racing repeated runs: no acknowledged image loses a byte, deleted bytes are freed", async () => {
  const server = await startServer({ config: { gc: { gracePeriod: 0, untagged: true } } });
  try {
    const live = new Map<string, PushedImage>();
    const deleted: PushedImage[] = [];
    const shared = randomBytes(8 * 1024); // a layer every image has: it must never go
    let stop = false;
    let refusedPushes = 0;
    const pusher = async (worker: number) => {
      for (let i = 0; i < 40; i++) {
        const repo = `race/r${(worker + i) % 3}`;
        // A blob swept between its upload and the manifest PUT makes the PUT fail with
        // MANIFEST_BLOB_UNKNOWN (allowed: never a 201 for a blob then deleted); a client pushes
        // again, as skopeo and podman do. Bounded: five tries.
        for (let attempt = 0; attempt < 5; attempt++) {
          try {
            const image = await pushImage(server, repo, `w${worker}-${i}`, {
              layers: [shared, randomBytes(16 * 1024 + i)],
            });
            live.set(`${repo}@${image.digest}`, image);
            break;
          } catch (error) {
            assert.match((error as Error).message, /MANIFEST_BLOB_UNKNOWN/);
            refusedPushes++;
          }
        }
        if (i % 3 === 2) {
          const [key, image] = [...live.entries()][Math.floor(live.size / 2)] ?? [];
          if (key && image) {
            live.delete(key);
            const repo = key.slice(0, key.indexOf("@"));
            const res = await http(server, "DELETE", `/v2/${repo}/manifests/${image.digest}`);
            assert.equal(res.status, 202);
            deleted.push(image);
          }
        }
      }
    };
    const collector = async () => {
      let runs = 0;
      while (!stop && runs < 200) {
        await gc(server);
        runs++;
      }
      return runs;
    };
    const runs = collector();
    await Promise.all([pusher(0), pusher(1), pusher(2)]);
    stop = true;
    assert.ok((await runs) > 1, "collection ran while pushing");
    await gc(server);

    for (const [key, image] of live) await assertPullable(server, key.slice(0, key.indexOf("@")), image);
    // Every byte only deleted images held is gone from disk (here 100 %; the issue asks ≥ 95 %).
    const onDisk = new Set(await blobFiles(server));
    const liveDigests = new Set(
      [...live.values()].flatMap((i) => [i.config.digest, ...i.layers.map((l) => l.digest)]),
    );
    const uniqueDeleted = new Map<string, number>();
    for (const image of deleted) {
      for (const d of [image.config, ...image.layers])
        if (!liveDigests.has(d.digest)) uniqueDeleted.set(d.digest, d.size);
    }
    const total = [...uniqueDeleted.values()].reduce((a, b) => a + b, 0);
    const left = [...uniqueDeleted].filter(([d]) => onDisk.has(d)).reduce((a, [, size]) => a + size, 0);
    assert.ok(total > 0);
    assert.equal(left, 0, `${left} of ${total} deleted bytes still on disk`);
    // Enough work got through for the race to mean something (each refusal was retried).
    assert.ok(live.size >= 40, `${live.size} images live, ${refusedPushes} pushes refused and retried`);
  } finally {
    await server.cleanup();
  }
});

test("the schedule runs collection at its time, on the injected clock", async () => {
  const clock = new FakeClock("2025-06-01T00:00:00Z");
  const server = await startServer({
    scheduleClock: clock,
    config: { gc: { gracePeriod: 0, schedule: "0 3 * * *" } },
  });
  try {
    const image = await pushImage(server, "gc/scheduled", "v1");
    assert.equal((await http(server, "DELETE", `/v2/gc/scheduled/manifests/${image.digest}`)).status, 202);
    const before = (await http(server, "GET", "/api/admin/gc")).json<{
      config: { nextRun: string; schedule: string };
    }>();
    assert.deepEqual(before.config.schedule, "0 3 * * *");
    assert.equal(before.config.nextRun, "2025-06-01T03:00:00.000Z");
    await clock.advanceTo("2025-06-01T03:00:00Z");
    const run = await waitFor(
      async () =>
        (await http(server, "GET", "/api/admin/gc"))
          .json<{ runs: GcRun[] }>()
          .runs.find((r) => r.status !== "running"),
      { what: "the scheduled run" },
    );
    assert.equal(run.trigger, "schedule");
    assert.equal(run.removed!.blobs, 2);
    const after = (await http(server, "GET", "/api/admin/gc")).json<{ config: { nextRun: string } }>();
    assert.equal(after.config.nextRun, "2025-06-02T03:00:00.000Z");
  } finally {
    await server.cleanup();
  }
});
