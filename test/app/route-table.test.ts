/**
 * The route table against its access decisions: every route `reestr serve` mounts — read from
 * the server's router, not from a list kept here — is called by an anonymous caller, a user who
 * may only pull, and an administrator, and each must be answered only as far as that caller may
 * go. A route's `access` is required by the router; this test checks the pipeline enforces it
 * for every route there is, and that a route is public only by a decision written down here
 * (PUBLIC_ROUTES, with why), so a new route cannot slip in open.
 *
 * The server is real (basic auth over an htpasswd file, access rules, a watch entry on itself,
 * the catalogue), requests are real HTTP.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RunningServer, startServer } from "../../src/app/server.ts";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import type { AccessRecord, Caller } from "../../src/http/access.ts";
import type { RequestContext } from "../../src/http/context.ts";
import { METHODS, type Route } from "../../src/http/router.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import { http, testServerConfig } from "../api/helpers.ts";
import { basic, pushImage } from "../auth/helpers.ts";
import { freePort } from "../helpers/reestr-process.ts";
import { InMemoryScanner } from "../watcher/in-memory-scanner.ts";

/** Routes anyone may call, and why. Everything else must refuse someone. */
const PUBLIC_ROUTES: Record<string, string> = {
  "GET /healthz": "liveness probes carry no credentials",
  "GET /readyz": "readiness probes carry no credentials",
  "GET /metrics": "Prometheus scrapes without credentials (aggregates only)",
  "GET /api/status": "aggregate counts, no repository names",
  "GET /api": "the list of endpoints",
  "GET /api/auth/session": "tells a browser whether it is signed in",
  "POST /api/auth/login": "how one signs in",
  "GET /api/watch/registries": "filtered to the entries the caller may see",
  "GET /api/openapi.json": "the API's description",
  "GET /api/registries": "remote registries are shown to everyone (read with the server's credentials)",
  "GET /api/registries/{id}": "as the list",
  "GET /api/registries/{id}/repositories": "filtered to what the caller may pull",
  "GET /api/registries/{id}/storage": "filtered to what the caller may pull",
  "GET /api/storage": "aggregate storage figures",
  "* /api/{rest*}": "answers 404 for unknown API paths",
  "GET /{path*}": "the web app's files; its data comes from the API",
};

const USERS = { reader: "reader-pass", admin: "admin-pass" };
type Who = "anonymous" | keyof typeof USERS;
const CALLERS: Who[] = ["anonymous", "reader", "admin"];
const SAMPLE_DIGEST = `sha256:${"0".repeat(64)}`;

let dir: string;
let server: RunningServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-route-table-"));
  const htpasswd = join(dir, "htpasswd");
  await writeHtpasswd(
    htpasswd,
    new Map(
      await Promise.all(
        Object.entries(USERS).map(async ([user, pass]) => [user, await hashPassword(pass, 4)] as const),
      ),
    ),
  );
  const port = await freePort();
  const watch = parseWatchSection({
    registries: [
      { name: "self", url: `http://127.0.0.1:${port}`, repository: "team/app", scanInterval: 3600 },
    ],
  });
  const config = testServerConfig(
    {
      auth: {
        htpasswd,
        rules: [
          { subjects: ["user:admin"], repositories: ["**"], actions: ["admin"] },
          { subjects: ["user:reader"], repositories: ["**"], actions: ["pull"] },
        ],
      },
      watch,
    },
    join(dir, "data"),
    port,
  );
  server = await startServer(config, {
    logger: new JsonLogger({ level: "error" }),
    watchScanner: new InMemoryScanner(),
    watchInitialDelay: () => 3_600_000,
  });
  await pushImage(server.url, basic("admin", USERS.admin), "team/app", "latest");
});

after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const key = (route: Route) => `${route.method} ${route.path}`;

/** Values for a route's path parameters that reach its handler. */
function sampleParams(route: Route): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [, name] of route.path.matchAll(/\{(\w+)[+*]?\}/g)) {
    params[name!] = (
      {
        name: route.path.startsWith("/api/watch/") ? "self" : "team/app",
        reference: "latest",
        digest: SAMPLE_DIGEST,
        id: route.path.startsWith("/v2/")
          ? "6f1a9c8e-0b8a-4c51-9a7e-0d1f2e3c4b5a"
          : route.path.includes("tokens")
            ? "t1"
            : "local",
        tag: "latest",
        rest: "nope",
        path: "some/page",
      } as Record<string, string>
    )[name!]!;
  }
  return params;
}

