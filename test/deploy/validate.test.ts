import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cronError, deepMerge, isValidCron, isValidQuantity } from "../../src/deploy/common.ts";
import { dockerRegistry, validateCron, validateRegistryConfig } from "../../src/deploy/index.ts";

function paths(config: unknown): string[] {
  return validateRegistryConfig(config).errors.map((e) => e.path);
}

describe("validateRegistryConfig", () => {
  test("defaults and the seed's examples are valid", () => {
    assert.deepEqual(validateRegistryConfig({}), { valid: true, errors: [] });
    assert.deepEqual(
      validateRegistryConfig({ namespace: "registry", storage: { driver: "filesystem" } }).errors,
      [],
    );
    assert.deepEqual(
      validateRegistryConfig({ storage: { driver: "s3", s3: { enabled: true, bucket: "my-registry" } } })
        .errors,
      [],
    );
    assert.equal(validateRegistryConfig(dockerRegistry("local")).valid, true);
  });

  test("schema errors carry their path", () => {
    const result = validateRegistryConfig({
      replicas: "2",
      storage: { driver: "gcs", filesystem: { bogus: 1 } },
      log: { level: "loud" },
      notifications: { endpoints: [{ name: "x", url: "not a url" }] },
    });
    assert.equal(result.valid, false);
    const got = result.errors.map((e) => e.path).sort();
    assert.deepEqual(got, [
      "log.level",
      "notifications.endpoints[0].url",
      "replicas",
      "storage.driver",
      "storage.filesystem",
    ]);
    assert.ok(result.errors.every((e) => e.message.length > 0));
    assert.deepEqual(paths("nope"), ["(root)"]);
  });

  test("S3 enabled without bucket", () => {
    assert.deepEqual(paths({ storage: { s3: { enabled: true, bucket: "" } } }), ["storage.s3.bucket"]);
    assert.deepEqual(paths({ storage: { driver: "s3", s3: { bucket: "" } } }), ["storage.s3.bucket"]);
    // Not selected: an empty bucket does not matter.
    assert.deepEqual(paths({ storage: { s3: { bucket: "" } } }), []);
  });

  test("TLS enabled without certificate and key", () => {
    assert.deepEqual(paths({ http: { tlsenabled: true } }), ["http.tlscertificate", "http.tlskey"]);
    assert.deepEqual(paths({ http: { tlsenabled: true, tlscertificate: "/c" } }), ["http.tlskey"]);
    assert.deepEqual(paths({ http: { tlsenabled: true, tlscertificate: "/c", tlskey: "/k" } }), []);
  });

  test("invalid CPU and memory quantities", () => {
    const result = validateRegistryConfig({
      resources: { limits: { cpu: "lots" }, requests: { memory: "256MB" } },
    });
    assert.deepEqual(
      result.errors.map((e) => e.path),
      ["resources.limits.cpu", "resources.requests.memory"],
    );
    assert.match(result.errors[0]!.message, /cpu quantity "lots"/);
  });

  test("replicas < 1", () => {
    assert.deepEqual(paths({ replicas: 0 }), ["replicas"]);
    assert.deepEqual(paths({ replicas: -3 }), ["replicas"]);
    assert.deepEqual(paths({ replicas: 1.5 }), ["replicas"]);
  });

  test("auth needs what its scheme uses; bad listen address; bad durations", () => {
    assert.deepEqual(paths({ auth: { token: { realm: "" } } }), ["auth.token.realm"]);
    assert.deepEqual(paths({ auth: { enabled: false, token: { realm: "" } } }), []);
    assert.deepEqual(paths({ auth: { scheme: "htpasswd" } }), ["auth.htpasswd"]);
    assert.deepEqual(paths({ auth: { scheme: "htpasswd", htpasswd: { secretName: "users" } } }), []);
    assert.deepEqual(paths({ http: { addr: "localhost" } }), ["http.addr"]);
    assert.deepEqual(
      paths({ notifications: { endpoints: [{ name: "a", url: "http://x/", timeout: "soon" }] } }),
      ["notifications.endpoints[0].timeout"],
    );
  });

  test("a built object is checked under spec.", () => {
    const built = dockerRegistry("r", { replicas: 0 });
    const result = validateRegistryConfig(built);
    assert.equal(result.valid, false);
    assert.deepEqual(
      result.errors.map((e) => e.path),
      ["spec.replicas"],
    );
  });
});

describe("helpers", () => {
  test("isValidQuantity", () => {
    for (const ok of ["100m", "1", "0.5", "512Mi", "1Gi", "2G", "1e3", ".5"])
      assert.ok(isValidQuantity(ok), ok);
    for (const bad of ["", "-1", "1MB", "m", "1.2.3", "lots", "1 Gi"]) assert.ok(!isValidQuantity(bad), bad);
  });

  test("cron schedules", () => {
    for (const ok of [
      "0 0 * * *",
      "0 2 * * *",
      "*/15 * * * *",
      "0 9-17 * * mon-fri",
      "0 0 1,15 jan *",
      "@daily",
    ]) {
      assert.ok(isValidCron(ok), ok);
    }
    for (const bad of [
      "",
      "0 0 * *",
      "60 * * * *",
      "* 24 * * *",
      "0 0 0 * *",
      "*/0 * * * *",
      "5-1 * * * *",
      "@sometimes",
    ]) {
      assert.ok(!isValidCron(bad), bad);
    }
    assert.match(cronError("0 25 * * *") ?? "", /hour/);
    assert.deepEqual(validateCron("schedule", "0 0 * * *"), []);
    assert.equal(validateCron("garbageCollection.schedule", "nope")[0]?.path, "garbageCollection.schedule");
  });

  test("deepMerge does not alias or mutate its inputs", () => {
    const base = { a: { b: [1, 2], c: 1 }, d: "x" };
    const merged = deepMerge(base, { a: { c: 2 } });
    assert.deepEqual(merged, { a: { b: [1, 2], c: 2 }, d: "x" });
    merged.a.b.push(3);
    assert.deepEqual(base.a.b, [1, 2]);
    assert.deepEqual(deepMerge(base, { a: { b: [9] } }).a.b, [9]);
  });
});
