import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  baseMediaType,
  isSchema1,
  isValidMediaType,
  MANIFEST_MEDIA_TYPES,
  MediaType,
  manifestKindOf,
  parseAccept,
} from "../../src/oci/media-types.ts";

describe("parseAccept", () => {
  test("an absent header accepts anything", () => {
    assert.equal(parseAccept(undefined), "any");
  });

  test("an empty header accepts anything", () => {
    assert.equal(parseAccept(""), "any");
    assert.equal(parseAccept([]), "any");
  });

  test("a list of types, with parameters and whitespace, lowercased", () => {
    const accepted = parseAccept(
      `${MediaType.OciManifest}, ${MediaType.OciIndex};q=0.9 ,APPLICATION/VND.DOCKER.DISTRIBUTION.MANIFEST.V2+JSON; q=0.5`,
    );
    assert.deepEqual(
      accepted,
      new Set([MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest]),
    );
  });

  test("several Accept headers are merged", () => {
    const accepted = parseAccept([
      MediaType.OciManifest,
      `${MediaType.DockerManifestList}, ${MediaType.OciIndex}`,
    ]);
    assert.deepEqual(
      accepted,
      new Set([MediaType.OciManifest, MediaType.DockerManifestList, MediaType.OciIndex]),
    );
  });

  test("q=0 means not acceptable", () => {
    for (const zero of ["q=0", "q=0.0", "q=0.000", " q=0"]) {
      const accepted = parseAccept(`${MediaType.OciManifest}, ${MediaType.DockerManifest};${zero}`);
      assert.deepEqual(accepted, new Set([MediaType.OciManifest]), zero);
    }
    const withParams = parseAccept(`${MediaType.OciIndex};foo=bar;q=0, ${MediaType.OciManifest};q=0.001`);
    assert.deepEqual(withParams, new Set([MediaType.OciManifest]));
  });

  test("*/* and application/* accept anything", () => {
    assert.equal(parseAccept("*/*"), "any");
    assert.equal(parseAccept(`${MediaType.OciManifest}, */*;q=0.1`), "any");
    assert.equal(parseAccept(["application/*", MediaType.OciManifest]), "any");
  });

  test("a wildcard with q=0 is not a wildcard", () => {
    assert.deepEqual(parseAccept(`${MediaType.OciIndex}, */*;q=0`), new Set([MediaType.OciIndex]));
    assert.deepEqual(
      parseAccept(`application/*;q=0, ${MediaType.OciManifest}`),
      new Set([MediaType.OciManifest]),
    );
  });

  test("empty entries are skipped", () => {
    assert.deepEqual(parseAccept(`,, ${MediaType.OciManifest} ,`), new Set([MediaType.OciManifest]));
  });
});

describe("media type helpers", () => {
  test("manifestKindOf knows the four manifest types", () => {
    assert.equal(manifestKindOf(MediaType.OciManifest), "image");
    assert.equal(manifestKindOf(MediaType.DockerManifest), "image");
    assert.equal(manifestKindOf(MediaType.OciIndex), "index");
    assert.equal(manifestKindOf(MediaType.DockerManifestList), "index");
    assert.equal(manifestKindOf(MediaType.DockerSchema1), undefined);
    assert.equal(manifestKindOf(MediaType.OciConfig), undefined);
    assert.equal(manifestKindOf("toString"), undefined);
    assert.equal(manifestKindOf("__proto__"), undefined);
    assert.deepEqual(
      [...MANIFEST_MEDIA_TYPES].sort(),
      [
        MediaType.OciManifest,
        MediaType.OciIndex,
        MediaType.DockerManifest,
        MediaType.DockerManifestList,
      ].sort(),
    );
  });

  test("isSchema1 recognises both schema 1 types", () => {
    assert.equal(isSchema1(MediaType.DockerSchema1), true);
    assert.equal(isSchema1(MediaType.DockerSchema1Signed), true);
    assert.equal(isSchema1(MediaType.DockerManifest), false);
  });

  test("baseMediaType strips parameters and whitespace and lowercases", () => {
    assert.equal(baseMediaType(undefined), "");
    assert.equal(baseMediaType(""), "");
    assert.equal(baseMediaType(" Application/JSON ; charset=utf-8"), "application/json");
    assert.equal(baseMediaType(MediaType.OciIndex), MediaType.OciIndex);
  });

  test("isValidMediaType follows RFC 6838 type/subtype", () => {
    for (const good of [MediaType.OciManifest, "application/vnd.example+json", "text/plain", "a/b"]) {
      assert.equal(isValidMediaType(good), true, good);
    }
    for (const bad of [
      "",
      "text",
      "text/",
      "/plain",
      "a/b/c",
      "text/ plain",
      "text/plain; charset=x",
      5,
      null,
    ]) {
      assert.equal(isValidMediaType(bad), false, String(bad));
    }
    assert.equal(isValidMediaType(`a/${"b".repeat(127)}`), true);
    assert.equal(isValidMediaType(`a/${"b".repeat(128)}`), false);
  });
});
