/**
 * Access rules on an in-process server, basic and token mode: UNAUTHORIZED for missing or wrong
 * credentials versus DENIED for users the rules refuse, the catalog filtered to what the caller
 * may pull with correct pagination (`n`, `last`, Link), and cross-repository mounts that need
 * pull on the source (without it the mount becomes a plain upload, never a copy). Also: credentials
 * limited to some actions (AuthResult.actions) in both modes, and the catalog filter reading on
 * over several store batches when long runs of names are hidden.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AuthSettings } from "../../src/auth/auth-config.ts";
import type { Authenticator } from "../../src/auth/authenticator.ts";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { ALLOWED } from "../../src/http/access.ts";
import type { RequestContext } from "../../src/http/context.ts";
import { parseBasicAuth } from "../../src/http/credentials.ts";
import { RegistryError } from "../../src/oci/errors.ts";
import { createV2Module } from "../../src/registry/http/v2.ts";
import type { Registry } from "../../src/registry/registry.ts";
import { MetricsRegistry } from "../../src/util/prometheus.ts";
import { assertError, http, startServer, type TestServer } from "../api/helpers.ts";
import { accessOf, basic, bearer, fetchToken, pushImage } from "./helpers.ts";

const PASSWORD = "rules-pass";
const USERS = ["admin", "alice", "bob"];

let dir = "";
let htpasswd = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-rules-"));
  htpasswd = join(dir, "htpasswd");
  const hash = await hashPassword(PASSWORD, 4);
  await writeHtpasswd(htpasswd, new Map(USERS.map((user) => [user, hash])));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const AUTH: AuthSettings = {
  groups: { admins: ["admin"], dev: ["alice"] },
  rules: [
    { subjects: ["group:admins"], repositories: ["**"], actions: ["admin"] },
    { subjects: ["group:dev"], repositories: ["team/**"], actions: ["push"] },
    { subjects: ["user:bob"], repositories: ["bob/*"], actions: ["push"] },
    { subjects: ["anonymous", "authenticated"], repositories: ["pub/*"], actions: ["pull"] },
  ],
};

/** Repositories pushed by admin: 12 under team/, 3 under pub/, 4 under bob/, 5 under zz/. */
const REPOS = [
  ...Array.from({ length: 12 }, (_, i) => `team/app${String(i).padStart(2, "0")}`),
  "pub/a",
  "pub/b",
  "pub/c",
  ...Array.from({ length: 4 }, (_, i) => `bob/r${i}`),
  ...Array.from({ length: 5 }, (_, i) => `zz/r${i}`),
].sort();

