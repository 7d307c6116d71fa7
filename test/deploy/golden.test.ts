/**
 * Golden files: every builder with its defaults and with seed 002's examples, built and rendered
 * (secrets from a deterministic generator). Any difference fails; regenerate with
 * UPDATE_GOLDEN=1 npx node --test test/deploy/golden.test.ts and review the diff.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { stringify } from "yaml";
import {
  artifactoryRegistry,
  type BuiltConfig,
  dockerRegistry,
  documentsYaml,
  harborRegistry,
  imageBuildConfig,
  imagePullSecret,
  imageReplicationPolicy,
  imageRetentionPolicy,
  imageScanPolicy,
  nexusRegistry,
  type RenderedDocument,
  renderDocuments,
} from "../../src/deploy/index.ts";
import { assertValidDocuments, assertValidK8sObject, goldenSecret } from "./k8s-schema.ts";

const GOLDEN_DIR = join(import.meta.dirname, "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

// The Docker Registry's upload secret is fixed so the output is deterministic.
const FIXED_HTTP_SECRET = { http: { secret: "golden-http-secret" } };

/** name → the builder's result (seed example or defaults). */
const CASES: Record<string, () => BuiltConfig> = {
  "docker-registry-defaults": () => dockerRegistry("registry", FIXED_HTTP_SECRET),
  // Seed: mkDockerRegistry "local" { storage.driver = "s3"; storage.s3 = { enabled = true; bucket = "my-registry"; }; }
  "docker-registry-s3-example": () =>
    dockerRegistry("local", {
      ...FIXED_HTTP_SECRET,
      storage: { driver: "s3", s3: { enabled: true, bucket: "my-registry" } },
    }),
  // Seed, integration example 1: namespace = "registry"; storage.driver = "filesystem".
  "docker-registry-simple-example": () =>
    dockerRegistry("local", {
      ...FIXED_HTTP_SECRET,
      namespace: "registry",
      storage: { driver: "filesystem" },
    }),
  "harbor-defaults": () => harborRegistry("harbor"),
  // Seed example 2: coreReplicas = 3; registryReplicas = 3; database.host = "postgres.default.svc"; trivy.enabled = true.
  "harbor-production-example": () =>
    harborRegistry("production", {
      coreReplicas: 3,
      registryReplicas: 3,
      database: { host: "postgres.default.svc" },
      trivy: { enabled: true },
    }),
  "nexus-defaults": () => nexusRegistry("nexus"),
  // Seed example 3 (and mkNexusRegistry's): replicas = 2; jvm.maxMemory = "2048m"; repositories.docker.hosted = true.
  "nexus-enterprise-example": () =>
    nexusRegistry("enterprise", {
      replicas: 2,
      jvm: { maxMemory: "2048m" },
      repositories: { docker: { hosted: true } },
      // The seed's 2048m heap does not fit its own 2048Mi limit next to 512m direct memory.
      resources: { limits: { memory: "3Gi" } },
    }),
  "artifactory-defaults": () => artifactoryRegistry("artifactory"),
  "scan-policy-defaults": () => imageScanPolicy("image-scan"),
  // Seed example 4.
  "scan-policy-vulnerability-scan-example": () =>
    imageScanPolicy("vulnerability-scan", {
      scanning: { enabled: true, scanner: "trivy", onPush: true, onPull: true },
      vulnerabilities: { critical: { action: "block" } },
    }),
  "retention-policy-defaults": () => imageRetentionPolicy("image-retention"),
  // Seed example 5.
  "retention-policy-cleanup-example": () =>
    imageRetentionPolicy("cleanup", {
      retentionDays: 30,
      keepTagged: true,
      keepLatest: true,
      schedule: "0 2 * * *",
    }),
  "replication-policy-defaults": () => imageReplicationPolicy("image-replication"),
  "build-config-defaults": () => imageBuildConfig("image-build"),
};

function goldenText(built: BuiltConfig, documents: RenderedDocument[]): string {
  return `# builder result\n${stringify(built, { aliasDuplicateObjects: false })}---\n${documentsYaml(documents)}`;
}

function check(name: string, text: string): void {
  const path = join(GOLDEN_DIR, `${name}.yaml`);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, text);
    return;
  }
  assert.ok(existsSync(path), `${path} is missing: run with UPDATE_GOLDEN=1`);
  assert.equal(text, readFileSync(path, "utf8"), `${name} differs from its golden file`);
}

describe("golden files", () => {
  for (const [name, build] of Object.entries(CASES)) {
    test(name, () => {
      const built = build();
      const documents = renderDocuments(built, { generateSecret: goldenSecret });
      assertValidDocuments(documents);
      check(name, goldenText(built, documents));
    });
  }

  // Seed: mkImagePullSecret, its options with credentials filled in.
  test("pull-secret-seed-example", () => {
    const secret = imagePullSecret("docker-registry-secret", {
      registry: { server: "docker.io", username: "ci", password: "golden-password", email: "" },
      namespace: "default",
      secretName: "docker-registry-secret",
    });
    assertValidK8sObject(secret);
    check("pull-secret-seed-example", stringify(secret));
  });

  test("no stale golden files", () => {
    if (UPDATE) return;
    const expected = new Set([...Object.keys(CASES), "pull-secret-seed-example"].map((n) => `${n}.yaml`));
    for (const file of readdirSync(GOLDEN_DIR)) assert.ok(expected.has(file), `stale golden file ${file}`);
  });
});
