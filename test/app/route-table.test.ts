/**
 * The route table against its access decisions: every route `reestr serve` mounts — read from
 * the server's router, not from a list kept here — is called by an anonymous caller, a user who
 * may only pull, and an administrator, and each must be answered only as far as that caller may
 * go, by the decision written down here (EXPECTED). The router already refuses a route without
 * an `access`; this test is the second key: a new route fails it until someone decides who may
 * call it, and a route whose declared access is wider than decided fails it too.
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
import { METHODS, type Route } from "../../src/http/router.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import { http, testServerConfig } from "../api/helpers.ts";
import { basic, pushImage } from "../auth/helpers.ts";
import { freePort } from "../helpers/reestr-process.ts";
import { InMemoryScanner } from "../watcher/in-memory-scanner.ts";

/**
 * Who may call each route, written down here independently of the routes' own declarations:
 *   public        anyone (the comment says why)
 *   signed-in     any known caller
 *   catalog       any known caller (the list is filtered by pull access)
 *   pull | push | delete   that action on the route's repository
 *   admin         registry administrators
 * A route missing from this table fails the test: a new route needs a decision here.
 */
type Decision = "public" | "signed-in" | "catalog" | "pull" | "push" | "delete" | "admin";
const EXPECTED: Record<string, Decision> = {
  "GET /healthz": "public", // liveness probes carry no credentials
  "GET /readyz": "public", // readiness probes carry no credentials
  "GET /metrics": "public", // Prometheus scrapes without credentials (aggregates only)
  "GET /api/status": "public", // aggregate counts, no repository names
  "GET /api/admin/quotas": "admin", // quota globs name repositories
  "GET /api": "public", // the list of endpoints
  "GET /v2/": "signed-in", // clients learn the auth scheme from this 401
  "* /v2/": "signed-in",
  "GET /v2/_catalog": "catalog",
  "* /v2/_catalog": "catalog",
  "GET /v2/{name+}/tags/list": "pull",
  "* /v2/{name+}/tags/list": "push",
  "GET /v2/{name+}/manifests/{reference}": "pull",
  "PUT /v2/{name+}/manifests/{reference}": "push",
  "DELETE /v2/{name+}/manifests/{reference}": "delete",
  "* /v2/{name+}/manifests/{reference}": "push",
  "POST /v2/{name+}/blobs/uploads/": "push",
  "* /v2/{name+}/blobs/uploads/": "push",
  "GET /v2/{name+}/blobs/uploads/{id}": "push",
  "PATCH /v2/{name+}/blobs/uploads/{id}": "push",
  "PUT /v2/{name+}/blobs/uploads/{id}": "push",
  "DELETE /v2/{name+}/blobs/uploads/{id}": "push",
  "* /v2/{name+}/blobs/uploads/{id}": "push",
  "GET /v2/{name+}/blobs/{digest}": "pull",
  "DELETE /v2/{name+}/blobs/{digest}": "delete",
  "* /v2/{name+}/blobs/{digest}": "push",
  "GET /v2/{name+}/referrers/{digest}": "pull",
  "* /v2/{name+}/referrers/{digest}": "push",
  "* /v2/{rest*}": "signed-in", // unknown endpoints: only to someone
  "GET /api/auth/session": "public", // tells a browser whether it is signed in
  "POST /api/auth/login": "public", // how one signs in
  "POST /api/auth/logout": "signed-in",
  "GET /api/auth/tokens": "signed-in",
  "POST /api/auth/tokens": "signed-in",
  "DELETE /api/auth/tokens/{id}": "signed-in",
  "GET /api/watch/registries": "public", // filtered to the entries the caller may see
  "GET /api/watch/registries/{name}": "pull", // the sample entry watches this server's team/app
  "GET /api/watch/registries/{name}/history": "pull",
  "POST /api/watch/registries/{name}/scan": "admin", // makes requests to the watched registry
  "GET /api/admin/scrub": "admin", // the last scrub's findings name repositories and digests
  "POST /api/admin/scrub": "admin", // reads every blob: an expensive operation
  "GET /api/registries": "public", // remote registries are shown to everyone
  "GET /api/registries/{id}": "public",
  "POST /api/registries/{id}/resync": "admin", // makes requests to the registry
  "GET /api/registries/{id}/repositories": "public", // filtered to what the caller may pull
  "GET /api/registries/{id}/repositories/{name}": "pull",
  "GET /api/registries/{id}/repositories/{name}/tags": "pull",
  "GET /api/registries/{id}/repositories/{name}/manifests/{reference}": "pull",
  "DELETE /api/registries/{id}/repositories/{name}/tags/{tag}": "delete",
  "DELETE /api/registries/{id}/repositories/{name}/manifests/{digest}": "delete",
  "GET /api/registries/{id}/storage": "public", // filtered to what the caller may pull
  "GET /api/storage": "public", // aggregate storage figures
  "GET /api/admin/gc": "admin", // garbage-collection runs: what was deleted where
  "POST /api/admin/gc": "admin", // deletes data
  "GET /api/openapi.json": "public", // the API's description
  "GET /api/admin/retention": "admin", // policies name repositories of every kind
  "POST /api/admin/retention": "admin", // a dry run lists every tag; a real run deletes
  "GET /api/admin/webhooks": "admin", // receivers' URLs and delivery state
  "GET /api/admin/webhooks/{endpoint}/deliveries": "admin", // events name repositories
  "* /api/{rest*}": "public", // answers 404 for unknown API paths
  "GET /{path*}": "public", // the web app's files; its data comes from the API
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
      // A webhook endpoint, so its routes are mounted (nothing listens there: deliveries back off).
      config: { notifications: { endpoints: [{ name: "hooks", url: "http://127.0.0.1:9/" }] } },
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
        endpoint: "hooks",
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

/** What this server's rules let each caller do (admin: everything; reader: pull; anonymous: nothing). */
function expectation(decision: Decision, who: Who): "allowed" | 401 | 403 {
  if (decision === "public" || who === "admin") return "allowed";
  if (who === "anonymous") return 401;
  return decision === "signed-in" || decision === "catalog" || decision === "pull" ? "allowed" : 403;
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

  test("every route has a decision written down in this test, and none is stale", () => {
    const keys = server.router.routes.map(key);
    const undecided = keys.filter((route) => !(route in EXPECTED));
    assert.deepEqual(undecided, [], "routes without an access decision: add them to EXPECTED");
    const stale = Object.keys(EXPECTED).filter((route) => !keys.includes(route));
    assert.deepEqual(stale, [], "EXPECTED names routes the server no longer has");
  });

  for (const who of CALLERS) {
    test(`${who}: refused where the access decision says, answered elsewhere`, async () => {
      const routes = server.router.routes;
      const wrong: string[] = [];
      for (const route of routes) {
        const params = sampleParams(route);
        const method = methodFor(route, routes);
        const path = concretePath(route, params);
        const decision = EXPECTED[key(route)];
        if (!decision) continue; // reported by the test above
        const expected = expectation(decision, who);
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
