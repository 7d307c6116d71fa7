/**
 * `npm run bench:gc`: garbage collection, Reestr against CNCF Distribution (Debian's
 * docker-registry 2.8), side by side in one run on the same content.
 *
 * Each registry gets BENCH_GC_MANIFESTS images (default 10,000) of BENCH_GC_LAYERS layers plus a
 * config (default 9 + 1: 100,000 blobs), pushed over the API; then half the manifests are
 * deleted by digest. Then, for each:
 *  - manifest GET throughput and p99 (BENCH_GC_CONCURRENCY clients, default 16) for a few
 *    seconds with no collection running: the baseline;
 *  - the collection itself: its time and the process's peak RSS while it runs, and the same GET
 *    load measured while it runs. Reestr collects online (POST /api/admin/gc); Distribution's
 *    `garbage-collect` needs the registry stopped (or read-only), so there the "while" figure is
 *    no throughput at all, which is the point of an online collector;
 *  - a check that what only deleted images held is gone and every kept image still pulls.
 * Prints a table with the ratios; `--json` writes the figures to stdout as JSON.
 */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { distributionVersion, startDistribution } from "../test/helpers/distribution.ts";
import {
  readStatusField,
  type ServerProcess,
  spawnServer,
  startReestr,
} from "../test/helpers/reestr-process.ts";
import { expectStatus, HttpTarget } from "./http.ts";
import { MANIFEST_ACCEPT, makeSmallImage, pushImage, type SmallImage } from "./oci.ts";
import { now, percentile, runPool } from "./stats.ts";

const MANIFESTS = Number(process.env.BENCH_GC_MANIFESTS ?? 10_000);
const LAYERS = Number(process.env.BENCH_GC_LAYERS ?? 9);
const CONCURRENCY = Number(process.env.BENCH_GC_CONCURRENCY ?? 16);
const BASELINE_MS = Number(process.env.BENCH_GC_BASELINE_MS ?? 5000);
const PUSH_CONCURRENCY = 32;
const json = process.argv.includes("--json");

interface Figures {
  registry: string;
  pushSeconds: number;
  blobsBefore: number;
  blobsAfter: number;
  gcSeconds: number;
  gcPeakRssMiB: number;
  /** The registry server's resident set just before the collection. */
  serverRssMiB: number;
  baseline: { requestsPerSecond: number; p99Ms: number };
  during: { requestsPerSecond: number; p99Ms: number; requests: number; errors: number };
}

function log(line: string): void {
  if (!json) process.stderr.write(`${line}\n`);
}

async function countBlobFiles(root: string): Promise<number> {
  let count = 0;
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    const entries = await readdir(join(root, prefix)).catch(() => [] as string[]);
    count += entries.length;
  }
  return count;
}

/** Pushes the images (tag i) and deletes every odd one by digest; returns the kept ones. */
async function populate(
  target: HttpTarget,
  images: SmallImage[],
): Promise<{ kept: string[]; seconds: number }> {
  const started = now();
  await runPool(images.length, PUSH_CONCURRENCY, (i) =>
    pushImage(target, `gc/r${i % 100}`, `t${i}`, images[i]!),
  );
  const odd = images.map((_, i) => i).filter((i) => i % 2 === 1);
  await runPool(odd.length, PUSH_CONCURRENCY, async (k) => {
    const i = odd[k]!;
    const res = await target.request("DELETE", `/v2/gc/r${i % 100}/manifests/${images[i]!.manifestDigest}`);
    expectStatus("DELETE manifest", res, 202);
  });
  const kept = images
    .map((_, i) => i)
    .filter((i) => i % 2 === 0)
    .map((i) => `/v2/gc/r${i % 100}/manifests/t${i}`);
  return { kept, seconds: (now() - started) / 1000 };
}

/** Manifest GETs of kept tags until `until()` says stop (or `ms` passed); throughput and p99. */
async function getLoad(target: HttpTarget, paths: string[], until: () => boolean) {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = now();
  const worker = async () => {
    while (!until()) {
      const path = paths[next++ % paths.length]!;
      const t0 = now();
      try {
        const res = await target.request("GET", path, {
          headers: { accept: MANIFEST_ACCEPT },
          discardBody: true,
        });
        if (res.status !== 200) errors++;
      } catch {
        errors++;
        await sleep(5);
      }
      latencies.push(now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (now() - started) / 1000;
  return {
    requestsPerSecond: Math.round(latencies.length / seconds),
    p99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
    requests: latencies.length,
    errors,
  };
}

async function baseline(target: HttpTarget, paths: string[]) {
  const end = now() + BASELINE_MS;
  const { requestsPerSecond, p99Ms } = await getLoad(target, paths, () => now() > end);
  return { requestsPerSecond, p99Ms };
}

/** Samples a process's resident set every 50 ms until stopped; the peak in MiB. */
function rssSampler(read: () => number | undefined) {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, read() ?? 0);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.round((peak / 1024) * 10) / 10;
    },
  };
}

