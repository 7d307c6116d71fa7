/**
 * Watcher benchmark (issue 3 §5): a repository with 1,000 tags on a loopback Reestr (a separate
 * `reestr serve` process), scanned by the scan engine from scratch and then again with nothing
 * changed. Reports requests made (counted under the client, so retries and token requests would
 * show) and seconds for each, against the targets:
 *   - the rescan makes at most one request per tag plus the tag-list pages;
 *   - the rescan is at least 5× faster than the first scan.
 *
 *   npm run bench:watcher -- [--tags 1000] [--runs 5] [--concurrency 5] [--page-size n]
 *                            [--platforms n] [--json out.json]
 *
 * Setup: every tag is its own small image (config + one 4 KiB layer), so the first scan cannot
 * share work between tags (the engine fetches a digest once per pass when tags share it, as
 * `latest` and `1.27.3` often do). With --platforms n (n > 1) the tags point at OCI indexes of n
 * single-layer platform images instead (one index per tag, distinct by an annotation), as most
 * public images are: the first scan then reads the index, each platform's manifest and config;
 * the rescan still makes one HEAD per tag.
 * Each run uses a fresh engine; the first scan has no previous status, the rescan gets the first
 * scan's status. Medians over the runs are reported.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { RegistryClient } from "../src/client/registry-client.ts";
import type { SendOptions } from "../src/client/transport.ts";
import { MediaType } from "../src/oci/media-types.ts";
import { ScanEngine } from "../src/watcher/engine.ts";
import { parseRegistrySpec, type RegistryStatus } from "../src/watcher/spec.ts";
import { type ServerProcess, startReestr } from "../test/helpers/reestr-process.ts";
import { HttpTarget } from "./http.ts";
import { makeSmallImage, pushImage, putManifest } from "./oci.ts";
import { median, now, runPool } from "./stats.ts";

const { values } = parseArgs({
  options: {
    tags: { type: "string", default: "1000" },
    runs: { type: "string", default: "5" },
    concurrency: { type: "string", default: "5" },
    "page-size": { type: "string" },
    platforms: { type: "string", default: "1" },
    json: { type: "string" },
  },
});
const TAGS = Number(values.tags);
const RUNS = Number(values.runs);
const CONCURRENCY = Number(values.concurrency);
const PAGE_SIZE = values["page-size"] ? Number(values["page-size"]) : undefined;
const PLATFORMS = Number(values.platforms);
const REPO = "bench/watched";
const ARCHITECTURES = ["amd64", "arm64", "arm", "ppc64le", "s390x", "386", "riscv64", "mips64le"];

interface Counted {
  client: RegistryClient;
  requests: Map<string, number>;
  total(): number;
}

/** A RegistryClient whose every request (retries and token fetches excluded: one send = one request) is counted by kind. */
function countingClient(baseUrl: string): Counted {
  const client = new RegistryClient({ baseUrl, retries: 0 });
  const requests = new Map<string, number>();
  const send = client.transport.send.bind(client.transport);
  client.transport.send = (opts: SendOptions) => {
    const kind = /\/tags\/list/.test(opts.path)
      ? "tags/list"
      : /\/manifests\//.test(opts.path)
        ? "manifest"
        : /\/blobs\//.test(opts.path)
          ? "blob"
          : "other";
    const key = `${opts.method} ${kind}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    return send(opts);
  };
  if (PAGE_SIZE !== undefined) {
    const listTags = client.listTags.bind(client);
    client.listTags = (repository, options) => listTags(repository, { ...options, pageSize: PAGE_SIZE });
  }
  return { client, requests, total: () => [...requests.values()].reduce((a, b) => a + b, 0) };
}

interface Pass {
  seconds: number;
  requests: number;
  byKind: Record<string, number>;
  status: RegistryStatus;
  changed: number;
}

async function pass(url: string, previous?: RegistryStatus): Promise<Pass> {
  const counted = countingClient(url);
  const engine = new ScanEngine({ client: () => counted.client });
  const spec = parseRegistrySpec({ url, repository: REPO, scanConfig: { concurrency: CONCURRENCY } });
  const started = now();
  const { status, stats } = await engine.run(spec, previous);
  const seconds = (now() - started) / 1000;
  counted.client.close();
  if (status.lastScanStatus !== "Success") throw new Error(`scan failed: ${status.message}`);
  if (status.images.length !== TAGS)
    throw new Error(`scan saw ${status.images.length} tags, expected ${TAGS}`);
  return {
    seconds,
    requests: counted.total(),
    byKind: Object.fromEntries([...counted.requests].sort()),
    status,
    changed: stats.changed,
  };
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
}

async function main(): Promise<void> {
  let server: ServerProcess | undefined;
  try {
    server = await startReestr();
    const target = new HttpTarget(server.url, 64);
    const image = makeSmallImage(REPO, 1, 4096);
    let manifest = image.manifest;
    let mediaType = image.mediaType;
    if (PLATFORMS > 1) {
      const children = [];
      for (let i = 0; i < PLATFORMS; i++) {
        const child = makeSmallImage(`${REPO}-${i}`, 1, 4096);
        await pushImage(target, REPO, child.manifestDigest, child);
        const architecture = ARCHITECTURES[i % ARCHITECTURES.length]!;
        children.push({
          mediaType: child.mediaType,
          digest: child.manifestDigest,
          size: child.manifest.length,
          platform: { os: "linux", architecture, ...(architecture === "arm" ? { variant: "v7" } : {}) },
        });
      }
      mediaType = MediaType.OciIndex;
      manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: children }));
    }
    const indexFor = (tag: string) =>
      Buffer.from(JSON.stringify({ ...JSON.parse(manifest.toString()), annotations: { "bench.tag": tag } }));
    const tags = Array.from({ length: TAGS }, (_, i) => `v1.${Math.floor(i / 100)}.${i % 100}`);
    const setupStarted = now();
    await runPool(tags.length, 32, async (i) => {
      const tag = tags[i]!;
      if (PLATFORMS > 1) await putManifest(target, REPO, tag, indexFor(tag), mediaType);
      else await pushImage(target, REPO, tag, makeSmallImage(`${REPO}:${tag}`, 1, 4096));
    });
    target.agent.destroy();
    process.stderr.write(
      `setup: ${TAGS} tags, each its own ${PLATFORMS > 1 ? "index" : "image"}, in ${((now() - setupStarted) / 1000).toFixed(2)} s\n`,
    );

    // One warm-up pair (JIT, SQLite page cache), then the measured runs.
    const warm = await pass(server.url);
    await pass(server.url, warm.status);
    const firsts: Pass[] = [];
    const rescans: Pass[] = [];
    for (let run = 0; run < RUNS; run++) {
      const first = await pass(server.url);
      const rescan = await pass(server.url, first.status);
      if (rescan.changed !== 0) throw new Error(`rescan found ${rescan.changed} changed tags`);
      firsts.push(first);
      rescans.push(rescan);
    }

    const firstSeconds = median(firsts.map((p) => p.seconds));
    const rescanSeconds = median(rescans.map((p) => p.seconds));
    const firstRequests = median(firsts.map((p) => p.requests));
    const rescanRequests = median(rescans.map((p) => p.requests));
    const pages = rescans[0]!.byKind["GET tags/list"] ?? 0;
    const requestBudget = TAGS + pages;
    const speedup = firstSeconds / rescanSeconds;
    const requestsOk = rescanRequests <= requestBudget;
    const speedOk = speedup >= 5;

    const widths = [12, 10, 10, 40];
    const lines = [
      `Watcher benchmark: ${TAGS} tags on loopback Reestr, scan concurrency ${CONCURRENCY}, ` +
        `${RUNS} runs (medians)${PAGE_SIZE ? `, tag pages of ${PAGE_SIZE}` : ""}, ` +
        (PLATFORMS > 1 ? `tags point at an index of ${PLATFORMS} platforms` : "single-platform image"),
      "",
      pad(["pass", "seconds", "requests", "requests by kind"], widths),
      pad(
        [
          "first scan",
          firstSeconds.toFixed(3),
          String(firstRequests),
          Object.entries(firsts[0]!.byKind)
            .map(([k, v]) => `${k} ${v}`)
            .join(", "),
        ],
        widths,
      ),
      pad(
        [
          "rescan",
          rescanSeconds.toFixed(3),
          String(rescanRequests),
          Object.entries(rescans[0]!.byKind)
            .map(([k, v]) => `${k} ${v}`)
            .join(", "),
        ],
        widths,
      ),
      "",
      `target: rescan requests <= tags + tag-list pages (${TAGS} + ${pages} = ${requestBudget}): ` +
        `${rescanRequests} ${requestsOk ? "PASS" : "FAIL"}`,
      `target: rescan >= 5x faster than first scan: ${speedup.toFixed(1)}x ${speedOk ? "PASS" : "FAIL"}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    if (values.json) {
      mkdirSync(dirname(values.json), { recursive: true });
      writeFileSync(
        values.json,
        `${JSON.stringify(
          {
            tags: TAGS,
            runs: RUNS,
            concurrency: CONCURRENCY,
            pageSize: PAGE_SIZE ?? null,
            platforms: PLATFORMS,
            first: { seconds: firstSeconds, requests: firstRequests, byKind: firsts[0]!.byKind },
            rescan: { seconds: rescanSeconds, requests: rescanRequests, byKind: rescans[0]!.byKind },
            targets: { requestBudget, requestsOk, speedup, speedOk },
          },
          null,
          2,
        )}\n`,
      );
    }
    process.exitCode = requestsOk && speedOk ? 0 : 1;
  } finally {
    await server?.cleanup();
  }
}

await main();
