/**
 * `npm run bench:router`: the cost of routing one request on the registry's hottest path
 * (`GET /v2/<name>/manifests/<tag>`), in one run:
 *
 * - Reestr's router (src/http/router.ts) over the whole route table of `reestr serve`, and the
 *   access records the route declares (what the pipeline computes before authorizing);
 * - the matcher it replaced (a list of end-anchored regular expressions, `matchV2`, plus the
 *   `requestNeeds` mapping to permissions), loaded from an earlier checkout with `--baseline`;
 * - find-my-way, the router Fastify uses: it matches parameters within one path segment, so a
 *   repository name with slashes (`team/app/api`) needs a `/v2/*` wildcard and the v2 matcher
 *   after it — which is why Reestr has its own router.
 *
 *   node bench/router.bench.ts [--baseline <checkout>] [--iterations 1000000]
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import findMyWay from "find-my-way";
import { startServer } from "../src/app/server.ts";
import { ConfigSchema } from "../src/config/config.ts";
import { OPEN_ACCESS } from "../src/http/access.ts";
import type { RequestContext } from "../src/http/context.ts";
import { Router } from "../src/http/router.ts";
import { createV2Module } from "../src/registry/http/v2.ts";
import type { Registry } from "../src/registry/registry.ts";
import { JsonLogger } from "../src/util/logger.ts";
import { MetricsRegistry } from "../src/util/prometheus.ts";
import { median } from "./stats.ts";

const { values: args } = parseArgs({
  options: { baseline: { type: "string" }, iterations: { type: "string" } },
});
const ITERATIONS = Number(args.iterations ?? 1_000_000);
const PATHS = [
  "/v2/team/app/manifests/latest",
  "/v2/library/nginx/manifests/1.27.3",
  "/v2/a/b/c/d/manifests/sha256:abc",
];

/** Nanoseconds per call of `work`, the median of 5 rounds (after a warm-up round). */
function nsPerOp(work: (path: string) => unknown): number {
  const rounds: number[] = [];
  for (let round = 0; round < 6; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) work(PATHS[i % PATHS.length]!);
    const ns = Number(process.hrtime.bigint() - started) / ITERATIONS;
    if (round > 0) rounds.push(ns);
  }
  return median(rounds);
}

// Reestr: the route table of a real `reestr serve` (started and stopped at once).
const dir = await mkdtemp(join(tmpdir(), "reestr-router-bench-"));
const server = await startServer(ConfigSchema.parse({ port: 0, dataDir: dir, log: { accessLog: false } }), {
  logger: new JsonLogger({ level: "error" }),
});
const router: Router = server.router;
await server.close();
await rm(dir, { recursive: true, force: true });
const results: [string, number][] = [];
results.push([
  `Reestr router (${router.routes.length} routes) + access records`,
  nsPerOp((path) => {
    const match = router.match("GET", path);
    if (match.kind === "route" && typeof match.route.access === "function") {
      match.route.access({ params: match.params } as RequestContext);
    }
  }),
]);

// find-my-way with a /v2/* wildcard, then the v2 module's own table for the rest of the path.
const fmw = findMyWay();
const v2Only = new Router().add(
  ...createV2Module({ registry: {} as Registry, access: OPEN_ACCESS, metrics: new MetricsRegistry() }).routes,
);
fmw.on("GET", "/v2/*", () => {});
fmw.on("GET", "/healthz", () => {});
fmw.on("GET", "/api/registries/:id/repositories/:name", () => {});
results.push([
  "find-my-way /v2/* + the v2 table",
  nsPerOp((path) => {
    if (fmw.find("GET", path)) v2Only.match("GET", path);
  }),
]);

if (args.baseline) {
  const root = resolve(args.baseline);
  const { matchV2 } = (await import(join(root, "src/registry/http/v2-routes.ts"))) as {
    matchV2: (path: string) => unknown;
  };
  const { requestNeeds } = (await import(join(root, "src/auth/scope.ts"))) as {
    requestNeeds: (route: unknown, method: string, query: URLSearchParams) => unknown;
  };
  const query = new URLSearchParams();
  results.push([
    "before: prefix check + matchV2 + requestNeeds",
    nsPerOp((path) => {
      if (path === "/v2" || path.startsWith("/v2/")) requestNeeds(matchV2(path), "GET", query);
    }),
  ]);
}

const reference = results[0]![1];
console.log(
  `routing GET /v2/<name>/manifests/<reference>, ${ITERATIONS.toLocaleString("en-US")} calls a round, median of 5`,
);
for (const [label, ns] of results) {
  console.log(
    `  ${label.padEnd(52)} ${ns.toFixed(0).padStart(6)} ns/request   ${(ns / reference).toFixed(2)}× Reestr's`,
  );
}
