import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  formatPlatform,
  isAttestation,
  type Platform,
  parsePlatform,
  platformMatches,
} from "../../src/oci/platform.ts";

describe("parsePlatform and formatPlatform", () => {
  test("os/architecture with or without a variant", () => {
    assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
    assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64", variant: "v8" });
    assert.deepEqual(parsePlatform("windows/amd64"), { os: "windows", architecture: "amd64" });
    assert.deepEqual(parsePlatform("linux/ppc64le"), { os: "linux", architecture: "ppc64le" });
  });

  test("format is the inverse of parse", () => {
    for (const text of ["linux/amd64", "linux/arm/v7", "linux/arm64/v8", "darwin/arm64"]) {
      assert.equal(formatPlatform(parsePlatform(text)), text);
    }
    // Fields formatPlatform does not show are ignored.
    const windows: Platform = { os: "windows", architecture: "amd64", "os.version": "10.0.17763.1879" };
    assert.equal(formatPlatform(windows), "windows/amd64");
  });

  test("bad input is refused, naming what is wrong", () => {
    const cases: [string, RegExp][] = [
      ["", /invalid platform "": 1 part\(s\)/],
      ["linux", /invalid platform "linux": 1 part\(s\); expected os\/architecture\[\/variant\]/],
      ["linux/arm64/v8/extra", /4 part\(s\)/],
      ["/amd64", /os is empty/],
      ["linux/", /architecture is empty/],
      ["linux/arm64/", /variant is empty/],
      ["linux /amd64", /os "linux " has characters other than/],
      ["linux/amd64:latest", /architecture "amd64:latest" has characters other than/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => parsePlatform(input), message, JSON.stringify(input));
    }
  });
});

describe("platformMatches", () => {
  const arm64v8: Platform = { os: "linux", architecture: "arm64", variant: "v8" };
  test("os and architecture must be equal; the variant only when one is wanted", () => {
    assert.equal(platformMatches(arm64v8, { os: "linux", architecture: "arm64" }), true);
    assert.equal(platformMatches(arm64v8, arm64v8), true);
    assert.equal(platformMatches(arm64v8, { os: "linux", architecture: "arm64", variant: "v9" }), false);
    assert.equal(platformMatches({ os: "linux", architecture: "arm64" }, arm64v8), false);
    assert.equal(platformMatches(arm64v8, { os: "linux", architecture: "amd64" }), false);
    assert.equal(platformMatches(arm64v8, { os: "windows", architecture: "arm64" }), false);
  });

  test("an entry without a platform matches nothing", () => {
    assert.equal(platformMatches(undefined, { os: "linux", architecture: "amd64" }), false);
  });
});

describe("isAttestation", () => {
  const marked = { "vnd.docker.reference.type": "attestation-manifest" };

  test("BuildKit's attestation entry: the annotation and platform unknown/unknown", () => {
    assert.equal(
      isAttestation({
        annotations: { ...marked, "vnd.docker.reference.digest": `sha256:${"a".repeat(64)}` },
        platform: { os: "unknown", architecture: "unknown" },
      }),
      true,
    );
  });

  test("either mark alone suffices", () => {
    assert.equal(
      isAttestation({ annotations: marked, platform: { os: "linux", architecture: "s390x" } }),
      true,
    );
    assert.equal(isAttestation({ annotations: marked }), true);
    // Annotations dropped by a copy: the platform still tells.
    assert.equal(isAttestation({ platform: { os: "unknown", architecture: "unknown" } }), true);
  });

  test("platform images are not attestations", () => {
    assert.equal(isAttestation({ platform: { os: "linux", architecture: "amd64" } }), false);
    assert.equal(isAttestation({ platform: { os: "linux", architecture: "arm64", variant: "v8" } }), false);
    assert.equal(
      isAttestation({
        platform: { os: "linux", architecture: "amd64" },
        annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" },
      }),
      false,
    );
  });

  test("edge cases: other reference types, half-unknown and missing platforms", () => {
    // Only the value BuildKit writes marks an attestation, not the key alone.
    assert.equal(
      isAttestation({
        annotations: { "vnd.docker.reference.type": "something-else" },
        platform: { os: "linux", architecture: "amd64" },
      }),
      false,
    );
    // One unknown field is not BuildKit's marker.
    assert.equal(isAttestation({ platform: { os: "unknown", architecture: "amd64" } }), false);
    assert.equal(isAttestation({ platform: { os: "linux", architecture: "unknown" } }), false);
    assert.equal(isAttestation({ platform: { os: "unknown" } }), false);
    // No platform at all (allowed in an OCI index): nothing says attestation.
    assert.equal(isAttestation({}), false);
    assert.equal(isAttestation({ platform: {} }), false);
    // Platform values are lowercase in the spec; other spellings are not BuildKit's.
    assert.equal(isAttestation({ platform: { os: "Unknown", architecture: "Unknown" } }), false);
  });
});
