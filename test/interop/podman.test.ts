/**
 * Real-client interop: podman (Debian package) pulls from and pushes to Reestr run as users run
 * it. Podman runs rootful without systemd here, so every invocation gets its own storage
 * (`--root`, `--runroot`, `--tmpdir` in a temp dir, `--storage-driver vfs`) plus
 * `--cgroup-manager cgroupfs` and `--events-backend file`. If podman cannot work on a machine,
 * the tests are skipped with podman's own error as the reason; a missing binary fails loudly.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { type FixtureManifest, makeMultiArchImage, makeOciImage } from "../helpers/fixtures.ts";
import { isolatedPodmanArgs, PODMAN } from "../helpers/podman.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";

let work = "";
let reestr: ServerProcess | undefined;
/** Why podman cannot run here, when it cannot. */
let unusable: string | undefined;
let image: FixtureManifest;

function run(bin: string, args: string[], timeout = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function podman(args: string[]): Promise<string> {
  return run(PODMAN, [...isolatedPodmanArgs(work), ...args]);
}

function skopeo(args: string[]): Promise<string> {
  return run(SKOPEO, ["--insecure-policy", ...args]);
}

/** GET a manifest from Reestr by reference, answering its bytes' digest and media type. */
function getManifest(
  repo: string,
  reference: string,
): Promise<{ status: number; digest: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${reestr!.url}/v2/${repo}/manifests/${reference}`,
      {
        agent: false,
        headers: { accept: [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest].join(",") },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            digest: digestOf(Buffer.concat(chunks)),
            type: String(res.headers["content-type"]),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("podman interop", { timeout: 300_000 }, () => {
  before(async () => {
    assert.ok(existsSync(PODMAN), `${PODMAN} is missing: install it with \`apt-get install -y podman\``);
    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing: install it with \`apt-get install -y skopeo\``);
    work = mkdtempSync(join(tmpdir(), "reestr-podman-"));
    try {
      await podman(["info", "--format", "{{.Store.GraphDriverName}}"]);
    } catch (error) {
      unusable = `podman cannot run in this environment: ${String(error).slice(0, 1500)}`;
      return;
    }
    reestr = await startReestr();
    image = await makeOciImage(join(work, "layout"), { tag: "v1", layers: 2, layerSize: 16 * 1024 });
    await skopeo([
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${join(work, "layout")}:v1`,
      `docker://${reestr.hostPort}/podman/source:v1`,
    ]);
  });

  after(async () => {
    await reestr?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("podman pull by tag and by digest", async (t) => {
    if (unusable) return t.skip(unusable);
    const ref = `${reestr!.hostPort}/podman/source:v1`;
    await podman(["pull", "--tls-verify=false", ref]);
    const digest = (await podman(["image", "inspect", "--format", "{{.Digest}}", ref])).trim();
    assert.equal(digest, image.digest);

    const byDigest = `${reestr!.hostPort}/podman/source@${image.digest}`;
    await podman(["pull", "--tls-verify=false", byDigest]);
    const id = (await podman(["image", "inspect", "--format", "{{.Id}}", byDigest])).trim();
    // The image id is the config digest's hex.
    assert.equal(`sha256:${id}`, image.blobs[0]!.digest);
  });

  test("podman push to a new repository, then pull back", async (t) => {
    if (unusable) return t.skip(unusable);
    const source = `${reestr!.hostPort}/podman/source:v1`;
    const target = `${reestr!.hostPort}/podman/pushed:v2`;
    await podman(["pull", "--tls-verify=false", source]);
    await podman(["tag", source, target]);
    await podman(["push", "--tls-verify=false", target]);

    const pushed = await getManifest("podman/pushed", "v2");
    assert.equal(pushed.status, 200);
    const raw = await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${target}`]);
    assert.equal(digestOf(raw), pushed.digest);
    const manifest = JSON.parse(raw) as { config: { digest: string }; layers: { digest: string }[] };
    // Same image: same config (podman may re-compress layers, so only the config is compared).
    assert.equal(manifest.config.digest, image.blobs[0]!.digest);
    assert.equal(manifest.layers.length, image.blobs.length - 1);

    await podman(["rmi", "-f", target, source]);
    await podman(["pull", "--tls-verify=false", target]);
    const id = (await podman(["image", "inspect", "--format", "{{.Id}}", target])).trim();
    assert.equal(`sha256:${id}`, image.blobs[0]!.digest);
  });

  test("podman pull of a multi-arch index picks the requested platform", async (t) => {
    if (unusable) return t.skip(unusable);
    const dir = join(work, "multi");
    const index = await makeMultiArchImage(dir, {
      tag: "m",
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ],
      layerSize: 8 * 1024,
    });
    await skopeo([
      "copy",
      "--all",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${dir}:m`,
      `docker://${reestr!.hostPort}/podman/multi:m`,
    ]);
    const ref = `${reestr!.hostPort}/podman/multi:m`;
    await podman(["pull", "--tls-verify=false", "--arch", "arm64", ref]);
    const arch = (await podman(["image", "inspect", "--format", "{{.Architecture}}", ref])).trim();
    assert.equal(arch, "arm64");
    const id = (await podman(["image", "inspect", "--format", "{{.Id}}", ref])).trim();
    assert.equal(`sha256:${id}`, index.children[1]!.blobs[0]!.digest);
  });
});