for (const mode of ["basic", "token"] as const) {
  describe(`rules, ${mode} mode`, () => {
    let server: TestServer;
    let layerOfTeam = "";

    /** Credentials for `user` good for the request's needs (a token in token mode). */
    async function as(user: string | undefined, scopes: string[]): Promise<Record<string, string>> {
      const credentials = user === undefined ? undefined : basic(user, PASSWORD);
      if (mode === "basic") return credentials ?? {};
      return bearer(await fetchToken(server, scopes, credentials));
    }

    before(async () => {
      server = await startServer({ auth: { mode, htpasswd, ...AUTH } });
      for (const repo of REPOS) {
        const image = await pushImage(server, await as("admin", [`repository:${repo}:push`]), repo, "v1");
        if (repo === "team/app00") layerOfTeam = image.layer;
      }
    });
    after(() => server.cleanup());

    /** Every page of the catalog for `user`, following Link headers; returns names and page count. */
    async function catalog(user: string | undefined, n: number): Promise<{ names: string[]; pages: number }> {
      const headers = await as(user, ["registry:catalog:*"]);
      const names: string[] = [];
      let path: string | undefined = `/v2/_catalog?n=${n}`;
      let pages = 0;
      while (path && pages < 100) {
        const res = await http(server, "GET", path, { headers });
        assert.equal(res.status, 200, res.text());
        const page = res.json<{ repositories: string[] }>().repositories;
        assert.ok(page.length <= n, `page of ${page.length} > n=${n}`);
        names.push(...page);
        pages++;
        const link = res.header("link");
        path = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
      }
      return { names, pages };
    }

    test("the catalog lists only what the caller may pull, over correct pages", async () => {
      const expectations: [string | undefined, string[]][] = [
        ["admin", REPOS],
        ["alice", REPOS.filter((r) => r.startsWith("team/") || r.startsWith("pub/"))],
        ["bob", REPOS.filter((r) => r.startsWith("bob/") || r.startsWith("pub/"))],
        [undefined, ["pub/a", "pub/b", "pub/c"]],
      ];
      for (const [user, expected] of expectations) {
        for (const n of [1, 2, 5, 1000]) {
          const { names, pages } = await catalog(user, n);
          assert.deepEqual(names, expected, `${user ?? "anonymous"} n=${n}`);
          assert.equal(
            pages,
            Math.max(1, Math.ceil(expected.length / n)),
            `${user ?? "anonymous"} n=${n} pages`,
          );
        }
      }
      // `last` past hidden names still continues with the next visible one.
      const headers = await as("bob", ["registry:catalog:*"]);
      const res = await http(server, "GET", "/v2/_catalog?n=2&last=bob/r3", { headers });
      assert.deepEqual(res.json<{ repositories: string[] }>().repositories, ["pub/a", "pub/b"]);
    });

    test("UNAUTHORIZED without credentials, DENIED for users the rules refuse", async () => {
      // Anonymous: pub/* only; everything else asks to log in.
      assert.equal(
        (
          await http(server, "GET", "/v2/pub/a/tags/list", {
            headers: await as(undefined, ["repository:pub/a:pull"]),
          })
        ).status,
        200,
      );
      const anonymous = await http(server, "GET", "/v2/team/app00/tags/list", {
        headers: await as(undefined, ["repository:team/app00:pull"]),
      });
      assertError(anonymous, 401, "UNAUTHORIZED");
      assert.ok(anonymous.header("www-authenticate"));
      // bob may not read team/**; alice may push there but not delete.
      const bobPull = await http(server, "GET", "/v2/team/app00/tags/list", {
        headers: await as("bob", ["repository:team/app00:pull"]),
      });
      const [error] = assertError(bobPull, 403, "DENIED");
      assert.deepEqual(error!.detail, { Type: "repository", Name: "team/app00", Action: "pull" });
      assert.equal(bobPull.header("www-authenticate"), undefined);
      const aliceDelete = await http(server, "DELETE", "/v2/team/app00/manifests/v1", {
        headers: await as("alice", ["repository:team/app00:delete"]),
      });
      assertError(aliceDelete, 403, "DENIED");
      // Wrong password: 401, never 403.
      if (mode === "basic") {
        assertError(
          await http(server, "GET", "/v2/pub/a/tags/list", { headers: basic("bob", "wrong") }),
          401,
          "UNAUTHORIZED",
        );
      } else {
        const res = await http(server, "GET", "/auth/token?service=reestr", {
          headers: basic("bob", "wrong"),
        });
        assertError(res, 401, "UNAUTHORIZED");
      }
    });

    test("a cross-repository mount needs pull on the source; without it, a plain upload", async () => {
      // bob may push bob/*, but may not pull team/**: the mount is not done, an upload starts.
      const bobHeaders = await as("bob", ["repository:bob/new:pull,push", "repository:team/app00:pull"]);
      const refused = await http(
        server,
        "POST",
        `/v2/bob/new/blobs/uploads/?mount=${layerOfTeam}&from=team/app00`,
        { headers: bobHeaders },
      );
      assert.equal(refused.status, 202, refused.text());
      assert.match(refused.header("location") ?? "", /\/v2\/bob\/new\/blobs\/uploads\//);
      const head = await http(server, "HEAD", `/v2/bob/new/blobs/${layerOfTeam}`, { headers: bobHeaders });
      assert.equal(head.status, 404, "the blob was not mounted");
      // alice may pull team/app00 and push team/**: mounted.
      const aliceHeaders = await as("alice", ["repository:team/new:pull,push", "repository:team/app00:pull"]);
      const mounted = await http(
        server,
        "POST",
        `/v2/team/new/blobs/uploads/?mount=${layerOfTeam}&from=team/app00`,
        { headers: aliceHeaders },
      );
      assert.equal(mounted.status, 201, mounted.text());
      assert.equal(
        (await http(server, "HEAD", `/v2/team/new/blobs/${layerOfTeam}`, { headers: aliceHeaders })).status,
        200,
      );
    });
  });
}

describe("credentials limited to some actions (AuthResult.actions, e.g. personal access tokens)", () => {
  /** "alice" with password "full" is alice; with "pull-only" she is limited to pull. */
  const authenticator: Authenticator = {
    async authenticate(req) {
      const credentials = parseBasicAuth(req.headers.authorization);
      if (credentials === undefined) return undefined;
      if (credentials?.user === "alice" && credentials.password === "full") return { user: "alice" };
      if (credentials?.user === "alice" && credentials.password === "pull-only")
        return { user: "alice", actions: ["pull"] };
      throw new RegistryError("UNAUTHORIZED", "invalid username or password");
    },
  };
  for (const mode of ["basic", "token"] as const) {
    test(`${mode} mode: the limit narrows what the rules allow`, async () => {
      const server = await startServer({ auth: { mode, authenticator } });
      try {
        const as = async (password: string, scope: string) =>
          mode === "basic"
            ? basic("alice", password)
            : bearer(await fetchToken(server, [scope], basic("alice", password)));
        await pushImage(server, await as("full", "repository:team/app:pull,push"), "team/app", "v1");
        const pull = await http(server, "GET", "/v2/team/app/tags/list", {
          headers: await as("pull-only", "repository:team/app:pull"),
        });
        assert.equal(pull.status, 200);
        const limited = await as("pull-only", "repository:team/app:pull,push");
        const push = await http(server, "POST", "/v2/team/app/blobs/uploads/", { headers: limited });
        assert.ok(
          push.status === 403 || push.status === 401,
          `push with pull-only credentials: ${push.status}`,
        );
        if (mode === "token") {
          assert.deepEqual(accessOf(limited.Authorization!.slice(7)), [
            { type: "repository", name: "team/app", actions: ["pull"] },
          ]);
        } else {
          assertError(push, 403, "DENIED");
        }
      } finally {
        await server.cleanup();
      }
    });
  }
});

describe("catalog filtering across store batches", () => {
  /** The /v2 module over a fake registry of 2,600 names; the caller sees every 700th. */
  const names = Array.from({ length: 2600 }, (_, i) => `r/${String(i).padStart(5, "0")}`);
  const visible = new Set(names.filter((_, i) => i % 700 === 0));
  let reads = 0;
  const registry = {
    async catalog(page: { last?: string; limit: number }) {
      reads++;
      const start = page.last === undefined ? 0 : names.findIndex((name) => name > page.last!);
      return start === -1 ? [] : names.slice(start, start + page.limit);
    },
  } as unknown as Registry;
  const v2 = createV2Module({
    registry,
    metrics: new MetricsRegistry(),
    access: { authorize: () => ALLOWED, pullFilter: () => (name) => visible.has(name) },
  });
  const catalog = v2.routes.find((route) => route.name === "catalog" && route.method === "GET")!;

  async function page(query: string): Promise<{ repositories: string[]; link: string | undefined }> {
    let status = 0;
    let headers: Record<string, string | number> = {};
    let body = "";
    const ctx = {
      req: { method: "GET", headers: {} },
      res: {
        writeHead(code: number, h: Record<string, string | number>) {
          status = code;
          headers = h;
        },
        end(text?: string) {
          body = text ?? "";
        },
      },
      query: new URLSearchParams(query),
      caller: { via: "anonymous" },
    } as unknown as RequestContext;
    await catalog.handle(ctx);
    assert.equal(status, 200);
    return { repositories: JSON.parse(body).repositories, link: headers["Link"] as string | undefined };
  }

  test("pages of visible names, reading on past long hidden runs", async () => {
    const all: string[] = [];
    let query = "n=1";
    for (let i = 0; i < 10 && query; i++) {
      const { repositories, link } = await page(query);
      all.push(...repositories);
      query = link ? (/\?([^>]+)>/.exec(link)?.[1] ?? "") : "";
    }
    assert.deepEqual(all, [...visible]);
    assert.ok(reads > 4, "several store batches were read");
    assert.deepEqual((await page("n=0")).repositories, []);
    assert.deepEqual((await page(`n=2&last=${encodeURIComponent("r/00700")}`)).repositories, [
      "r/01400",
      "r/02100",
    ]);
  });
});
