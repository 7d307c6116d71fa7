/**
 * The pull-through cache against real upstreams on loopback: CNCF Distribution (behind the
 * fault-injecting proxy, which counts what reaches it) and a second Reestr.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ProxySchema } from "../../src/proxy/proxy-config.ts";
import { type Descriptor, digestOf, http, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { startDistribution } from "../helpers/distribution.ts";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { isolatedPodmanArgs, PODMAN, podmanEnvironment } from "../helpers/podman.ts";
import type { ServerProcess } from "../helpers/reestr-process.ts";

const execFileAsync = promisify(execFile);

/** Distribution 2.8 has no single-POST upload: POST, then PUT with the digest. */
async function pushDistributionBlob(base: string, repo: string, data: Buffer): Promise<Descriptor> {
  const digest = digestOf(data);
  const start = await http(base, "POST", `/v2/${repo}/blobs/uploads/`);
  assert.equal(start.status, 202, start.text());
  const location = new URL(start.header("location")!, base);
  location.searchParams.set("digest", digest);
  const put = await http(base, "PUT", `${location.pathname}${location.search}`, {
    headers: { "Content-Type": "application/octet-stream" },
    body: data,
  });
  assert.equal(put.status, 201, put.text());
  return { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: data.byteLength };
}

let distributionUrl = "";

async function pushToDistribution(repo: string, tag: string, options: { layers?: Buffer[] } = {}) {
  const configBytes = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", nonce: randomBytes(8).toString("hex") }),
  );
  const config = {
    ...(await pushDistributionBlob(distributionUrl, repo, configBytes)),
    mediaType: "application/vnd.oci.image.config.v1+json",
  };
  const layers: Descriptor[] = [];
  for (const layer of options.layers ?? [randomBytes(1024)])
    layers.push(await pushDistributionBlob(distributionUrl, repo, layer));
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config, layers }));
  const put = await http(distributionUrl, "PUT", `/v2/${repo}/manifests/${tag}`, {
    headers: { "Content-Type": mediaType },
    body: bytes,
  });
  assert.equal(put.status, 201, put.text());
  return { digest: digestOf(bytes), config, layers };
}

