/**
 * The benchmark's workloads (issue 2 §7). Each is plain HTTP against the OCI Distribution API,
 * so the same code runs against Reestr and against CNCF Distribution.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { promisify } from "node:util";
import type { Digest } from "../src/oci/digest.ts";
import { expectStatus, HttpTarget, nextLink, rawGetCount } from "./http.ts";
import {
  MANIFEST_ACCEPT,
  makeSmallImage,
  mountBlob,
  pushBlob,
  pushBlobChunked,
  pushImage,
  putManifest,
  type SmallImage,
} from "./oci.ts";
import { median, now, percentile, runPool } from "./stats.ts";

export interface Sizes {
  /** Concurrent small-image pushes (default 100). */
  pushes: number;
  /** Sequential single-image pushes (default 200). */
  sequential: number;
  /** Bytes of each layer of the small images (default 4 KiB). */
  smallLayerBytes: number;
  /** The big blob (default 256 MiB). */
  blobBytes: number;
  /** PATCH chunk size of the chunked push (default 16 MiB). */
  chunkBytes: number;
  /** Pulls of the big blob; the median is reported (default 3). */
  pullRepeats: number;
  /** Rounds of the big-blob pushes (new bytes each round); the median is reported (default 3). */
  blobRounds: number;
  /** Manifest GET (and HEAD) requests (default 20,000). */
  manifestRequests: number;
  /** Their concurrency (default 32). */
  concurrency: number;
  /** Tags of the tags-list repository (default 5,000). */
  tags: number;
  /** Repositories in the catalog (default 2,000). */
  repos: number;
  /** Timed repetitions of tags list and catalog, after one warm-up; the median is reported (default 5). */
  listRepeats: number;
}

export const MiB = 1024 * 1024;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** Default sizes, scaled by BENCH_SCALE, each overridable by its own variable. */
export function sizesFromEnv(): Sizes {
  const scale = envNumber("BENCH_SCALE", 1);
  const n = (name: string, base: number, min = 1) => Math.max(min, Math.round(envNumber(name, base * scale)));
  return {
    pushes: n("BENCH_PUSHES", 100),
    sequential: n("BENCH_SEQUENTIAL", 200),
    smallLayerBytes: Math.round(envNumber("BENCH_SMALL_LAYER_BYTES", 4096)),
    blobBytes: Math.round(n("BENCH_BLOB_MIB", 256) * MiB),
    chunkBytes: Math.round(n("BENCH_CHUNK_MIB", 16) * MiB),
    pullRepeats: Math.round(envNumber("BENCH_PULL_REPEATS", 5)),
    blobRounds: Math.max(1, Math.round(envNumber("BENCH_BLOB_ROUNDS", 3))),
    manifestRequests: n("BENCH_MANIFEST_REQUESTS", 20_000),
    concurrency: Math.round(envNumber("BENCH_CONCURRENCY", 32)),
    tags: n("BENCH_TAGS", 5000),
    repos: n("BENCH_REPOS", 2000, 2),
    listRepeats: Math.round(envNumber("BENCH_LIST_REPEATS", 5)),
  };
}

/** Runs `fn` with a fresh keep-alive client, destroyed afterwards (idle sockets never outlive a workload). */
export async function withTarget<T>(url: string, fn: (target: HttpTarget) => Promise<T>): Promise<T> {
  const target = new HttpTarget(url);
  try {
    return await fn(target);
  } finally {
    target.close();
  }
}

const pad = (i: number, width = 5) => String(i).padStart(width, "0");

// ---------------------------------------------------------------- catalog

export async function preloadCatalog(target: HttpTarget, repos: number, layerBytes: number): Promise<void> {
  const source = `catalog/repo-${pad(0)}`;
  const image = makeSmallImage("catalog", 1, layerBytes);
  await pushImage(target, source, "v1", image);
  await runPool(repos - 1, 16, async (i) => {
    const repo = `catalog/repo-${pad(i + 1)}`;
    for (const blob of [image.config, ...image.layers]) {
      if (!(await mountBlob(target, repo, blob.digest, source))) await pushBlob(target, repo, blob, false);
    }
    await putManifest(target, repo, "v1", image.manifest);
  });
}

export interface ListResult {
  ms: number;
  entries: number;
  pages: number;
  pageSize: number | undefined;
}

