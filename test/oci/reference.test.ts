import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { RegistryError } from "../../src/oci/errors.ts";
import {
  assertRepositoryName,
  formatImageReference,
  isValidRepositoryName,
  isValidTag,
  MAX_REPOSITORY_NAME_LENGTH,
  parseImageReference,
  parseManifestReference,
} from "../../src/oci/reference.ts";

const DIGEST = digestOf("reference test");

describe("repository name grammar", () => {
  const valid = [
    "a",
    "0",
    "a/b",
    "a_b",
    "a__b",
    "a-b",
    "a--b",
    "a---b",
    "a.b",
    "a.b.c",
    "library/ubuntu",
    "a/b/c/d/e",
    "org/team-1/app_name/v2.x",
    "9a/8b__c/7-d",
    "a".repeat(MAX_REPOSITORY_NAME_LENGTH),
    `${"a".repeat(100)}/${"b".repeat(100)}/${"c".repeat(53)}`,
  ];
  for (const name of valid) {
    test(`accepts ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…(${name.length})` : name)}`, () => {
      assert.equal(isValidRepositoryName(name), true);
      assert.doesNotThrow(() => assertRepositoryName(name));
    });
  }

  const invalid: [string, string][] = [
    ["uppercase", "A"],
    ["uppercase inside", "library/Ubuntu"],
    ["dot-dot", ".."],
    ["a single dot", "."],
    ["a traversal", "a/../b"],
    ["a leading traversal", "../a"],
    ["a dot component", "a/./b"],
    ["a leading slash", "/a"],
    ["a trailing slash", "a/"],
    ["a leading dash", "-a"],
    ["a trailing dash", "a-"],
    ["a leading underscore", "_a"],
    ["a trailing underscore", "a_"],
    ["a leading dot", ".a"],
    ["a trailing dot", "a."],
    ["a component starting with a separator", "a/-b"],
    ["three underscores", "a___b"],
    ["two dots", "a..b"],
    ["mixed separators", "a._b"],
    ["an empty component", "a//b"],
    ["empty", ""],
    ["256 characters", "a".repeat(MAX_REPOSITORY_NAME_LENGTH + 1)],
    ["256 characters over components", `${"a".repeat(127)}/${"b".repeat(128)}`],
    ["percent-encoded slash", "a%2fb"],
    ["percent-encoded uppercase", "a%2Fb"],
    ["percent-encoded dot-dot", "%2e%2e/a"],
    ["a space", "a b"],
    ["a backslash", "a\\b"],
    ["a colon", "a:b"],
    ["an at sign", "a@b"],
    ["a newline", "a\nb"],
    ["a trailing newline", "a\n"],
    ["a NUL byte", "a\u0000b"],
    ["non-ASCII", "café"],
  ];
  for (const [label, name] of invalid) {
    test(`refuses ${label}`, () => {
      assert.equal(isValidRepositoryName(name), false);
      assert.throws(
        () => assertRepositoryName(name),
        (error: unknown) =>
          error instanceof RegistryError && error.code === "NAME_INVALID" && error.status === 400,
      );
    });
  }
});

describe("tag grammar", () => {
  test("accepts the usual tags", () => {
    for (const tag of ["latest", "v1", "1.0.0", "V1_beta-2", "_private", "a", "0", "sha256-abc", "A.B-C_D"]) {
      assert.equal(isValidTag(tag), true, tag);
    }
  });

  test("accepts 128 characters and refuses 129", () => {
    assert.equal(isValidTag("a".repeat(128)), true);
    assert.equal(isValidTag(`_${"9".repeat(127)}`), true);
    assert.equal(isValidTag("a".repeat(129)), false);
  });

  test("refuses tags that start with a dot or dash, or contain other characters", () => {
    for (const tag of ["", ".a", "-a", "a/b", "a:b", "a@b", "a b", "a+b", "a\n", "ü", "a%2f"]) {
      assert.equal(isValidTag(tag), false, JSON.stringify(tag));
    }
  });
});

describe("parseManifestReference", () => {
  test("a tag", () => {
    assert.deepEqual(parseManifestReference("latest"), { tag: "latest" });
  });

  test("a digest", () => {
    assert.deepEqual(parseManifestReference(DIGEST), { digest: DIGEST });
  });

  test("an invalid digest is DIGEST_INVALID", () => {
    assert.throws(
      () => parseManifestReference("sha256:nothex"),
      (error: unknown) => error instanceof RegistryError && error.code === "DIGEST_INVALID",
    );
  });

  test("an invalid tag is refused with a 400 error", () => {
    for (const reference of ["a".repeat(129), ".hidden", "-x", ""]) {
      assert.throws(
        () => parseManifestReference(reference),
        (error: unknown) => error instanceof RegistryError && error.status === 400,
        JSON.stringify(reference),
      );
    }
  });
});

describe("parseImageReference", () => {
  const cases: [string, ReturnType<typeof parseImageReference>][] = [
    ["ubuntu", { registry: "docker.io", repository: "library/ubuntu", tag: "latest", digest: undefined }],
    [
      "ubuntu:22.04",
      { registry: "docker.io", repository: "library/ubuntu", tag: "22.04", digest: undefined },
    ],
    [
      "docker.io/ubuntu",
      { registry: "docker.io", repository: "library/ubuntu", tag: "latest", digest: undefined },
    ],
    [
      "docker.io/library/ubuntu:noble",
      { registry: "docker.io", repository: "library/ubuntu", tag: "noble", digest: undefined },
    ],
    [
      "bitnami/redis",
      { registry: "docker.io", repository: "bitnami/redis", tag: "latest", digest: undefined },
    ],
    ["ghcr.io/org/app:v1", { registry: "ghcr.io", repository: "org/app", tag: "v1", digest: undefined }],
    [
      "127.0.0.1:5000/demo:latest",
      { registry: "127.0.0.1:5000", repository: "demo", tag: "latest", digest: undefined },
    ],
    [
      "localhost:5000/a/b",
      { registry: "localhost:5000", repository: "a/b", tag: "latest", digest: undefined },
    ],
    ["localhost/app", { registry: "localhost", repository: "app", tag: "latest", digest: undefined }],
    ["registry:5000/app:1", { registry: "registry:5000", repository: "app", tag: "1", digest: undefined }],
    ["[::1]:5000/app", { registry: "[::1]:5000", repository: "app", tag: "latest", digest: undefined }],
    [`app@${DIGEST}`, { registry: "docker.io", repository: "library/app", tag: undefined, digest: DIGEST }],
    [`app:v2@${DIGEST}`, { registry: "docker.io", repository: "library/app", tag: "v2", digest: DIGEST }],
    [
      `localhost:5000/team/app@${DIGEST}`,
      { registry: "localhost:5000", repository: "team/app", tag: undefined, digest: DIGEST },
    ],
    [
      `localhost:5000/team/app:1.2@${DIGEST}`,
      { registry: "localhost:5000", repository: "team/app", tag: "1.2", digest: DIGEST },
    ],
    ["  ubuntu  ", { registry: "docker.io", repository: "library/ubuntu", tag: "latest", digest: undefined }],
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => {
      assert.deepEqual(parseImageReference(input), expected);
    });
  }

  test("index.docker.io is normalised to docker.io with the library/ prefix, as Docker does", () => {
    assert.deepEqual(parseImageReference("index.docker.io/ubuntu"), {
      registry: "docker.io",
      repository: "library/ubuntu",
      tag: "latest",
      digest: undefined,
    });
  });

  for (const bad of [
    "",
    "UPPER/app",
    "app:bad tag",
    "app:",
    "app@sha256:short",
    "host:5000/",
    "a//b",
    "app:-x",
  ]) {
    test(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseImageReference(bad));
    });
  }

  test("formatImageReference writes what parseImageReference reads", () => {
    for (const input of [
      "ubuntu",
      "localhost:5000/a/b:v1",
      `ghcr.io/org/app:v1@${DIGEST}`,
      `app@${DIGEST}`,
    ]) {
      const parsed = parseImageReference(input);
      assert.deepEqual(parseImageReference(formatImageReference(parsed)), parsed);
    }
    assert.equal(formatImageReference(parseImageReference("ubuntu")), "docker.io/library/ubuntu:latest");
  });
});
