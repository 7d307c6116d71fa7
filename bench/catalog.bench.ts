/**
 * Catalogue benchmark (issue 4 §7): Reestr's own registry with 10,000 repositories and one
 * repository holding 10,000 tags, served by a separate `reestr serve` process (as users run it).
 * Measures, against the seed's targets:
 *   - GET /api/registries, time to first byte with a warm cache (target < 500 ms);
 *   - repository search (GET …/repositories?q=…) response time (target < 800 ms);
 *   - a page of 100 tags of the 10,000-tag repository (first read and warm), and the same sorted by
 *     created time (every tag summarised).
 *
 *   node bench/catalog.bench.ts [--repos 10000] [--tags 10000] [--runs 20] [--json out.json]
 *
 * Setup fills the metadata store directly (SqliteMetadataStore, the same file `reestr serve`
 * opens): one config and one layer blob stored once, linked into every repository, and a tiny
 * distinct manifest per repository and per tag. Figures are medians (and p95) over the runs
 * after one warm-up request; the first (cold) read is reported separately.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { digestOf } from "../src/oci/digest.ts";
import { MediaType } from "../src/oci/media-types.ts";
import { SqliteMetadataStore } from "../src/registry/metadata/sqlite-metadata-store.ts";
import { Registry } from "../src/registry/registry.ts";
import { FsBlobStore } from "../src/registry/storage/fs-blob-store.ts";
import { startReestr } from "../test/helpers/reestr-process.ts";
import { median, now, percentile } from "./stats.ts";

const { values } = parseArgs({
  options: {
    repos: { type: "string", default: "10000" },
    tags: { type: "string", default: "10000" },
    runs: { type: "string", default: "20" },
    json: { type: "string" },
  },
});
const REPOS = Number(values.repos);
const TAGS = Number(values.tags);
const RUNS = Number(values.runs);
const BIG = "big/repo";

interface Timing {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  status: number;
}

function get(base: string, path: string): Promise<Timing> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const started = now();
    let ttfb = 0;
    const req = request(url, { agent: false }, (res) => {
      ttfb = now() - started;
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on("end", () =>
        resolve({ ttfbMs: ttfb, totalMs: now() - started, bytes, status: res.statusCode ?? 0 }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function fill(dataDir: string): Promise<void> {
  const blobs = await new FsBlobStore(dataDir).init();
  const metadata = new SqliteMetadataStore(join(dataDir, "metadata.sqlite"), { synchronous: "normal" });
  const registry = new Registry({ blobs, metadata, index: metadata });
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      created: "2024-01-01T00:00:00Z",
      rootfs: { type: "layers", diff_ids: [] },
    }),
  );
  const layer = Buffer.alloc(4096, 7);
  const one = async function* (data: Buffer) {
    yield data;
  };
  const configDigest = digestOf(config);
  const layerDigest = digestOf(layer);
  await registry.putBlob("seed/blobs", configDigest, one(config));
  await registry.putBlob("seed/blobs", layerDigest, one(layer));
  const manifest = (nonce: string) => {
    const content = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: configDigest,
          size: config.length,
        },
        layers: [
          {
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
            digest: layerDigest,
            size: layer.length,
          },
        ],
        annotations: { nonce },
      }),
    );
    return {
      digest: digestOf(content),
      mediaType: MediaType.OciManifest,
      content,
      blobs: [configDigest, layerDigest],
      children: [],
    };
  };
  const started = now();
  for (let i = 0; i < REPOS; i++) {
    const name = `team-${i % 100}/repo-${i}`;
    await metadata.linkBlob(name, configDigest, config.length);
    await metadata.linkBlob(name, layerDigest, layer.length);
    await metadata.putManifest(name, manifest(name), "latest");
    if (i % 1000 === 999) process.stderr.write(`  ${i + 1} repositories\r`);
  }
  await metadata.linkBlob(BIG, configDigest, config.length);
  await metadata.linkBlob(BIG, layerDigest, layer.length);
  for (let i = 0; i < TAGS; i++) {
    await metadata.putManifest(BIG, manifest(`tag-${i}`), `v${i}`);
    if (i % 1000 === 999) process.stderr.write(`  ${i + 1} tags        \r`);
  }
  process.stderr.write(`filled in ${((now() - started) / 1000).toFixed(1)} s                 \n`);
  await metadata.close();
}

async function measure(
  base: string,
  path: string,
): Promise<{ cold: Timing; ttfb: number[]; total: number[] }> {
  const cold = await get(base, path);
  if (cold.status !== 200) throw new Error(`${path}: HTTP ${cold.status}`);
  await get(base, path);
  const ttfb: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = await get(base, path);
    ttfb.push(t.ttfbMs);
    total.push(t.totalMs);
  }
  return { cold, ttfb, total };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "reestr-catalog-bench-"));
  const dataDir = join(root, "data");
  mkdirSync(dataDir);
  try {
    process.stderr.write(`filling ${REPOS} repositories and ${TAGS} tags of ${BIG}…\n`);
    await fill(dataDir);
    const server = await startReestr({ dataDir, extraArgs: ["--no-access-log"], readyTimeoutMs: 60_000 });
    try {
      const rows: {
        what: string;
        cold: number;
        median: number;
        p95: number;
        target?: number;
        bytes: number;
      }[] = [];
      const add = (
        what: string,
        r: Awaited<ReturnType<typeof measure>>,
        key: "ttfb" | "total",
        target?: number,
      ) => {
        rows.push({
          what,
          cold: key === "ttfb" ? r.cold.ttfbMs : r.cold.totalMs,
          median: median(r[key]),
          p95: percentile(r[key], 95),
          target,
          bytes: r.cold.bytes,
        });
      };
      add("GET /api/registries (TTFB, warm)", await measure(server.url, "/api/registries"), "ttfb", 500);
      add(
        "search repositories q=repo-42 (response)",
        await measure(server.url, "/api/registries/local/repositories?q=repo-42&pageSize=50"),
        "total",
        800,
      );
      add(
        "search repositories q=team-7/ sort=updated desc",
        await measure(server.url, "/api/registries/local/repositories?q=team-7%2F&sort=updated&order=desc"),
        "total",
        800,
      );
      add(
        "repositories page 100 of 200 (pageSize 50)",
        await measure(server.url, "/api/registries/local/repositories?page=100&pageSize=50"),
        "total",
      );
      add(
        `tags page 1 (100 of ${TAGS})`,
        await measure(
          server.url,
          `/api/registries/local/repositories/${encodeURIComponent(BIG)}/tags?pageSize=100`,
        ),
        "total",
      );
      add(
        `tags page 50 (100 of ${TAGS})`,
        await measure(
          server.url,
          `/api/registries/local/repositories/${encodeURIComponent(BIG)}/tags?pageSize=100&page=50`,
        ),
        "total",
      );
      add(
        `tags sorted by created (all ${TAGS} summarised)`,
        await measure(
          server.url,
          `/api/registries/local/repositories/${encodeURIComponent(BIG)}/tags?pageSize=100&sort=created&order=desc`,
        ),
        "total",
      );
      add(
        "storage of the registry (page 1)",
        await measure(server.url, "/api/registries/local/storage"),
        "total",
      );
      const width = Math.max(...rows.map((r) => r.what.length));
      console.log(
        `\nCatalogue benchmark: ${REPOS} repositories, ${TAGS} tags in ${BIG}; ${RUNS} runs after a warm-up (ms)\n`,
      );
      console.log(`${"".padEnd(width)}   cold  median     p95  target  ok`);
      for (const row of rows) {
        const ok = row.target === undefined ? "" : row.median < row.target ? "yes" : "NO";
        console.log(
          `${row.what.padEnd(width)} ${row.cold.toFixed(1).padStart(6)} ${row.median.toFixed(1).padStart(7)} ${row.p95
            .toFixed(1)
            .padStart(7)} ${row.target === undefined ? "      -" : String(row.target).padStart(7)}  ${ok}`,
        );
      }
      console.log(`\npeak RSS of reestr serve: ${((server.peakRssKiB() ?? 0) / 1024).toFixed(0)} MiB`);
      if (values.json) {
        mkdirSync(dirname(values.json), { recursive: true });
        writeFileSync(values.json, JSON.stringify({ repos: REPOS, tags: TAGS, runs: RUNS, rows }, null, 2));
      }
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
