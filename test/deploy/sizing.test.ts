import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  calculateStorageRequirements,
  dockerRegistry,
  harborRegistry,
  IMAGES_PER_DAY_PER_REPLICA,
  imageScanPolicy,
  nexusRegistry,
  parseQuantity,
} from "../../src/deploy/index.ts";

describe("parseQuantity", () => {
  test("CPU quantities in cores", () => {
    assert.equal(parseQuantity("100m"), 0.1);
    assert.equal(parseQuantity("0.5"), 0.5);
    assert.equal(parseQuantity("1"), 1);
    assert.equal(parseQuantity("1000m"), 1);
    assert.equal(parseQuantity(".25"), 0.25);
  });

  test("memory quantities in bytes, binary and decimal suffixes", () => {
    assert.equal(parseQuantity("512Mi"), 512 * 1024 * 1024);
    assert.equal(parseQuantity("1Gi"), 1024 ** 3);
    assert.equal(parseQuantity("2G"), 2e9);
    assert.equal(parseQuantity("128k"), 128_000);
    assert.equal(parseQuantity("64Ki"), 65_536);
    assert.equal(parseQuantity("3M"), 3e6);
    assert.equal(parseQuantity("1e3"), 1000);
    assert.equal(parseQuantity("1048576"), 1048576);
  });

  test("rejects invalid syntax", () => {
    for (const bad of ["", "abc", "1GB", "-1", "1 Gi", "Mi", "1.2.3"]) {
      assert.throws(() => parseQuantity(bad), /invalid Kubernetes quantity/, bad);
    }
  });
});

describe("calculateStorageRequirements", () => {
  test("defaults (1 replica, requests 100m / 256Mi)", () => {
    const r = calculateStorageRequirements({});
    assert.deepEqual(r.totalCpu, { cores: 0.1, millicores: 100, quantity: "100m", unit: "cores" });
    assert.deepEqual(r.totalMemory, { bytes: 256 * 2 ** 20, quantity: "256Mi", unit: "bytes" });
    assert.deepEqual(r.estimatedThroughput, { imagesPerDay: { min: 100, max: 500 }, unit: "images/day" });
    assert.equal(r.totalLimits.cpu.quantity, "1000m");
    assert.equal(r.totalLimits.memory.quantity, "512Mi");
    assert.equal(r.components.length, 1);
    assert.equal(r.components[0]!.name, "registry");
  });

  test("3 replicas multiply the requests, with exact decimal totals", () => {
    const r = calculateStorageRequirements({ replicas: 3 });
    assert.deepEqual(r.totalCpu, { cores: 0.3, millicores: 300, quantity: "300m", unit: "cores" });
    assert.deepEqual(r.totalMemory, { bytes: 768 * 2 ** 20, quantity: "768Mi", unit: "bytes" });
    assert.deepEqual(r.estimatedThroughput.imagesPerDay, { min: 300, max: 1500 });
  });

  test("custom requests in other units", () => {
    const r = calculateStorageRequirements({
      replicas: 2,
      resources: { requests: { cpu: "0.5", memory: "1Gi" } },
    });
    assert.deepEqual(r.totalCpu, { cores: 1, millicores: 1000, quantity: "1000m", unit: "cores" });
    assert.deepEqual(r.totalMemory, { bytes: 2 * 1024 ** 3, quantity: "2Gi", unit: "bytes" });
    const decimal = calculateStorageRequirements({ resources: { requests: { cpu: "1", memory: "2G" } } });
    assert.equal(decimal.totalCpu.cores, 1);
    assert.deepEqual(decimal.totalMemory, { bytes: 2e9, quantity: "2G", unit: "bytes" });
  });

  test("throughput is linear in replicas", () => {
    for (const replicas of [1, 2, 3, 5, 10]) {
      const { imagesPerDay } = calculateStorageRequirements({ replicas }).estimatedThroughput;
      assert.equal(imagesPerDay.min, IMAGES_PER_DAY_PER_REPLICA.min * replicas);
      assert.equal(imagesPerDay.max, IMAGES_PER_DAY_PER_REPLICA.max * replicas);
    }
  });

  test("accepts a dockerRegistry() result", () => {
    const r = calculateStorageRequirements(dockerRegistry("r", { replicas: 3 }));
    assert.equal(r.totalCpu.quantity, "300m");
  });

  test("invalid quantities and replicas name the field", () => {
    assert.throws(
      () => calculateStorageRequirements({ resources: { requests: { cpu: "lots" } } }),
      /resources\.requests\.cpu: invalid Kubernetes quantity "lots"/,
    );
    assert.throws(
      () => calculateStorageRequirements({ resources: { limits: { memory: "1GB" } } }),
      /resources\.limits\.memory/,
    );
    assert.throws(() => calculateStorageRequirements({ replicas: 1.5 }), /replicas/);
  });
});

