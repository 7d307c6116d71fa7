/**
 * A full disk, for real: `reestr serve` (a child process of bin/reestr.js) with its data
 * directory and its stdout (the JSON log, access log on) on a 64 MiB tmpfs, filled by pushing.
 * Pushes get 507 STORAGE_FULL saying what is free and what is needed, /readyz says why it is
 * not ready, pulls and deletes keep working, no upload is left half-written, a write of the log
 * on a disk at 0 bytes never kills the process, a restart on the full disk starts and serves
 * pulls read-only, and once deletes freed enough, pushes work again (skopeo's too).
 *
 * Needs root to mount the tmpfs; skipped with that reason otherwise.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdtemp, readdir, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { pushImage } from "../auth/helpers.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { freePort, REESTR_BIN, type ServerProcess, spawnServer } from "../helpers/reestr-process.ts";
import { mountTmpfs } from "../helpers/tmpfs.ts";
import { digestOf, type HttpResponse, http } from "./helpers.ts";

const exec = promisify(execFile);
const MiB = 1024 * 1024;
const RESERVE = "8MiB";
const BLOB = 4 * MiB;

interface SpecErrors {
  errors: { code: string; message: string; detail?: Record<string, number> }[];
}

interface Ready {
  status: string;
  checks: { name: string; status: string; message?: string }[];
}

async function startOn(dir: string, port: number): Promise<ServerProcess> {
  return spawnServer({
    name: "reestr",
    command: process.execPath,
    args: [REESTR_BIN, "serve", "--host", "127.0.0.1", "--port", String(port), "--data", join(dir, "data")],
    // No grace period: the blobs deleted below are freed by the garbage-collection run that follows.
    env: {
      ...process.env,
      REESTR_STORAGE_RESERVE: RESERVE,
      REESTR_LOG_LEVEL: "info",
      REESTR_GC_GRACE_PERIOD: "0",
    },
    port,
    dataDir: join(dir, "data"),
    ownedDirs: [],
    // The log goes to the same full disk as the data.
    logFile: join(dir, "reestr.log"),
  });
}

/** A blob pushed whole (POST ?digest=, with its Content-Length); the answer, whatever it is. */
function pushBlob(url: string, repo: string, data: Buffer): Promise<HttpResponse> {
  return http(url, "POST", `/v2/${repo}/blobs/uploads/?digest=${digestOf(data)}`, {
    headers: { "Content-Type": "application/octet-stream" },
    body: data,
  });
}

function assertStorageFull(res: HttpResponse): SpecErrors["errors"][number] {
  assert.equal(res.status, 507, `expected 507, got ${res.status} ${res.text()}`);
  const [error] = res.json<SpecErrors>().errors;
  assert.ok(error);
  assert.equal(error.code, "STORAGE_FULL");
  assert.match(
    error.message,
    /^the registry's storage is full \(\d+(\.\d+)? MiB free of \d+(\.\d+)? MiB needed; 8 MiB is kept in reserve for metadata and deletes\): delete images or add space, then push again$/,
  );
  assert.equal(error.detail?.reserve, 8 * MiB);
  return error;
}