describe("pull-through cache", () => {
  let distribution: ServerProcess;
  let faults: FaultProxy;
  let otherReestr: TestServer;
  let cache: TestServer;
  const blobGets = (digest: string) =>
    faults.count((r) => r.method === "GET" && r.path.endsWith(`/blobs/${digest}`));

  before(async () => {
    distribution = await startDistribution({ disableAccessLog: true, logLevel: "error" });
    distributionUrl = distribution.url;
    faults = await startFaultProxy(distribution.url);
    otherReestr = await startServer();
    cache = await startServer({
      config: {
        proxy: [
          // TTL 0: every tag pull is revalidated, so the tests see each HEAD upstream.
          { prefix: "hub", upstream: faults.url, tagTtl: "0s", retries: 0 },
          { prefix: "reestr", upstream: otherReestr.url, tagTtl: "10m" },
        ],
      },
    });
  });
  after(async () => {
    await cache?.cleanup();
    await otherReestr?.cleanup();
    await faults?.close();
    await distribution?.stop();
  });

  it("fetches a tag's manifest and blobs on first use and serves later pulls from the cache", async () => {
    const layer = randomBytes(300_000);
    const image = await pushToDistribution("library/app", "1.0", { layers: [layer] });
    const manifest = await http(cache, "GET", "/v2/hub/library/app/manifests/1.0");
    assert.equal(manifest.status, 200, manifest.text());
    assert.equal(manifest.header("docker-content-digest"), image.digest);
    const digest = image.layers[0]!.digest;
    const first = await http(cache, "GET", `/v2/hub/library/app/blobs/${digest}`);
    assert.equal(first.status, 200);
    assert.equal(digestOf(first.body), digest);
    const second = await http(cache, "GET", `/v2/hub/library/app/blobs/${digest}`);
    assert.equal(second.status, 200);
    assert.equal(digestOf(second.body), digest);
    assert.equal(blobGets(digest), 1, "the second pull came from the cache");
    // By digest: immutable, not asked upstream again.
    const before = faults.requests.length;
    const byDigest = await http(cache, "GET", `/v2/hub/library/app/manifests/${image.digest}`);
    assert.equal(byDigest.status, 200);
    assert.equal(faults.requests.length, before);
    // The cached tag is listed, and the repository is in the catalogue under its local name.
    const tags = await http(cache, "GET", "/v2/hub/library/app/tags/list");
    assert.deepEqual(tags.json<{ tags: string[] }>().tags, ["1.0"]);
  });

  it("fetches one missing blob once for 50 concurrent pulls", async () => {
    const layer = randomBytes(2 * 1024 * 1024);
    const image = await pushToDistribution("library/busy", "1", { layers: [layer] });
    assert.equal((await http(cache, "GET", "/v2/hub/library/busy/manifests/1")).status, 200);
    const digest = image.layers[0]!.digest;
    const pulls = await Promise.all(
      Array.from({ length: 50 }, () => http(cache, "GET", `/v2/hub/library/busy/blobs/${digest}`)),
    );
    for (const pull of pulls) {
      assert.equal(pull.status, 200);
      assert.equal(digestOf(pull.body), digest);
    }
    assert.equal(blobGets(digest), 1);
  });

  it("revalidates a tag and follows it when it moved upstream", async () => {
    await pushToDistribution("library/moving", "latest");
    const old = await http(cache, "GET", "/v2/hub/library/moving/manifests/latest");
    const moved = await pushToDistribution("library/moving", "latest");
    const now = await http(cache, "GET", "/v2/hub/library/moving/manifests/latest");
    assert.notEqual(old.header("docker-content-digest"), moved.digest);
    assert.equal(now.header("docker-content-digest"), moved.digest);
  });

  it("serves cached tags stale when the upstream fails, and a clear error for what is not cached", async () => {
    const image = await pushToDistribution("library/down", "1");
    assert.equal((await http(cache, "GET", "/v2/hub/library/down/manifests/1")).status, 200);
    const faultsToTry = [
      { kind: "status", status: 503 },
      { kind: "reset" },
      { kind: "status", status: 429, retryAfterSeconds: 7 },
    ] as const;
    try {
      for (const fault of faultsToTry) {
        faults.setFault(fault);
        const stale = await http(cache, "GET", "/v2/hub/library/down/manifests/1");
        assert.equal(stale.status, 200, `${fault.kind}: ${stale.text()}`);
        assert.equal(stale.header("docker-content-digest"), image.digest);
        assert.equal(stale.header("warning"), '110 - "Response is Stale"');
        const missing = await http(cache, "GET", "/v2/hub/library/never-pulled/manifests/1");
        const expected = fault.kind === "status" && fault.status === 429 ? 503 : 502;
        assert.equal(missing.status, expected, missing.text());
        const error = missing.json<{ errors: { code: string; message: string }[] }>().errors[0]!;
        assert.equal(error.code, "UNAVAILABLE");
        assert.match(error.message, new RegExp(faults.url.replace(/[.:/]/g, "\\$&")));
        if (expected === 503) assert.equal(missing.header("retry-after"), "7");
      }
    } finally {
      faults.setFault({ kind: "pass" });
    }
  });

  it("streams a slow blob to the client and stores it", async () => {
    const layer = randomBytes(256 * 1024);
    const image = await pushToDistribution("library/slow", "1", { layers: [layer] });
    const digest = image.layers[0]!.digest;
    faults.setFault({ kind: "slow", chunkBytes: 16 * 1024, delayMs: 5 }, (_m, path) => path.endsWith(digest));
    try {
      const pull = await http(cache, "GET", `/v2/hub/library/slow/blobs/${digest}`);
      assert.equal(pull.status, 200);
      assert.equal(digestOf(pull.body), digest);
    } finally {
      faults.setFault({ kind: "pass" });
    }
    faults.setFault({ kind: "reset" });
    try {
      const cached = await http(cache, "GET", `/v2/hub/library/slow/blobs/${digest}`);
      assert.equal(digestOf(cached.body), digest, "served from the cache while the upstream is down");
    } finally {
      faults.setFault({ kind: "pass" });
    }
  });

  it("refuses pushes into a proxied prefix", async () => {
    const start = await http(cache, "POST", "/v2/hub/library/app/blobs/uploads/");
    assert.equal(start.status, 403);
    const error = start.json<{ errors: { code: string; message: string }[] }>().errors[0]!;
    assert.equal(error.code, "DENIED");
    assert.match(error.message, /pull-through cache/);
    const put = await http(cache, "PUT", "/v2/hub/library/app/manifests/x", { body: "{}" });
    assert.equal(put.status, 403);
  });

  it("proxies another Reestr, index children on demand", async () => {
    const amd = await pushImage(otherReestr, "team/multi", undefined);
    const arm = await pushImage(otherReestr, "team/multi", undefined);
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { ...amd.descriptor, platform: { os: "linux", architecture: "amd64" } },
        { ...arm.descriptor, platform: { os: "linux", architecture: "arm64" } },
      ],
    };
    const put = await http(otherReestr, "PUT", "/v2/team/multi/manifests/v1", {
      headers: { "Content-Type": index.mediaType },
      body: JSON.stringify(index),
    });
    assert.equal(put.status, 201, put.text());
    const got = await http(cache, "GET", "/v2/reestr/team/multi/manifests/v1");
    assert.equal(got.status, 200, got.text());
    assert.equal(got.header("content-type"), index.mediaType);
    // The children are not fetched with the index; each comes when a client asks for it.
    const child = await http(cache, "GET", `/v2/reestr/team/multi/manifests/${arm.digest}`);
    assert.equal(child.status, 200);
    const config = await http(cache, "GET", `/v2/reestr/team/multi/blobs/${arm.config.digest}`);
    assert.equal(digestOf(config.body), arm.config.digest);
  });

  it("serves skopeo pulling through the cache", async () => {
    const image = await pushToDistribution("library/skopeo", "1", { layers: [randomBytes(100_000)] });
    const target = await mkdtemp(join(tmpdir(), "skopeo-"));
    try {
      await execFileAsync("skopeo", [
        "copy",
        "--src-tls-verify=false",
        `docker://${new URL(cache.url).host}/hub/library/skopeo:1`,
        `dir:${target}`,
      ]);
      const stored = await readFile(join(target, image.layers[0]!.digest.slice("sha256:".length)));
      assert.equal(digestOf(stored), image.layers[0]!.digest);
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  it("serves podman pulling a real image through the cache", { timeout: 120_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), "proxy-podman-"));
    try {
      const layout = join(root, "layout");
      await makeOciImage(layout, { tag: "v1", layers: 2 });
      await execFileAsync("skopeo", [
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        `oci:${layout}:v1`,
        `docker://${new URL(distribution.url).host}/library/real:v1`,
      ]);
      const reference = `${new URL(cache.url).host}/hub/library/real:v1`;
      await execFileAsync(PODMAN, [...isolatedPodmanArgs(root), "pull", "--tls-verify=false", reference], {
        env: podmanEnvironment(root),
      });
      const { stdout } = await execFileAsync(
        PODMAN,
        [...isolatedPodmanArgs(root), "images", "--format", "{{.Repository}}:{{.Tag}}"],
        {
          env: podmanEnvironment(root),
        },
      );
      assert.match(stdout, /hub\/library\/real:v1/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("keeps cached content through garbage collection", async () => {
    const result = await cache.running.registry.collectGarbage({
      gracePeriodMs: 0,
      untagged: false,
      dryRun: false,
    });
    assert.ok(result);
    faults.setFault({ kind: "reset" });
    try {
      const manifest = await http(cache, "GET", "/v2/hub/library/app/manifests/1.0");
      assert.equal(manifest.status, 200);
      const layer = JSON.parse(manifest.text()).layers[0].digest as string;
      const blob = await http(cache, "GET", `/v2/hub/library/app/blobs/${layer}`);
      assert.equal(blob.status, 200);
      assert.equal(digestOf(blob.body), layer);
    } finally {
      faults.setFault({ kind: "pass" });
    }
  });
});

describe("proxy config", () => {
  it("names the field of an error", () => {
    const result = ProxySchema.safeParse([{ prefix: "Hub", upstream: "ftp://x" }]);
    assert.equal(result.success, false);
    const paths = result.error!.issues.map((issue) => issue.path.join("."));
    assert.ok(paths.includes("0.prefix"), paths.join());
    assert.ok(paths.includes("0.upstream"), paths.join());
    const twice = ProxySchema.safeParse([
      { prefix: "hub", upstream: "https://a" },
      { prefix: "hub", upstream: "https://b" },
    ]);
    assert.equal(twice.error!.issues[0]!.path.join("."), "1.prefix");
    assert.equal(ProxySchema.parse([{ prefix: "hub", upstream: "https://a" }])[0]!.tagTtl, 600_000);
  });
});