async function verify(target: HttpTarget, kept: string[]): Promise<void> {
  for (const path of kept.slice(0, 200)) {
    const res = await target.request("GET", path, { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(`GET ${path} after GC`, res, 200);
  }
}

async function benchReestr(images: SmallImage[]): Promise<Figures> {
  const server: ServerProcess = await startReestr({
    env: { REESTR_GC_GRACE_PERIOD: "0", REESTR_ACCESS_LOG: "false", REESTR_STORAGE_SYNC: "normal" },
  });
  try {
    const target = new HttpTarget(server.url, 256);
    log(`reestr: pushing ${images.length} images (${images.length * (LAYERS + 1)} blobs)…`);
    const { kept, seconds } = await populate(target, images);
    const blobsDir = join(server.dataDir, "blobs", "sha256");
    const blobsBefore = await countBlobFiles(blobsDir);
    log("reestr: baseline GET load…");
    const base = await baseline(target, kept);
    log("reestr: collecting with the GET load running…");
    const serverRssMiB = Math.round(((server.rssKiB() ?? 0) / 1024) * 10) / 10;
    const rss = rssSampler(() => server.rssKiB());
    const started = await target.request("POST", "/api/admin/gc");
    expectStatus("POST /api/admin/gc", started, 202);
    const id = (JSON.parse(started.body.toString()) as { id: number }).id;
    let finished = false;
    let gcMs = 0;
    const poller = (async () => {
      for (let polls = 0; polls < 100_000 && !finished; polls++) {
        await sleep(100);
        const res = await target.request("GET", "/api/admin/gc");
        const run = (
          JSON.parse(res.body.toString()) as { runs: { id: number; status: string; durationMs?: number }[] }
        ).runs.find((r) => r.id === id);
        if (run && run.status !== "running") {
          if (run.status !== "succeeded") throw new Error(`reestr GC run ${id} ${run.status}`);
          gcMs = run.durationMs ?? 0;
          finished = true;
        }
      }
    })();
    const during = await getLoad(target, kept, () => finished);
    await poller;
    const peak = await rss.stop();
    const blobsAfter = await countBlobFiles(blobsDir);
    await verify(target, kept);
    target.close();
    return {
      registry: "reestr",
      pushSeconds: seconds,
      blobsBefore,
      blobsAfter,
      gcSeconds: gcMs / 1000,
      gcPeakRssMiB: peak,
      serverRssMiB,
      baseline: base,
      during,
    };
  } finally {
    await server.cleanup();
  }
}

async function benchDistribution(images: SmallImage[]): Promise<Figures> {
  let server: ServerProcess = await startDistribution({ logLevel: "error", disableAccessLog: true });
  const configPath = join(server.dataDir, "..", "config.yml");
  try {
    let target = new HttpTarget(server.url, 256);
    log(`distribution: pushing ${images.length} images…`);
    const { kept, seconds } = await populate(target, images);
    const blobsDir = join(server.dataDir, "docker", "registry", "v2", "blobs", "sha256");
    const blobsBefore = await countBlobFiles(blobsDir);
    log("distribution: baseline GET load…");
    const base = await baseline(target, kept);
    const serverRssMiB = Math.round(((server.rssKiB() ?? 0) / 1024) * 10) / 10;
    target.close();
    // Offline: Distribution's collector needs the registry stopped (docs: "read-only or not running").
    await server.stop();
    log("distribution: garbage-collect (registry stopped)…");
    const t0 = now();
    const child = execFile("/usr/bin/docker-registry", ["garbage-collect", configPath], {
      maxBuffer: 1 << 30,
    });
    const rss = rssSampler(() => (child.pid ? readStatusField(child.pid, "VmRSS") : undefined));
    await new Promise<void>((resolve, reject) =>
      child.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`garbage-collect exited ${code}`)),
      ),
    );
    const gcSeconds = (now() - t0) / 1000;
    const peak = await rss.stop();
    const blobsAfter = await countBlobFiles(blobsDir);
    // Serving again on the same storage, to check the kept images.
    const restarted = await startDistributionOn(server);
    server = restarted;
    target = new HttpTarget(server.url, 256);
    await verify(target, kept);
    target.close();
    return {
      registry: "distribution",
      pushSeconds: seconds,
      blobsBefore,
      blobsAfter,
      gcSeconds,
      gcPeakRssMiB: peak,
      serverRssMiB,
      baseline: base,
      during: { requestsPerSecond: 0, p99Ms: Number.NaN, requests: 0, errors: 0 },
    };
  } finally {
    await server.cleanup();
  }
}