/** GETs every page of the catalog, following Link; answers the entries and pages. */
async function fetchCatalog(target: HttpTarget, pageSize: number | undefined) {
  let path: string | undefined = pageSize === undefined ? "/v2/_catalog" : `/v2/_catalog?n=${pageSize}`;
  let entries = 0;
  let pages = 0;
  while (path && pages < 10_000) {
    const res = await target.request("GET", path);
    if (res.status !== 200) return { status: res.status, entries, pages, body: res };
    entries += (JSON.parse(res.body.toString("utf8")) as { repositories: string[] }).repositories.length;
    pages++;
    path = nextLink(target, res.headers.link);
  }
  return { status: 200, entries, pages, body: undefined };
}

/**
 * The whole catalog, asking for `wanted` entries per page; a registry that refuses that page
 * size (Distribution 2.8 answers 400 PAGINATION_NUMBER_INVALID above its maximum of 1,000) is
 * asked again with smaller pages, and every page is fetched following Link.
 */
export async function measureCatalog(
  target: HttpTarget,
  wanted: number,
  repeats: number,
): Promise<ListResult> {
  let pageSize: number | undefined = wanted;
  for (;;) {
    const probe = await fetchCatalog(target, pageSize);
    if (probe.status === 200) break;
    if (probe.status === 400 && pageSize !== undefined && pageSize > 100) {
      pageSize = pageSize > 1000 ? 1000 : 100;
      continue;
    }
    throw new Error(`catalog: HTTP ${probe.status} ${probe.body?.body.toString("utf8").slice(0, 300)}`);
  }
  const times: number[] = [];
  let last = { entries: 0, pages: 0 };
  for (let r = 0; r < repeats; r++) {
    const t0 = now();
    const result = await fetchCatalog(target, pageSize);
    times.push(now() - t0);
    if (result.status !== 200) throw new Error(`catalog: HTTP ${result.status}`);
    last = result;
  }
  return { ms: median(times), entries: last.entries, pages: last.pages, pageSize };
}

// ---------------------------------------------------------------- tags list

export const TAGS_REPO = "tags/many";

export async function preloadTags(target: HttpTarget, tags: number, layerBytes: number): Promise<void> {
  const image = makeSmallImage("tags", 1, layerBytes);
  await pushImage(target, TAGS_REPO, `t${pad(0)}`, image);
  await runPool(tags - 1, 16, (i) => putManifest(target, TAGS_REPO, `t${pad(i + 1)}`, image.manifest));
}

async function fetchTags(target: HttpTarget): Promise<{ entries: number; pages: number }> {
  let path: string | undefined = `/v2/${TAGS_REPO}/tags/list`;
  let entries = 0;
  let pages = 0;
  while (path && pages < 10_000) {
    const res = expectStatus("tags list", await target.request("GET", path), 200);
    entries += ((JSON.parse(res.body.toString("utf8")) as { tags: string[] | null }).tags ?? []).length;
    pages++;
    path = nextLink(target, res.headers.link);
  }
  return { entries, pages };
}

export async function measureTags(target: HttpTarget, repeats: number): Promise<ListResult> {
  await fetchTags(target); // warm-up
  const times: number[] = [];
  let last = { entries: 0, pages: 0 };
  for (let r = 0; r < repeats; r++) {
    const t0 = now();
    last = await fetchTags(target);
    times.push(now() - t0);
  }
  return { ms: median(times), entries: last.entries, pages: last.pages, pageSize: undefined };
}

// ---------------------------------------------------------------- manifest GET / HEAD

export const HOT_REPO = "manifest/hot";

export async function preloadHotManifest(target: HttpTarget, layerBytes: number): Promise<void> {
  await pushImage(target, HOT_REPO, "latest", makeSmallImage("hot", 2, layerBytes));
}

export interface LoadResult {
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
}

