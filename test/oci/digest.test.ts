import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import {
  createDigester,
  DIGEST_ALGORITHMS,
  digestFromHash,
  digestOf,
  isDigest,
  parseDigest,
} from "../../src/oci/digest.ts";
import { RegistryError } from "../../src/oci/errors.ts";

const SHA256_EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SHA512_EMPTY =
  "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

function isDigestInvalid(error: unknown): boolean {
  assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`);
  assert.equal(error.code, "DIGEST_INVALID");
  assert.equal(error.status, 400);
  return true;
}

describe("parseDigest", () => {
  test("accepts sha256 and splits algorithm and hex", () => {
    const parsed = parseDigest(SHA256_EMPTY);
    assert.equal(parsed.algorithm, "sha256");
    assert.equal(parsed.hex, SHA256_EMPTY.slice(7));
    assert.equal(parsed.digest, SHA256_EMPTY);
  });

  test("accepts sha512", () => {
    const parsed = parseDigest(SHA512_EMPTY);
    assert.equal(parsed.algorithm, "sha512");
    assert.equal(parsed.hex.length, 128);
  });

  test("knows exactly the registered algorithms and their lengths", () => {
    assert.deepEqual(DIGEST_ALGORITHMS, { sha256: 64, sha512: 128 });
  });

  for (const [label, value] of [
    ["an unsupported algorithm", `md5:${"a".repeat(32)}`],
    ["an unsupported algorithm with a valid-looking sha256 length", `sha1:${"a".repeat(64)}`],
    ["an algorithm with separators (grammatical but unsupported)", `sha256+b64u:${"a".repeat(64)}`],
    ["an uppercase algorithm", `SHA256:${"a".repeat(64)}`],
    ["uppercase hex", `sha256:${"A".repeat(64)}`],
    ["mixed-case hex", `sha256:${"aB".repeat(32)}`],
    ["sha256 hex one character short", `sha256:${"a".repeat(63)}`],
    ["sha256 hex one character long", `sha256:${"a".repeat(65)}`],
    ["sha512 with a sha256-length hex", `sha512:${"a".repeat(64)}`],
    ["sha256 with a sha512-length hex", `sha256:${"a".repeat(128)}`],
    ["non-hex characters", `sha256:${"g".repeat(64)}`],
    ["an empty string", ""],
    ["no colon", "a".repeat(64)],
    ["an empty algorithm", `:${"a".repeat(64)}`],
    ["an empty encoding", "sha256:"],
    ["two colons", `sha256:${"a".repeat(32)}:${"a".repeat(31)}`],
    ["a path traversal attempt", "sha256:../../etc/passwd"],
    ["surrounding whitespace", ` ${SHA256_EMPTY} `],
    ["a trailing newline", `${SHA256_EMPTY}\n`],
  ] as const) {
    test(`refuses ${label} with DIGEST_INVALID`, () => {
      assert.throws(() => parseDigest(value), isDigestInvalid);
      assert.equal(isDigest(value), false);
    });
  }

  test("error messages truncate absurdly long input", () => {
    const long = `sha256:${"a".repeat(10_000)}`;
    assert.throws(
      () => parseDigest(long),
      (error: unknown) => {
        isDigestInvalid(error);
        assert.ok((error as Error).message.length < 200, "message stays short");
        return true;
      },
    );
  });
});

describe("digest helpers", () => {
  test("isDigest accepts valid digests", () => {
    assert.equal(isDigest(SHA256_EMPTY), true);
    assert.equal(isDigest(SHA512_EMPTY), true);
  });

  test("digestOf hashes strings and bytes with sha256 by default, sha512 on request", () => {
    assert.equal(digestOf(""), SHA256_EMPTY);
    assert.equal(digestOf(new Uint8Array()), SHA256_EMPTY);
    assert.equal(digestOf("", "sha512"), SHA512_EMPTY);
    const data = Buffer.from("hello");
    assert.equal(digestOf(data), `sha256:${createHash("sha256").update(data).digest("hex")}`);
    assert.equal(isDigest(digestOf(data, "sha512")), true);
  });

  test("createDigester and digestFromHash agree with digestOf", () => {
    for (const algorithm of ["sha256", "sha512"] as const) {
      const hash = createDigester(algorithm);
      hash.update("hel");
      hash.update("lo");
      assert.equal(digestFromHash(algorithm, hash), digestOf("hello", algorithm));
    }
    const byDefault = createDigester();
    byDefault.update("x");
    assert.equal(digestFromHash("sha256", byDefault), digestOf("x"));
  });
});
