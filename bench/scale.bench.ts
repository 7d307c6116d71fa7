/**
 * `npm run bench:scale` (issue 13 §3): Reestr's scale-out storage against CNCF Distribution's S3
 * driver, side by side in one run, the workloads of bench/workloads.ts against each:
 *
 *   fs      Reestr, filesystem blobs + SQLite (the default `serve`)
 *   s3-1    Reestr on S3 (radosgw) + PostgreSQL, one replica
 *   s3-3    the same, three replicas + redis-server behind the round-robin proxy
 *   dist    Distribution 2.8 with its S3 driver on the same radosgw (another bucket), config
 *           rendered by the deploy kit (src/deploy), plus `redirect: disable: true`: Reestr's
 *           presigned redirect is off by default, so both proxy every blob byte (like with like).
 *
 * Sizes: BENCH_SCALE_BLOB_MIB (128), BENCH_SCALE_ROUNDS (3), BENCH_MANIFEST_REQUESTS (keep ~3,000:
 * Distribution on S3 serves ~220 manifests/s). Start-up (radosgw, PostgreSQL, 5 Reestr, Distribution) ~110 s.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { distributionConfig } from "../src/deploy/docker-registry.ts";
import { dockerRegistry } from "../src/deploy/kinds.ts";
import { digestOf } from "../src/oci/digest.ts";
import { startRedis } from "../test/catalog/redis.ts";
import { startRgw } from "../test/helpers/ceph-rgw.ts";
import { DISTRIBUTION_BIN } from "../test/helpers/distribution.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { freePort, type ServerProcess, spawnServer, startReestr } from "../test/helpers/reestr-process.ts";
import { startRoundRobinProxy } from "../test/helpers/round-robin-proxy.ts";
import { pushImage } from "./oci.ts";
import { median } from "./stats.ts";
import {
  blobPullOnce,
  blobPushMonolithic,
  concurrentPushes,
  MiB,
  makeImages,
  manifestLoad,
  preloadHotManifest,
  randomBuffer,
  sizesFromEnv,
  withTarget,
} from "./workloads.ts";

type Side = "fs" | "s3-1" | "s3-3" | "dist";
const SIDES: Side[] = ["fs", "s3-1", "s3-3", "dist"];
const sizes = sizesFromEnv();
const BLOB = Math.round(Number(process.env["BENCH_SCALE_BLOB_MIB"] ?? 128) * MiB);
const ROUNDS = Number(process.env["BENCH_SCALE_ROUNDS"] ?? 3);
const out = process.argv[2] ?? "bench/results/2026-12-02-scale.json";
const log = (m: string) => process.stderr.write(`[scale ${process.uptime().toFixed(0)}s] ${m}\n`);

const stops: (() => Promise<unknown>)[] = [];
const urls: Partial<Record<Side, string>> = {};
const work = mkdtempSync(join(tmpdir(), "reestr-scale-"));
try {
  const rgw = await startRgw();
  stops.push(() => rgw.down());
  const pgc = await startPostgres();
  stops.push(() => pgc.cleanup());
  const redis = await startRedis();
  stops.push(() => redis.stop());
  for (const b of ["reestr-1", "reestr-3", "distribution"]) await rgw.createBucket(b);
  const s3 = (bucket: string) => ({
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket,
    forcePathStyle: true,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
  });
  const reestrConfig = async (name: string, bucket: string, withRedis: boolean) => {
    const file = join(work, `${name}.yaml`);
    const config = {
      log: { level: "warn" },
      metadata: { postgres: { url: await pgc.createDatabase(name.replace(/-/g, "_")) } },
      storage: { s3: s3(bucket) },
      ...(withRedis ? { redis: { url: redis.url } } : {}),
    };
    writeFileSync(file, JSON.stringify(config)); // JSON is YAML
    return ["--config", file];
  };
  const keep = (s: ServerProcess) => {
    stops.push(() => s.cleanup());
    return s;
  };
  urls.fs = keep(await startReestr()).url;
  urls["s3-1"] = keep(await startReestr({ extraArgs: await reestrConfig("s3-one", "reestr-1", false) })).url;
  const three = await reestrConfig("s3-three", "reestr-3", true);
  const replicas = [];
  for (let i = 0; i < 3; i++) replicas.push(keep(await startReestr({ extraArgs: three })));
  const proxy = await startRoundRobinProxy(replicas.map((r) => r.port));
  stops.push(() => proxy.close());
  urls["s3-3"] = proxy.url;

  // Distribution: the deploy kit's config.yml for S3, credentials by environment as its Deployment passes them.
  const port = await freePort();
  const spec = dockerRegistry("bench", {
    auth: { enabled: false },
    http: { addr: `127.0.0.1:${port}`, debugAddr: "" },
    storage: {
      driver: "s3",
      s3: {
        region: rgw.region,
        bucket: "distribution",
        encrypt: false,
        secure: false,
        regionendpoint: rgw.endpoint,
      },
    },
  });
  const rendered = distributionConfig(spec.spec) as { storage: Record<string, unknown> };
  rendered.storage["redirect"] = { disable: true };
  const dist = join(work, "dist");
  mkdirSync(dist);
  writeFileSync(join(dist, "config.yml"), stringify(rendered));
  urls.dist = keep(
    await spawnServer({
      name: "docker-registry",
      command: DISTRIBUTION_BIN,
      args: ["serve", join(dist, "config.yml")],
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: dist,
        REGISTRY_STORAGE_S3_ACCESSKEY: rgw.accessKeyId,
        REGISTRY_STORAGE_S3_SECRETKEY: rgw.secretAccessKey,
        REGISTRY_HTTP_SECRET: "bench-scale",
      },
      port,
      dataDir: dist,
      ownedDirs: [],
      logFile: join(dist, "registry.log"),
      readyTimeoutMs: 60_000,
    }),
  ).url;

  const samples: Record<string, Record<Side, number[]>> = {};
  const add = (k: string, side: Side, v: number) => {
    samples[k] ??= { fs: [], "s3-1": [], "s3-3": [], dist: [] };
    samples[k][side].push(v);
  };
  const data = randomBuffer(BLOB);
  for (const side of SIDES)
    await withTarget(urls[side]!, async (t) => {
      await preloadHotManifest(t, sizes.smallLayerBytes);
      for (const [i, image] of makeImages(`warm-${side}`, 20, sizes.smallLayerBytes).entries())
        await pushImage(t, "warmup/push", `w${i}`, image);
    });
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...SIDES.slice(round % 4), ...SIDES.slice(0, round % 4)];
    for (const side of order) {
      log(`${side}: round ${round + 1}`);
      await withTarget(urls[side]!, async (t) => {
        data.writeDoubleLE(Math.random(), 0);
        const digest = digestOf(data);
        add("push", side, (await blobPushMonolithic(t, `big/r${round}`, data, digest)).mbPerSec);
        add("pull", side, await blobPullOnce(t, `big/r${round}`, digest, data.length));
        const images = makeImages(`c-${side}-${round}`, sizes.pushes, sizes.smallLayerBytes);
        const c = await concurrentPushes(t, images);
        add("concurrent-ms", side, c.wallMs);
        add("concurrent-ips", side, (images.length / c.wallMs) * 1000);
        add(
          "manifest",
          side,
          (await manifestLoad(t, "GET", sizes.manifestRequests, sizes.concurrency)).reqPerSec,
        );
      });
    }
  }
  const targets: Record<string, number> = { push: 1.5, pull: 1.5, manifest: 3 };
  const rows = Object.entries(samples).map(([k, bySide]) => {
    const m = Object.fromEntries(SIDES.map((s) => [s, median(bySide[s])])) as Record<Side, number>;
    return { workload: k, ...m, ratio: m["s3-1"] / m.dist, target: targets[k], samples: bySide };
  });
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toFixed(1));
  console.log(`| workload | ${SIDES.join(" | ")} | Reestr-S3/Dist-S3 | target |`);
  console.log(`|${"---|".repeat(SIDES.length + 3)}`);
  for (const r of rows)
    console.log(
      `| ${r.workload} | ${SIDES.map((s) => fmt(r[s])).join(" | ")} | ${r.ratio.toFixed(2)}× | ${r.target ? `≥ ${r.target}×` : ""} |`,
    );
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), loadavg: loadavg(), blobBytes: BLOB, rounds: ROUNDS, sizes, rows }, null, 2)}\n`,
  );
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