describe("calculateStorageRequirements: Harbor, Nexus, Artifactory", () => {
  test("Harbor: core + jobservice + registry replicas × requests, plus the Trivy adapter", () => {
    // Seed example 2: 3 core, 1 jobservice, 3 registry replicas at 500m / 512Mi; Trivy 200m / 512Mi.
    const r = calculateStorageRequirements(
      harborRegistry("production", {
        coreReplicas: 3,
        registryReplicas: 3,
        database: { host: "postgres.default.svc" },
      }),
    );
    assert.deepEqual(
      r.components.map((c) => [c.name, c.replicas, c.perReplica.cpu.quantity, c.perReplica.memory.quantity]),
      [
        ["core", 3, "500m", "512Mi"],
        ["jobservice", 1, "500m", "512Mi"],
        ["registry", 3, "500m", "512Mi"],
        ["trivy", 1, "200m", "512Mi"],
      ],
    );
    assert.equal(r.totalCpu.quantity, "3700m");
    assert.equal(r.totalCpu.cores, 3.7);
    assert.equal(r.totalMemory.quantity, "4Gi");
    assert.equal(r.totalLimits.cpu.quantity, "15000m"); // 7 × 2000m + 1 × 1 core
    assert.equal(r.totalLimits.memory.quantity, "8Gi"); // 7 × 1024Mi + 1Gi
    // Throughput follows the registry component: 3 replicas.
    assert.deepEqual(r.estimatedThroughput.imagesPerDay, { min: 300, max: 1500 });
    const noTrivy = calculateStorageRequirements({ trivy: { enabled: false } }, "HarborRegistry");
    assert.equal(noTrivy.totalCpu.quantity, "1500m");
  });

  test("Nexus and Artifactory: replicas × requests", () => {
    const nexus = calculateStorageRequirements(nexusRegistry("enterprise", { replicas: 2 }));
    assert.equal(nexus.totalCpu.quantity, "1000m");
    assert.equal(nexus.totalMemory.quantity, "2Gi");
    assert.deepEqual(nexus.estimatedThroughput.imagesPerDay, { min: 200, max: 1000 });
    const artifactory = calculateStorageRequirements({ replicas: 3 }, "ArtifactoryRegistry");
    assert.equal(artifactory.totalCpu.quantity, "1500m");
    assert.equal(artifactory.totalMemory.quantity, "3Gi");
    assert.equal(artifactory.estimatedThroughput.unit, "images/day");
  });

  test("errors name the field; policies deploy nothing to size", () => {
    assert.throws(
      () => calculateStorageRequirements({ resources: { requests: { cpu: "fast" } } }, "NexusRegistry"),
      /resources\.requests\.cpu/,
    );
    assert.throws(() => calculateStorageRequirements({ coreReplicas: -1 }, "HarborRegistry"), /coreReplicas/);
    assert.throws(
      () => calculateStorageRequirements(imageScanPolicy("p")),
      /ImageScanPolicy deploys nothing/,
    );
  });
});
