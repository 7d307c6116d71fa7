/**
 * `node bench/pull-stats.bench.ts`: what counting pulls costs the pull path. Two `reestr serve`
 * processes on loopback, one with pull statistics (the default) and one with
 * `storage.pullStats: false`, get the same manifest GETs by tag (the manifest workload of
 * bench/registry.bench.ts); rounds alternate which goes first. Prints the median req/s and p99
 * of each and the ratio, then checks that the counting server counted every GET.
 *
 *   node bench/pull-stats.bench.ts [--requests 20000] [--concurrency 32] [--rounds 3]
 */
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startReestr } from "../test/helpers/reestr-process.ts";
import { HttpTarget } from "./http.ts";
import { median } from "./stats.ts";
import { HOT_REPO, type LoadResult, manifestLoad, preloadHotManifest } from "./workloads.ts";

const { values: args } = parseArgs({
  options: { requests: { type: "string" }, concurrency: { type: "string" }, rounds: { type: "string" } },
});
const REQUESTS = Number(args.requests ?? 20_000);
const CONCURRENCY = Number(args.concurrency ?? 32);
const ROUNDS = Number(args.rounds ?? 3);

const offConfig = join(tmpdir(), `reestr-pull-stats-off-${process.pid}.yaml`);
await writeFile(offConfig, "storage:\n  pullStats: false\n");
const sides = [
  { name: "pull stats on", server: await startReestr() },
  { name: "pull stats off", server: await startReestr({ extraArgs: ["--config", offConfig] }) },
];
try {
  const targets = sides.map((side) => new HttpTarget(side.server.url));
  for (const target of targets) await preloadHotManifest(target, 4096);
  const results: LoadResult[][] = sides.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) results[i]!.push(await manifestLoad(targets[i]!, "GET", REQUESTS, CONCURRENCY));
  }
  const summary = sides.map((side, i) => ({
    side: side.name,
    reqPerSec: Math.round(median(results[i]!.map((r) => r.reqPerSec))),
    p99Ms: Number(median(results[i]!.map((r) => r.p99)).toFixed(2)),
  }));
  console.table(summary);
  console.log(`ratio on/off: ${(summary[0]!.reqPerSec / summary[1]!.reqPerSec).toFixed(3)}`);

  // Every GET (warm-ups included) is counted once the last batch is written (within a second).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const tags = await targets[0]!.request(
    "GET",
    `/api/registries/local/repositories/${encodeURIComponent(HOT_REPO)}/tags`,
  );
  const counted = (JSON.parse(tags.body.toString("utf8")) as { items: { pulls: number }[] }).items[0]?.pulls;
  const sent = ROUNDS * (REQUESTS + Math.min(2000, REQUESTS));
  console.log(`pulls counted: ${counted} of ${sent} GETs`);
  for (const target of targets) target.agent.destroy();
} finally {
  for (const side of sides) await side.server.cleanup();
  await rm(offConfig, { force: true });
}
