/**
 * The watcher inside `reestr serve`: a registry server whose config has a `watch` section scans
 * another in-process registry on a schedule and serves the results under /api/watch, with
 * reestr_watch_* metrics. Vulnerabilities come from a stand-in scanner (no Trivy needed).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import {
  http,
  metricValue,
  type PushedImage,
  pushImage,
  startServer,
  type TestServer,
} from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";
import { finding, InMemoryScanner } from "./in-memory-scanner.ts";

interface ListedRegistry {
  name: string;
  url: string;
  repository: string;
  lastScanTime: string | null;
  lastScanStatus: string | null;
  message: string | null;
  images: number;
}

interface Change {
  tag: string;
  from: string | null;
  to: string | null;
  at: string;
}

/** Two HIGH and one CRITICAL finding per image, as a bare summary. */
function standInScanner(): InMemoryScanner {
  return new InMemoryScanner({
    name: "stand-in",
    listFindings: false,
    vulnerabilities: () => [
      finding("CVE-2024-0001", "CRITICAL", "musl"),
      finding("CVE-2024-0002", "HIGH", "openssl"),
      finding("CVE-2024-0003", "HIGH", "zlib"),
    ],
  });
}

async function getJson<T>(server: TestServer, path: string): Promise<{ status: number; body: T }> {
  const res = await http(server, "GET", path);
  assert.match(res.header("content-type") ?? "", /application\/json/, path);
  return { status: res.status, body: res.json<T>() };
}

/** Polls the list until `name` has a status matching `done`. */
async function waitForScan(
  server: TestServer,
  name: string,
  done: (entry: ListedRegistry) => boolean,
): Promise<ListedRegistry> {
  let last: ListedRegistry | undefined;
  return waitFor(
    async () => {
      const { body } = await getJson<{ registries: ListedRegistry[] }>(server, "/api/watch/registries");
      last = body.registries.find((entry) => entry.name === name);
      return last && done(last) ? last : undefined;
    },
    { what: () => `entry ${name} to be scanned; last: ${JSON.stringify(last)}`, intervalMs: 50 },
  );
}

