import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClientError } from "../../src/client/errors.ts";
import { pushImage as pushLayout } from "../../src/client/push-image.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import type { SendOptions } from "../../src/client/transport.ts";
import { OciLayout } from "../../src/image/oci-layout.ts";
import { ScanEngine } from "../../src/watcher/engine.ts";
import type { ImageToScan, ScanOptions, ScanReport } from "../../src/watcher/scanners/scanner.ts";
import { TrivyScanner } from "../../src/watcher/scanners/trivy.ts";
import {
  parseRegistrySpec,
  parseRegistryStatus,
  type RegistrySpecInput,
  type RegistryStatus,
} from "../../src/watcher/spec.ts";
import {
  type Descriptor,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_INDEX,
  type PushedImage,
  pushImage,
  pushIndex,
  pushManifest,
  startServer,
  type TestServer,
} from "../api/helpers.ts";
import { makeMultiArchImage, makeOciImage } from "../helpers/fixtures.ts";
import { waitFor } from "../helpers/wait.ts";
import { finding, InMemoryScanner } from "./in-memory-scanner.ts";

/** A client whose every HTTP request is recorded, with in-flight counting and an optional delay. */
function countingClient(
  baseUrl: string,
  options: {
    delayMs?: number;
    onRequest?: (n: number) => void;
    fail?: (opts: SendOptions) => Error | undefined;
  } = {},
) {
  const client = new RegistryClient({ baseUrl, retries: 0 });
  const log: string[] = [];
  const stats = { inFlight: 0, maxInFlight: 0 };
  const send = client.transport.send.bind(client.transport);
  client.transport.send = async (opts: SendOptions) => {
    log.push(`${opts.method} ${opts.path}`);
    options.onRequest?.(log.length);
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      const injected = options.fail?.(opts);
      if (injected) throw injected;
      return await send(opts);
    } finally {
      stats.inFlight--;
    }
  };
  return { client, log, stats };
}

function configBytes(platform: { os: string; architecture: string; variant?: string }, created?: string) {
  return Buffer.from(
    JSON.stringify({
      ...platform,
      ...(created ? { created } : {}),
      rootfs: { type: "layers", diff_ids: [] },
      config: { Env: [`NONCE=${randomBytes(8).toString("hex")}`] },
    }),
  );
}

async function pushSingle(
  server: TestServer,
  repo: string,
  tag: string | undefined,
  opts: {
    created?: string;
    layers?: number[];
    platform?: { os: string; architecture: string; variant?: string };
  } = {},
): Promise<PushedImage> {
  return pushImage(server, repo, tag, {
    config: configBytes(opts.platform ?? { os: "linux", architecture: "amd64" }, opts.created),
    layers: (opts.layers ?? [1000, 2000]).map((n) => randomBytes(n)),
  });
}

function sizeOf(image: PushedImage): number {
  return image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
}

function spec(server: { url: string }, repository: string, extra: Partial<RegistrySpecInput> = {}) {
  return parseRegistrySpec({ url: server.url, repository, ...extra });
}

/**
 * The scanner these tests use: named trivy, one CRITICAL and (tag length) HIGH findings per image,
 * a bare summary (no findings list), and it checks the threshold the engine passes on.
 */
class FakeScanner extends InMemoryScanner {
  constructor(now: () => Date) {
    super({
      name: "trivy",
      version: "0.58.1",
      now,
      listFindings: false,
      vulnerabilities: (image) => [
        finding("CVE-2024-0001", "CRITICAL", "openssl"),
        ...Array.from({ length: image.tag?.length ?? 0 }, (_, i) =>
          finding(`CVE-2024-1${i}`, "HIGH", "zlib"),
        ),
      ],
    });
  }
  override async scan(image: ImageToScan, options: ScanOptions): Promise<ScanReport> {
    assert.equal(options.severityThreshold, "HIGH");
    return super.scan(image, options);
  }
}

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.cleanup();
});

