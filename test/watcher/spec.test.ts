import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { z } from "zod";
import { ConfigError } from "../../src/util/config-error.ts";
import {
  formatPath,
  parseRegistrySpec,
  parseRegistryStatus,
  RegistrySpecSchema,
  RegistryStatusSchema,
} from "../../src/watcher/spec.ts";

const MINIMAL = { url: "https://registry-1.docker.io", repository: "library/nginx" };

/** Parses and returns the problems, failing when the spec is accepted. */
function problems(input: unknown): { path: string; message: string }[] {
  try {
    parseRegistrySpec(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    for (const p of error.problems) assert.ok(error.message.includes(`${p.path}: ${p.message}`));
    return error.problems;
  }
  assert.fail("spec was accepted");
}

function problemPaths(input: unknown): string[] {
  return problems(input).map((p) => p.path);
}

describe("parseRegistrySpec: defaults", () => {
  test("the seed's minimal example gets every default", () => {
    assert.deepEqual(parseRegistrySpec(MINIMAL), {
      url: "https://registry-1.docker.io",
      repository: "library/nginx",
      scanInterval: 300,
      insecureSkipVerify: false,
      scanConfig: { timeout: 30, retries: 3, concurrency: 5 },
      tagFilter: { include: [], exclude: [], order: "descending" },
      vulnerabilityScanning: { enabled: false, severityThreshold: "UNKNOWN", interval: 86_400, timeout: 300 },
    });
  });

  test("partial sections keep the defaults of the fields not given", () => {
    const spec = parseRegistrySpec({
      ...MINIMAL,
      scanConfig: { concurrency: 1 },
      tagFilter: { sort: "semver", limit: 10 },
      vulnerabilityScanning: { enabled: true, severityThreshold: "HIGH" },
    });
    assert.deepEqual(spec.scanConfig, { timeout: 30, retries: 3, concurrency: 1 });
    assert.deepEqual(spec.tagFilter, {
      include: [],
      exclude: [],
      sort: "semver",
      limit: 10,
      order: "descending",
    });
    assert.deepEqual(spec.vulnerabilityScanning, {
      enabled: true,
      severityThreshold: "HIGH",
      interval: 86_400,
      timeout: 300,
    });
  });

  test("the seed's private-registry example, and standalone credentials", () => {
    const operator = parseRegistrySpec({
      url: "https://registry.example.com",
      repository: "company/app",
      scanInterval: 600,
      credentialsSecret: { name: "registry-creds" },
    });
    assert.equal(operator.scanInterval, 600);
    assert.deepEqual(operator.credentialsSecret, { name: "registry-creds" });
    const standalone = parseRegistrySpec({
      ...MINIMAL,
      url: "http://127.0.0.1:5000",
      insecureSkipVerify: true,
      credentials: { username: "ci", passwordEnv: "REGISTRY_PASSWORD" },
    });
    assert.deepEqual(standalone.credentials, { username: "ci", passwordEnv: "REGISTRY_PASSWORD" });
    assert.equal(standalone.insecureSkipVerify, true);
  });

  test("does not change its input", () => {
    const input = { ...MINIMAL, tagFilter: { include: ["^v"] } };
    parseRegistrySpec(input);
    assert.deepEqual(input, { ...MINIMAL, tagFilter: { include: ["^v"] } });
  });
});

describe("parseRegistrySpec: every problem names its field", () => {
  test("missing required fields", () => {
    assert.deepEqual(problemPaths({}).sort(), ["repository", "url"]);
  });

  test("a non-object", () => {
    assert.deepEqual(problemPaths("nginx"), ["(root)"]);
    assert.deepEqual(problemPaths(null), ["(root)"]);
  });

  test("url and repository", () => {
    assert.deepEqual(problemPaths({ ...MINIMAL, url: "ftp://example.com" }), ["url"]);
    assert.deepEqual(problemPaths({ ...MINIMAL, url: "registry-1.docker.io" }), ["url"]);
    assert.deepEqual(problemPaths({ ...MINIMAL, repository: "Library/Nginx" }), ["repository"]);
    assert.deepEqual(problemPaths({ ...MINIMAL, repository: "library//nginx" }), ["repository"]);
    assert.deepEqual(problemPaths({ ...MINIMAL, repository: "" }), ["repository"]);
  });

  test("numbers: type, integer and bounds", () => {
    const paths = problemPaths({
      ...MINIMAL,
      scanInterval: 5,
      insecureSkipVerify: "yes",
      scanConfig: { timeout: 0, retries: -1, concurrency: 1.5 },
      tagFilter: { limit: 0 },
      vulnerabilityScanning: { enabled: "true", interval: 10, timeout: "30s" },
    });
    assert.deepEqual(paths.sort(), [
      "insecureSkipVerify",
      "scanConfig.concurrency",
      "scanConfig.retries",
      "scanConfig.timeout",
      "scanInterval",
      "tagFilter.limit",
      "vulnerabilityScanning.enabled",
      "vulnerabilityScanning.interval",
      "vulnerabilityScanning.timeout",
    ]);
  });

  test("enums", () => {
    assert.deepEqual(
      problemPaths({
        ...MINIMAL,
        tagFilter: { sort: "date", order: "newest" },
        vulnerabilityScanning: { severityThreshold: "high" },
      }).sort(),
      ["tagFilter.order", "tagFilter.sort", "vulnerabilityScanning.severityThreshold"],
    );
  });

  test("unknown fields are named one by one", () => {
    const found = problems({ ...MINIMAL, scanIntervall: 60, tagFilter: { includes: ["x"], lmit: 1 } }).sort(
      (a, b) => (a.path < b.path ? -1 : 1),
    );
    assert.deepEqual(found, [
      { path: "scanIntervall", message: "unknown field" },
      { path: "tagFilter.includes", message: "unknown field" },
      { path: "tagFilter.lmit", message: "unknown field" },
    ]);
  });

  test("an invalid regular expression names the pattern's index", () => {
    const found = problems({ ...MINIMAL, tagFilter: { include: ["^v1", "v(1", "ok"], exclude: ["[z-a]"] } });
    assert.equal(found.length, 2);
    assert.equal(found[0]!.path, "tagFilter.include[1]");
    assert.match(found[0]!.message, /^invalid regular expression: .*v\(1/);
    assert.equal(found[1]!.path, "tagFilter.exclude[0]");
    assert.match(found[1]!.message, /^invalid regular expression: /);
    assert.deepEqual(problemPaths({ ...MINIMAL, tagFilter: { include: "^v" } }), ["tagFilter.include"]);
    assert.deepEqual(problemPaths({ ...MINIMAL, tagFilter: { exclude: [1] } }), ["tagFilter.exclude[0]"]);
  });

  test("the error message lists every problem with its path", () => {
    assert.throws(
      () => parseRegistrySpec({ url: 1, tagFilter: { include: ["("] } }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^invalid Registry spec:\n/);
        assert.match(error.message, /\n {2}url: /);
        assert.match(error.message, /\n {2}repository: /);
        assert.match(error.message, /\n {2}tagFilter\.include\[0\]: invalid regular expression: /);
        return true;
      },
    );
  });

  test("credentials", () => {
    assert.deepEqual(problemPaths({ ...MINIMAL, credentialsSecret: {} }), ["credentialsSecret.name"]);
    assert.deepEqual(
      problemPaths({ ...MINIMAL, credentialsSecret: { name: "Creds", namespace: "a.b" } }).sort(),
      ["credentialsSecret.name", "credentialsSecret.namespace"],
    );
    assert.deepEqual(problemPaths({ ...MINIMAL, credentials: { username: "u" } }), ["credentials"]);
    assert.match(problems({ ...MINIMAL, credentials: { username: "u" } })[0]!.message, /one of password/);
    assert.deepEqual(
      problemPaths({ ...MINIMAL, credentials: { username: "u", password: "p", passwordFile: "/f" } }),
      ["credentials"],
    );
    assert.deepEqual(problemPaths({ ...MINIMAL, credentials: { password: "p" } }), ["credentials.username"]);
    assert.deepEqual(problemPaths({ ...MINIMAL, credentials: { username: "u", passwordEnv: "A-B" } }), [
      "credentials.passwordEnv",
    ]);
    const both = problems({
      ...MINIMAL,
      credentialsSecret: { name: "creds" },
      credentials: { username: "u", password: "p" },
    });
    assert.deepEqual(
      both.map((p) => p.path),
      ["credentials"],
    );
    assert.match(both[0]!.message, /not both/);
    const withOthers = problemPaths({
      ...MINIMAL,
      scanInterval: 5,
      credentialsSecret: { name: "creds" },
      credentials: { username: "u", password: "p" },
    });
    assert.deepEqual(withOthers.sort(), ["credentials", "scanInterval"]);
  });
});

describe("status", () => {
  const status = {
    lastScanTime: "2026-01-21T10:30:00Z",
    lastScanStatus: "Success",
    images: [
      {
        tag: "latest",
        digest: "sha256:abc123",
        size: 142857392,
        platforms: [
          { os: "linux", architecture: "arm64", variant: "v8", digest: "sha256:def", size: 70000000 },
          { os: "linux", architecture: "amd64", digest: "sha256:fed", size: 72857392 },
        ],
        created: "2026-01-20T08:00:00.123+01:00",
        vulnerabilities: {
          critical: 0,
          high: 2,
          medium: 5,
          low: 9,
          unknown: 1,
          scanner: "trivy 0.58.1",
          scannedAt: "2026-01-21T10:30:00Z",
        },
      },
      { tag: "1.25.3", digest: "sha256:def456", size: 142834512 },
    ],
  };

  test("the seed's status parses; platforms default to []", () => {
    const parsed = parseRegistryStatus(status);
    assert.equal(parsed.images.length, 2);
    assert.deepEqual(parsed.images[1], {
      tag: "1.25.3",
      digest: "sha256:def456",
      size: 142834512,
      platforms: [],
    });
    assert.deepEqual(parseRegistryStatus({}), { images: [] });
  });

  test("problems name their field", () => {
    assert.throws(
      () =>
        parseRegistryStatus({
          lastScanTime: "yesterday",
          lastScanStatus: "OK",
          images: [
            { tag: "x", digest: "abc", size: -1, platforms: [{ os: "linux", digest: "sha256:a", size: 1 }] },
          ],
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems.map((p) => p.path).sort(), [
          "images[0].digest",
          "images[0].platforms[0].architecture",
          "images[0].size",
          "lastScanStatus",
          "lastScanTime",
        ]);
        assert.match(error.message, /^invalid Registry status:/);
        return true;
      },
    );
  });
});

describe("schemas", () => {
  test("convert to JSON Schema (for the CRD's OpenAPI schema)", () => {
    const spec = z.toJSONSchema(RegistrySpecSchema, { io: "input" }) as {
      required?: string[];
      properties: Record<string, { default?: unknown }>;
    };
    assert.deepEqual(spec.required?.sort(), ["repository", "url"]);
    assert.equal(spec.properties["scanInterval"]!.default, 300);
    assert.doesNotThrow(() => z.toJSONSchema(RegistryStatusSchema, { io: "output" }));
  });

  test("formatPath", () => {
    assert.equal(formatPath([]), "(root)");
    assert.equal(formatPath(["tagFilter", "include", 1]), "tagFilter.include[1]");
    assert.equal(formatPath(["images", 0, "platforms", 2, "os"]), "images[0].platforms[2].os");
  });
});
