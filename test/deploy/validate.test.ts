import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cronError, deepMerge, isValidCron, isValidQuantity } from "../../src/deploy/common.ts";
import {
  CONFIG_KINDS,
  dockerRegistry,
  validateCron,
  validateRegistryConfig,
} from "../../src/deploy/index.ts";

/** A Docker Registry config whose bearer-token auth is configured (the seed's default is not). */
const TOKEN = { auth: { token: { realm: "https://auth.example.com/token", secretName: "registry-token" } } };

function paths(config: unknown, kind?: string): string[] {
  return validateRegistryConfig(config, kind).errors.map((e) => e.path);
}

describe("validateRegistryConfig: Docker Registry", () => {
  test("the seed's defaults are flagged: bearer-token auth without a token server", () => {
    const result = validateRegistryConfig({});
    assert.equal(result.valid, false);
    assert.deepEqual(
      result.errors.map((e) => e.path),
      ["auth.token.realm", "auth.token.secretName"],
    );
    assert.match(result.errors[0]!.message, /Docker Hub's token service/);
    assert.match(result.errors[1]!.message, /root certificate bundle.*\/etc\/registry/);
    // Configuring the token server, switching to htpasswd or turning auth off all fix it.
    assert.deepEqual(validateRegistryConfig(TOKEN), { valid: true, errors: [], warnings: [] });
    assert.deepEqual(paths({ auth: { enabled: false } }), []);
    assert.deepEqual(paths({ auth: { scheme: "htpasswd", htpasswd: { secretName: "users" } } }), []);
    // Only the realm still pointing at Docker Hub.
    assert.deepEqual(paths({ auth: { token: { secretName: "registry-token" } } }), ["auth.token.realm"]);
  });

  test("the seed's examples are valid once the token server is configured", () => {
    assert.deepEqual(paths({ ...TOKEN, namespace: "registry", storage: { driver: "filesystem" } }), []);
    assert.deepEqual(
      paths({ ...TOKEN, storage: { driver: "s3", s3: { enabled: true, bucket: "my-registry" } } }),
      [],
    );
    assert.equal(validateRegistryConfig(dockerRegistry("local", TOKEN)).valid, true);
  });

  test("schema errors carry their path", () => {
    const result = validateRegistryConfig({
      ...TOKEN,
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
    assert.deepEqual(paths({ ...TOKEN, storage: { s3: { enabled: true, bucket: "" } } }), [
      "storage.s3.bucket",
    ]);
    assert.deepEqual(paths({ ...TOKEN, storage: { driver: "s3", s3: { bucket: "" } } }), [
      "storage.s3.bucket",
    ]);
    // Not selected: an empty bucket does not matter.
    assert.deepEqual(paths({ ...TOKEN, storage: { s3: { bucket: "" } } }), []);
  });

  test("TLS enabled without certificate and key", () => {
    assert.deepEqual(paths({ ...TOKEN, http: { tlsenabled: true } }), ["http.tlscertificate", "http.tlskey"]);
    assert.deepEqual(paths({ ...TOKEN, http: { tlsenabled: true, tlscertificate: "/c" } }), ["http.tlskey"]);
    assert.deepEqual(paths({ ...TOKEN, http: { tlsenabled: true, tlscertificate: "/c", tlskey: "/k" } }), []);
  });

  test("invalid CPU and memory quantities", () => {
    const result = validateRegistryConfig({
      ...TOKEN,
      resources: { limits: { cpu: "lots" }, requests: { memory: "256MB" } },
    });
    assert.deepEqual(
      result.errors.map((e) => e.path),
      ["resources.limits.cpu", "resources.requests.memory"],
    );
    assert.match(result.errors[0]!.message, /cpu quantity "lots"/);
  });

  test("replicas < 1", () => {
    assert.deepEqual(paths({ ...TOKEN, replicas: 0 }), ["replicas"]);
    assert.deepEqual(paths({ ...TOKEN, replicas: -3 }), ["replicas"]);
    assert.deepEqual(paths({ ...TOKEN, replicas: 1.5 }), ["replicas"]);
  });

  test("auth needs what its scheme uses; bad listen address; bad durations", () => {
    assert.deepEqual(paths({ auth: { token: { realm: "", secretName: "t" } } }), ["auth.token.realm"]);
    assert.deepEqual(paths({ auth: { enabled: false, token: { realm: "" } } }), []);
    assert.deepEqual(paths({ auth: { scheme: "htpasswd" } }), ["auth.htpasswd"]);
    assert.deepEqual(paths({ ...TOKEN, http: { addr: "localhost" } }), ["http.addr"]);
    assert.deepEqual(
      paths({ ...TOKEN, notifications: { endpoints: [{ name: "a", url: "http://x/", timeout: "soon" }] } }),
      ["notifications.endpoints[0].timeout"],
    );
  });

  test("a built object is checked under spec.", () => {
    const result = validateRegistryConfig(dockerRegistry("r", { ...TOKEN, replicas: 0 }));
    assert.equal(result.valid, false);
    assert.deepEqual(
      result.errors.map((e) => e.path),
      ["spec.replicas"],
    );
  });
});

describe("validateRegistryConfig: every kind", () => {
  test("defaults of every other kind are valid; warnings name what is left to the user", () => {
    for (const kind of CONFIG_KINDS.filter((k) => k !== "DockerRegistry")) {
      const result = validateRegistryConfig({}, kind);
      assert.deepEqual(result.errors, [], kind);
      assert.equal(result.valid, true, kind);
    }
    const harbor = validateRegistryConfig({}, "harbor");
    assert.deepEqual(
      harbor.warnings.map((w) => w.path),
      ["database.passwordSecret", "redis.passwordSecret"],
    );
    // Giving the passwords inline renders the Secrets, so nothing is left to the user.
    assert.deepEqual(
      validateRegistryConfig(
        { database: { password: "pw-db-123" }, redis: { password: "pw-redis-123" } },
        "harbor",
      ).warnings,
      [],
    );
  });

  test("the seed's examples are valid", () => {
    const cases: [string, unknown][] = [
      [
        "harbor",
        {
          coreReplicas: 3,
          registryReplicas: 3,
          database: { host: "postgres.default.svc" },
          trivy: { enabled: true },
        },
      ],
      ["nexus", { replicas: 2, jvm: { maxMemory: "1024m" } }],
      ["scan-policy", { scanning: { enabled: true, scanner: "trivy", onPush: true, onPull: true } }],
      ["retention-policy", { retentionDays: 30, keepTagged: true, keepLatest: true, schedule: "0 2 * * *" }],
    ];
    for (const [kind, config] of cases) assert.deepEqual(paths(config, kind), [], kind);
    // Nexus OSS runs one instance: replicas 2 is a warning, not an error.
    assert.deepEqual(
      validateRegistryConfig({ replicas: 2 }, "nexus")
        .warnings.map((w) => w.path)
        .includes("replicas"),
      true,
    );
  });

  test("unknown kind", () => {
    assert.deepEqual(validateRegistryConfig({}, "Harbour").errors, [
      { path: "kind", message: 'unknown kind "Harbour"' },
    ]);
  });

  test("schema errors: unknown keys, wrong types and enum values, with paths", () => {
    assert.deepEqual(paths({ databse: {}, storage: { type: "gcs" }, coreReplicas: "3" }, "harbor").sort(), [
      "(root)",
      "coreReplicas",
      "storage.type",
    ]);
    assert.deepEqual(paths({ storage: { blobstores: [{ name: "b", type: "nfs" }] } }, "nexus"), [
      "storage.blobstores[0].type",
    ]);
    assert.deepEqual(paths({ database: { type: "sqlite" } }, "artifactory"), ["database.type"]);
    assert.deepEqual(paths({ vulnerabilities: { critical: { action: "explode" } } }, "scan-policy"), [
      "vulnerabilities.critical.action",
    ]);
    assert.deepEqual(paths({ buildSystem: "make" }, "build-config"), ["buildSystem"]);
    assert.deepEqual(paths({ repositories: "all" }, "retention-policy"), ["repositories"]);
  });

  test("S3 selected without bucket", () => {
    assert.deepEqual(paths({ storage: { s3: { bucket: "" } } }, "harbor"), ["storage.s3.bucket"]);
    assert.deepEqual(paths({ storage: { type: "filesystem", s3: { bucket: "" } } }, "harbor"), []);
    assert.deepEqual(paths({ storage: { blobstores: [{ name: "s3", type: "s3" }] } }, "nexus"), [
      "storage.blobstores[0].bucket",
    ]);
    assert.deepEqual(paths({ storage: { s3: { accesskey: "AKIA" } } }, "harbor"), ["storage.s3.secretkey"]);
  });

  test("invalid cron schedules", () => {
    assert.deepEqual(
      paths({ garbageCollection: { schedule: "0 25 * * *" }, replication: { schedule: "daily" } }, "harbor"),
      ["replication.schedule", "garbageCollection.schedule"],
    );
    assert.deepEqual(paths({ schedule: "*/0 * * * *" }, "retention-policy"), ["schedule"]);
    assert.deepEqual(paths({ schedule: "0 */6 * *" }, "replication-policy"), ["schedule"]);
    const message = validateRegistryConfig({ schedule: "61 * * * *" }, "retention-policy").errors[0]!.message;
    assert.match(message, /invalid cron schedule "61 \* \* \* \*": minute/);
  });

  test("invalid CPU/memory quantities, in every registry kind", () => {
    const bad = { resources: { limits: { cpu: "2 cores" }, requests: { memory: "1GB" } } };
    for (const kind of ["harbor", "nexus", "artifactory"]) {
      assert.deepEqual(paths(bad, kind), ["resources.limits.cpu", "resources.requests.memory"], kind);
    }
    assert.deepEqual(paths({ cache: { maxSize: "ten gigs" } }, "build-config"), ["cache.maxSize"]);
    assert.deepEqual(paths({ storage: { size: "8GB" } }, "nexus"), ["storage.size"]);
  });

  test("replicas < 1, in every registry kind", () => {
    assert.deepEqual(paths({ coreReplicas: 0, jobserviceReplicas: -1, registryReplicas: 0 }, "harbor"), [
      "coreReplicas",
      "jobserviceReplicas",
      "registryReplicas",
    ]);
    assert.deepEqual(paths({ replicas: 0 }, "nexus"), ["replicas"]);
    assert.deepEqual(paths({ replicas: 0 }, "artifactory"), ["replicas"]);
    assert.deepEqual(paths({ replicas: 2 }, "artifactory"), ["replicas"]); // OSS image: one node
    assert.deepEqual(
      paths({ replicas: 2, image: "releases-docker.jfrog.io/jfrog/artifactory-pro:7.84.10" }, "artifactory"),
      [],
    );
  });

  test("LDAP / OIDC / SAML enabled without URL or endpoint", () => {
    assert.deepEqual(paths({ authentication: { ldap: { enabled: true } } }, "harbor"), [
      "authentication.ldap.url",
    ]);
    assert.deepEqual(
      paths({ authentication: { ldap: { enabled: true, url: "ldap.example.com" } } }, "harbor"),
      ["authentication.ldap.url"],
    );
    assert.deepEqual(paths({ authentication: { oidc: { enabled: true, clientId: "harbor" } } }, "harbor"), [
      "authentication.oidc.endpoint",
    ]);
    assert.deepEqual(
      paths(
        { authentication: { mode: "oidc_auth", ldap: { enabled: true, url: "ldaps://ldap.example.com" } } },
        "harbor",
      ),
      ["authentication.oidc.enabled"],
    );
    assert.deepEqual(paths({ authentication: { ldap: { enabled: true } } }, "nexus"), [
      "authentication.ldap.connection",
      "authentication.ldap.searchBase",
    ]);
    assert.deepEqual(
      paths({ authentication: { ldap: { enabled: true, connection: "ldaps://ldap:636" } } }, "nexus"),
      ["authentication.ldap.searchBase"],
    );
    assert.deepEqual(
      paths(
        {
          authentication: {
            ldap: { enabled: true, connection: "ldaps://ldap:636", searchBase: "dc=example" },
          },
        },
        "nexus",
      ),
      [],
    );
    assert.deepEqual(paths({ authentication: { saml: { enabled: true } } }, "artifactory"), [
      "authentication.saml.loginUrl",
    ]);
  });

  test("kind-specific rules", () => {
    assert.deepEqual(paths({ redis: { db: 3 } }, "harbor"), ["redis.db"]);
    assert.deepEqual(paths({ adminPassword: "short" }, "harbor"), ["adminPassword"]);
    assert.deepEqual(paths({ jvm: { maxMemory: "2048m" } }, "nexus"), ["jvm.maxMemory"]); // 2048m + 512m > 2048Mi
    assert.deepEqual(paths({ jvm: { minMemory: "2g", maxMemory: "1g" } }, "nexus"), ["jvm.minMemory"]);
    assert.deepEqual(paths({ jvm: { directMemory: "lots" } }, "nexus"), ["jvm.directMemory"]);
    assert.deepEqual(paths({ storage: { dataPath: "/data" } }, "nexus"), ["storage.dataPath"]);
    assert.deepEqual(paths({ database: { url: "postgres://db/art" } }, "artifactory"), ["database.url"]);
    assert.deepEqual(paths({ database: { type: "derby", url: "" } }, "artifactory"), []);
    assert.deepEqual(paths({ scanning: { scanInterval: "daily" } }, "scan-policy"), [
      "scanning.scanInterval",
    ]);
    assert.deepEqual(paths({ retentionDays: 0 }, "retention-policy"), ["retentionDays"]);
    assert.deepEqual(
      paths({ source: { registry: "" }, destination: { registry: "not a host" } }, "replication-policy"),
      ["source.registry", "destination.registry"],
    );
    assert.deepEqual(paths({ destination: { registry: "docker.io" } }, "replication-policy"), [
      "destination.registry",
    ]);
    assert.deepEqual(paths({ context: { repository: "not a url" } }, "build-config"), ["context.repository"]);
    assert.deepEqual(paths({ buildSystem: "buildah", cache: { type: "inline" } }, "build-config"), [
      "cache.type",
    ]);
  });

  test("warnings for what the output cannot express", () => {
    const scan = validateRegistryConfig(
      { vulnerabilities: { critical: { action: "warn" }, high: { action: "block" } } },
      "scan-policy",
    );
    assert.equal(scan.valid, true);
    assert.deepEqual(
      scan.warnings.map((w) => w.path),
      ["vulnerabilities.critical.action"],
    );
    assert.deepEqual(
      validateRegistryConfig({ scanning: { scanInterval: "5h" } }, "scan-policy").warnings.map((w) => w.path),
      ["scanning.scanInterval"],
    );
  });

  test("messages never contain secret values", () => {
    const secret = "s3cr3t-value-do-not-print";
    const result = validateRegistryConfig(
      { adminPassword: "short", database: { password: secret }, storage: { s3: { accesskey: secret } } },
      "harbor",
    );
    assert.equal(result.valid, false);
    assert.ok(!JSON.stringify(result).includes(secret));
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
