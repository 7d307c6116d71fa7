import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ByteSize, formatByteSize, formatBytes, parseByteSize } from "../../src/util/size.ts";

describe("byte sizes", () => {
  test("parse bytes, decimal and binary units", () => {
    assert.equal(parseByteSize(512), 512);
    assert.equal(parseByteSize("512"), 512);
    assert.equal(parseByteSize("16MiB"), 16 * 1024 * 1024);
    assert.equal(parseByteSize("1.5 GiB"), 1.5 * 2 ** 30);
    assert.equal(parseByteSize("10MB"), 10_000_000);
    assert.equal(parseByteSize("64KiB"), 65536);
    assert.equal(parseByteSize("2kB"), 2000);
    assert.equal(parseByteSize("0"), 0);
  });

  test("refuse what is not a size, saying what is expected", () => {
    for (const bad of ["", "-1", "MiB", "1e6", "12XB", "1%"]) {
      assert.throws(() => parseByteSize(bad), /expected a size such as/, bad);
    }
    assert.throws(() => parseByteSize(-1), /expected a size/);
    assert.throws(() => parseByteSize(Number.NaN), /expected a size/);
  });

  test("format back to the shortest exact text, and for people", () => {
    assert.equal(formatByteSize(16 * 1024 * 1024), "16MiB");
    assert.equal(formatByteSize(1000), "1kB");
    assert.equal(formatByteSize(1023), "1023B");
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(3.25 * 1024 * 1024), "3.25 MiB");
  });

  test("the zod codec decodes settings and encodes bytes back", () => {
    assert.equal(ByteSize.parse("16MiB"), 16 * 1024 * 1024);
    assert.equal(ByteSize.parse(4096), 4096);
    assert.equal(ByteSize.encode(16 * 1024 * 1024), "16MiB");
    assert.equal(ByteSize.safeParse("lots").success, false);
  });
});
