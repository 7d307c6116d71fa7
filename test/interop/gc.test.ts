/**
 * Garbage collection with real clients: skopeo and podman (Debian packages) against Reestr run
 * as users run it (`node bin/reestr.js serve`, no grace period so a run collects at once). An
 * image deleted with `skopeo delete` loses its bytes at the next run while the image sharing a
 * layer with it keeps pulling; the deleted image pushed again afterwards (the client asks which
 * blobs exist and uploads what is gone) pulls back intact; podman pulls the kept image after the
 * run. Podman is skipped, with its own error as the reason, where it cannot run.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { GcRun } from "../../src/registry/lifecycle/gc-service.ts";
import { type FixtureManifest, makeOciImage } from "../helpers/fixtures.ts";
import { isolatedPodmanArgs, PODMAN } from "../helpers/podman.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";

let work = "";
let reestr: ServerProcess | undefined;
let kept: FixtureManifest;
let deleted: FixtureManifest;

function run(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

const skopeo = (args: string[]) => run(SKOPEO, ["--insecure-policy", ...args]);
const push = (layout: string, ref: string) =>
  skopeo(["copy", "--preserve-digests", "--dest-tls-verify=false", `oci:${layout}:v1`, `docker://${ref}`]);
/** Pulls into a fresh OCI layout: skopeo verifies every blob's digest on the way. */
const pull = (ref: string, into: string) =>
  skopeo(["copy", "--src-tls-verify=false", `docker://${ref}`, `oci:${into}:v1`]);

function blobFiles(): Set<string> {
  const root = join(reestr!.dataDir, "blobs", "sha256");
  const files = new Set<string>();
  for (const prefix of existsSync(root) ? readdirSync(root) : []) {
    for (const name of readdirSync(join(root, prefix))) files.add(`sha256:${name}`);
  }
  return files;
}

async function collect(): Promise<GcRun> {
  const res = await fetch(`${reestr!.url}/api/admin/gc?wait=true`, { method: "POST" });
  assert.equal(res.status, 200);
  const run = (await res.json()) as GcRun;
  assert.equal(run.status, "succeeded", run.error);
  return run;
}

describe("garbage collection with skopeo and podman", { timeout: 300_000 }, () => {
  before(async () => {
    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing: install it with \`apt-get install -y skopeo\``);
    work = mkdtempSync(join(tmpdir(), "reestr-gc-interop-"));
    reestr = await startReestr({ env: { REESTR_GC_GRACE_PERIOD: "0", REESTR_GC_SCHEDULE: "off" } });
    kept = await makeOciImage(join(work, "kept"), { tag: "v1", layers: 2, layerSize: 256 * 1024 });
    deleted = await makeOciImage(join(work, "deleted"), { tag: "v1", layers: 2, layerSize: 256 * 1024 });
  });

  after(async () => {
    await reestr?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("skopeo delete, then a run: the deleted image's bytes go, the kept image pulls intact", async () => {
    await push(join(work, "kept"), `${reestr!.hostPort}/gc/kept:v1`);
    await push(join(work, "deleted"), `${reestr!.hostPort}/gc/gone:v1`);
    const gone = deleted.blobs.map((blob) => blob.digest);
    for (const digest of gone) assert.ok(blobFiles().has(digest));
    await skopeo(["delete", "--tls-verify=false", `docker://${reestr!.hostPort}/gc/gone:v1`]);

    const run = await collect();
    assert.equal(run.removed!.blobs, gone.length);
    for (const digest of gone) assert.ok(!blobFiles().has(digest), `${digest} is freed`);
    await pull(`${reestr!.hostPort}/gc/kept:v1`, join(work, "pulled-kept"));
    const catalog = (await (await fetch(`${reestr!.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, ["gc/kept"], "the emptied repository left the catalog");
  });

  test("the deleted image pushed again after the run pulls back intact", async () => {
    await push(join(work, "deleted"), `${reestr!.hostPort}/gc/gone:v1`);
    await pull(`${reestr!.hostPort}/gc/gone:v1`, join(work, "pulled-again"));
    // Nothing left to collect: everything on disk is referenced.
    assert.equal((await collect()).removed!.blobs, 0);
  });

  test("podman pulls the kept image after a run", async (t) => {
    assert.ok(existsSync(PODMAN), `${PODMAN} is missing: install it with \`apt-get install -y podman\``);
    const podman = (args: string[]) => run(PODMAN, [...isolatedPodmanArgs(join(work, "podman")), ...args]);
    try {
      await podman(["info", "--format", "{{.Store.GraphDriverName}}"]);
    } catch (error) {
      return t.skip(`podman cannot run in this environment: ${String(error).slice(0, 1500)}`);
    }
    await collect();
    await podman(["pull", "--tls-verify=false", `${reestr!.hostPort}/gc/kept:v1`]);
    const { stdout } = await podman([
      "image",
      "inspect",
      "--format",
      "{{.Digest}}",
      `${reestr!.hostPort}/gc/kept:v1`,
    ]);
    assert.equal(stdout.trim(), kept.digest);
  });
});
