/**
 * Real-client interop: skopeo (Debian package) against Reestr run as users run it
 * (`node bin/reestr.js serve`), and copies between Reestr and CNCF Distribution 2.8.2
 * (Debian's docker-registry) in both directions, digests preserved.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { startDistribution } from "../helpers/distribution.ts";
import { type FixtureManifest, makeMultiArchImage, makeOciImage } from "../helpers/fixtures.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";

interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs skopeo with no trust policy and no credentials from the machine; rejects with its stderr. */
function skopeo(args: string[]): Promise<RunResult> {
  const [command, ...rest] = args;
  const full = ["--insecure-policy", command!, ...rest];
  return new Promise((resolve, reject) => {
    execFile(
      SKOPEO,
      full,
      {
        timeout: 120_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, REGISTRY_AUTH_FILE: join(work, "auth.json") },
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`skopeo ${full.join(" ")} failed: ${error.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** The digest of the manifest tagged `tag` in the OCI layout at dir. */
function layoutDigest(dir: string, tag: string): string {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  assert.ok(entry, `tag ${tag} in ${dir}/index.json: ${JSON.stringify(index)}`);
  return entry.digest;
}

/** Asserts the layout holds the blob, with content matching its digest. */
function assertLayoutBlob(dir: string, digest: string): void {
  const [algorithm, hex] = digest.split(":");
  const path = join(dir, "blobs", algorithm!, hex!);
  assert.ok(existsSync(path), `blob ${digest} in ${dir}`);
  assert.equal(digestOf(readFileSync(path)), digest);
}

/** A plain GET/HEAD on a registry, for checks that do not go through skopeo. */
function httpStatus(server: ServerProcess, method: string, path: string, accept?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      { method, agent: false, headers: accept ? { accept } : {} },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const MANIFEST_ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest].join(",");

let work = "";
let reestr: ServerProcess | undefined;
let distribution: ServerProcess | undefined;
let single: FixtureManifest;
const singleDir = () => join(work, "src-single");

describe("skopeo interop", { timeout: 300_000 }, () => {
  before(async () => {
    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing: install it with \`apt-get install -y skopeo\``);
    work = mkdtempSync(join(tmpdir(), "reestr-skopeo-"));
    [reestr, distribution] = await Promise.all([startReestr(), startDistribution()]);
    single = await makeOciImage(singleDir(), { tag: "v1", layers: 2, layerSize: 64 * 1024 });
  });

  after(async () => {
    await Promise.all([reestr?.cleanup(), distribution?.cleanup()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const r = () => reestr!.hostPort;
  const d = () => distribution!.hostPort;

  test("copy oci-layout → Reestr → oci-layout keeps every digest", async () => {
    await skopeo([
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${singleDir()}:v1`,
      `docker://${r()}/interop/single:v1`,
    ]);
    const back = join(work, "back-single");
    await skopeo([
      "copy",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${r()}/interop/single:v1`,
      `oci:${back}:v1`,
    ]);
    assert.equal(layoutDigest(back, "v1"), single.digest);
    assertLayoutBlob(back, single.digest);
    for (const blob of single.blobs) assertLayoutBlob(back, blob.digest);
  });

  test("skopeo inspect and inspect --raw", async () => {
    await skopeo([
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${singleDir()}:v1`,
      `docker://${r()}/interop/inspect:v1`,
    ]);
    const { stdout } = await skopeo(["inspect", "--tls-verify=false", `docker://${r()}/interop/inspect:v1`]);
    const info = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string; Os: string };
    assert.equal(info.Digest, single.digest);
    assert.equal(info.Os, "linux");
    assert.equal(info.Architecture, "amd64");
    assert.deepEqual(
      info.Layers,
      single.blobs.slice(1).map((b) => b.digest),
    );

    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${r()}/interop/inspect:v1`,
    ]);
    assert.equal(digestOf(raw.stdout), single.digest);
    const manifest = JSON.parse(raw.stdout) as { mediaType: string; config: { digest: string } };
    assert.equal(manifest.mediaType, single.mediaType);
    assert.equal(manifest.config.digest, single.blobs[0]!.digest);

    const config = await skopeo([
      "inspect",
      "--config",
      "--raw",
      "--tls-verify=false",
      `docker://${r()}/interop/inspect:v1`,
    ]);
    assert.equal(digestOf(config.stdout), single.blobs[0]!.digest);

    // And by digest.
    const byDigest = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${r()}/interop/inspect@${single.digest}`,
    ]);
    assert.equal(digestOf(byDigest.stdout), single.digest);
  });

  test("skopeo list-tags", async () => {
    for (const tag of ["b", "a", "1.0", "latest"]) {
      await skopeo([
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        `oci:${singleDir()}:v1`,
        `docker://${r()}/interop/tags:${tag}`,
      ]);
    }
    const { stdout } = await skopeo(["list-tags", "--tls-verify=false", `docker://${r()}/interop/tags`]);
    const listed = JSON.parse(stdout) as { Repository: string; Tags: string[] };
    assert.equal(listed.Repository, `${r()}/interop/tags`);
    assert.deepEqual([...listed.Tags].sort(), ["1.0", "a", "b", "latest"]);
  });

  test("skopeo delete removes the manifest and its tag", async () => {
    const dir = join(work, "src-delete");
    const image = await makeOciImage(dir, { tag: "gone", layers: 1, layerSize: 4096 });
    await skopeo([
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${dir}:gone`,
      `docker://${r()}/interop/delete:gone`,
    ]);
    assert.equal(
      await httpStatus(reestr!, "HEAD", `/v2/interop/delete/manifests/gone`, MANIFEST_ACCEPT),
      200,
    );
    await skopeo(["delete", "--tls-verify=false", `docker://${r()}/interop/delete:gone`]);
    assert.equal(
      await httpStatus(reestr!, "HEAD", `/v2/interop/delete/manifests/${image.digest}`, MANIFEST_ACCEPT),
      404,
    );
    assert.equal(
      await httpStatus(reestr!, "HEAD", `/v2/interop/delete/manifests/gone`, MANIFEST_ACCEPT),
      404,
    );
    await assert.rejects(
      skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${r()}/interop/delete:gone`]),
    );
  });

  test("multi-arch index round trip with --all", async () => {
    const dir = join(work, "src-multi");
    const index = await makeMultiArchImage(dir, {
      tag: "multi",
      platforms: [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
        { os: "linux", architecture: "arm", variant: "v7" },
      ],
      layerSize: 16 * 1024,
    });
    await skopeo([
      "copy",
      "--all",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${dir}:multi`,
      `docker://${r()}/interop/multi:multi`,
    ]);

    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${r()}/interop/multi:multi`,
    ]);
    assert.equal(digestOf(raw.stdout), index.digest);
    const parsed = JSON.parse(raw.stdout) as { mediaType: string; manifests: { digest: string }[] };
    assert.equal(parsed.mediaType, MediaType.OciIndex);
    assert.deepEqual(
      parsed.manifests.map((m) => m.digest),
      index.children.map((c) => c.digest),
    );

    // The per-platform image a client resolves through the index ("Digest" stays the index's).
    const arm = await skopeo([
      "--override-arch",
      "arm64",
      "--override-variant",
      "v8",
      "inspect",
      "--tls-verify=false",
      `docker://${r()}/interop/multi:multi`,
    ]);
    const armInfo = JSON.parse(arm.stdout) as { Digest: string; Architecture: string; Layers: string[] };
    assert.equal(armInfo.Digest, index.digest);
    assert.equal(armInfo.Architecture, "arm64");
    assert.deepEqual(
      armInfo.Layers,
      index.children[1]!.blobs.slice(1).map((b) => b.digest),
    );

    const back = join(work, "back-multi");
    await skopeo([
      "copy",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${r()}/interop/multi:multi`,
      `oci:${back}:multi`,
    ]);
    assert.equal(layoutDigest(back, "multi"), index.digest);
    for (const child of index.children) {
      assertLayoutBlob(back, child.digest);
      for (const blob of child.blobs) assertLayoutBlob(back, blob.digest);
    }
  });

  test("copy Reestr → Distribution keeps digests", async () => {
    await skopeo([
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${singleDir()}:v1`,
      `docker://${r()}/interop/to-dist:v1`,
    ]);
    await skopeo([
      "copy",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://${r()}/interop/to-dist:v1`,
      `docker://${d()}/interop/from-reestr:v1`,
    ]);
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${d()}/interop/from-reestr:v1`,
    ]);
    assert.equal(digestOf(raw.stdout), single.digest);
    for (const blob of single.blobs) {
      assert.equal(
        await httpStatus(distribution!, "HEAD", `/v2/interop/from-reestr/blobs/${blob.digest}`),
        200,
      );
    }
  });

  test("copy Distribution → Reestr keeps digests", async () => {
    const dir = join(work, "src-from-dist");
    const image = await makeOciImage(dir, { tag: "v2", layers: 3, layerSize: 32 * 1024 });
    await skopeo([
      "copy",
      "--preserve-digests",
      "--dest-tls-verify=false",
      `oci:${dir}:v2`,
      `docker://${d()}/interop/origin:v2`,
    ]);
    await skopeo([
      "copy",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://${d()}/interop/origin:v2`,
      `docker://${r()}/interop/from-dist:v2`,
    ]);
    const raw = await skopeo([
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${r()}/interop/from-dist:v2`,
    ]);
    assert.equal(digestOf(raw.stdout), image.digest);
    for (const blob of image.blobs) {
      assert.equal(await httpStatus(reestr!, "HEAD", `/v2/interop/from-dist/blobs/${blob.digest}`), 200);
    }
  });

  test("multi-arch index copies Reestr ↔ Distribution with --all", async () => {
    const dir = join(work, "src-multi-peer");
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
      `docker://${r()}/interop/multi-peer:m`,
    ]);
    await skopeo([
      "copy",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://${r()}/interop/multi-peer:m`,
      `docker://${d()}/interop/multi-peer:m`,
    ]);
    await skopeo([
      "copy",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://${d()}/interop/multi-peer:m`,
      `docker://${r()}/interop/multi-back:m`,
    ]);
    for (const host of [d(), r()]) {
      const repo = host === d() ? "multi-peer" : "multi-back";
      const raw = await skopeo([
        "inspect",
        "--raw",
        "--tls-verify=false",
        `docker://${host}/interop/${repo}:m`,
      ]);
      assert.equal(digestOf(raw.stdout), index.digest, `index digest on ${host}`);
    }
    for (const child of index.children) {
      assert.equal(
        await httpStatus(
          reestr!,
          "HEAD",
          `/v2/interop/multi-back/manifests/${child.digest}`,
          MANIFEST_ACCEPT,
        ),
        200,
      );
    }
  });
});
