/**
 * `npm run bench:proxy` — the pull-through cache (docs/pull-through-cache.md) between CNCF
 * Distribution (the upstream, behind test/helpers/fault-proxy.ts, which counts requests) and a
 * Reestr child process with a `proxy:` entry, all on loopback:
 *
 * - cold pull of an image (default 256 MiB in 4 layers) through the cache vs the same pull from
 *   the upstream directly;
 * - warm pull (cached) vs Reestr's pull of the same image pushed to it locally;
 * - 50 concurrent cold pulls of one image: upstream GETs per blob (must be 1).
 *
 * Env: PROXY_BENCH_MIB (image size), PROXY_BENCH_CLIENTS (concurrent pulls). Writes
 * bench/results/2026-12-02-proxy.json.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { distributionVersion, startDistribution } from "../test/helpers/distribution.ts";
import { startFaultProxy } from "../test/helpers/fault-proxy.ts";
import { startReestr } from "../test/helpers/reestr-process.ts";
import { HttpTarget, rawGetCount } from "./http.ts";
import { makeSmallImage, pushImage, type SmallImage } from "./oci.ts";
import { now } from "./stats.ts";
import { MiB } from "./workloads.ts";

const imageMiB = Number(process.env["PROXY_BENCH_MIB"] ?? 256);
const clients = Number(process.env["PROXY_BENCH_CLIENTS"] ?? 50);
const LAYERS = 4;

/** Pulls manifest then every blob, one after the other (as a simple client does); ms taken. */
async function pull(target: HttpTarget, repo: string, tag: string, image: SmallImage): Promise<number> {
  const started = now();
  const manifest = await rawGetCount(target, `/v2/${repo}/manifests/${tag}`, {
    accept: image.mediaType,
  });
  if (manifest.status !== 200) throw new Error(`manifest ${repo}:${tag}: ${manifest.status}`);
  for (const blob of [image.config, ...image.layers]) {
    const got = await rawGetCount(target, `/v2/${repo}/blobs/${blob.digest}`);
    if (got.status !== 200 || got.bytes !== blob.size)
      throw new Error(`blob ${blob.digest}: ${got.status} ${got.bytes}`);
  }
  return now() - started;
}

const distribution = await startDistribution({ disableAccessLog: true, logLevel: "error" });
const faults = await startFaultProxy(distribution.url);
const configDir = mkdtempSync(join(tmpdir(), "proxy-bench-"));
const configPath = join(configDir, "reestr.yaml");
writeFileSync(
  configPath,
  `log: { level: warn, accessLog: false }\nproxy:\n  - { prefix: up, upstream: "${faults.url}", tagTtl: 10m }\n`,
);
const reestr = await startReestr({ extraArgs: ["--config", configPath] });
const upstream = new HttpTarget(distribution.url);
const cache = new HttpTarget(reestr.url);
try {
  const image = makeSmallImage("bench-proxy", LAYERS, Math.floor((imageMiB * MiB) / LAYERS));
  await pushImage(upstream, "bench/big", "v1", image);
  await pushImage(cache, "local/big", "v1", image);

  const direct = await pull(upstream, "bench/big", "v1", image);
  const cold = await pull(cache, "up/bench/big", "v1", image);
  const warm = await pull(cache, "up/bench/big", "v1", image);
  const local = await pull(cache, "local/big", "v1", image);

  const small = makeSmallImage("bench-proxy-many", LAYERS, 8 * MiB);
  await pushImage(upstream, "bench/many", "v1", small);
  const manyStarted = now();
  await Promise.all(Array.from({ length: clients }, () => pull(cache, "up/bench/many", "v1", small)));
  const manyMs = now() - manyStarted;
  const perBlob = [small.config, ...small.layers].map((blob) =>
    faults.count((r) => r.method === "GET" && r.path.endsWith(`/blobs/${blob.digest}`)),
  );

  const result = {
    date: new Date().toISOString(),
    distribution: distributionVersion(),
    imageMiB,
    coldMs: Math.round(cold),
    directFromUpstreamMs: Math.round(direct),
    coldVsDirect: Number((cold / direct).toFixed(2)),
    warmMs: Math.round(warm),
    localPullMs: Math.round(local),
    warmVsLocal: Number((warm / local).toFixed(2)),
    concurrentColdPulls: {
      clients,
      imageMiB: LAYERS * 8,
      totalMs: Math.round(manyMs),
      upstreamGetsPerBlob: perBlob,
    },
  };
  console.log(
    [
      `image ${imageMiB} MiB in ${LAYERS} layers`,
      `cold through cache ${result.coldMs} ms vs direct from upstream ${result.directFromUpstreamMs} ms: ×${result.coldVsDirect}`,
      `warm from cache    ${result.warmMs} ms vs Reestr's local pull ${result.localPullMs} ms: ×${result.warmVsLocal}`,
      `${clients} concurrent cold pulls of a ${LAYERS * 8} MiB image: ${result.concurrentColdPulls.totalMs} ms, upstream GETs per blob: ${perBlob.join(", ")}`,
    ].join("\n"),
  );
  const out = resolve(dirname(new URL(import.meta.url).pathname), "results", "2026-12-02-proxy.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`saved ${out}`);
} finally {
  upstream.close();
  cache.close();
  await reestr.stop();
  await faults.close();
  await distribution.stop();
}
