/**
 * Quotas and immutable tags with real clients: skopeo and podman (Debian packages) against
 * Reestr run as users run it (`node bin/reestr.js serve --config …`). A push into a full quota
 * fails with the quota named and leaves nothing behind (counts, blob files and uploads as
 * before); an image larger than the room left is refused before its manifest, so no tag appears;
 * overwriting or deleting an immutable tag fails with the rule named and the tag keeps its
 * digest. Podman is skipped, with its own error as the reason, where it cannot run.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { type FixtureManifest, makeOciImage } from "../helpers/fixtures.ts";
import { isolatedPodmanArgs, PODMAN } from "../helpers/podman.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const KIB = 1024;

let work = "";
let reestr: ServerProcess | undefined;
let first: FixtureManifest;
let second: FixtureManifest;

function run(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

function skopeo(args: string[]) {
  return run(SKOPEO, ["--insecure-policy", ...args]);
}

/** skopeo copy of a fixture layout to Reestr, digests preserved. */
function copyTo(layout: string, target: string) {
  return skopeo([
    "copy",
    "--preserve-digests",
    "--dest-tls-verify=false",
    `oci:${layout}:v1`,
    `docker://${target}`,
  ]);
}

function call(
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${reestr!.url}${path}`,
      {
        method,
        agent: false,
        headers: {
          accept: [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest].join(","),
          ...(body ? { "content-type": "application/octet-stream", "content-length": body.byteLength } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function tagDigest(repo: string, tag: string): Promise<string | undefined> {
  const res = await call("HEAD", `/v2/${repo}/manifests/${tag}`);
  return res.status === 200 ? String(res.headers["docker-content-digest"]) : undefined;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** What the registry holds: its counts and the files under blobs/ and uploads/. */
async function snapshot() {
  const { uptimeSeconds: _uptime, ...counts } = JSON.parse((await call("GET", "/api/status")).text);
  return {
    counts,
    blobs: files(join(reestr!.dataDir, "blobs")),
    uploads: files(join(reestr!.dataDir, "uploads")),
  };
}

async function quotaUsed(glob: string): Promise<number> {
  const { quotas } = JSON.parse((await call("GET", "/api/admin/quotas")).text) as {
    quotas: { repositories: string; used: number }[];
  };
  return quotas.find((q) => q.repositories === glob)!.used;
}

describe("quotas and immutable tags with skopeo and podman", { timeout: 300_000 }, () => {
  before(async () => {
    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing: install it with \`apt-get install -y skopeo\``);
    work = mkdtempSync(join(tmpdir(), "reestr-policy-interop-"));
    const config = join(work, "reestr.yaml");
    writeFileSync(
      config,
      [
        "quotas:",
        '  - repositories: "full/**"',
        "    limit: 100KiB",
        '  - repositories: "partial/**"',
        "    limit: 100KiB",
        '  - repositories: "podman/**"',
        "    limit: 10KiB",
        "immutableTags:",
        '  - repositories: "prod/**"',
        "    tags: '^v\\d+\\.\\d+\\.\\d+$'",
        "",
      ].join("\n"),
    );
    reestr = await startReestr({ extraArgs: ["--config", config] });
    first = await makeOciImage(join(work, "first"), { tag: "v1", layers: 2, layerSize: 64 * KIB });
    second = await makeOciImage(join(work, "second"), { tag: "v1", layers: 2, layerSize: 64 * KIB });
  });

  after(async () => {
    await reestr?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("skopeo copy into a full quota fails naming the quota, and nothing is half-written", async () => {
    const filler = randomBytes(90 * KIB);
    const put = await call("POST", `/v2/full/filler/blobs/uploads/?digest=${digestOf(filler)}`, filler);
    assert.equal(put.status, 201, put.text);
    const before = await snapshot();
    await assert.rejects(copyTo(join(work, "first"), `${reestr!.hostPort}/full/app:v1`), (error: Error) => {
      assert.match(
        error.message,
        /quota \\?"full\/\*\*\\?" exceeded: 90 KiB used \+ [\d.]+ KiB would exceed the limit of 100 KiB/,
      );
      return true;
    });
    assert.deepEqual(await snapshot(), before);
    assert.equal(await tagDigest("full/app", "v1"), undefined);
    assert.equal(await quotaUsed("full/**"), 90 * KIB);
  });

  test("skopeo copy of an image larger than the room left is refused before its manifest: no tag, no upload left", async () => {
    const before = await snapshot();
    await assert.rejects(
      copyTo(join(work, "first"), `${reestr!.hostPort}/partial/app:v1`),
      /quota \\?"partial\/\*\*\\?" exceeded/,
    );
    const after = await snapshot();
    // skopeo prints the registry's message with its quotes escaped.
    // Blobs that fitted may stay linked (each blob is committed whole or not at all), but the
    // image was never accepted and no upload is left behind.
    assert.equal(await tagDigest("partial/app", "v1"), undefined);
    assert.deepEqual(
      { manifests: after.counts.manifests, tags: after.counts.tags },
      { manifests: before.counts.manifests, tags: before.counts.tags },
    );
    assert.deepEqual(after.uploads, before.uploads);
    assert.ok((await quotaUsed("partial/**")) <= 100 * KIB);
  });

  test("skopeo cannot overwrite or delete an immutable tag; pushing the same image again works", async () => {
    const target = `${reestr!.hostPort}/prod/app:v1.0.0`;
    await copyTo(join(work, "first"), target);
    assert.equal(await tagDigest("prod/app", "v1.0.0"), first.digest);
    await assert.rejects(copyTo(join(work, "second"), target), (error: Error) => {
      assert.match(
        error.message,
        /tag v1\.0\.0 of prod\/app is immutable \(rule immutableTags\[0\]: prod\/\*\* /,
      );
      return true;
    });
    assert.equal(await tagDigest("prod/app", "v1.0.0"), first.digest);
    // Clients retry pushes: the same manifest again is fine.
    await copyTo(join(work, "first"), target);
    // skopeo delete resolves the tag and deletes the manifest by digest: refused too.
    await assert.rejects(skopeo(["delete", "--tls-verify=false", `docker://${target}`]), /is immutable/);
    assert.equal(await tagDigest("prod/app", "v1.0.0"), first.digest);
    // A tag no rule covers moves as usual.
    await copyTo(join(work, "first"), `${reestr!.hostPort}/prod/app:latest`);
    await copyTo(join(work, "second"), `${reestr!.hostPort}/prod/app:latest`);
    assert.equal(await tagDigest("prod/app", "latest"), second.digest);
  });

  test("podman push into a full quota fails naming the quota; podman cannot overwrite an immutable tag", async (t) => {
    assert.ok(existsSync(PODMAN), `${PODMAN} is missing: install it with \`apt-get install -y podman\``);
    const podman = (args: string[]) => run(PODMAN, [...isolatedPodmanArgs(work), ...args]);
    try {
      await podman(["info", "--format", "{{.Store.GraphDriverName}}"]);
    } catch (error) {
      return t.skip(`podman cannot run in this environment: ${String(error).slice(0, 1500)}`);
    }
    const source = `${reestr!.hostPort}/source/app:v1`;
    await copyTo(join(work, "second"), source);
    await podman(["pull", "--tls-verify=false", source]);

    const quotaTarget = `${reestr!.hostPort}/podman/app:v1`;
    await podman(["tag", source, quotaTarget]);
    const before = await snapshot();
    await assert.rejects(
      podman(["push", "--tls-verify=false", quotaTarget]),
      /quota \\?"podman\/\*\*\\?" exceeded/,
    );
    assert.equal(await tagDigest("podman/app", "v1"), undefined);
    const after = await snapshot();
    assert.deepEqual(after.counts, before.counts);
    assert.deepEqual(after.uploads, before.uploads);

    const immutable = `${reestr!.hostPort}/prod/app:v1.0.0`;
    await podman(["tag", source, immutable]);
    await assert.rejects(podman(["push", "--tls-verify=false", immutable]), /is immutable/);
    assert.equal(await tagDigest("prod/app", "v1.0.0"), first.digest);
  });
});
