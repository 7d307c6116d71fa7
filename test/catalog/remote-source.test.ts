/**
 * RemoteRegistrySource's probe (auth mode, catalog, referrers, OpenAPI operations check) against a
 * real Reestr, and setupCatalog's registries taken from the watcher's entries.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { MemoryCache } from "../../src/catalog/cache.ts";
import { Catalog } from "../../src/catalog/catalog.ts";
import { parseRegistries } from "../../src/catalog/registries-config.ts";
import { missingOperations, RemoteRegistrySource } from "../../src/catalog/remote-source.ts";
import { setupCatalog } from "../../src/catalog/setup.ts";
import { SqliteWatchStore } from "../../src/watcher/store.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import { pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { recordingLogger } from "../helpers/recording-logger.ts";
import { freePort } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

describe("missingOperations", () => {
  test("finds the catalogue's operations by path or operationId, GET only", () => {
    assert.deepEqual(missingOperations({}), ["listRepositories", "listTags", "getManifest"]);
    assert.deepEqual(
      missingOperations({
        "/v2/_catalog": { get: {} },
        "/v2/{name}/tags/list": { get: {} },
        "/v2/{name}/manifests/{reference}": { get: {} },
      }),
      [],
    );
    assert.deepEqual(
      missingOperations({
        "/api/projects/{p}/repositories": { get: { operationId: "listRepositories" } },
        "/api/artifacts": { get: { operationId: "listTags" } },
        "/api/manifest": { post: { operationId: "getManifest" } },
      }),
      ["getManifest"],
    );
  });
});

describe("RemoteRegistrySource probe", () => {
  let remote: TestServer;

  before(async () => {
    remote = await startServer();
    await pushImage(remote, "team/app", "v1");
  });

  after(async () => {
    await remote?.cleanup();
  });

  const probe = async (extra: Record<string, unknown>) => {
    const [definition] = parseRegistries([{ id: "r", baseUrl: remote.url, ...extra }]);
    const source = new RemoteRegistrySource({ definition: definition!, probeTimeoutMs: 3000 });
    try {
      return await source.probe();
    } finally {
      await source.close();
    }
  };

  test("an open Reestr: ok, no auth, catalog and referrers", async () => {
    const result = await probe({});
    assert.equal(result.state, "ok", result.message ?? "");
    assert.equal(result.authMode, "none");
    assert.deepEqual(result.capabilities, { catalog: true, referrers: true, delete: false });
    assert.deepEqual(result.missingOperations, []);
    assert.equal(result.hint, null);
  });

  test("capabilities from the config switch calls off", async () => {
    const result = await probe({
      capabilities: { catalog: false, referrers: false },
      repositories: ["team/app"],
    });
    assert.deepEqual(result.capabilities, { catalog: false, referrers: false, delete: false });
  });

  test("openapiUrl: a document with the operations passes; one without lists them with a hint", async () => {
    const good = await probe({ openapiUrl: `${remote.url}/api/openapi.json` });
    assert.deepEqual(good.missingOperations, []);
    assert.equal(good.hint, null);
    const notOpenApi = await probe({ openapiUrl: `${remote.url}/api/status` });
    assert.equal(notOpenApi.state, "ok");
    assert.match(notOpenApi.hint ?? "", /OpenAPI document: not a JSON OpenAPI document/);
    const missing = await probe({ openapiUrl: `${remote.url}/nope.json` });
    assert.match(missing.hint ?? "", /HTTP 404/);
  });

  test("a closed port is unreachable with a hint, within the probe timeout", async () => {
    const port = await freePort();
    const [definition] = parseRegistries([{ id: "dead", baseUrl: `http://127.0.0.1:${port}` }]);
    const source = new RemoteRegistrySource({ definition: definition!, probeTimeoutMs: 1000 });
    try {
      const result = await source.probe();
      assert.equal(result.state, "unreachable");
      assert.match(result.hint ?? "", /baseUrl/);
    } finally {
      await source.close();
    }
  });

  test("a missing credential variable is reported as auth_failed naming it", async () => {
    const locked = await startServer({ auth: { authenticator: { authenticate: async () => undefined } } });
    try {
      const [definition] = parseRegistries([{ id: "locked", baseUrl: locked.url, auth: { type: "basic" } }]);
      const source = new RemoteRegistrySource({
        definition: definition!,
        credentialsProblem:
          "basic auth needs REESTR_REGISTRY_LOCKED_USERNAME and REESTR_REGISTRY_LOCKED_PASSWORD to be set",
      });
      const result = await source.probe();
      await source.close();
      assert.equal(result.state, "auth_failed");
      assert.equal(result.authMode, "basic");
      assert.match(result.message ?? "", /REESTR_REGISTRY_LOCKED_PASSWORD/);
    } finally {
      await locked.cleanup();
    }
  });
});

describe("registries from the watcher", () => {
  test("a watched remote no configured registry covers appears, listing the watched repositories", async () => {
    const remote = await startServer();
    const store = new SqliteWatchStore(":memory:");
    try {
      await pushImage(remote, "team/app", "v1");
      await pushImage(remote, "team/other", "v1");
      const watch = parseWatchSection({
        registries: [{ name: "app", url: remote.url, repository: "team/app", scanInterval: 3600 }],
      });
      const setup = await setupCatalog({
        registries: [],
        watcher: { entries: watch.registries, store },
        waitForProbes: true,
      });
      try {
        const registries = await setup.catalog.listRegistries();
        assert.equal(registries.length, 1);
        const [watched] = registries;
        assert.match(watched!.id, /^watch-127-0-0-1-\d+$/);
        assert.equal(watched!.baseUrl, remote.url);
        assert.equal(watched!.status.state, "ok");
        const repos = await setup.catalog.listRepositories(watched!.id, {
          sort: "name",
          order: "asc",
          page: 1,
          pageSize: 50,
        });
        assert.deepEqual(
          repos.items.map((r) => r.name),
          ["team/app"],
        );
        // A configured registry with the same origin takes the watched one's place.
        const covered = await setupCatalog({
          registries: parseRegistries([{ id: "mine", baseUrl: remote.url }]),
          watcher: { entries: watch.registries, store },
        });
        assert.deepEqual(covered.catalog.registryIds, ["mine"]);
        await covered.close();
      } finally {
        await setup.close();
      }
    } finally {
      await store.close();
      await remote.cleanup();
    }
  });
});

describe("re-probing", () => {
  test("a registry down at start is probed again and recovers without a resync", async () => {
    const port = await freePort();
    const [definition] = parseRegistries([{ id: "later", baseUrl: `http://127.0.0.1:${port}` }]);
    const catalog = new Catalog({
      registries: [
        {
          source: new RemoteRegistrySource({ definition: definition!, probeTimeoutMs: 1000 }),
          displayName: "later",
        },
      ],
      cache: new MemoryCache(),
      reprobeFailedMs: 50,
    });
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    try {
      await catalog.start();
      assert.equal((await catalog.getRegistry("later")).status.state, "unreachable");
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      await waitFor(async () => (await catalog.getRegistry("later")).status.state === "ok", {
        what: "a re-probe to find the registry up",
      });
    } finally {
      await catalog.close();
      server.close();
    }
  });
});

describe("no SSRF through a registry's answers", () => {
  test("catalog and tag list pages are followed only on the registry's own host", async () => {
    let elsewhere = 0;
    const other = createServer((_req, res) => {
      elsewhere++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"repositories":["evil"],"tags":["evil"]}');
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const otherPort = (other.address() as { port: number }).port;
    const registry = createServer((req, res) => {
      const link = `<http://127.0.0.1:${otherPort}${req.url}&last=z>; rel="next"`;
      res.writeHead(200, { "content-type": "application/json", link });
      res.end(
        req.url?.startsWith("/v2/_catalog") ? '{"repositories":["a/b"]}' : '{"name":"a/b","tags":["v1"]}',
      );
    });
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
    const port = (registry.address() as { port: number }).port;
    const [definition] = parseRegistries([{ id: "r", baseUrl: `http://127.0.0.1:${port}` }]);
    const log = recordingLogger();
    const source = new RemoteRegistrySource({ definition: definition!, logger: log.logger });
    try {
      assert.deepEqual(await source.listRepositories(), [{ name: "a/b" }]);
      assert.deepEqual(await source.listTags("a/b"), [{ tag: "v1" }]);
      assert.equal(elsewhere, 0, "no request went to the other host");
      // Each listing cut short says so in the log, naming the other origin.
      const warnings = log.lines.filter((line) => line.level === "warn");
      assert.deepEqual(
        warnings.map((line) => line.nextOrigin),
        [`http://127.0.0.1:${otherPort}`, `http://127.0.0.1:${otherPort}`],
      );
    } finally {
      await source.close();
      registry.close();
      other.close();
    }
  });
});

describe("a registry without a catalog", () => {
  test("probe says so with a hint; the listing is empty unless repositories are configured", async () => {
    const registry = createServer((req, res) => {
      if (req.url === "/v2/") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"errors":[{"code":"UNSUPPORTED","message":"no catalog"}]}');
    });
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
    const port = (registry.address() as { port: number }).port;
    const [definition] = parseRegistries([{ id: "hubby", baseUrl: `http://127.0.0.1:${port}` }]);
    const source = new RemoteRegistrySource({ definition: definition! });
    try {
      const result = await source.probe();
      assert.equal(result.state, "ok");
      assert.equal(result.capabilities.catalog, false);
      assert.match(result.hint ?? "", /repositories/);
      assert.deepEqual(await source.listRepositories(), []);
    } finally {
      await source.close();
      registry.close();
    }
  });
});
