import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { digestOf } from "../../src/oci/digest.ts";
import { RegistryError } from "../../src/oci/errors.ts";
import { MAX_MANIFEST_BYTES, parseManifest, referrersTagFor } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";

const CONFIG = { mediaType: MediaType.OciConfig, digest: digestOf("config"), size: 6 };
const LAYER = { mediaType: MediaType.OciLayerGzip, digest: digestOf("layer"), size: 5 };
const CHILD = {
  mediaType: MediaType.OciManifest,
  digest: digestOf("child"),
  size: 5,
  platform: { os: "linux", architecture: "amd64" },
};

const bytes = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

function ociManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MediaType.OciManifest, config: CONFIG, layers: [LAYER], ...extra };
}

function ociIndex(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [CHILD], ...extra };
}

/** Asserts MANIFEST_INVALID (400) and, when given, a message matching `pattern`. */
function invalid(pattern?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`);
    assert.equal(error.code, "MANIFEST_INVALID");
    assert.equal(error.status, 400);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

describe("parseManifest: image manifests", () => {
  test("an OCI image manifest yields its config and layers as blobs", () => {
    const parsed = parseManifest(bytes(ociManifest()), MediaType.OciManifest);
    assert.equal(parsed.mediaType, MediaType.OciManifest);
    assert.equal(parsed.kind, "image");
    assert.deepEqual(
      parsed.blobs.map((b) => b.digest),
      [CONFIG.digest, LAYER.digest],
    );
    assert.deepEqual(parsed.children, []);
    assert.equal(parsed.subject, undefined);
  });

  test("the body's mediaType decides when Content-Type is absent or generic", () => {
    for (const contentType of [undefined, "", "application/json", "application/octet-stream"]) {
      assert.equal(parseManifest(bytes(ociManifest()), contentType).mediaType, MediaType.OciManifest);
    }
  });

  test("Content-Type parameters and case are ignored", () => {
    const parsed = parseManifest(
      bytes(ociManifest()),
      "Application/VND.oci.image.manifest.v1+json; charset=utf-8",
    );
    assert.equal(parsed.mediaType, MediaType.OciManifest);
  });

  test("without any mediaType, the shape decides (config → OCI manifest)", () => {
    const { mediaType: _, ...body } = ociManifest();
    assert.equal(parseManifest(bytes(body)).mediaType, MediaType.OciManifest);
    assert.equal(parseManifest(bytes(body), MediaType.OciManifest).mediaType, MediaType.OciManifest);
  });

  test("a Docker schema 2 manifest", () => {
    const body = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { ...CONFIG, mediaType: MediaType.DockerConfig },
      layers: [{ ...LAYER, mediaType: MediaType.DockerLayerGzip }],
    };
    const parsed = parseManifest(bytes(body), MediaType.DockerManifest);
    assert.equal(parsed.mediaType, MediaType.DockerManifest);
    assert.equal(parsed.kind, "image");
    assert.equal(parsed.blobs.length, 2);
    assert.equal(parseManifest(bytes(body)).mediaType, MediaType.DockerManifest);
  });

  test("a Docker manifest must carry its mediaType field", () => {
    const { mediaType: _, ...body } = ociManifest();
    assert.throws(() => parseManifest(bytes(body), MediaType.DockerManifest), invalid(/mediaType/));
  });

  test("an image manifest with no layers is valid", () => {
    assert.equal(parseManifest(bytes(ociManifest({ layers: [] }))).blobs.length, 1);
  });

  test("missing or malformed config is refused", () => {
    const { config: _, ...noConfig } = ociManifest();
    assert.throws(() => parseManifest(bytes(noConfig), MediaType.OciManifest), invalid(/config/));
    assert.throws(() => parseManifest(bytes(ociManifest({ config: "sha256:abc" }))), invalid(/config/));
    assert.throws(() => parseManifest(bytes(ociManifest({ config: null }))), invalid(/config/));
  });

  test("layers must be an array of descriptors", () => {
    assert.throws(() => parseManifest(bytes(ociManifest({ layers: undefined }))), invalid(/layers/));
    assert.throws(() => parseManifest(bytes(ociManifest({ layers: {} }))), invalid(/layers/));
    assert.throws(() => parseManifest(bytes(ociManifest({ layers: [null] }))), invalid(/layers\[0\]/));
  });

  test("an image manifest must not list manifests", () => {
    assert.throws(() => parseManifest(bytes(ociManifest({ manifests: [CHILD] }))), invalid(/manifests/));
  });
});

describe("parseManifest: descriptors", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["a digest that is not a string", { digest: 42 }, /layers\[0\]\.digest/],
    ["a malformed digest", { digest: "sha256:1234" }, /layers\[0\]\.digest/],
    ["an uppercase digest", { digest: LAYER.digest.toUpperCase() }, /layers\[0\]\.digest/],
    ["an unsupported digest algorithm", { digest: `md5:${"a".repeat(32)}` }, /layers\[0\]\.digest/],
    ["a negative size", { size: -1 }, /layers\[0\]\.size/],
    ["a fractional size", { size: 1.5 }, /layers\[0\]\.size/],
    ["a string size", { size: "5" }, /layers\[0\]\.size/],
    ["a missing size", { size: undefined }, /layers\[0\]\.size/],
    ["an unsafe integer size", { size: 2 ** 53 }, /layers\[0\]\.size/],
    ["a missing mediaType", { mediaType: undefined }, /layers\[0\]\.mediaType/],
    ["a malformed mediaType", { mediaType: "not a media type" }, /layers\[0\]\.mediaType/],
    ["urls that are not strings", { urls: [1] }, /layers\[0\]\.urls/],
    ["annotations that are not strings", { annotations: { a: 1 } }, /layers\[0\]\.annotations/],
    ["a malformed artifactType", { artifactType: "nope" }, /layers\[0\]\.artifactType/],
  ];
  for (const [label, change, pattern] of cases) {
    test(`refuses a layer with ${label}`, () => {
      assert.throws(
        () => parseManifest(bytes(ociManifest({ layers: [{ ...LAYER, ...change }] }))),
        invalid(pattern),
      );
    });
  }

  test("a config with a bad digest names the config", () => {
    assert.throws(
      () => parseManifest(bytes(ociManifest({ config: { ...CONFIG, digest: "sha256:zz" } }))),
      invalid(/config\.digest/),
    );
  });

  test("a size of zero and optional urls and annotations are fine", () => {
    const layer = { ...LAYER, size: 0, urls: ["https://example.com/l"], annotations: { a: "b" } };
    assert.doesNotThrow(() => parseManifest(bytes(ociManifest({ layers: [layer] }))));
  });

  test("a sha512 descriptor digest is fine", () => {
    const layer = { ...LAYER, digest: digestOf("layer", "sha512") };
    assert.doesNotThrow(() => parseManifest(bytes(ociManifest({ layers: [layer] }))));
  });
});

describe("parseManifest: indexes", () => {
  test("an OCI index yields its manifests as children", () => {
    const parsed = parseManifest(bytes(ociIndex()), MediaType.OciIndex);
    assert.equal(parsed.mediaType, MediaType.OciIndex);
    assert.equal(parsed.kind, "index");
    assert.deepEqual(parsed.blobs, []);
    assert.deepEqual(
      parsed.children.map((c) => c.digest),
      [CHILD.digest],
    );
  });

  test("without any mediaType, a manifests array means an OCI index", () => {
    const { mediaType: _, ...body } = ociIndex();
    assert.equal(parseManifest(bytes(body)).mediaType, MediaType.OciIndex);
  });

  test("an OCI index entry need not have a platform", () => {
    const { platform: _, ...child } = CHILD;
    assert.equal(parseManifest(bytes(ociIndex({ manifests: [child] }))).children.length, 1);
  });

  test("an empty index is valid", () => {
    assert.deepEqual(parseManifest(bytes(ociIndex({ manifests: [] }))).children, []);
  });

  test("a Docker manifest list needs a platform on every entry", () => {
    const list = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [{ ...CHILD, mediaType: MediaType.DockerManifest }],
    };
    const parsed = parseManifest(bytes(list), MediaType.DockerManifestList);
    assert.equal(parsed.mediaType, MediaType.DockerManifestList);
    assert.equal(parsed.kind, "index");

    const { platform: _, ...noPlatform } = list.manifests[0]!;
    const bad = { ...list, manifests: [list.manifests[0], noPlatform] };
    assert.throws(
      () => parseManifest(bytes(bad), MediaType.DockerManifestList),
      invalid(/manifests\[1\]\.platform/),
    );
  });

  test("a platform must have string os and architecture", () => {
    const child = { ...CHILD, platform: { os: "linux" } };
    assert.throws(() => parseManifest(bytes(ociIndex({ manifests: [child] }))), invalid(/platform/));
  });

  test("an index must not have config or layers, and manifests must be an array", () => {
    assert.throws(() => parseManifest(bytes(ociIndex({ config: CONFIG }))), invalid(/config/));
    assert.throws(() => parseManifest(bytes(ociIndex({ layers: [] }))), invalid(/layers/));
    assert.throws(() => parseManifest(bytes(ociIndex({ manifests: {} }))), invalid(/manifests/));
    assert.throws(
      () => parseManifest(bytes(ociIndex({ manifests: [{ digest: "x" }] }))),
      invalid(/manifests\[0\]/),
    );
  });
});

describe("parseManifest: media type agreement and schema 1", () => {
  test("a Content-Type that disagrees with the body's mediaType is refused", () => {
    assert.throws(
      () => parseManifest(bytes(ociManifest()), MediaType.OciIndex),
      invalid(/does not match Content-Type/),
    );
    assert.throws(
      () => parseManifest(bytes(ociManifest()), MediaType.DockerManifest),
      invalid(/does not match Content-Type/),
    );
  });

  test("an index body sent as an image manifest is refused", () => {
    const { mediaType: _, ...index } = ociIndex();
    assert.throws(() => parseManifest(bytes(index), MediaType.OciManifest), invalid());
  });

  test("an unknown body mediaType is refused", () => {
    assert.throws(
      () => parseManifest(bytes(ociManifest({ mediaType: "application/vnd.example+json" }))),
      invalid(/unsupported manifest media type/),
    );
    assert.throws(() => parseManifest(bytes(ociManifest({ mediaType: 5 }))), invalid(/mediaType/));
  });

  test("names of Object.prototype members are not manifest media types", () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const body = { schemaVersion: 2, mediaType: name, manifests: [] };
      assert.throws(() => parseManifest(bytes(body)), invalid(/unsupported manifest media type/), name);
      // As a Content-Type it is just not a manifest type: the body's shape decides.
      const { mediaType: _, ...shapeOnly } = body;
      assert.equal(parseManifest(bytes(shapeOnly), name).mediaType, MediaType.OciIndex, name);
    }
  });

  test("a body of unknown shape and type is refused", () => {
    assert.throws(() => parseManifest(bytes({ schemaVersion: 2 })), invalid());
  });

  for (const [label, body, contentType] of [
    ["by Content-Type", ociManifest(), MediaType.DockerSchema1],
    ["by signed Content-Type", ociManifest(), MediaType.DockerSchema1Signed],
    ["by schemaVersion 1", { schemaVersion: 1, name: "a", tag: "b", fsLayers: [], history: [] }, undefined],
    [
      "by body mediaType",
      { schemaVersion: 2, mediaType: MediaType.DockerSchema1Signed, config: CONFIG, layers: [] },
      undefined,
    ],
  ] as const) {
    test(`Docker schema 1 is refused ${label} with a message naming schema 1`, () => {
      assert.throws(() => parseManifest(bytes(body), contentType), invalid(/schema 1/i));
    });
  }

  test("schemaVersion must be 2", () => {
    for (const version of [undefined, 3, "2", 0]) {
      assert.throws(
        () => parseManifest(bytes(ociManifest({ schemaVersion: version }))),
        invalid(/schemaVersion/),
      );
    }
  });

  test("a body that is not a JSON object is refused", () => {
    assert.throws(() => parseManifest(Buffer.from("{not json")), invalid(/JSON/));
    assert.throws(() => parseManifest(Buffer.from("[]")), invalid(/object/));
    assert.throws(() => parseManifest(Buffer.from("null")), invalid(/object/));
    assert.throws(() => parseManifest(Buffer.from("")), invalid(/JSON/));
  });

  test("a body given as a view into a larger buffer is parsed from the view only", () => {
    const json = Buffer.from(JSON.stringify(ociManifest()));
    const backing = Buffer.concat([Buffer.from("garbage{"), json, Buffer.from("}garbage")]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, json.byteLength);
    assert.equal(parseManifest(view).mediaType, MediaType.OciManifest);
  });
});

describe("parseManifest: artifactType, annotations and subject", () => {
  test("artifactType of the manifest wins", () => {
    const parsed = parseManifest(bytes(ociManifest({ artifactType: "application/vnd.example.sbom.v1" })));
    assert.equal(parsed.artifactType, "application/vnd.example.sbom.v1");
  });

  test("without artifactType, an image manifest reports its config media type", () => {
    assert.equal(parseManifest(bytes(ociManifest())).artifactType, MediaType.OciConfig);
  });

  test("without artifactType, an image manifest with the empty config reports the empty media type", () => {
    // Distribution spec, Listing Referrers: "If the artifactType is empty or missing in the image
    // manifest, the value of artifactType MUST be set to the config descriptor mediaType value."
    const config = { mediaType: MediaType.OciEmpty, digest: digestOf("{}"), size: 2 };
    assert.equal(parseManifest(bytes(ociManifest({ config }))).artifactType, MediaType.OciEmpty);
  });

  test("an empty config with an artifactType reports the artifactType", () => {
    const config = { mediaType: MediaType.OciEmpty, digest: digestOf("{}"), size: 2 };
    const parsed = parseManifest(bytes(ociManifest({ config, artifactType: "application/vnd.example.sig" })));
    assert.equal(parsed.artifactType, "application/vnd.example.sig");
  });

  test("an index reports its own artifactType or none", () => {
    assert.equal(parseManifest(bytes(ociIndex())).artifactType, undefined);
    assert.equal(
      parseManifest(bytes(ociIndex({ artifactType: "application/vnd.example.bundle" }))).artifactType,
      "application/vnd.example.bundle",
    );
  });

  test("an artifactType that is not a media type is refused", () => {
    for (const artifactType of ["sbom", "", 7, "a/b/c", "text/ plain"]) {
      assert.throws(() => parseManifest(bytes(ociManifest({ artifactType }))), invalid(/artifactType/));
      assert.throws(() => parseManifest(bytes(ociIndex({ artifactType }))), invalid(/artifactType/));
    }
  });

  test("annotations must be a map of strings", () => {
    const parsed = parseManifest(bytes(ociManifest({ annotations: { "org.example": "v" } })));
    assert.deepEqual(parsed.annotations, { "org.example": "v" });
    assert.equal(parseManifest(bytes(ociManifest())).annotations, undefined);
    for (const annotations of [{ a: 1 }, ["a"], "a", null]) {
      assert.throws(() => parseManifest(bytes(ociManifest({ annotations }))), invalid(/annotations/));
    }
  });

  test("a subject is extracted from image manifests and indexes", () => {
    const subject = { mediaType: MediaType.OciManifest, digest: digestOf("subject"), size: 7 };
    assert.deepEqual(parseManifest(bytes(ociManifest({ subject }))).subject, subject);
    assert.deepEqual(parseManifest(bytes(ociIndex({ subject }))).subject, subject);
  });

  test("a malformed subject is refused", () => {
    const subject = { mediaType: MediaType.OciManifest, digest: "sha256:bad", size: 7 };
    assert.throws(() => parseManifest(bytes(ociManifest({ subject }))), invalid(/subject/));
    assert.throws(() => parseManifest(bytes(ociManifest({ subject: "sha256:x" }))), invalid(/subject/));
  });

  test("the parsed JSON is returned", () => {
    const body = ociManifest({ annotations: { k: "v" } });
    assert.deepEqual(parseManifest(bytes(body)).json, body);
  });
});

describe("parseManifest: size limit", () => {
  test("exactly 4 MiB is accepted", () => {
    const json = JSON.stringify(ociManifest({ annotations: { pad: "" } }));
    const padding = "x".repeat(MAX_MANIFEST_BYTES - Buffer.byteLength(json));
    const body = Buffer.from(json.replace('"pad":""', `"pad":"${padding}"`));
    assert.equal(body.byteLength, MAX_MANIFEST_BYTES);
    assert.equal(parseManifest(body).kind, "image");
  });

  test("more than 4 MiB is refused with status 413", () => {
    assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
    const body = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
    assert.throws(
      () => parseManifest(body, MediaType.OciManifest),
      (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.equal(error.status, 413);
        assert.match(error.message, /4194304|4 MiB/);
        return true;
      },
    );
  });
});

describe("referrersTagFor", () => {
  test("replaces the colon with a dash", () => {
    const digest = digestOf("x");
    assert.equal(referrersTagFor(digest), digest.replace("sha256:", "sha256-"));
  });

  test("truncates the encoded part to 64 characters for sha512", () => {
    const digest = digestOf("x", "sha512");
    assert.equal(referrersTagFor(digest), `sha512-${digest.slice(7, 7 + 64)}`);
  });
});