/** docker-registry serving the stopped server's storage again, with its config. */
async function startDistributionOn(stopped: ServerProcess): Promise<ServerProcess> {
  const root = join(stopped.dataDir, "..");
  return spawnServer({
    name: "docker-registry",
    command: "/usr/bin/docker-registry",
    args: ["serve", join(root, "config.yml")],
    cwd: root,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root },
    port: stopped.port,
    dataDir: stopped.dataDir,
    ownedDirs: [root],
    logFile: join(root, "registry-2.log"),
  });
}

const ratio = (a: number, b: number) => (b === 0 || !Number.isFinite(b) ? "—" : `${(a / b).toFixed(2)}×`);

const images = Array.from({ length: MANIFESTS }, (_, i) => makeSmallImage(`gc-${i}`, LAYERS, 256));
log(
  `garbage collection over ${MANIFESTS} manifests, ${MANIFESTS * (LAYERS + 1)} blobs; half the manifests deleted`,
);
const reestr = await benchReestr(images);
const distribution = await benchDistribution(images);
if (json) {
  process.stdout.write(
    `${JSON.stringify({ distribution: distributionVersion(), manifests: MANIFESTS, layers: LAYERS, reestr, peer: distribution }, null, 2)}\n`,
  );
} else {
  const rows: [string, string, string, string][] = [
    ["", "reestr", "distribution", "ratio"],
    ["blobs on disk before", String(reestr.blobsBefore), String(distribution.blobsBefore), ""],
    ["blobs on disk after", String(reestr.blobsAfter), String(distribution.blobsAfter), ""],
    [
      "GC time (s)",
      reestr.gcSeconds.toFixed(2),
      distribution.gcSeconds.toFixed(2),
      ratio(distribution.gcSeconds, reestr.gcSeconds),
    ],
    [
      "server RSS before GC (MiB)",
      String(reestr.serverRssMiB),
      String(distribution.serverRssMiB),
      ratio(reestr.serverRssMiB, distribution.serverRssMiB),
    ],
    // Not comparable across the two: Reestr's server collects, Distribution's is stopped and a
    // separate garbage-collect process does.
    [
      "peak RSS during GC (MiB)",
      `${reestr.gcPeakRssMiB} (server)`,
      `${distribution.gcPeakRssMiB} (gc process)`,
      "",
    ],
    [
      "RSS growth during GC (MiB)",
      String(Math.round((reestr.gcPeakRssMiB - reestr.serverRssMiB) * 10) / 10),
      "—",
      "",
    ],
    [
      "manifest GET req/s, no GC",
      String(reestr.baseline.requestsPerSecond),
      String(distribution.baseline.requestsPerSecond),
      ratio(reestr.baseline.requestsPerSecond, distribution.baseline.requestsPerSecond),
    ],
    ["manifest GET p99 ms, no GC", String(reestr.baseline.p99Ms), String(distribution.baseline.p99Ms), ""],
    ["manifest GET req/s during GC", String(reestr.during.requestsPerSecond), "0 (stopped)", ""],
    ["manifest GET p99 ms during GC", String(reestr.during.p99Ms), "—", ""],
    ["GET errors during GC", String(reestr.during.errors), "—", ""],
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows)
    process.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ")}\n`);
  process.stdout.write(
    `\nreestr keeps ${((reestr.during.requestsPerSecond / reestr.baseline.requestsPerSecond) * 100).toFixed(0)} % of its manifest GET throughput while collecting; ` +
      `GC time ratio is distribution ÷ reestr (Distribution's collector runs with the registry stopped); RSS ratio reestr ÷ distribution.\n`,
  );
}
