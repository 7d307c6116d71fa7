/**
 * What every kind gets from its one schema (kinds.ts, define.ts): the exported defaults are the
 * builder's result for an empty config, a misspelt option is an error naming its path in the
 * builders and in validation alike, and a result rebuilt from its spec renders the same.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ARTIFACTORY_DEFAULTS,
  artifactoryRegistry,
  buildConfig,
  type ConfigKind,
  calculateStorageRequirements,
  DOCKER_REGISTRY_DEFAULTS,
  dockerRegistry,
  HARBOR_DEFAULTS,
  harborRegistry,
  IMAGE_BUILD_CONFIG_DEFAULTS,
  IMAGE_REPLICATION_POLICY_DEFAULTS,
  IMAGE_RETENTION_POLICY_DEFAULTS,
  IMAGE_SCAN_POLICY_DEFAULTS,
  imageBuildConfig,
  imagePullSecret,
  imageReplicationPolicy,
  imageRetentionPolicy,
  imageScanPolicy,
  NEXUS_DEFAULTS,
  nexusRegistry,
  renderDocuments,
  validateRegistryConfig,
} from "../../src/deploy/index.ts";
import { goldenSecret } from "./k8s-schema.ts";

describe("one schema per kind", () => {
  test("the exported defaults are what the builder makes of an empty config", () => {
    assert.deepEqual(dockerRegistry("registry").spec, DOCKER_REGISTRY_DEFAULTS);
    assert.deepEqual(harborRegistry("harbor").spec, HARBOR_DEFAULTS);
    assert.deepEqual(nexusRegistry("nexus").spec, NEXUS_DEFAULTS);
    assert.deepEqual(artifactoryRegistry("artifactory").spec, ARTIFACTORY_DEFAULTS);
    assert.deepEqual(imageScanPolicy("image-scan").spec, IMAGE_SCAN_POLICY_DEFAULTS);
    assert.deepEqual(imageRetentionPolicy("image-retention").spec, IMAGE_RETENTION_POLICY_DEFAULTS);
    assert.deepEqual(imageReplicationPolicy("image-replication").spec, IMAGE_REPLICATION_POLICY_DEFAULTS);
    assert.deepEqual(imageBuildConfig("image-build").spec, IMAGE_BUILD_CONFIG_DEFAULTS);
    // Each build has its own copy: changing one result leaves the defaults and other results alone.
    const first = dockerRegistry("a");
    first.spec.storage.persistence.accessModes.push("ReadWriteMany");
    first.spec.labels["team"] = "x";
    assert.deepEqual(dockerRegistry("b").spec.storage.persistence.accessModes, ["ReadWriteOnce"]);
    assert.deepEqual(DOCKER_REGISTRY_DEFAULTS.labels, {});
  });

  test("a misspelt option is an error naming its path, in validation and in the builders", () => {
    const typos: [ConfigKind, Record<string, unknown>, string, string][] = [
      ["DockerRegistry", { storage: { s3: { buckt: "b" } } }, "storage.s3", "buckt"],
      ["HarborRegistry", { database: { hots: "db" } }, "database", "hots"],
      ["NexusRegistry", { jvm: { maxMem: "1g" } }, "jvm", "maxMem"],
      ["ArtifactoryRegistry", { security: { ssl: { cert: "tls" } } }, "security.ssl", "cert"],
      ["ImageScanPolicy", { scanning: { onpush: true } }, "scanning", "onpush"],
      ["ImageRetentionPolicy", { harbor: { project: "library" } }, "harbor", "project"],
      ["ImageReplicationPolicy", { source: { repo: "nginx" } }, "source", "repo"],
      ["ImageBuildConfig", { cache: { size: "1Gi" } }, "cache", "size"],
    ];
    for (const [kind, config, path, key] of typos) {
      const errors = validateRegistryConfig(config, kind).errors;
      assert.deepEqual(
        errors.map((e) => e.path),
        [path],
        kind,
      );
      assert.equal(errors[0]?.message, `Unrecognized key: "${key}"`, kind);
      assert.throws(
        () => buildConfig(kind, "x", config),
        { message: `${kind} "x": ${path}: Unrecognized key: "${key}"` },
        kind,
      );
    }
  });

  test("the builders' input types reject what the schemas reject", () => {
    assert.throws(
      // @ts-expect-error: `buckt` is not an S3 option
      () => dockerRegistry("x", { storage: { s3: { buckt: "b" } } }),
      { message: 'DockerRegistry "x": storage.s3: Unrecognized key: "buckt"' },
    );
    assert.throws(
      // @ts-expect-error: replicas is a number
      () => nexusRegistry("x", { replicas: "2" }),
      { message: 'NexusRegistry "x": replicas: Invalid input: expected number, received string' },
    );
    assert.throws(
      () => harborRegistry("Not A Label"),
      /HarborRegistry "Not A Label": name: must be a DNS-1123 label/,
    );
  });

  test("a result rebuilt from its spec renders like the builder's", () => {
    const built = harborRegistry("h", { coreReplicas: 2, storage: { type: "filesystem" } });
    const handWritten = {
      apiVersion: built.apiVersion,
      kind: "HarborRegistry" as const,
      metadata: { name: "h" },
      spec: { coreReplicas: 2, storage: { type: "filesystem" } },
    };
    assert.deepEqual(
      renderDocuments(handWritten, { generateSecret: goldenSecret }),
      renderDocuments(built, { generateSecret: goldenSecret }),
    );
  });

  test("pull secrets and sizing parse their input too", () => {
    assert.throws(
      // @ts-expect-error: `pasword` is not an option
      () => imagePullSecret("x", { registry: "r", username: "u", password: "p", pasword: "p" }),
      { message: 'imagePullSecret: (root): Unrecognized key: "pasword"' },
    );
    assert.throws(() => calculateStorageRequirements({ replica: 3 }), {
      message: '(root): Unrecognized key: "replica"',
    });
  });
});
