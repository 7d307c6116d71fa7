import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  CatalogSectionSchema,
  defineRegistries,
  envPrefix,
  loadRegistriesFile,
  maskSecrets,
  parseRegistries,
  resolveCredentials,
} from "../../src/catalog/registries-config.ts";
import { ConfigError, loadConfig } from "../../src/config/config.ts";

/** The problems of a rejected list, as `path: message` lines. */
function problems(input: unknown): string[] {
  try {
    parseRegistries(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail("expected the registries to be rejected");
}

const good = { id: "ghcr", baseUrl: "https://ghcr.io" };

describe("registries configuration", () => {
  test("a minimal entry gets its defaults", () => {
    const [entry] = parseRegistries([good]);
    assert.deepEqual(entry, {
      id: "ghcr",
      baseUrl: "https://ghcr.io",
      auth: { type: "anonymous" },
      tls: { allowInsecure: false, allowHttp: false },
      capabilities: {},
    });
  });

  test("defineRegistries validates like the YAML file and returns typed entries", () => {
    const list = defineRegistries([
      {
        id: "lab",
        displayName: "Lab",
        baseUrl: "http://registry.lab:5000",
        auth: { type: "basic" },
        tls: { allowHttp: true },
        capabilities: { supportsReadme: true },
        openapiUrl: "http://registry.lab:5000/openapi.json",
      },
    ]);
    assert.equal(list[0]!.tls.allowHttp, true);
    assert.throws(() => defineRegistries([{ id: "Bad Id", baseUrl: "https://x" }]), /\[0\]\.id/);
  });

  test("each bad field is named", () => {
    assert.deepEqual(problems([{ id: "UPPER", baseUrl: "https://x.io" }]), [
      "[0].id: must be lowercase letters, digits and dashes (e.g. ghcr, team-registry)",
    ]);
    assert.match(problems([{ id: "a", baseUrl: "ftp://x.io" }])[0]!, /^\[0\]\.baseUrl: must be an http/);
    assert.match(problems([{ id: "a" }])[0]!, /^\[0\]\.baseUrl: /);
    assert.match(problems([{ ...good, openapiUrl: "nope" }])[0]!, /^\[0\]\.openapiUrl: /);
    assert.match(problems([{ ...good, auth: { type: "oauth" } }])[0]!, /^\[0\]\.auth\.type: /);
    assert.match(problems([{ ...good, tls: { allowInsecure: "yes" } }])[0]!, /^\[0\]\.tls\.allowInsecure: /);
    assert.deepEqual(problems([{ ...good, capabilities: { teleport: true } }]), [
      "[0].capabilities.teleport: unknown field",
    ]);
    assert.deepEqual(problems([{ ...good, colour: "red" }]), ["[0].colour: unknown field"]);
    assert.match(problems([{ ...good, timeout: "soon" }])[0]!, /^\[0\]\.timeout: /);
    assert.match(
      problems([{ ...good, auth: { type: "basic", passwordEnv: "1bad" } }])[0]!,
      /^\[0\]\.auth\.passwordEnv: /,
    );
  });

  test("plain http to a non-loopback host needs tls.allowHttp; loopback may always", () => {
    assert.deepEqual(problems([{ id: "a", baseUrl: "http://registry.example.com" }]), [
      "[0].baseUrl: plain http:// to a non-loopback host needs tls.allowHttp: true",
    ]);
    assert.equal(parseRegistries([{ id: "a", baseUrl: "http://127.0.0.1:5000" }]).length, 1);
    assert.match(
      problems([{ id: "a", baseUrl: "https://user:pw@x.io" }]).join("\n"),
      /\[0\]\.baseUrl: must not carry credentials/,
    );
  });

  test("ids are unique and 'local' is reserved", () => {
    assert.deepEqual(problems([good, good]), ['[1].id: duplicate id "ghcr" (also registries[0])']);
    assert.deepEqual(problems([{ id: "local", baseUrl: "https://x.io" }]), [
      '[0].id: "local" is reserved for the registry of `reestr serve` itself',
    ]);
  });

  test("a secret in the file is an error naming the field and the variable to use instead", () => {
    const found = problems([
      {
        id: "team-a",
        baseUrl: "https://x.io",
        auth: { type: "basic", username: "bob", password: "hunter2" },
      },
      { id: "ghcr", baseUrl: "https://ghcr.io", auth: { type: "bearer", token: "ghp_x" } },
      { id: "c", baseUrl: "https://c.io", auth: "Basic Ym9iOmh1bnRlcjI=" },
    ]);
    assert.ok(
      found.includes(
        "[0].auth.password: secrets must not be written in the file; set the environment variable REESTR_REGISTRY_TEAM_A_PASSWORD instead",
      ),
      found.join("\n"),
    );
    assert.ok(
      found.some((p) => p.startsWith("[0].auth.username: ") && p.includes("REESTR_REGISTRY_TEAM_A_USERNAME")),
    );
    assert.ok(
      found.some((p) => p.startsWith("[1].auth.token: ") && p.includes("REESTR_REGISTRY_GHCR_TOKEN")),
    );
    assert.ok(found.some((p) => p.startsWith("[2].auth: secrets must not")));
    // Never echoed back.
    assert.ok(!found.join("\n").includes("hunter2"));
    assert.ok(!found.join("\n").includes("ghp_x"));
  });

  test("credentials come from the environment; a missing variable is named", () => {
    const [basic, bearer, anonymous] = parseRegistries([
      { id: "team-a", baseUrl: "https://a.io", auth: { type: "basic" } },
      { id: "ghcr", baseUrl: "https://ghcr.io", auth: { type: "bearer", tokenEnv: "MY_TOKEN" } },
      { id: "hub", baseUrl: "https://registry-1.docker.io" },
    ]);
    assert.equal(envPrefix("team-a"), "REESTR_REGISTRY_TEAM_A_");
    assert.deepEqual(resolveCredentials(basic!, {}), {
      ok: false,
      message:
        "basic auth needs REESTR_REGISTRY_TEAM_A_USERNAME and REESTR_REGISTRY_TEAM_A_PASSWORD to be set",
    });
    assert.deepEqual(
      resolveCredentials(basic!, {
        REESTR_REGISTRY_TEAM_A_USERNAME: "bob",
        REESTR_REGISTRY_TEAM_A_PASSWORD: "pw",
      }),
      { ok: true, credentials: { username: "bob", password: "pw" } },
    );
    assert.deepEqual(resolveCredentials(bearer!, {}), {
      ok: false,
      message: "bearer auth needs MY_TOKEN to be set",
    });
    const token = resolveCredentials(bearer!, { MY_TOKEN: "s3cr3t-token" });
    assert.ok(token.ok);
    assert.equal(token.credentials.token, "s3cr3t-token");
    assert.deepEqual(resolveCredentials(anonymous!, {}), { ok: true, credentials: {} });
    assert.equal(
      maskSecrets("GET https://x failed for s3cr3t-token", token.credentials),
      "GET https://x failed for ****",
    );
  });

  test("a registries file: a list or {registries, cache}; errors name file and field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "reestr-registries-"));
    try {
      const list = join(dir, "list.yaml");
      await writeFile(list, "- id: a\n  baseUrl: https://a.io\n");
      assert.equal((await loadRegistriesFile(list)).registries[0]!.id, "a");
      const mapping = join(dir, "map.yaml");
      await writeFile(mapping, "registries:\n  - id: b\n    baseUrl: https://b.io\ncache:\n  ttl: 30s\n");
      const loaded = await loadRegistriesFile(mapping);
      assert.equal(loaded.registries[0]!.id, "b");
      assert.equal(loaded.cache?.ttl, 30_000);
      const bad = join(dir, "bad.yaml");
      await writeFile(
        bad,
        "registries:\n  - id: c\n    baseUrl: https://c.io\n    auth: {type: basic, password: x}\n",
      );
      await assert.rejects(loadRegistriesFile(bad), (error: Error) => {
        assert.match(error.message, /bad\.yaml/);
        assert.match(error.message, /registries\[0\]\.auth\.password: secrets must not/);
        return true;
      });
      const unknown = join(dir, "unknown.yaml");
      await writeFile(unknown, "registries: []\nextras: 1\n");
      await assert.rejects(loadRegistriesFile(unknown), /extras: unknown setting/);
      const badCache = join(dir, "cache.yaml");
      await writeFile(badCache, "registries: []\ncache: {redisUrl: http://x}\n");
      await assert.rejects(loadRegistriesFile(badCache), /cache\.redisUrl: must be a redis/);
      await assert.rejects(loadRegistriesFile(join(dir, "missing.yaml")), /cannot read registries file/);
      const notYaml = join(dir, "broken.yaml");
      await writeFile(notYaml, "registries: [\n");
      await assert.rejects(loadRegistriesFile(notYaml), /not valid YAML/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("examples/registries.yaml is valid", async () => {
    const file = await loadRegistriesFile(
      new URL("../../examples/registries.yaml", import.meta.url).pathname,
    );
    assert.deepEqual(
      file.registries.map((r) => [r.id, r.auth.type]),
      [
        ["lab", "anonymous"],
        ["harbor", "basic"],
        ["ghcr", "bearer"],
        ["hub", "anonymous"],
      ],
    );
    assert.equal(file.cache?.staleTtl, 600_000);
  });

  test("reestr serve's catalog section: inline registries are validated in place; REESTR_REDIS_URL sets the shared redis.url", async () => {
    const section = CatalogSectionSchema.parse({});
    assert.equal(section.cache.ttl, 60_000);
    await assert.rejects(
      loadConfig({ flags: { "catalog.registries": [{ id: "x", baseUrl: "nope" }] } }),
      (error: Error) => {
        assert.match(error.message, /catalog\.registries\[0\]\.baseUrl: must be an http/);
        return true;
      },
    );
    await assert.rejects(
      loadConfig({ flags: { "catalog.registries": [], "catalog.registriesFile": "r.yaml" } }),
      /catalog\.registriesFile: give either registries or registriesFile/,
    );
    const config = await loadConfig({ env: { REESTR_REDIS_URL: "redis://127.0.0.1:6390" } });
    // The top-level connection: the catalogue cache falls back to it (server-catalog.ts).
    assert.equal(config.redis?.url, "redis://127.0.0.1:6390");
    assert.equal(config.catalog, undefined);
    const inline = await loadConfig({ flags: { "catalog.cache.redisUrl": "redis://127.0.0.1:6391" } });
    assert.equal(inline.catalog?.cache.redisUrl, "redis://127.0.0.1:6391");
    assert.equal(inline.catalog?.cache.ttl, 60_000, "the section's defaults apply");
    assert.equal((await loadConfig({})).catalog, undefined);
    await assert.rejects(
      loadConfig({ env: { REESTR_REDIS_URL: "localhost:6379" } }),
      /redis\.url: must be a redis/,
    );
  });
});
