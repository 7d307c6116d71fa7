/**
 * `npm run bench`: Reestr against CNCF Distribution (Debian's docker-registry 2.8.2), both
 * started as child processes on loopback with fresh storage, the same workloads against both in
 * one run (issue 2 §7). Prints a table with both figures, their ratio and the target, and with
 * `--json <file>` writes every figure and the machine's description to a file.
 *
 *   node bench/registry.bench.ts [--json bench.json] [--only reestr|distribution] [--workloads a,b]
 *                                [--baseline <checkout>]
 *
 * `--baseline <dir>` also runs an earlier Reestr — the checkout of another commit, for example
 * `git worktree add /tmp/before <commit>` — as a third side, and prints its figures and the
 * ratio to them: a change measured against the code before it, in the same run.
 *
 * Sizes: BENCH_SCALE=0.1 scales every count and size for a quick run; BENCH_PUSHES,
 * BENCH_SEQUENTIAL, BENCH_BLOB_MIB, BENCH_CHUNK_MIB, BENCH_PULL_REPEATS, BENCH_MANIFEST_REQUESTS,
 * BENCH_CONCURRENCY, BENCH_TAGS, BENCH_REPOS, BENCH_LIST_REPEATS, BENCH_SMALL_LAYER_BYTES
 * override one each.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, release, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Digest } from "../src/oci/digest.ts";
import { digestOf } from "../src/oci/digest.ts";
import { distributionVersion, startDistribution } from "../test/helpers/distribution.ts";
import { type ServerProcess, startReestr } from "../test/helpers/reestr-process.ts";
import { pushImage } from "./oci.ts";
import { median, now } from "./stats.ts";
import {
  blobPullOnce,
  blobPushChunked,
  blobPushMonolithic,
  concurrentPushes,
  hasCurl,
  MiB,
  makeImages,
  manifestLoad,
  measureCatalog,
  measureTags,
  preloadCatalog,
  preloadHotManifest,
  preloadTags,
  randomBuffer,
  type Sizes,
  sequentialPushes,
  sizesFromEnv,
  withTarget,
} from "./workloads.ts";

type Side = "reestr" | "baseline" | "distribution";
const SIDES: Side[] = ["reestr", "baseline", "distribution"];
const WORKLOADS = ["catalog", "tags", "manifest", "concurrent", "sequential", "blob"] as const;
type Workload = (typeof WORKLOADS)[number];

interface Target {
  /** Reestr / Distribution ratio must be >= (higher is better) or <= (lower is better) this. */
  ratio?: number;
  /** Reestr's own figure must be below this. */
  below?: number;
}

interface Metric {
  key: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  target?: Target;
  values: Partial<Record<Side, number>>;
  notes: Partial<Record<Side, string>>;
}

