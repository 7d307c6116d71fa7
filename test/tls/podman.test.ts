/**
 * podman over TLS: against `reestr serve --tls`, podman pulls and pushes with `--cert-dir`
 * holding only the generated CA (verification on), and refuses the server without it. Podman runs
 * rootful without systemd here, so each call gets its own storage (as in test/interop/podman);
 * if podman cannot run on a machine the tests are skipped with its own error as the reason.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FixtureManifest, makeOciImage } from "../helpers/fixtures.ts";
import { isolatedPodmanArgs, PODMAN } from "../helpers/podman.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";

let work = "";
let certDir = "";
let reestr: ServerProcess | undefined;
let unusable: string | undefined;
let image: FixtureManifest;

function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function podman(args: string[]): Promise<string> {
  return run(PODMAN, [...isolatedPodmanArgs(work), ...args]);
}

describe("podman against reestr serve --tls", { timeout: 300_000 }, () => {
  before(async () => {
    assert.ok(existsSync(PODMAN), `${PODMAN} is missing`);
    work = mkdtempSync(join(tmpdir(), "reestr-tls-podman-"));
    try {
      await podman(["info", "--format", "{{.Store.GraphDriverName}}"]);
    } catch (error) {
      unusable = `podman cannot run in this environment: ${String(error).slice(0, 1500)}`;
      return;
    }
    reestr = await startReestr({ extraArgs: ["--tls"], https: true, readyPath: "/healthz" });
    certDir = join(work, "certs");
    mkdirSync(certDir);
    copyFileSync(join(reestr.dataDir, "tls", "ca.crt"), join(certDir, "ca.crt"));
    image = await makeOciImage(join(work, "layout"), { tag: "v1", layers: 1, layerSize: 16 * 1024 });
    await run(SKOPEO, [
      "--insecure-policy",
      "copy",
      "--preserve-digests",
      "--dest-cert-dir",
      certDir,
      `oci:${join(work, "layout")}:v1`,
      `docker://${reestr.hostPort}/tls/source:v1`,
    ]);
  });

  after(async () => {
    await reestr?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("pull and push with --cert-dir; without the CA podman refuses", async (t) => {
    if (unusable) return t.skip(unusable);
    const source = `${reestr!.hostPort}/tls/source:v1`;
    const empty = join(work, "no-certs");
    mkdirSync(empty);
    await assert.rejects(podman(["pull", "--cert-dir", empty, source]), /x509|certificate/i);

    await podman(["pull", "--cert-dir", certDir, source]);
    assert.equal(
      (await podman(["image", "inspect", "--format", "{{.Digest}}", source])).trim(),
      image.digest,
    );
    const target = `localhost:${reestr!.port}/tls/pushed:v2`;
    await podman(["tag", source, target]);
    await podman(["push", "--cert-dir", certDir, target]);
    const inspected = JSON.parse(
      await run(SKOPEO, ["inspect", "--cert-dir", certDir, `docker://${target}`]),
    ) as { Layers: string[] };
    assert.equal(inspected.Layers.length, 1);
  });
});
