/**
 * The OpenAPI 3.1 document of /api: structurally valid, its schemas compile as JSON Schema
 * 2020-12 (Ajv, as pulled in by kubernetes-models), every documented operation is answered by
 * the server (no 405, no "no such endpoint"), nothing undocumented is, and live responses of a
 * running server validate against their documented schemas.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { SERVED_ROUTES } from "../../src/catalog/api.ts";
import { CATALOG_ROUTES, catalogOpenApi } from "../../src/catalog/openapi.ts";
import { CatalogSectionSchema } from "../../src/catalog/registries-config.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import { http, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { freePort } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";
import { waitForProbes } from "./helpers.ts";

type Operation = {
  operationId: string;
  parameters?: { name: string; in: string; required?: boolean; schema: unknown }[];
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
};

const doc = catalogOpenApi;
const METHODS = ["get", "post", "put", "delete", "patch", "head", "options"];

function operations(): { path: string; method: string; op: Operation }[] {
  const out: { path: string; method: string; op: Operation }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      assert.ok(METHODS.includes(method), `${path}: unknown method ${method}`);
      out.push({ path, method, op: op as Operation });
    }
  }
  return out;
}

function ajv(): Ajv2020 {
  const instance = new Ajv2020({ strict: false, allErrors: true });
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    instance.addSchema(schema as object, `#/components/schemas/${name}`);
  }
  return instance;
}

describe("OpenAPI document", () => {
  test("is OpenAPI 3.1 with info, unique operationIds, declared path parameters and resolvable $refs", () => {
    assert.equal(doc.openapi, "3.1.0");
    assert.equal(doc.info.title, "Reestr catalogue API");
    assert.ok(doc.info.version);
    const ids = new Set<string>();
    const refs: string[] = [];
    const collectRefs = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(collectRefs);
      else if (typeof value === "object" && value !== null) {
        for (const [key, inner] of Object.entries(value)) {
          if (key === "$ref" && typeof inner === "string") refs.push(inner);
          else collectRefs(inner);
        }
      }
    };
    for (const { path, method, op } of operations()) {
      assert.ok(path.startsWith("/api/"), path);
      assert.ok(op.operationId && !ids.has(op.operationId), `operationId of ${method} ${path}`);
      ids.add(op.operationId);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
      assert.deepEqual(declared, templated, `path parameters of ${method} ${path}`);
      for (const p of op.parameters ?? []) {
        assert.ok(["path", "query"].includes(p.in));
        if (p.in === "path") assert.equal(p.required, true);
        assert.ok(p.schema, `${p.name} has a schema`);
      }
      const statuses = Object.keys(op.responses);
      assert.ok(
        statuses.some((s) => s.startsWith("2")),
        `${method} ${path} has a success response`,
      );
      for (const [status, response] of Object.entries(op.responses)) {
        assert.match(status, /^[1-5]\d\d$/);
        assert.ok(response.description, `${method} ${path} ${status} description`);
      }
      collectRefs(op);
    }
    collectRefs(doc.components);
    for (const ref of refs) {
      const match = /^#\/components\/schemas\/(\w+)$/.exec(ref);
      assert.ok(match && match[1]! in doc.components.schemas, `unresolvable $ref ${ref}`);
    }
  });

  test("every component schema compiles as JSON Schema 2020-12", () => {
    const validator = ajv();
    for (const name of Object.keys(doc.components.schemas)) {
      assert.ok(validator.getSchema(`#/components/schemas/${name}`), `schema ${name} compiles`);
    }
  });

  test("the handler serves exactly the documented catalogue routes", () => {
    const documented = operations()
      .map(({ path, method }) => `${method} ${path}`)
      .sort();
    const table = CATALOG_ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    assert.deepEqual(documented, table);
    assert.ok(SERVED_ROUTES.length > 0);
    assert.ok(SERVED_ROUTES.every((route) => CATALOG_ROUTES.includes(route)));
  });
});

describe("OpenAPI document against a running server", () => {
  let server: TestServer;
  let digest: string;

  before(async () => {
    const closed = await freePort();
    server = await startServer({
      catalog: CatalogSectionSchema.parse({
        probeTimeout: "2s",
        registries: [{ id: "down", baseUrl: `http://127.0.0.1:${closed}` }],
      }),
      watch: parseWatchSection({
        registries: [{ name: "w", url: `http://127.0.0.1:${closed}`, repository: "x/y", scanInterval: 3600 }],
      }),
      watchInitialDelay: () => 3_600_000,
    });
    digest = (await pushImage(server, "team/app", "v1")).digest;
    await pushImage(server, "team/app", "v2");
    await waitForProbes(server.url);
  });

  after(async () => {
    await server?.cleanup();
  });

  /** A concrete path for a template (parameters filled with things that exist). */
  function concrete(path: string, _method: string): string {
    const values: Record<string, string> = {
      id: "local",
      name: path.startsWith("/api/watch") ? "w" : "team%2Fapp",
      reference: "v1",
      tag: "v2",
      digest,
    };
    return path.replace(/\{(\w+)\}/g, (_, name: string) => values[name]!);
  }

  test("every documented operation is answered (not 404 'no such endpoint', not 405)", async () => {
    // Deletes last: they change what the others read.
    const ordered = operations().sort(
      (a, b) => Number(a.method === "delete") - Number(b.method === "delete"),
    );
    for (const { path, method } of ordered) {
      const res = await http(server, method.toUpperCase(), concrete(path, method));
      assert.notEqual(res.status, 405, `${method} ${path}: ${res.text()}`);
      assert.ok(
        !/no such endpoint|"not found"/.test(res.text()),
        `${method} ${path}: ${res.status} ${res.text()}`,
      );
      assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.text()}`);
    }
  });

  test("nothing undocumented is served under the catalogue's paths", async () => {
    for (const [method, path] of [
      ["PUT", "/api/registries/local"],
      ["GET", "/api/registries/local/repositories/team%2Fapp/layers"],
      ["POST", "/api/storage"],
      ["GET", "/api/registries/local/resync/x"],
    ] as const) {
      const res = await http(server, method, path);
      assert.ok([404, 405].includes(res.status), `${method} ${path} answered ${res.status}`);
    }
  });

  test("live GET responses validate against their documented schemas", async () => {
    const validator = ajv();
    for (const { path, method, op } of operations()) {
      if (method !== "get" || path === "/api/openapi.json") continue;
      const res = await http(server, "GET", concrete(path, method));
      const documented = op.responses[String(res.status)];
      assert.ok(documented, `${path}: status ${res.status} is not documented (${res.text().slice(0, 200)})`);
      const schema = documented.content?.["application/json"]?.schema as { $ref?: string } | undefined;
      if (!schema?.$ref) continue;
      const validate = validator.getSchema(schema.$ref)!;
      assert.ok(
        validate(res.json()),
        `${path} (${res.status}): ${JSON.stringify(validate.errors)}\n${res.text().slice(0, 500)}`,
      );
    }
  });

  test("the admin runs' POST answers (202, and 200 with wait) validate against their documented schemas", async () => {
    const validator = ajv();
    const post = operations().filter(
      ({ method, path }) => method === "post" && path.startsWith("/api/admin/"),
    );
    for (const [path, query] of [
      ["/api/admin/gc", "dryRun=true&"],
      ["/api/admin/scrub", ""],
    ] as const) {
      const { op } = post.find((entry) => entry.path === path)!;
      // gc refuses a second run while one goes on (409): the tests above may have started one.
      await waitFor(
        async () => (await http(server, "GET", path)).json<{ running: unknown }>().running === null,
        {
          what: `no run in progress on ${path}`,
        },
      );
      const waited = await http(server, "POST", `${path}?${query}wait=true`);
      for (const res of [waited, await http(server, "POST", `${path}?${query}`)]) {
        const documented = op.responses[String(res.status)];
        assert.ok(
          documented,
          `POST ${path}: status ${res.status} is not documented (${res.text().slice(0, 200)})`,
        );
        const schema = documented.content!["application/json"]!.schema as { $ref: string };
        const validate = validator.getSchema(schema.$ref)!;
        assert.ok(validate(res.json()), `POST ${path} (${res.status}): ${JSON.stringify(validate.errors)}`);
      }
      assert.equal(waited.status, 200, waited.text());
    }
  });

  test("error responses validate against the Error schema", async () => {
    const validate = ajv().getSchema("#/components/schemas/Error")!;
    for (const path of [
      "/api/registries/nope",
      "/api/registries/down/repositories",
      "/api/registries/local/repositories?pageSize=0",
    ]) {
      const res = await http(server, "GET", path);
      assert.ok(res.status >= 400);
      assert.ok(validate(res.json()), `${path}: ${JSON.stringify(validate.errors)}`);
    }
  });
});