describe("ScanEngine against a real registry", () => {
  test("single-arch and multi-arch images: digests, sizes, platforms, created", async () => {
    const repo = "engine/shapes";
    const single = await pushSingle(server, repo, "single", { created: "2024-03-01T10:00:00Z" });
    const amd = await pushSingle(server, repo, undefined, {
      created: "2024-05-01T00:00:00Z",
      layers: [3000],
    });
    const arm = await pushSingle(server, repo, undefined, {
      created: "2024-05-02T00:00:00Z",
      layers: [4000, 500],
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    });
    // An attestation manifest (buildx style) and one annotated as a reference: both skipped.
    const attestation = await pushImage(server, repo, undefined, {
      config: Buffer.from("{}"),
      configMediaType: "application/vnd.oci.image.config.v1+json",
      layers: [randomBytes(700)],
    });
    const referenced = await pushImage(server, repo, undefined, { layers: [randomBytes(900)] });
    const children: Descriptor[] = [
      { ...amd.descriptor, platform: { os: "linux", architecture: "amd64" } },
      {
        ...arm.descriptor,
        platform: { os: "linux", architecture: "arm", variant: "v7" } as Descriptor["platform"],
      },
      { ...attestation.descriptor, platform: { os: "unknown", architecture: "unknown" } },
      {
        ...referenced.descriptor,
        platform: { os: "linux", architecture: "s390x" },
        annotations: { "vnd.docker.reference.type": "attestation-manifest" },
      },
    ];
    const index = await pushIndex(server, repo, "multi", children, { mediaType: OCI_INDEX });

    const engine = new ScanEngine({ now: () => new Date("2025-01-01T00:00:00Z") });
    const status = await engine.scan(
      spec(server, repo, { tagFilter: { sort: "alphabetical", order: "ascending" } }),
    );
    assert.equal(status.lastScanStatus, "Success", status.message);
    assert.equal(status.lastScanTime, "2025-01-01T00:00:00.000Z");
    parseRegistryStatus(status);
    assert.equal(status.message, "2 tags scanned, 2 changed");
    assert.deepEqual(
      status.images.map((i) => i.tag),
      ["multi", "single"],
    );
    const [multi, one] = status.images;
    assert.deepEqual(one, {
      tag: "single",
      digest: single.digest,
      size: sizeOf(single),
      platforms: [{ os: "linux", architecture: "amd64", digest: single.digest, size: sizeOf(single) }],
      created: "2024-03-01T10:00:00.000Z",
    });
    assert.equal(multi!.digest, index.digest);
    assert.deepEqual(multi!.platforms, [
      { os: "linux", architecture: "amd64", digest: amd.digest, size: sizeOf(amd) },
      { os: "linux", architecture: "arm", variant: "v7", digest: arm.digest, size: sizeOf(arm) },
    ]);
    assert.equal(multi!.size, sizeOf(amd) + sizeOf(arm));
    assert.equal(multi!.created, "2024-05-02T00:00:00.000Z", "newest of the platforms");
  });

  test("fixture images pushed from OCI layouts (real tar layers, image configs)", async () => {
    const repo = "engine/fixtures";
    const dir = await mkdtemp(join(tmpdir(), "reestr-engine-"));
    const client = new RegistryClient({ baseUrl: server.url });
    try {
      const single = await makeOciImage(join(dir, "single"), { tag: "1.0.0", seed: "single", layers: 2 });
      const multi = await makeMultiArchImage(join(dir, "multi"), {
        tag: "2.0.0",
        seed: "multi",
        platforms: [
          { os: "linux", architecture: "amd64" },
          { os: "linux", architecture: "arm64", variant: "v8" },
        ],
      });
      for (const [sub, tag] of [
        ["single", "1.0.0"],
        ["multi", "2.0.0"],
      ] as const) {
        const layout = await OciLayout.open(join(dir, sub));
        await pushLayout(client, layout, await layout.resolve(tag), repo, { tag });
      }
      const status = parseRegistryStatus(
        await new ScanEngine().scan(spec(server, repo, { tagFilter: { sort: "semver" } })),
      );
      const blobSum = (m: { blobs: { size: number }[] }) => m.blobs.reduce((sum, b) => sum + b.size, 0);
      const [two, one] = status.images;
      assert.equal(one!.digest, single.digest);
      assert.equal(one!.size, blobSum(single));
      assert.equal(one!.created, "2024-01-01T00:00:00.000Z");
      assert.deepEqual(one!.platforms, [
        { os: "linux", architecture: "amd64", digest: single.digest, size: blobSum(single) },
      ]);
      assert.equal(two!.digest, multi.digest);
      assert.deepEqual(
        two!.platforms.map((p) => [p.os, p.architecture, p.variant, p.digest, p.size]),
        [
          ["linux", "amd64", undefined, multi.children[0]!.digest, blobSum(multi.children[0]!)],
          ["linux", "arm64", "v8", multi.children[1]!.digest, blobSum(multi.children[1]!)],
        ],
      );
      assert.equal(two!.size, blobSum(multi.children[0]!) + blobSum(multi.children[1]!));
    } finally {
      client.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("Docker manifest list and Docker schema 2 images", async () => {
    const repo = "engine/docker";
    const amd = await pushImage(server, repo, undefined, {
      mediaType: DOCKER_MANIFEST,
      config: configBytes({ os: "linux", architecture: "amd64" }, "2023-01-01T00:00:00Z"),
      layers: [randomBytes(1234)],
    });
    const list = await pushIndex(
      server,
      repo,
      "v1",
      [{ ...amd.descriptor, platform: { os: "linux", architecture: "amd64" } }],
      {
        mediaType: DOCKER_LIST,
      },
    );
    const status = await new ScanEngine().scan(spec(server, repo));
    assert.equal(status.lastScanStatus, "Success", status.message);
    assert.equal(status.images[0]!.digest, list.digest);
    assert.equal(status.images[0]!.size, sizeOf(amd));
    assert.equal(status.images[0]!.created, "2023-01-01T00:00:00.000Z");
  });

  test("tag filter: include, exclude, semver sort and limit", async () => {
    const repo = "engine/filter";
    for (const tag of ["1.0.0", "1.1.0", "2.0.0", "2.1.0-rc.1", "latest", "dev"]) {
      await pushSingle(server, repo, tag, { layers: [100] });
    }
    const { client, log } = countingClient(server.url);
    try {
      const engine = new ScanEngine({ client: () => client });
      const status = await engine.scan(
        spec(server, repo, { tagFilter: { exclude: ["-rc"], sort: "semver", limit: 2 } }),
      );
      assert.deepEqual(
        status.images.map((i) => i.tag),
        ["2.0.0", "1.1.0"],
      );
      // Tags dropped by the filter are never fetched.
      assert.ok(!log.some((line) => /manifests\/(1\.0\.0|latest|dev)/.test(line)), log.join("\n"));
    } finally {
      client.close();
    }
  });

  test("created sort uses the config dates; tags without one drop out", async () => {
    const repo = "engine/created";
    await pushSingle(server, repo, "a", { created: "2024-01-01T00:00:00Z" });
    await pushSingle(server, repo, "b", { created: "2024-03-01T00:00:00Z" });
    await pushSingle(server, repo, "c", { created: "2024-02-01T00:00:00Z" });
    await pushSingle(server, repo, "nodate");
    await pushSingle(server, repo, "zero", { created: "0001-01-01T00:00:00Z" });
    const status = await new ScanEngine().scan(
      spec(server, repo, { tagFilter: { sort: "created", limit: 2 } }),
    );
    assert.deepEqual(
      status.images.map((i) => i.tag),
      ["b", "c"],
    );
  });

  test("incremental rescan: one HEAD per unchanged tag, a moved tag is re-fetched", async () => {
    const repo = "engine/incremental";
    const tags = ["t1", "t2", "t3", "t4"];
    for (const tag of tags) await pushSingle(server, repo, tag, { created: "2024-01-01T00:00:00Z" });
    const { client, log } = countingClient(server.url);
    try {
      const engine = new ScanEngine({ client: () => client });
      const s = spec(server, repo);
      const first = await engine.scan(s);
      assert.equal(first.images.length, 4);
      const firstRequests = log.length;
      assert.ok(firstRequests >= 1 + 4 * 3, `first scan: ${firstRequests} requests`);

      log.length = 0;
      const second = await engine.scan(s, first);
      assert.deepEqual(second.images, first.images);
      assert.equal(second.message, "4 tags scanned, 0 changed");
      assert.deepEqual(
        log.filter((l) => !l.startsWith("HEAD ")),
        [`GET /v2/${repo}/tags/list`],
      );
      assert.equal(log.filter((l) => l.startsWith("HEAD ")).length, 4);

      const moved = await pushSingle(server, repo, "t2", { created: "2024-06-01T00:00:00Z", layers: [5555] });
      log.length = 0;
      const third = await engine.scan(s, second);
      assert.equal(third.message, "4 tags scanned, 1 changed");
      const t2 = third.images.find((i) => i.tag === "t2")!;
      assert.equal(t2.digest, moved.digest);
      assert.equal(t2.size, sizeOf(moved));
      assert.equal(t2.created, "2024-06-01T00:00:00.000Z");
      assert.deepEqual(
        log.filter((l) => !l.startsWith("HEAD ")),
        [
          `GET /v2/${repo}/tags/list`,
          `GET /v2/${repo}/manifests/${encodeURIComponent(moved.digest)}`,
          `GET /v2/${repo}/blobs/${moved.config.digest}`,
        ],
      );
    } finally {
      client.close();
    }
  });

  test("tags sharing a digest: the image is fetched and vulnerability-scanned once per pass", async () => {
    const repo = "engine/shared";
    const image = await pushSingle(server, repo, "1.27.3", { created: "2024-01-01T00:00:00Z" });
    const manifestPut = (tag: string) => pushManifest(server, repo, tag, image.bytes, image.mediaType);
    for (const tag of ["1.27", "latest"]) await manifestPut(tag);
    const scanner = new FakeScanner(() => new Date("2025-01-01T00:00:00Z"));
    const { client, log } = countingClient(server.url);
    try {
      const engine = new ScanEngine({ client: () => client, scanner });
      const s = spec(server, repo, { vulnerabilityScanning: { enabled: true, severityThreshold: "HIGH" } });
      const first = await engine.scan(s);
      assert.deepEqual(first.images.map((i) => [i.tag, i.digest, i.size]).sort(), [
        ["1.27", image.digest, sizeOf(image)],
        ["1.27.3", image.digest, sizeOf(image)],
        ["latest", image.digest, sizeOf(image)],
      ]);
      assert.equal(
        log.filter((l) => l.startsWith("GET ") && l.includes("/manifests/")).length,
        1,
        log.join("\n"),
      );
      assert.equal(log.filter((l) => l.includes("/blobs/")).length, 1, log.join("\n"));
      assert.equal(scanner.calls.length, 1, "one Trivy run for the three tags");
      assert.ok(first.images.every((i) => i.vulnerabilities?.critical === 1));

      // A new tag pointing at a digest the previous pass knows costs one HEAD.
      await manifestPut("stable");
      log.length = 0;
      const second = await engine.scan(s, first);
      assert.equal(second.images.find((i) => i.tag === "stable")?.digest, image.digest);
      assert.ok(
        log.every((l) => l.startsWith("HEAD ") || l.endsWith("/tags/list")),
        log.join("\n"),
      );
    } finally {
      client.close();
    }
  });

  test("a scanner's findings come back beside the status, by digest; the status keeps counts only", async () => {
    const repo = "engine/findings";
    const image = await pushSingle(server, repo, "1.0");
    await pushManifest(server, repo, "latest", image.bytes, image.mediaType);
    const listed = {
      id: "CVE-2024-1234",
      severity: "CRITICAL" as const,
      package: "openssl",
      installed: "3.0.1",
      fixed: "3.0.2",
      title: "openssl: bad",
      url: "https://avd.aquasec.com/nvd/cve-2024-1234",
    };
    const scanner = new InMemoryScanner({ vulnerabilities: () => [listed] });
    const engine = new ScanEngine({ scanner });
    const s = spec(server, repo, { vulnerabilityScanning: { enabled: true, severityThreshold: "HIGH" } });
    const first = await engine.run(s);
    assert.equal(scanner.calls.length, 1);
    assert.deepEqual([...(first.findings ?? new Map())], [[image.digest, [listed]]]);
    assert.equal(first.status.images.length, 2);
    for (const tagged of first.status.images) {
      assert.equal(tagged.vulnerabilities?.critical, 1);
      assert.equal("findings" in (tagged.vulnerabilities ?? {}), false, "no findings in the status");
    }
    // The strict status schema (the CRD's) still accepts it.
    parseRegistryStatus(first.status);
    // Not due again: nothing rescanned, no findings handed out (the saved ones stand).
    const second = await engine.run(s, first.status);
    assert.equal(scanner.calls.length, 1);
    assert.equal(second.findings?.size, 0);
  });

  test("one bad tag never fails the pass: skipped with a note, its previous entry kept", async () => {
    const repo = "engine/badtag";
    for (const tag of ["good", "bad", "new-bad"]) await pushSingle(server, repo, tag);
    const s = spec(server, repo, { tagFilter: { sort: "alphabetical", order: "ascending" } });
    const first = await new ScanEngine().scan(s);
    const previous = { ...first, images: first.images.filter((i) => i.tag !== "new-bad") };
    const bad = first.images.find((i) => i.tag === "bad")!;
    // Both tags move, and fetching the new manifests fails.
    await pushSingle(server, repo, "bad");
    await pushSingle(server, repo, "new-bad");
    const { client } = countingClient(server.url, {
      fail: (opts) =>
        opts.method === "GET" && opts.path.includes("/manifests/")
          ? new Error("corrupt manifest")
          : undefined,
    });
    try {
      const status = await new ScanEngine({ client: () => client }).scan(s, previous);
      assert.equal(status.lastScanStatus, "Success");
      assert.deepEqual(
        status.images.map((i) => i.tag),
        ["bad", "good"],
      );
      assert.deepEqual(status.images[0], bad, "previous entry kept");
      assert.match(
        status.message!,
        /tag bad skipped: corrupt manifest; tag new-bad skipped: corrupt manifest/,
      );
    } finally {
      client.close();
    }
  });

  test("every tag failing for a registry-side reason → Failed, previous images kept", async () => {
    const repo = "engine/badtag";
    const s = spec(server, repo);
    const first = await new ScanEngine().scan(s);
    const { client } = countingClient(server.url, {
      fail: (opts) =>
        opts.method === "HEAD"
          ? new RegistryClientError({
              status: 503,
              code: "HTTP_503",
              message: "unavailable",
              method: "HEAD",
              url: opts.path,
            })
          : undefined,
    });
    try {
      const status = await new ScanEngine({ client: () => client }).scan(s, first);
      assert.equal(status.lastScanStatus, "Failed");
      assert.match(status.message!, /503/);
      assert.deepEqual(status.images, first.images);
    } finally {
      client.close();
    }
  });

  test("a deleted tag disappears and is counted as removed", async () => {
    const repo = "engine/removed";
    await pushSingle(server, repo, "keep");
    const gone = await pushSingle(server, repo, "gone");
    const s = spec(server, repo);
    const engine = new ScanEngine();
    const first = await engine.scan(s);
    assert.equal(first.images.length, 2);
    const client = new RegistryClient({ baseUrl: server.url });
    await client.deleteManifest(repo, gone.digest);
    client.close();
    const second = await engine.scan(s, first);
    assert.deepEqual(
      second.images.map((i) => i.tag),
      ["keep"],
    );
    assert.equal(second.message, "1 tag scanned, 0 changed, 1 removed");
  });

  test("the pool never exceeds scanConfig.concurrency", async () => {
    const repo = "engine/pool";
    for (let i = 0; i < 10; i++) await pushSingle(server, repo, `p${i}`, { layers: [64] });
    for (const concurrency of [1, 3]) {
      const { client, stats } = countingClient(server.url, { delayMs: 15 });
      try {
        const engine = new ScanEngine({ client: () => client });
        const status = await engine.scan(spec(server, repo, { scanConfig: { concurrency } }));
        assert.equal(status.images.length, 10);
        assert.equal(stats.maxInFlight, concurrency);
      } finally {
        client.close();
      }
    }
  });

  test("repository unknown → Failed with a clear message", async () => {
    const status = await new ScanEngine().scan(spec(server, "engine/nothing-here"));
    assert.equal(status.lastScanStatus, "Failed");
    assert.match(status.message!, /repository engine\/nothing-here not found at http:\/\/127\.0\.0\.1:\d+/);
  });
});

describe("vulnerability scanning", () => {
  const repo = "engine/vulns";
  before(async () => {
    for (const tag of ["v1", "v2", "v3"]) await pushSingle(server, repo, tag, { layers: [200] });
  });
  const vulnSpec = () =>
    spec(server, repo, {
      tagFilter: { sort: "alphabetical", order: "ascending" },
      vulnerabilityScanning: { enabled: true, severityThreshold: "HIGH", interval: 3600, timeout: 5 },
    });

  test("summaries stored; one timeout skipped, the rest scanned; interval respected", async () => {
    let now = new Date("2025-01-01T00:00:00Z");
    const scanner = new FakeScanner(() => now);
    scanner.timeouts.add("v2");
    const engine = new ScanEngine({ scanner, now: () => now });
    const first = await engine.scan(vulnSpec());
    assert.equal(first.lastScanStatus, "Success");
    assert.deepEqual(scanner.calls, ["v1", "v2", "v3"]);
    assert.equal(scanner.availabilityChecks, 1);
    assert.deepEqual(first.images[0]!.vulnerabilities, {
      critical: 1,
      high: 2,
      medium: 0,
      low: 0,
      unknown: 0,
      scanner: "trivy 0.58.1",
      scannedAt: "2025-01-01T00:00:00.000Z",
    });
    assert.equal(first.images[1]!.vulnerabilities, undefined);
    assert.ok(first.images[2]!.vulnerabilities);
    assert.match(first.message!, /vulnerability scan skipped for v2 \(timed out after 5s\)/);
    assert.match(first.message!, /^3 tags scanned, 3 changed, 2 vulnerability scans/);

    // Ten minutes later: only v2 (never scanned) is due.
    now = new Date("2025-01-01T00:10:00Z");
    scanner.calls = [];
    scanner.timeouts.clear();
    const second = await engine.scan(vulnSpec(), first);
    assert.deepEqual(scanner.calls, ["v2"]);
    assert.equal(second.images[1]!.vulnerabilities?.scannedAt, "2025-01-01T00:10:00.000Z");
    assert.equal(second.images[0]!.vulnerabilities?.scannedAt, "2025-01-01T00:00:00.000Z");

    // Past the interval: v1 and v3 are re-scanned, with only HEADs to the registry; a failure keeps
    // the previous summary.
    now = new Date("2025-01-01T01:05:00Z");
    scanner.calls = [];
    scanner.timeouts.add("v3");
    const { client, log } = countingClient(server.url);
    try {
      const third = await new ScanEngine({ scanner, now: () => now, client: () => client }).scan(
        vulnSpec(),
        second,
      );
      assert.deepEqual(scanner.calls, ["v1", "v3"]);
      assert.equal(third.images[0]!.vulnerabilities?.scannedAt, "2025-01-01T01:05:00.000Z");
      assert.deepEqual(third.images[2]!.vulnerabilities, second.images[2]!.vulnerabilities);
      assert.ok(
        log.every((l) => l.startsWith("HEAD ") || l.endsWith("/tags/list")),
        log.join("\n"),
      );
    } finally {
      client.close();
    }
  });

  test("end to end with TrivyScanner: the Trivy stand-in is run per image and its report counted", async () => {
    // The stand-in (test/fixtures/fake-trivy/trivy) speaks Trivy's CLI and JSON report format;
    // Trivy itself cannot be installed here. It records the image reference it was asked for.
    const fixtures = join(import.meta.dirname, "..", "fixtures", "fake-trivy");
    const record = join(await mkdtemp(join(tmpdir(), "reestr-trivy-")), "calls.jsonl");
    const scanner = new TrivyScanner({
      binary: join(fixtures, "trivy"),
      env: { FAKE_TRIVY_REPORT: join(fixtures, "reports", "multi-result.json"), FAKE_TRIVY_RECORD: record },
    });
    const status = await new ScanEngine({ scanner }).scan(vulnSpec());
    assert.equal(status.lastScanStatus, "Success", status.message);
    assert.equal(status.images.length, 3);
    for (const image of status.images) {
      const summary = image.vulnerabilities;
      assert.ok(summary, `${image.tag} has a summary`);
      // Threshold HIGH: only critical and high are counted.
      assert.equal(summary.medium + summary.low + summary.unknown, 0);
      assert.ok(summary.critical + summary.high > 0);
      assert.match(summary.scanner, /^trivy \d+\.\d+\.\d+$/);
    }
    const calls = await readFile(record, "utf8");
    for (const image of status.images) assert.ok(calls.includes(`${repo}@${image.digest}`), calls);
    await rm(dirname(record), { recursive: true, force: true });
  });

  test("scanner unavailable → warning in the message, still Success", async () => {
    const scanner = new FakeScanner(() => new Date());
    scanner.available = { ok: false, reason: "trivy: executable not found in PATH" };
    const status = await new ScanEngine({ scanner }).scan(vulnSpec());
    assert.equal(status.lastScanStatus, "Success");
    assert.equal(status.images.length, 3);
    assert.match(status.message!, /Trivy unavailable, vulnerability scanning skipped: /);
    assert.equal(scanner.calls.length, 0);
    assert.equal(scanner.availabilityChecks, 1);
  });

  test("no scanner is asked when nothing is due", async () => {
    const now = new Date("2025-01-01T00:00:00Z");
    const scanner = new FakeScanner(() => now);
    const engine = new ScanEngine({ scanner, now: () => now });
    const first = await engine.scan(vulnSpec());
    scanner.availabilityChecks = 0;
    scanner.calls = [];
    await engine.scan(vulnSpec(), first);
    assert.equal(scanner.availabilityChecks, 0);
    assert.equal(scanner.calls.length, 0);
  });
});

describe("failures and cancellation", () => {
  test("unreachable registry → Failed with the cause, previous images kept", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const previous: RegistryStatus = {
      lastScanTime: "2025-01-01T00:00:00.000Z",
      lastScanStatus: "Success",
      message: "1 tag scanned, 1 changed",
      images: [{ tag: "old", digest: `sha256:${"a".repeat(64)}`, size: 1, platforms: [] }],
    };
    const status = await new ScanEngine().scan(
      spec({ url: `http://127.0.0.1:${port}` }, "any/repo", { scanConfig: { retries: 0 } }),
      previous,
    );
    assert.equal(status.lastScanStatus, "Failed");
    assert.match(status.message!, /registry unreachable at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    assert.deepEqual(status.images, previous.images);
  });

  test("credentials refused → Failed saying so", async () => {
    const denying = createServer((_req, res) => {
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Basic realm="x"' });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
    });
    await new Promise<void>((resolve) => denying.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = denying.address() as AddressInfo;
      const status = await new ScanEngine().scan(
        spec({ url: `http://127.0.0.1:${port}` }, "private/app", {
          credentials: { username: "alice", password: "wrong" },
        }),
      );
      assert.equal(status.lastScanStatus, "Failed");
      assert.match(status.message!, /^authentication failed at http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      denying.closeAllConnections();
      await new Promise<void>((resolve) => denying.close(() => resolve()));
    }
  });

  test("missing password environment variable → Failed naming it", async () => {
    const status = await new ScanEngine().scan(
      spec(server, "engine/shapes", {
        credentials: { username: "u", passwordEnv: "REESTR_TEST_UNSET_PASSWORD" },
      }),
    );
    assert.equal(status.lastScanStatus, "Failed");
    assert.match(status.message!, /REESTR_TEST_UNSET_PASSWORD/);
  });

  test("abort stops the pool: no request starts after the signal", async () => {
    const repo = "engine/abort";
    for (let i = 0; i < 6; i++) await pushSingle(server, repo, `a${i}`, { layers: [64] });
    const controller = new AbortController();
    let atAbort = 0;
    const { client, log } = countingClient(server.url, {
      onRequest: (n) => {
        // Abort while the second request (the first HEAD) is in flight.
        if (n === 2) {
          controller.abort();
          atAbort = n;
        }
      },
    });
    try {
      const engine = new ScanEngine({ client: () => client });
      await assert.rejects(
        engine.scan(spec(server, repo, { scanConfig: { concurrency: 1 } }), undefined, controller.signal),
        {
          name: "AbortError",
        },
      );
      assert.equal(log.length, atAbort, log.join("\n"));
    } finally {
      client.close();
    }
  });

  test("abort cancels the requests in flight: the pass rejects at once with the reason", async () => {
    // Lists two tags, then never answers a manifest request.
    const sockets: Socket[] = [];
    let manifestRequests = 0;
    const hanging = createServer((req, res) => {
      req.resume();
      if (req.url?.endsWith("/tags/list")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ name: "engine/hang", tags: ["a", "b"] }));
        return;
      }
      manifestRequests++;
    });
    hanging.on("connection", (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = hanging.address() as AddressInfo;
      const controller = new AbortController();
      const reason = new Error("pass cancelled");
      const pass = new ScanEngine().scan(
        spec({ url: `http://127.0.0.1:${port}` }, "engine/hang", {
          // A request timeout this long would stall the run: finishing at all shows the abort
          // cancelled the requests in flight instead of waiting for them.
          scanConfig: { concurrency: 2, timeout: 3600 },
        }),
        undefined,
        controller.signal,
      );
      await waitFor(() => manifestRequests >= 2, { what: "both manifest requests" });
      controller.abort(reason);
      await assert.rejects(pass, (error) => error === reason);
      await waitFor(() => sockets.every((socket) => socket.destroyed), { what: "every connection to close" });
      assert.equal(manifestRequests, 2);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });

  test("an already aborted signal makes no request", async () => {
    const { client, log } = countingClient(server.url);
    try {
      await assert.rejects(
        new ScanEngine({ client: () => client }).scan(
          spec(server, "engine/abort"),
          undefined,
          AbortSignal.abort(),
        ),
        { name: "AbortError" },
      );
      assert.equal(log.length, 0);
    } finally {
      client.close();
    }
  });
});
