/**
 * The catalogue API with the server's auth on (deletes need an authorized caller, like DELETE on
 * /v2) and with its cache in a real redis-server that dies while the API is in use.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { RegistrySummary, RepositoryPage, TagPage } from "../../src/catalog/api-schemas.ts";
import { CatalogSectionSchema, parseRegistries } from "../../src/catalog/registries-config.ts";
import { setupCatalog } from "../../src/catalog/setup.ts";
import { http, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { htpasswdEntry } from "../helpers/distribution.ts";
import { api, assertApiError, pushRemoteImage, waitForProbes } from "./helpers.ts";
import { type RedisProcess, startRedis } from "./redis.ts";

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("catalogue deletes with auth on", () => {
  let dir: string;
  let server: TestServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-catalog-auth-"));
    const htpasswd = join(dir, "htpasswd");
    await writeFile(htpasswd, `${htpasswdEntry("alice", "secret")}\n`);
    server = await startServer({ auth: { htpasswd, anonymousPull: true } });
    const auth = { Authorization: basic("alice", "secret") };
    for (const tag of ["a", "b"]) {
      // Pushes need credentials: go through /v2 with them.
      await pushRemoteImage(server.url, "team/app", tag, {
        credentials: { username: "alice", password: "secret" },
      });
    }
    assert.equal((await http(server, "GET", "/v2/", { headers: auth })).status, 200);
  });

  after(async () => {
    await server?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("the local registry reports basic auth; reads are open with anonymous pull", async () => {
    const local = await api<RegistrySummary>(server.url, "/api/registries/local");
    assert.equal(local.body.status.authMode, "basic");
    const tags = await api<TagPage>(server.url, "/api/registries/local/repositories/team%2Fapp/tags");
    assert.deepEqual(
      tags.body.items.map((t) => t.tag),
      ["a", "b"],
    );
  });

  test("a delete without credentials is 401 without a browser challenge; wrong ones 401; right ones 204", async () => {
    const anonymous = await api(server.url, "/api/registries/local/repositories/team%2Fapp/tags/a", "DELETE");
    assertApiError(anonymous, 401, "UNAUTHORIZED");
    assert.equal(anonymous.headers["www-authenticate"], undefined, "no browser password dialog");
    const wrong = await api(server.url, "/api/registries/local/repositories/team%2Fapp/tags/a", "DELETE", {
      Authorization: basic("alice", "nope"),
    });
    assertApiError(wrong, 401, "UNAUTHORIZED");
    const right = await http(server, "DELETE", "/api/registries/local/repositories/team%2Fapp/tags/a", {
      headers: { Authorization: basic("alice", "secret") },
    });
    assert.equal(right.status, 204, right.text());
    const tags = await api<TagPage>(server.url, "/api/registries/local/repositories/team%2Fapp/tags");
    assert.deepEqual(
      tags.body.items.map((t) => t.tag),
      ["b"],
    );
  });
});

describe("catalogue with its cache in Redis", () => {
  let redis: RedisProcess;
  let remote: TestServer;
  let server: TestServer;

  before(async () => {
    redis = await startRedis();
    remote = await startServer();
    await pushImage(remote, "lib/one", "1");
    await pushImage(remote, "lib/two", "2");
    server = await startServer({
      catalog: CatalogSectionSchema.parse({
        registries: [{ id: "remote", baseUrl: remote.url }],
        cache: { redisUrl: redis.url },
      }),
    });
    await waitForProbes(server.url);
  });

  after(async () => {
    await server?.cleanup();
    await remote?.cleanup();
    await redis?.stop();
  });

  test("answers from Redis, and keeps answering (with a warning) after Redis dies", async () => {
    assert.ok(
      server.logs.some((line) => line.includes("catalogue cache: redis")),
      "the catalogue uses redis",
    );
    const first = await api<RepositoryPage>(server.url, "/api/registries/remote/repositories");
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(
      first.body.items.map((r) => r.name),
      ["lib/one", "lib/two"],
    );
    // The listing went into Redis: a push to the remote is not seen until the ttl or a resync.
    await pushImage(remote, "lib/three", "3");
    const cached = await api<RepositoryPage>(server.url, "/api/registries/remote/repositories");
    assert.equal(cached.body.total, 2, "served from the cache");

    await redis.stop();
    for (const path of [
      "/api/registries",
      "/api/registries/remote/repositories",
      "/api/registries/remote/repositories/lib%2Fone/tags",
      "/api/registries/local/repositories",
      "/api/storage",
    ]) {
      const res = await api(server.url, path);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    const direct = await api<RepositoryPage>(server.url, "/api/registries/remote/repositories");
    assert.equal(direct.body.total, 3, "read directly from the registry");
    assert.ok(
      server.logs.some((line) => line.includes("cache") && line.includes('"level":"warn"')),
      "a cache warning was logged",
    );
  });
});

describe("a remote registry with token auth (bearer)", () => {
  let dir: string;
  let remote: TestServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-catalog-bearer-"));
    const htpasswd = join(dir, "htpasswd");
    await writeFile(htpasswd, `${htpasswdEntry("robot", "pat-secret-123")}\n`);
    remote = await startServer({ auth: { mode: "token", htpasswd } });
    await pushRemoteImage(remote.url, "team/app", "v1", {
      credentials: { username: "robot", password: "pat-secret-123" },
    });
  });

  after(async () => {
    await remote?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("the token is exchanged at the registry's token service; the auth mode is bearer", async () => {
    const setup = await setupCatalog({
      registries: parseRegistries([{ id: "tok", baseUrl: remote.url, auth: { type: "bearer" } }]),
      env: { REESTR_REGISTRY_TOK_TOKEN: "pat-secret-123", REESTR_REGISTRY_TOK_USERNAME: "robot" },
      waitForProbes: true,
    });
    try {
      const summary = await setup.catalog.getRegistry("tok");
      assert.equal(summary.status.state, "ok", summary.status.message ?? "");
      assert.equal(summary.status.authMode, "bearer");
      const tags = await setup.catalog.listTags("tok", "team/app", {
        sort: "name",
        order: "asc",
        page: 1,
        pageSize: 10,
      });
      assert.deepEqual(
        tags.items.map((t) => t.tag),
        ["v1"],
      );
      const wrong = await setupCatalog({
        registries: parseRegistries([{ id: "tok", baseUrl: remote.url, auth: { type: "bearer" } }]),
        env: { REESTR_REGISTRY_TOK_TOKEN: "nope-nope", REESTR_REGISTRY_TOK_USERNAME: "robot" },
        waitForProbes: true,
      });
      const refused = await wrong.catalog.getRegistry("tok");
      await wrong.close();
      assert.equal(refused.status.state, "auth_failed");
      assert.ok(!JSON.stringify(refused).includes("nope-nope"));
    } finally {
      await setup.close();
    }
  });
});