const { values: args } = parseArgs({
  options: {
    json: { type: "string" },
    only: { type: "string" },
    workloads: { type: "string" },
    baseline: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (args.help) {
  console.log(
    "usage: node bench/registry.bench.ts [--json <file>] [--only reestr|distribution] [--workloads " +
      WORKLOADS.join(",") +
      "]\nenv: BENCH_SCALE=0.1 for a quick run; see the header of this file for per-workload sizes.",
  );
  process.exit(0);
}
const sides = (args.only ? SIDES.filter((s) => s === args.only) : SIDES).filter(
  (side) => side !== "baseline" || args.baseline !== undefined,
);
if (sides.length === 0) throw new Error(`--only must be one of ${SIDES.join(", ")}`);
const selected = new Set<Workload>(
  args.workloads ? (args.workloads.split(",").map((w) => w.trim()) as Workload[]) : WORKLOADS,
);
for (const w of selected) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload "${w}"`);

const sizes: Sizes = sizesFromEnv();
const metrics: Metric[] = [];
/** Peak RSS (MiB) of each server after start and after each workload, to see what grows it. */
const rssTrail: Partial<Record<Side, { after: string; peakMiB: number }[]>> = {};

function sampleRss(after: string): void {
  for (const side of sides) {
    const kib = servers[side]?.peakRssKiB();
    if (kib === undefined) continue;
    const trail = rssTrail[side] ?? [];
    trail.push({ after, peakMiB: Math.round(kib / 102.4) / 10 });
    rssTrail[side] = trail;
  }
}

function metric(
  key: string,
  label: string,
  unit: string,
  better: "higher" | "lower",
  target?: Target,
): Metric {
  let m = metrics.find((x) => x.key === key);
  if (!m) {
    m = { key, label, unit, better, values: {}, notes: {}, ...(target ? { target } : {}) };
    metrics.push(m);
  }
  return m;
}

function record(side: Side, m: Metric, value: number, note?: string): void {
  m.values[side] = value;
  if (note) m.notes[side] = note;
}

function log(message: string): void {
  process.stderr.write(`[bench ${(process.uptime()).toFixed(1)}s] ${message}\n`);
}

// ------------------------------------------------------------------ machine

function opensslSha256MBps(): number | undefined {
  try {
    const out = execFileSync("openssl", ["speed", "-seconds", "1", "-bytes", "16384", "sha256"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const match = /^sha256\s+([\d.]+)k/m.exec(out);
    return match ? (Number(match[1]) * 1000) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

function nodeSha256MBps(): number {
  const data = Buffer.alloc(64 * MiB, 7);
  const t0 = now();
  createHash("sha256").update(data).digest();
  return data.length / 1e6 / ((now() - t0) / 1000);
}

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
  kernel: release(),
  node: process.version,
  distribution: distributionVersion(),
  opensslSha256MBps: opensslSha256MBps(),
  nodeSha256MBps: nodeSha256MBps(),
};

// ------------------------------------------------------------------ servers

const servers: Partial<Record<Side, ServerProcess>> = {};
let cleaningUp = false;
async function cleanup(): Promise<void> {
  if (cleaningUp) return;
  cleaningUp = true;
  await Promise.all(Object.values(servers).map((s) => s.cleanup().catch(() => {})));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

function fmt(value: number | undefined, unit: string): string {
  if (value === undefined || Number.isNaN(value)) return "—";
  if (unit === "req/s" || unit === "MB/s") return Math.round(value).toLocaleString("en-US");
  if (value >= 100) return Math.round(value).toLocaleString("en-US");
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function verdict(m: Metric): { ratio?: number; target: string; ok?: boolean } {
  const r = m.values.reestr;
  const d = m.values.distribution;
  const ratio = r !== undefined && d !== undefined && d > 0 ? r / d : undefined;
  if (m.target?.below !== undefined) {
    return {
      ratio,
      target: `< ${m.target.below} ${m.unit}`,
      ok: r === undefined ? undefined : r < m.target.below,
    };
  }
  if (m.target?.ratio !== undefined) {
    const op = m.better === "higher" ? "≥" : "≤";
    const ok =
      ratio === undefined
        ? undefined
        : m.better === "higher"
          ? ratio >= m.target.ratio
          : ratio <= m.target.ratio;
    return { ratio, target: `${op} ${m.target.ratio}×`, ok };
  }
  return { ratio, target: "" };
}

function ratioText(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}×` : "—";
}

function table(): string {
  const withBaseline = sides.includes("baseline");
  const header = [
    "workload",
    "unit",
    "better",
    "Reestr",
    ...(withBaseline ? ["baseline", "R/B"] : []),
    "Distribution",
    "ratio R/D",
    "target",
    "ok",
  ];
  const rows = metrics.map((m) => {
    const v = verdict(m);
    return [
      m.label,
      m.unit,
      m.better,
      fmt(m.values.reestr, m.unit),
      ...(withBaseline
        ? [fmt(m.values.baseline, m.unit), ratioText(m.values.reestr, m.values.baseline)]
        : []),
      fmt(m.values.distribution, m.unit),
      v.ratio === undefined ? "—" : `${v.ratio.toFixed(2)}×`,
      v.target,
      v.ok === undefined ? "" : v.ok ? "yes" : "NO",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** The sides in turn: round 0 as given, round 1 starting from the second, … */
function rotate<T>(items: readonly T[], round: number): T[] {
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

// ------------------------------------------------------------------ run

const started = now();
try {
  // The first start after a source change strips the types of the changed files (Node's compile
  // cache keeps the result for later starts): done here once, so that no side's peak RSS
  // carries the type stripper (~15 MiB) and a just-edited checkout is measured like a deployed one.
  for (const side of sides) {
    if (side === "distribution") continue;
    const bin = side === "baseline" ? join(resolve(args.baseline!), "bin", "reestr.js") : undefined;
    await (await startReestr(bin ? { bin } : {})).cleanup();
  }
  for (const side of sides) {
    log(`starting ${side}`);
    servers[side] =
      side === "reestr"
        ? await startReestr()
        : side === "baseline"
          ? await startReestr({ bin: join(resolve(args.baseline!), "bin", "reestr.js") })
          : await startDistribution();
    log(`${side} listening on ${servers[side].url} (pid ${servers[side].pid})`);
  }
  const url = (side: Side) => servers[side]!.url;
  sampleRss("start");
  // A warm-up of the push and pull paths on every side before anything is measured: otherwise
  // whichever server goes first pays for JIT compilation and cold caches in its figures.
  for (const side of sides) {
    log(`${side}: warm-up`);
    await withTarget(url(side), async (target) => {
      // One repository more than the workloads' own (the hot manifest's is needed anyway).
      const images = makeImages("warmup", 50, sizes.smallLayerBytes);
      for (const [i, image] of images.entries()) await pushImage(target, "warmup/push", `w${i}`, image);
      await preloadHotManifest(target, sizes.smallLayerBytes);
      await manifestLoad(target, "GET", 2000, sizes.concurrency);
    });
  }

  if (selected.has("catalog")) {
    const m = metric("catalog", `catalog of ${sizes.repos} repositories, all pages`, "ms", "lower", {
      ratio: 0.1,
    });
    for (const side of sides) {
      log(`${side}: preloading ${sizes.repos} repositories`);
      const t0 = now();
      await withTarget(url(side), (t) => preloadCatalog(t, sizes.repos, sizes.smallLayerBytes));
      log(`${side}: preloaded in ${((now() - t0) / 1000).toFixed(1)} s; measuring catalog`);
      const r = await withTarget(url(side), (t) => measureCatalog(t, sizes.repos, sizes.listRepeats));
      if (r.entries < sizes.repos)
        throw new Error(`${side}: catalog has ${r.entries} of ${sizes.repos} repositories`);
      record(side, m, r.ms, `${r.entries} repos in ${r.pages} page(s) of n=${r.pageSize ?? "default"}`);
    }
  }

  if (selected.has("catalog")) sampleRss("catalog");
  if (selected.has("tags")) {
    const m = metric("tags", `tags list of a repository with ${sizes.tags} tags`, "ms", "lower", {
      ratio: 0.5,
    });
    for (const side of sides) {
      log(`${side}: preloading ${sizes.tags} tags`);
      await withTarget(url(side), (t) => preloadTags(t, sizes.tags, sizes.smallLayerBytes));
      const r = await withTarget(url(side), (t) => measureTags(t, sizes.listRepeats));
      if (r.entries !== sizes.tags)
        throw new Error(`${side}: tags list has ${r.entries} of ${sizes.tags} tags`);
      record(side, m, r.ms, `${r.entries} tags in ${r.pages} page(s)`);
    }
  }

  if (selected.has("tags")) sampleRss("tags");
  if (selected.has("manifest")) {
    const n = sizes.manifestRequests;
    const c = sizes.concurrency;
    const get = metric(
      "manifest-get",
      `manifest GET by tag (${n} req, concurrency ${c})`,
      "req/s",
      "higher",
      {
        ratio: 3,
      },
    );
    const getP99 = metric("manifest-get-p99", "manifest GET by tag, p99 latency", "ms", "lower");
    const head = metric(
      "manifest-head",
      `manifest HEAD by tag (${n} req, concurrency ${c})`,
      "req/s",
      "higher",
      {
        ratio: 3,
      },
    );
    const headP99 = metric("manifest-head-p99", "manifest HEAD by tag, p99 latency", "ms", "lower");
    for (const side of sides)
      await withTarget(url(side), (t) => preloadHotManifest(t, sizes.smallLayerBytes));
    // Rounds with the order of the sides turned each time, medians reported: a shared machine's
    // speed moves within seconds, and one sample each would mostly measure that.
    const rounds = 3;
    type Runs = Record<"get" | "getP99" | "head" | "headP99", number[]>;
    const runs = new Map<Side, Runs>(
      sides.map((side) => [side, { get: [], getP99: [], head: [], headP99: [] }]),
    );
    for (let round = 0; round < rounds; round++) {
      for (const side of rotate(sides, round)) {
        log(`${side}: manifest GET and HEAD x${n} (round ${round + 1})`);
        const g = await withTarget(url(side), (t) => manifestLoad(t, "GET", n, c));
        const h = await withTarget(url(side), (t) => manifestLoad(t, "HEAD", n, c));
        const samples = runs.get(side)!;
        samples.get.push(g.reqPerSec);
        samples.getP99.push(g.p99);
        samples.head.push(h.reqPerSec);
        samples.headP99.push(h.p99);
      }
    }
    const note = `median of ${rounds} rounds`;
    for (const [side, samples] of runs) {
      record(side, get, median(samples.get), note);
      record(side, getP99, median(samples.getP99), note);
      record(side, head, median(samples.head), note);
      record(side, headP99, median(samples.headP99), note);
    }
  }

  if (selected.has("manifest")) sampleRss("manifest");
  if (selected.has("concurrent")) {
    const n = sizes.pushes;
    const wall = metric("concurrent-wall", `${n} concurrent small-image pushes, wall time`, "ms", "lower", {
      ratio: 0.5,
    });
    const p50 = metric("concurrent-p50", `${n} concurrent small-image pushes, p50 per image`, "ms", "lower");
    const p99 = metric("concurrent-p99", `${n} concurrent small-image pushes, p99 per image`, "ms", "lower");
    const images = makeImages("concurrent", n, sizes.smallLayerBytes);
    for (const side of sides) {
      log(`${side}: ${n} concurrent pushes`);
      const r = await withTarget(url(side), (t) => concurrentPushes(t, images));
      record(side, wall, r.wallMs);
      record(side, p50, r.p50);
      record(side, p99, r.p99);
    }
  }

  if (selected.has("concurrent")) sampleRss("concurrent");
  if (selected.has("sequential")) {
    const n = sizes.sequential;
    const p50 = metric("sequential-p50", `${n} sequential single-image pushes, p50`, "ms", "lower", {
      below: 100,
    });
    const p99 = metric("sequential-p99", `${n} sequential single-image pushes, p99`, "ms", "lower");
    const images = makeImages("sequential", n, sizes.smallLayerBytes);
    for (const side of sides) {
      log(`${side}: ${n} sequential pushes`);
      const r = await withTarget(url(side), (t) => sequentialPushes(t, images));
      record(side, p50, r.p50);
      record(side, p99, r.p99);
    }
  }

  if (selected.has("sequential")) sampleRss("sequential");
  if (selected.has("blob")) {
    const mib = Math.round(sizes.blobBytes / MiB);
    const chunkMib = Math.round(sizes.chunkBytes / MiB);
    const mono = metric("blob-push-mono", `${mib} MiB blob push, monolithic`, "MB/s", "higher", { ratio: 2 });
    const chunked = metric(
      "blob-push-chunked",
      `${mib} MiB blob push, ${chunkMib} MiB chunks`,
      "MB/s",
      "higher",
      {
        ratio: 2,
      },
    );
    const pull = metric("blob-pull", `${mib} MiB blob pull`, "MB/s", "higher", { ratio: 1.5 });
    log(`generating a ${mib} MiB blob`);
    const data = randomBuffer(sizes.blobBytes);
    // Each round pushes new bytes (so no registry can skip them as already stored), alternates
    // which registry goes first, and starts with no dirty pages left by the step before
    // (`sync`); the median of the rounds is reported. The disk and CPU of a shared machine vary
    // from second to second, and one sample each would mostly measure that.
    const settleDisk = () => execFileSync("sync");
    const freshBlob = () => {
      data.writeDoubleLE(Math.random(), 0);
      return digestOf(data);
    };
    const order = (round: number) => (round % 2 === 0 ? sides : [...sides].reverse());
    const samples = (): Record<Side, number[]> => ({ reestr: [], baseline: [], distribution: [] });
    const monoSamples = samples();
    const chunkedSamples = samples();
    let pulled: { repo: string; digest: Digest } | undefined;
    for (let round = 0; round < sizes.blobRounds; round++) {
      const digest = freshBlob();
      for (const side of order(round)) {
        settleDisk();
        log(`${side}: monolithic push of ${mib} MiB (round ${round + 1})`);
        const r = await withTarget(url(side), (t) =>
          blobPushMonolithic(t, `blob/monolithic${round}`, data, digest),
        );
        monoSamples[side].push(r.mbPerSec);
      }
      const chunkedDigest = freshBlob();
      for (const side of order(round)) {
        settleDisk();
        log(`${side}: chunked push of ${mib} MiB (round ${round + 1})`);
        const r = await withTarget(url(side), (t) =>
          blobPushChunked(t, `blob/chunked${round}`, data, chunkedDigest, sizes.chunkBytes),
        );
        chunkedSamples[side].push(r.mbPerSec);
      }
      pulled = { repo: `blob/chunked${round}`, digest: chunkedDigest };
    }
    settleDisk();
    const pullSamples = samples();
    for (let r = 0; r < sizes.pullRepeats; r++) {
      for (const side of order(r)) {
        log(`${side}: pull of ${mib} MiB (${r + 1}/${sizes.pullRepeats})`);
        const target = pulled!;
        pullSamples[side].push(
          await withTarget(url(side), (t) => blobPullOnce(t, target.repo, target.digest, data.length)),
        );
      }
    }
    const client = hasCurl() ? "curl" : "a Node raw-socket client";
    for (const side of sides) {
      record(side, mono, median(monoSamples[side]), `median of ${sizes.blobRounds} rounds`);
      record(side, chunked, median(chunkedSamples[side]), `median of ${sizes.blobRounds} rounds`);
      record(
        side,
        pull,
        median(pullSamples[side]),
        `median of ${sizes.pullRepeats} pulls timed by ${client}`,
      );
    }
  }

  if (selected.has("blob")) sampleRss("blob");
  const rss = metric("peak-rss", "peak RSS of the server process (VmHWM)", "MiB", "lower", { ratio: 2 });
  for (const side of sides) {
    const kib = servers[side]!.peakRssKiB();
    if (kib !== undefined) record(side, rss, kib / 1024);
  }

  const totalSeconds = (now() - started) / 1000;
  const sha = machine.opensslSha256MBps;
  const summary = [
    "",
    `Reestr vs CNCF Distribution — ${new Date().toISOString()}`,
    `machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}; ` +
      `node ${machine.node}; ${machine.distribution}`,
    `SHA-256 ceiling for blob push: openssl speed sha256 (16 KiB blocks) ${sha === undefined ? "n/a" : `${Math.round(sha)} MB/s`}, ` +
      `node:crypto ${Math.round(machine.nodeSha256MBps)} MB/s`,
    `sizes: ${JSON.stringify(sizes)}`,
    "",
    table(),
    "",
    ...metrics.flatMap((m) =>
      Object.entries(m.notes).map(([side, note]) => `note: ${m.key} (${side}): ${note}`),
    ),
    ...Object.entries(rssTrail).map(
      ([side, trail]) =>
        `peak RSS (MiB) of ${side} after: ${trail.map((x) => `${x.after} ${x.peakMiB}`).join(", ")}`,
    ),
    `total bench time ${totalSeconds.toFixed(1)} s`,
    "",
  ].join("\n");
  process.stdout.write(summary);

  if (args.json) {
    const json = {
      date: new Date().toISOString(),
      machine,
      sizes,
      totalSeconds,
      rssTrail,
      metrics: metrics.map((m) => ({ ...m, ...verdict(m) })),
    };
    mkdirSync(dirname(args.json), { recursive: true });
    writeFileSync(args.json, `${JSON.stringify(json, null, 2)}\n`);
    log(`wrote ${args.json}`);
  }
} catch (error) {
  for (const side of sides) {
    const server = servers[side];
    if (server) process.stderr.write(`--- ${side} output (tail) ---\n${server.output(4000)}\n`);
  }
  throw error;
} finally {
  await cleanup();
}
