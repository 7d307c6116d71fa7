import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ByteSize, formatSize, humanSize, parseSize } from "../../src/util/size.ts";

describe("byte sizes", () => {
  test("parse bytes, decimal and binary units", () => {
    assert.equal(parseSize(512), 512);
    assert.equal(parseSize("512"), 512);
    assert.equal(parseSize("16MiB"), 16 * 1024 * 1024);
    assert.equal(parseSize("1.5 GiB"), 1.5 * 2 ** 30);
    assert.equal(parseSize("10MB"), 10_000_000);
    assert.equal(parseSize("64KiB"), 65536);
    assert.equal(parseSize("2kB"), 2000);
    assert.equal(parseSize("0"), 0);
  });

  test("refuse what is not a size, saying what is expected", () => {
    for (const bad of ["", "-1", "16 mib", "MiB", "1e6", "12XB", "1%"]) {
      assert.throws(() => parseSize(bad), /expected a size such as/, bad);
    }
    assert.throws(() => parseSize(-1), /expected a size/);
    assert.throws(() => parseSize(Number.NaN), /expected a size/);
  });

  test("format back to the shortest exact text, and for people", () => {
    assert.equal(formatSize(16 * 1024 * 1024), "16MiB");
    assert.equal(formatSize(1000), "1kB");
    assert.equal(formatSize(1023), "1023B");
    assert.equal(humanSize(512), "512 B");
    assert.equal(humanSize(3.25 * 1024 * 1024), "3.3 MiB");
  });

  test("the zod codec decodes settings and encodes bytes back", () => {
    assert.equal(ByteSize.parse("16MiB"), 16 * 1024 * 1024);
    assert.equal(ByteSize.parse(4096), 4096);
    assert.equal(ByteSize.encode(16 * 1024 * 1024), "16MiB");
    assert.equal(ByteSize.safeParse("lots").success, false);
  });
});