export async function manifestLoad(
  target: HttpTarget,
  method: "GET" | "HEAD",
  requests: number,
  concurrency: number,
): Promise<LoadResult> {
  const path = `/v2/${HOT_REPO}/manifests/latest`;
  const headers = { accept: MANIFEST_ACCEPT };
  const one = async () => {
    const res = await target.request(method, path, { headers });
    if (res.status !== 200)
      throw new Error(`${method} ${path}: HTTP ${res.status} ${res.body.toString("utf8")}`);
  };
  await runPool(Math.min(2000, requests), concurrency, one); // warm-up: connections, JIT, caches
  const { latencies, wallMs } = await runPool(requests, concurrency, one);
  return {
    requests,
    reqPerSec: (requests / wallMs) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

// ---------------------------------------------------------------- image pushes

export interface PushResult {
  images: number;
  wallMs: number;
  p50: number;
  p99: number;
}

export function makeImages(prefix: string, count: number, layerBytes: number): SmallImage[] {
  return Array.from({ length: count }, (_, i) => makeSmallImage(`${prefix}-${i}`, 2, layerBytes));
}

/** All images pushed at once, each to its own repository. */
export async function concurrentPushes(target: HttpTarget, images: SmallImage[]): Promise<PushResult> {
  const { latencies, wallMs } = await runPool(images.length, images.length, (i) =>
    pushImage(target, `push/concurrent-${pad(i, 3)}`, "v1", images[i]!),
  );
  return { images: images.length, wallMs, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** One image after the other, to one repository under distinct tags. */
export async function sequentialPushes(target: HttpTarget, images: SmallImage[]): Promise<PushResult> {
  const { latencies, wallMs } = await runPool(images.length, 1, (i) =>
    pushImage(target, "push/sequential", `v${i}`, images[i]!),
  );
  return { images: images.length, wallMs, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

// ---------------------------------------------------------------- big blob

/** Fast incompressible test data (the CSPRNG fills several GB/s). */
export function randomBuffer(bytes: number): Buffer {
  const buffer = Buffer.allocUnsafe(bytes);
  for (let offset = 0; offset < bytes; offset += 64 * MiB) {
    randomFillSync(buffer, offset, Math.min(64 * MiB, bytes - offset));
  }
  return buffer;
}

export interface ThroughputResult {
  bytes: number;
  ms: number;
  mbPerSec: number;
}

const execFileAsync = promisify(execFile);

const throughput = (bytes: number, ms: number): ThroughputResult => ({
  bytes,
  ms,
  mbPerSec: bytes / 1e6 / (ms / 1000),
});

export async function blobPushMonolithic(
  target: HttpTarget,
  repo: string,
  data: Buffer,
  digest: Digest,
): Promise<ThroughputResult> {
  const t0 = now();
  await pushBlob(
    target,
    repo,
    { data, digest, size: data.length, mediaType: "application/octet-stream" },
    false,
  );
  return throughput(data.length, now() - t0);
}

export async function blobPushChunked(
  target: HttpTarget,
  repo: string,
  data: Buffer,
  digest: Digest,
  chunkBytes: number,
): Promise<ThroughputResult> {
  const t0 = now();
  await pushBlobChunked(target, repo, data, digest, chunkBytes);
  return throughput(data.length, now() - t0);
}

/**
 * One pull timed by curl when it is installed: a Node client tops out near the speed of the
 * faster server and would measure itself; curl (C, one copy into /dev/null) measures the servers.
 */
export async function blobPullOnce(
  target: HttpTarget,
  repo: string,
  digest: Digest,
  size: number,
): Promise<number> {
  const url = `${target.baseUrl}/v2/${repo}/blobs/${digest}`;
  if (hasCurl()) {
    const { stdout } = await execFileAsync("curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{size_download} %{time_total}",
      url,
    ]);
    const [status, bytes, seconds] = stdout.trim().split(" ").map(Number);
    if (status !== 200 || bytes !== size)
      throw new Error(`GET blob ${digest}: HTTP ${status}, ${bytes} of ${size} bytes`);
    return size / 1e6 / seconds!;
  }
  const t0 = now();
  const res = await rawGetCount(target, `/v2/${repo}/blobs/${digest}`);
  if (res.status !== 200 || res.bytes !== size) {
    throw new Error(`GET blob ${digest}: HTTP ${res.status}, ${res.bytes} of ${size} bytes`);
  }
  return size / 1e6 / ((now() - t0) / 1000);
}

let curlAvailable: boolean | undefined;
export function hasCurl(): boolean {
  if (curlAvailable === undefined) {
    try {
      execFileSync("curl", ["--version"], { stdio: "ignore" });
      curlAvailable = true;
    } catch {
      curlAvailable = false;
    }
  }
  return curlAvailable;
}