describe("reestr serve with a watch section", () => {
  let target: TestServer;
  let watching: TestServer;
  let dir: string;
  let v1: PushedImage;
  let latest: PushedImage;
  const scanner = standInScanner();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-serve-watch-"));
    target = await startServer();
    v1 = await pushImage(target, "team/app", "1.0");
    latest = await pushImage(target, "team/app", "latest", {
      config: Buffer.from(JSON.stringify({ os: "linux", architecture: "amd64" })),
    });
    // The watch section goes through loadConfig, as `reestr serve --config` reads it.
    const file = join(dir, "serve.yaml");
    await writeFile(
      file,
      [
        "watch:",
        "  registries:",
        "    - name: app",
        `      url: ${target.url}`,
        "      repository: team/app",
        "      scanInterval: 3600",
        "      tagFilter: { sort: alphabetical }",
        "      vulnerabilityScanning: { enabled: true }",
        "    - name: down",
        "      url: http://127.0.0.1:1",
        "      repository: team/gone",
        "      scanInterval: 3600",
        "      scanConfig: { timeout: 2, retries: 0 }",
        "",
      ].join("\n"),
    );
    const config = await loadConfig({ file });
    assert.ok(config.watch);
    watching = await startServer({
      watch: config.watch,
      watchScanner: scanner,
      watchInitialDelay: () => 0,
    });
  });

  after(async () => {
    await watching?.cleanup();
    await target?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("lists the entries and reaches Success with the images", async () => {
    const entry = await waitForScan(watching, "app", (e) => e.lastScanStatus !== null);
    assert.equal(entry.lastScanStatus, "Success", entry.message ?? "");
    assert.equal(entry.url, target.url);
    assert.equal(entry.repository, "team/app");
    assert.equal(entry.images, 2);
    assert.ok(entry.lastScanTime && !Number.isNaN(Date.parse(entry.lastScanTime)));

    const { status, body } = await getJson<{
      name: string;
      lastScanStatus: string;
      images: { tag: string; digest: string; size: number; vulnerabilities?: { critical: number } }[];
    }>(watching, "/api/watch/registries/app");
    assert.equal(status, 200);
    assert.equal(body.name, "app");
    assert.equal(body.lastScanStatus, "Success");
    assert.deepEqual(
      body.images.map((image) => [image.tag, image.digest]),
      [
        ["latest", latest.digest],
        ["1.0", v1.digest],
      ],
    );
    for (const image of body.images) {
      assert.ok(image.size > 0);
      assert.equal(image.vulnerabilities?.critical, 1);
    }
  });

  test("an unreachable registry is listed as Failed with the cause", async () => {
    const entry = await waitForScan(watching, "down", (e) => e.lastScanStatus !== null);
    assert.equal(entry.lastScanStatus, "Failed");
    assert.ok(entry.message && entry.message.length > 0);
    assert.equal(entry.images, 0);
  });

  test("history records tags appearing and moving", async () => {
    await waitForScan(watching, "app", (e) => e.lastScanStatus === "Success");
    const first = await getJson<{ name: string; changes: Change[] }>(
      watching,
      "/api/watch/registries/app/history",
    );
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.changes.map((c) => [c.tag, c.from, c.to]).sort(), [
      ["1.0", null, v1.digest],
      ["latest", null, latest.digest],
    ]);

    const v2 = await pushImage(target, "team/app", "1.0");
    await watching.running.watcher!.scheduler.runOnce();
    const moved = await getJson<{ changes: Change[] }>(
      watching,
      "/api/watch/registries/app/history?tag=1.0&limit=1",
    );
    assert.equal(moved.status, 200);
    assert.equal(moved.body.changes.length, 1);
    assert.deepEqual(
      { tag: moved.body.changes[0]!.tag, from: moved.body.changes[0]!.from, to: moved.body.changes[0]!.to },
      { tag: "1.0", from: v1.digest, to: v2.digest },
    );
    const all = await getJson<{ changes: Change[] }>(watching, "/api/watch/registries/app/history?tag=1.0");
    assert.equal(all.body.changes.length, 2);

    const bad = await getJson<{ error: { code: string; message: string } }>(
      watching,
      "/api/watch/registries/app/history?limit=zero",
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "BAD_REQUEST");
    assert.match(bad.body.error.message, /^limit: /);
  });

  test("unknown names are 404 JSON", async () => {
    for (const path of [
      "/api/watch/registries/nope",
      "/api/watch/registries/nope/history",
      "/api/watch/registries/app/other",
    ]) {
      const res = await getJson<{ error: { code: string; message: string } }>(watching, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, "NOT_FOUND");
      assert.equal(typeof res.body.error.message, "string");
    }
    const post = await http(watching, "POST", "/api/watch/registries");
    assert.equal(post.status, 405);
  });

  test("exports the reestr_watch_* metrics", async () => {
    await waitForScan(watching, "app", (e) => e.lastScanStatus === "Success");
    await waitForScan(watching, "down", (e) => e.lastScanStatus === "Failed");
    const text = (await http(watching, "GET", "/metrics")).text();
    assert.ok(
      (metricValue(text, "reestr_watch_scan_duration_seconds_count", {
        registry: "app",
        status: "Success",
      }) ?? 0) >= 1,
      text,
    );
    assert.ok(
      (metricValue(text, "reestr_watch_scan_duration_seconds_count", {
        registry: "down",
        status: "Failed",
      }) ?? 0) >= 1,
    );
    assert.equal(metricValue(text, "reestr_watch_tags", { registry: "app" }), 2);
    assert.equal(metricValue(text, "reestr_watch_scan_failures_total", { registry: "app" }), 0);
    assert.ok((metricValue(text, "reestr_watch_scan_failures_total", { registry: "down" }) ?? 0) >= 1);
    assert.equal(
      metricValue(text, "reestr_watch_vulnerabilities", { registry: "app", severity: "critical" }),
      2,
    );
    assert.equal(metricValue(text, "reestr_watch_vulnerabilities", { registry: "app", severity: "high" }), 4);
    assert.equal(metricValue(text, "reestr_watch_vulnerabilities", { registry: "app", severity: "low" }), 0);
    assert.match(text, /# TYPE reestr_watch_scan_duration_seconds histogram/);
    assert.match(text, /# TYPE reestr_watch_tags gauge/);
  });

  test("/api/status still answers", async () => {
    const { status, body } = await getJson<{ version: string }>(watching, "/api/status");
    assert.equal(status, 200);
    assert.equal(typeof body.version, "string");
  });

  test("POST …/<name>/scan scans now: 202 at once, or the result with ?wait=true", async () => {
    await waitForScan(watching, "app", (e) => e.lastScanStatus === "Success");
    const before = (await getJson<{ lastScanTime: string }>(watching, "/api/watch/registries/app")).body;
    await pushImage(target, "team/app", "2.0");
    const waited = await http(watching, "POST", "/api/watch/registries/app/scan?wait=true");
    assert.equal(waited.status, 200);
    const body = waited.json<{ lastScanStatus: string; lastScanTime: string; images: { tag: string }[] }>();
    assert.equal(body.lastScanStatus, "Success");
    assert.ok(body.lastScanTime > before.lastScanTime, "a new pass ran");
    assert.deepEqual(
      body.images.map((image) => image.tag),
      ["latest", "2.0", "1.0"],
    );
    const history = await getJson<{ changes: Change[] }>(
      watching,
      "/api/watch/registries/app/history?tag=2.0",
    );
    assert.equal(history.body.changes.length, 1, "the scan now recorded 2.0 appearing");

    const quick = await http(watching, "POST", "/api/watch/registries/app/scan");
    assert.equal(quick.status, 202);
    assert.deepEqual(quick.json(), { name: "app", scanning: true });
    await waitForScan(
      watching,
      "app",
      (e) => e.lastScanStatus === "Success" && !("scanning" in e && e.scanning),
    );

    assert.equal((await http(watching, "GET", "/api/watch/registries/app/scan")).status, 405);
    assert.equal((await http(watching, "POST", "/api/watch/registries/nope/scan")).status, 404);
  });

  test("close() stops the watcher and closes its store", async () => {
    const server = await startServer({
      watch: parseWatchSection({ registries: [{ name: "app", url: target.url, repository: "team/app" }] }),
      watchScanner: scanner,
      watchInitialDelay: () => 0,
    });
    try {
      await waitForScan(server, "app", (e) => e.lastScanStatus === "Success");
    } finally {
      await server.stop();
    }
    // Idempotent, and the store is closed: entries() on a closed database throws.
    await server.running.watcher!.close();
    await assert.rejects(server.running.watcher!.store.entries());
    await server.cleanup();
  });
});

describe("watch section of the serve config", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-serve-watch-config-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("problems name the field under watch", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      "watch:\n  registries:\n    - name: app\n      url: ftp://example.com\n      repository: team/app\n      tagFilter: { include: ['('] }\n    - url: http://x\n      repository: a/b\n",
    );
    await assert.rejects(loadConfig({ file }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /watch\.registries\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/);
      assert.match(error.message, /watch\.registries\[0\]\.tagFilter\.include\[0\]: /);
      assert.match(error.message, /watch\.registries\[1\]\.name: required/);
      return true;
    });
  });

  test("a watch section that is not a mapping, or unknown fields in it", async () => {
    const notMapping = join(dir, "scalar.yaml");
    await writeFile(notMapping, "watch: 3\n");
    await assert.rejects(loadConfig({ file: notMapping }), /watch: expected a mapping, got number/);
    const unknown = join(dir, "unknown.yaml");
    await writeFile(unknown, "watch:\n  registries: []\n  extra: 1\n");
    await assert.rejects(
      loadConfig({ file: unknown }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /watch\.extra: unknown field/.test(error.message) &&
        /watch\.registries: must list at least one registry/.test(error.message),
    );
  });

  test("no watch section: none in the config", async () => {
    assert.equal((await loadConfig({})).watch, undefined);
  });
});