/** `skopeo copy` of a small OCI image to `destination`; its exit code and stderr. */
async function skopeoCopy(destination: string): Promise<{ code: number; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), "reestr-full-skopeo-"));
  try {
    const layout = join(dir, "layout");
    await makeOciImage(layout, { layers: 1, layerSize: 64 * 1024 });
    await exec("skopeo", [
      "--insecure-policy",
      "copy",
      "--dest-tls-verify=false",
      `oci:${layout}:latest`,
      destination,
    ]);
    return { code: 0, stderr: "" };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? String(error) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function ready(url: string): Promise<{ status: number; body: Ready }> {
  const res = await http(url, "GET", "/readyz");
  return { status: res.status, body: res.json<Ready>() };
}

describe("a full disk (64 MiB tmpfs)", { timeout: 120_000 }, () => {
  test("pushes are refused clearly, reads and deletes go on, a restart serves pulls, freed space takes pushes again", async (t) => {
    const mount = await mountTmpfs("64m");
    if (!mount) return t.skip("mounting a tmpfs is not permitted here (needs root)");
    let server: ServerProcess | undefined;
    try {
      server = await startOn(mount.dir, await freePort());
      const url = server.url;
      const kept = await pushImage(url, {}, "keep/app", "v1");
      assert.equal((await ready(url)).status, 200);

      // Fill the disk by pushing 4 MiB blobs, first to about 20 MiB free.
      const filled: string[] = [];
      const freeBytes = async () => {
        const info = await statfs(mount.dir);
        return info.bavail * info.bsize;
      };
      for (let i = 0; i < 20 && (await freeBytes()) > 20 * MiB; i++) {
        const data = randomBytes(BLOB);
        const res = await pushBlob(url, "fill/app", data);
        assert.equal(res.status, 201, res.text());
        filled.push(digestOf(data));
      }
      // A chunked upload streaming more than is left is cut off at the reserve, and discarded:
      // no half-written upload stays to hold the space.
      const session = await http(url, "POST", "/v2/fill/app/blobs/uploads/");
      assert.equal(session.status, 202, session.text());
      const location = session.header("location")!;
      const cut = await http(url, "PATCH", location, {
        headers: { "Content-Type": "application/octet-stream" },
        body: (async function* () {
          for (let i = 0; i < 32; i++) yield randomBytes(MiB);
        })(),
      });
      assertStorageFull(cut);
      const gone = await http(url, "GET", location);
      assert.equal(gone.status, 404);
      assert.deepEqual(await readdir(join(mount.dir, "data", "uploads")), []);

      // Then blobs until the registry refuses one.
      let refusal: HttpResponse | undefined;
      for (let i = 0; i < 20 && !refusal; i++) {
        const data = randomBytes(BLOB);
        const res = await pushBlob(url, "fill/app", data);
        if (res.status === 201) filled.push(digestOf(data));
        else refusal = res;
      }
      assert.ok(refusal, "64 MiB cannot take 20 blobs of 4 MiB");
      assert.ok(filled.length >= 8, `${filled.length} blobs fit`);
      const refused = assertStorageFull(refusal);
      const free = await freeBytes();
      assert.ok(free >= 8 * MiB, `the reserve is kept: ${free} bytes free`);
      process.stdout.write(
        `# ${filled.length} blobs of 4 MiB fit; ${(free / MiB).toFixed(1)} MiB left free; refused: ${refused.message}\n`,
      );

      // Full now: even starting an upload is refused.
      assertStorageFull(await http(url, "POST", "/v2/fill/app/blobs/uploads/"));
      assertStorageFull(await pushBlob(url, "fill/app", randomBytes(1024)));
      assert.deepEqual(
        await readdir(join(mount.dir, "data", "uploads")),
        [],
        "no upload is left half-written",
      );
      const notReady = await ready(url);
      assert.equal(notReady.status, 503);
      const disk = notReady.body.checks.find((check) => check.name === "disk");
      assert.equal(disk?.status, "unhealthy");
      assert.match(
        disk?.message ?? "",
        /^storage full: \d+(\.\d+)? MiB free, reserve 8 MiB; pushes resume at 16 MiB free$/,
      );
      assert.ok(
        notReady.body.checks
          .filter((check) => check.name !== "disk")
          .every((check) => check.status === "healthy"),
        JSON.stringify(notReady.body),
      );
      // What a real client shows: skopeo (containers/image) reads error bodies of 4xx answers
      // only, so it reports the status, 507 Insufficient Storage.
      const copy = await skopeoCopy(`docker://${server.hostPort}/skopeo/app:v1`);
      assert.match(copy.stderr, /507 Insufficient Storage/);
      // Pulls go on.
      assert.equal((await http(url, "GET", `/v2/keep/app/manifests/v1`)).status, 200);
      assert.equal((await http(url, "GET", `/v2/keep/app/blobs/${kept.layer}`)).status, 200);

      // The rest of the disk taken by someone else: writes of the log now fail with ENOSPC.
      const filler = join(mount.dir, "filler");
      const fd = openSync(filler, "w");
      try {
        const block = Buffer.alloc(64 * 1024);
        for (let i = 0; i < 4096; i++) writeSync(fd, block);
        assert.fail("the tmpfs should have been full");
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, "ENOSPC");
      } finally {
        closeSync(fd);
      }
      for (let i = 0; i < 20; i++) await http(url, "GET", "/healthz"); // each logs an access line
      assert.equal(
        (await http(url, "GET", "/healthz")).status,
        200,
        "the process survives log writes failing",
      );
      assert.ok(server.isRunning());
      await rm(filler);

      // A restart on the full disk starts, serves pulls, and stays read-only.
      await server.stop();
      server = await startOn(mount.dir, server.port);
      assert.equal((await http(url, "GET", `/v2/keep/app/manifests/v1`)).status, 200);
      const layer = await http(url, "GET", `/v2/keep/app/blobs/${kept.layer}`);
      assert.equal(layer.status, 200);
      assert.equal(digestOf(layer.body), kept.layer);
      assertStorageFull(await pushBlob(url, "fill/app", randomBytes(1024)));
      assert.equal((await ready(url)).status, 503);

      // Deletes work on the full disk, and a garbage-collection run frees their space, all
      // through the API (a blob DELETE only unlinks; the bytes go with the run).
      for (const digest of filled.slice(0, 4)) {
        const res = await http(url, "DELETE", `/v2/fill/app/blobs/${digest}`);
        assert.equal(res.status, 202, res.text());
      }
      const collected = await http(url, "POST", "/api/admin/gc?wait=true");
      assert.equal(collected.status, 200, collected.text());
      const readyAgain = await ready(url);
      assert.equal(readyAgain.status, 200, JSON.stringify(readyAgain.body));
      const again = randomBytes(BLOB);
      assert.equal((await pushBlob(url, "fill/app", again)).status, 201);
      assert.equal(
        digestOf((await http(url, "GET", `/v2/fill/app/blobs/${digestOf(again)}`)).body),
        digestOf(again),
      );
      // And so does a real client's.
      const copied = await skopeoCopy(`docker://${server.hostPort}/skopeo/app:v1`);
      assert.equal(copied.code, 0, copied.stderr);

      // The log on the full disk: lines were lost while it was at 0 bytes, and it says so.
      const log = server.output(1024 * 1024);
      assert.ok(log.includes('"msg":"log lines were lost"'), "the lost log lines are reported");
      assert.ok(log.includes('"reason":"ENOSPC"'));
      assert.equal(refused.detail?.free !== undefined, true);
    } finally {
      await server?.stop().catch(() => {});
      await mount.unmount();
    }
  });
});
