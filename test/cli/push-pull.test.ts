/**
 * `reestr push`, `pull`, `status` and `list` as a user runs them (child processes of bin/reestr.js)
 * against the real Reestr server on loopback; skopeo checks that what we pull is a valid layout.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { startServer } from "../../src/app/server.ts";
import { OciLayout } from "../../src/image/oci-layout.ts";
import type { Digest } from "../../src/oci/digest.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { testServerConfig } from "../api/helpers.ts";
import { makeMultiArchImage, makeOciImage } from "../helpers/fixtures.ts";

const exec = promisify(execFile);
const BIN = new URL("../../bin/reestr.js", import.meta.url).pathname;

let dir: string;
let server: Awaited<ReturnType<typeof startServer>>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-cli-"));
  server = await startServer(testServerConfig({}, join(dir, "data")), {
    logger: new JsonLogger({ level: "error" }),
  });
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function reestr(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      env: { ...process.env, REESTR_URL: server.url, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function reestrJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const result = await reestr([...args, "--json"]);
  assert.equal(result.code, 0, `reestr ${args.join(" ")} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface Summary {
  digest: string;
  mediaType: string;
  manifests: number;
  blobs: { total: number; transferred: number; skipped: number; mounted: number; bytesTransferred: number };
}

async function skopeoDigest(ref: string): Promise<string> {
  const { stdout } = await exec("skopeo", ["inspect", ref]);
  return (JSON.parse(stdout) as { Digest: string }).Digest;
}

describe("reestr push / pull", () => {
  it("round-trips an OCI layout image with equal digests", async () => {
    const src = join(dir, "single");
    const fixture = await makeOciImage(src, { tag: "v1", layers: 3, layerSize: 50_000 });
    const host = new URL(server.url).host;

    const pushed = await reestrJson<Summary & { reference: string }>([
      "push",
      `${src}:v1`,
      `${host}/cli/single:1.0`,
    ]);
    assert.equal(pushed.digest, fixture.digest);
    assert.equal(pushed.reference, `${host}/cli/single:1.0`);
    assert.deepEqual(pushed.blobs, {
      total: 4,
      transferred: 4,
      skipped: 0,
      mounted: 0,
      bytesTransferred: pushed.blobs.bytesTransferred,
    });

    // Pushing again uploads nothing: every blob is found by HEAD.
    const again = await reestrJson<Summary>(["push", src, "cli/single:1.0"]);
    assert.equal(again.digest, fixture.digest);
    assert.equal(again.blobs.skipped, 4);
    assert.equal(again.blobs.transferred, 0);

    const out = join(dir, "single-pulled");
    const pulled = await reestrJson<Summary>(["pull", "cli/single:1.0", out]);
    assert.equal(pulled.digest, fixture.digest);
    assert.equal(pulled.blobs.transferred, 4);
    const layout = await OciLayout.open(out);
    assert.equal((await layout.resolve("1.0")).digest, fixture.digest);
    for (const b of fixture.blobs) assert.equal(await layout.blobSize(b.digest as Digest), b.size);
    assert.equal(await skopeoDigest(`oci:${out}:1.0`), fixture.digest);

    // Pulling into the same layout again finds every blob in place.
    const repeat = await reestrJson<Summary>(["pull", "cli/single:1.0", out]);
    assert.equal(repeat.blobs.skipped, 4);
  });

  it("pushes in chunks and prints plain progress lines when stderr is not a terminal", async () => {
    const src = join(dir, "chunky");
    const fixture = await makeOciImage(src, { layers: 1, layerSize: 300_000 });
    const result = await reestr(["push", src, "cli/chunky:c", "--chunk-size", "0.1"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`pushed .*/cli/chunky:c@${fixture.digest}`));
    assert.match(result.stderr, /blob [0-9a-f]{12} .*: pushed/);
    assert.match(result.stderr, /manifest sha256:[0-9a-f]{64} .* as c/);
    const out = join(dir, "chunky-pulled");
    assert.equal((await reestrJson<Summary>(["pull", "cli/chunky:c", out])).digest, fixture.digest);
  });

  it("round-trips a multi-arch index, whole or one platform", async () => {
    const src = join(dir, "multi");
    const platforms = [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
      { os: "linux", architecture: "s390x" },
    ];
    const multi = await makeMultiArchImage(src, { tag: "m", platforms, layerSize: 20_000 });
    const pushed = await reestrJson<Summary>(["push", `${src}:m`, "cli/multi:m"]);
    assert.equal(pushed.digest, multi.digest);
    assert.equal(pushed.manifests, 4);

    const all = join(dir, "multi-pulled");
    const pulled = await reestrJson<Summary>(["pull", "cli/multi:m", all]);
    assert.equal(pulled.digest, multi.digest);
    assert.equal(pulled.manifests, 4);
    const { stdout } = await exec("skopeo", ["inspect", "--raw", `oci:${all}:m`]);
    assert.equal(JSON.parse(stdout).manifests.length, 3);
    await exec("skopeo", ["copy", "--all", `oci:${all}:m`, `oci:${join(dir, "multi-skopeo")}:m`]);

    const arm = join(dir, "multi-arm");
    const one = await reestrJson<Summary & { platform: string }>([
      "pull",
      `cli/multi@${multi.digest}`,
      arm,
      "--platform",
      "linux/arm64",
      "--tag",
      "arm",
    ]);
    assert.equal(one.digest, multi.children[1]!.digest);
    assert.equal(one.platform, "linux/arm64");
    assert.equal(await skopeoDigest(`oci:${arm}:arm`), multi.children[1]!.digest);

    const missing = await reestr(["pull", "cli/multi:m", join(dir, "none"), "--platform", "windows/amd64"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no image for platform windows\/amd64/);
  });

  it("pushes a docker-save archive", async () => {
    const src = join(dir, "for-archive");
    await makeOciImage(src, { tag: "v1", layers: 2, layerSize: 10_000 });
    const archive = join(dir, "image.tar");
    await exec("skopeo", ["copy", `oci:${src}:v1`, `docker-archive:${archive}:demo/archived:v1`]);
    const pushed = await reestrJson<Summary>(["push", archive, "cli/archived:v1"]);
    assert.equal(pushed.blobs.total, 3);
    const out = join(dir, "archive-pulled");
    await reestrJson(["pull", "cli/archived:v1", out]);
    assert.equal(await skopeoDigest(`oci:${out}:v1`), pushed.digest);
    // The image named by its tag inside the archive is found too.
    const byTag = await reestrJson<Summary>(["push", `${archive}:demo/archived:v1`, "cli/archived:v2"]);
    assert.equal(byTag.digest, pushed.digest);
  });

  it("explains usage errors with exit status 2", async () => {
    const noArgs = await reestr(["push"]);
    assert.equal(noArgs.code, 2);
    assert.match(noArgs.stderr, /expected a source and a destination/);
    const badRef = await reestr(["push", dir, "Bad Name:1"]);
    assert.equal(badRef.code, 2);
    const missingSource = await reestr(["push", join(dir, "does-not-exist"), "cli/x:1"]);
    assert.equal(missingSource.code, 1);
    assert.match(missingSource.stderr, /no such OCI layout directory or docker archive/);
    const help = await reestr(["pull", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: reestr pull/);
  });
});

describe("reestr status / list", () => {
  it("reports a running registry", async () => {
    await makeOciImage(join(dir, "status-img"), { tag: "s" });
    await reestrJson(["push", `${join(dir, "status-img")}:s`, "cli/status:s"]);
    const status = await reestrJson<{
      up: boolean;
      url: string;
      version?: string;
      repositories?: number;
      storageBytes?: number;
      ready?: { status: string };
    }>(["status"]);
    assert.equal(status.up, true);
    assert.equal(status.url, server.url);
    assert.equal(typeof status.version, "string");
    assert.ok((status.repositories ?? 0) >= 1);
    assert.ok((status.storageBytes ?? 0) > 0);
    assert.equal(status.ready?.status, "healthy");

    const text = await reestr(["status", server.url]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /up/);
    assert.match(text.stdout, /repositories: +\d+/);
  });

  it("reports a registry that is down with exit status 1", async () => {
    const down = await reestr(["status", "http://127.0.0.1:9", "--json"]);
    assert.equal(down.code, 1);
    const status = JSON.parse(down.stdout) as { up: boolean; error: string };
    assert.equal(status.up, false);
    assert.match(status.error, /ECONNREFUSED/);
  });

  it("lists repositories with their tags", async () => {
    await makeOciImage(join(dir, "list-img"), { tag: "a" });
    await reestrJson(["push", `${join(dir, "list-img")}:a`, "cli/listed:one"]);
    await reestrJson(["push", `${join(dir, "list-img")}:a`, "cli/listed:two"]);
    const list = await reestrJson<{ repositories: { name: string; tags: string[] }[] }>(["list"]);
    const listed = list.repositories.find((r) => r.name === "cli/listed");
    assert.deepEqual(listed?.tags.sort(), ["one", "two"]);
    const text = await reestr(["list", server.url]);
    assert.match(text.stdout, /^cli\/listed\tone two$/m);
  });
});