function concretePath(route: Route, params: Record<string, string>): string {
  const inCatalogue = route.path.startsWith("/api/registries/");
  return route.path.replace(/\{(\w+)[+*]?\}/g, (_, name: string) =>
    inCatalogue ? encodeURIComponent(params[name]!) : params[name]!,
  );
}

/** For a `*` route: a method no other route of its path takes. */
function methodFor(route: Route, routes: readonly Route[]): string {
  if (route.method !== "*") return route.method;
  const taken = new Set(routes.filter((other) => other.path === route.path).map((other) => other.method));
  return METHODS.find((method) => method !== "HEAD" && method !== "GET" && !taken.has(method)) ?? "OPTIONS";
}

/** What the policy of this server lets each caller do with a route's access records. */
function allowedByPolicy(who: Who, records: readonly AccessRecord[]): boolean {
  if (who === "admin") return true;
  if (who === "anonymous") return records.length === 0;
  return records.every((record) =>
    record.type === "repository"
      ? record.actions.every((action) => action === "pull")
      : record.name === "catalog",
  );
}

/** The status a refused caller gets: 401 when it could sign in, 403 when it is known. */
function refusal(who: Who): number {
  return who === "anonymous" ? 401 : 403;
}

function expectation(route: Route, who: Who, params: Record<string, string>): "allowed" | number {
  const { access } = route;
  if (access === "public") return "allowed";
  if (access === "authenticated") return who === "anonymous" ? 401 : "allowed";
  if (access === "admin") return who === "admin" ? "allowed" : refusal(who);
  const records = access({ params, caller: { via: "anonymous" } as Caller } as unknown as RequestContext);
  return allowedByPolicy(who, records) ? "allowed" : refusal(who);
}

describe("every route of reestr serve answers only what the caller may do", () => {
  test("the route table is read from the server and is not empty", () => {
    const routes = server.router.routes;
    assert.ok(routes.length > 40, `${routes.length} routes`);
    for (const prefix of ["/v2/", "/api/registries", "/api/watch/registries", "/api/auth/", "/healthz"]) {
      assert.ok(
        routes.some((route) => route.path.startsWith(prefix)),
        prefix,
      );
    }
  });

  test("a route is public only by a decision written down in this test", () => {
    const publicRoutes = server.router.routes.filter((route) => route.access === "public").map(key);
    const undecided = publicRoutes.filter((route) => !(route in PUBLIC_ROUTES));
    assert.deepEqual(
      undecided,
      [],
      "public routes without a written reason: add them to PUBLIC_ROUTES or restrict them",
    );
    const stale = Object.keys(PUBLIC_ROUTES).filter((route) => !publicRoutes.includes(route));
    assert.deepEqual(stale, [], "PUBLIC_ROUTES names routes that are not public (any more)");
  });

  for (const who of CALLERS) {
    test(`${who}: refused where the access decision says, answered elsewhere`, async () => {
      const routes = server.router.routes;
      const wrong: string[] = [];
      for (const route of routes) {
        const params = sampleParams(route);
        const method = methodFor(route, routes);
        const path = concretePath(route, params);
        const expected = expectation(route, who, params);
        const headers = who === "anonymous" ? {} : basic(who, USERS[who]);
        const answer = await http(server.url, method, path, {
          headers: {
            ...headers,
            ...(method === "POST" || method === "PUT" ? { "Content-Type": "application/json" } : {}),
          },
          body: method === "POST" || method === "PUT" || method === "PATCH" ? "{}" : undefined,
        });
        const refused = answer.status === 401 || answer.status === 403;
        const ok = expected === "allowed" ? !refused : answer.status === expected;
        if (!ok)
          wrong.push(
            `${method} ${path} (${key(route)}): expected ${expected}, got ${answer.status} ${answer.text().slice(0, 120)}`,
          );
      }
      assert.deepEqual(wrong, []);
    });
  }
});
