import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  calculateStorageRequirements,
  dockerRegistry,
  IMAGES_PER_DAY_PER_REPLICA,
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
