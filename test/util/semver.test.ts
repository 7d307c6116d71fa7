import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { coerceSemVer, compareSemVer, parseSemVer } from "../../src/util/semver.ts";

function cmp(a: string, b: string): number {
  const x = parseSemVer(a);
  const y = parseSemVer(b);
  assert.ok(x, `${a} parses`);
  assert.ok(y, `${b} parses`);
  return Math.sign(compareSemVer(x, y));
}

describe("parseSemVer", () => {
  test("parses every part", () => {
    assert.deepEqual(parseSemVer("1.2.3-rc.1+build.5"), {
      major: "1",
      minor: "2",
      patch: "3",
      prerelease: ["rc", "1"],
      build: ["build", "5"],
    });
    assert.deepEqual(parseSemVer("v0.0.0"), {
      major: "0",
      minor: "0",
      patch: "0",
      prerelease: [],
      build: [],
    });
  });

  test("accepts valid semver and the v prefix", () => {
    for (const v of [
      "0.0.4",
      "1.2.3",
      "10.20.30",
      "1.1.2-prerelease+meta",
      "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
      "1.0.0-0A.is.legal",
      "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
      "99999999999999999999999.999999999999999999.99999999999999999",
      "v1.2.3",
      "1.0.0-x-y-z.--",
    ]) {
      assert.ok(parseSemVer(v), v);
    }
  });

  test("rejects what is not semver 2.0.0", () => {
    for (const v of [
      "1",
      "1.2",
      "latest",
      "V1.2.3",
      "vv1.2.3",
      "01.1.1",
      "1.01.1",
      "1.1.01",
      "1.2.3-0123",
      "1.2.3-",
      "1.2.3+",
      "1.2.3-alpha..1",
      "1.2.3.4",
      "1.2.3-alpha_beta",
      " 1.2.3",
      "1.2.3 ",
      "",
      "1.2-SNAPSHOT",
    ]) {
      assert.equal(parseSemVer(v), undefined, v);
    }
  });
});

describe("compareSemVer", () => {
  test("orders pre-releases as semver.org §11 lists them", () => {
    const ordered = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
    ];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(cmp(ordered[i]!, ordered[j]!), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
      }
    }
  });

  test("core versions compare numerically, not as text", () => {
    assert.equal(cmp("1.9.0", "1.10.0"), -1);
    assert.equal(cmp("2.0.0", "10.0.0"), -1);
    assert.equal(cmp("1.0.10", "1.0.9"), 1);
    assert.equal(cmp("1.0.0", "2.0.0"), -1);
    assert.equal(cmp("2.1.0", "2.0.9"), 1);
    assert.equal(cmp("99999999999999999999.0.0", "99999999999999999998.0.0"), 1);
  });

  test("build metadata and the v prefix are ignored", () => {
    assert.equal(cmp("1.0.0+a", "1.0.0+b"), 0);
    assert.equal(cmp("1.0.0-rc.1+build.1", "1.0.0-rc.1"), 0);
    assert.equal(cmp("v1.2.3", "1.2.3"), 0);
  });

  test("numeric identifiers sort below alphanumeric ones, and numerically among themselves", () => {
    assert.equal(cmp("1.0.0-1", "1.0.0-a"), -1);
    assert.equal(cmp("1.0.0-9", "1.0.0-10"), -1);
    assert.equal(cmp("1.0.0-1a", "1.0.0-10"), 1);
    assert.equal(cmp("1.0.0-Z", "1.0.0-a"), -1, "ASCII order: uppercase first");
    assert.equal(cmp("1.0.0-alpha", "1.0.0-alpha.0"), -1);
  });
});

describe("coerceSemVer", () => {
  const core = (value: string) => {
    const version = coerceSemVer(value);
    return (
      version &&
      `${version.major}.${version.minor}.${version.patch}${version.prerelease.length > 0 ? `-${version.prerelease.join(".")}` : ""}`
    );
  };

  test("partial versions get the missing numbers as 0, as semver.coerce does", () => {
    assert.equal(core("1.0"), "1.0.0");
    assert.equal(core("v1"), "1.0.0");
    assert.equal(core("V2.1"), "2.1.0");
    assert.equal(core("1.02"), "1.2.0");
    assert.equal(core("1.25-alpine"), "1.25.0");
    assert.equal(core("1.2.3.4"), "1.2.3");
    assert.equal(core("20240101"), "20240101.0.0");
  });

  test("a semver tag stays as it is, pre-release included", () => {
    assert.equal(core("1.2.3-rc.1"), "1.2.3-rc.1");
    assert.equal(core("v1.2.3"), "1.2.3");
  });

  test("the version must start the tag", () => {
    assert.equal(coerceSemVer("latest"), undefined);
    assert.equal(coerceSemVer("sha-1a2b3c"), undefined);
    assert.equal(coerceSemVer("build-42"), undefined);
    assert.equal(coerceSemVer(""), undefined);
  });
});
