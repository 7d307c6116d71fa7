/**
 * Referrers API: `/v2/<name>/referrers/<digest>` answers an OCI image index of the manifests
 * pushed with that `subject`, filters on `artifactType`, merges the referrers tag schema's
 * fallback index, and keeps it all across a restart.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  type Descriptor,
  digestOf,
  http,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  type PushedImage,
  type PushedManifest,
  pushBlob,
  pushImage,
  pushIndex,
  startServer,
  type TestServer,
} from "./helpers.ts";

const SBOM = "application/vnd.example.sbom.v1+json";
const SIG_CONFIG = "application/vnd.example.signature.config.v1+json";
const BUNDLE = "application/vnd.example.bundle.v1";
const LEGACY = "application/vnd.example.legacy.v1";

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

let server: TestServer;
let subject: PushedImage;
let sbom: PushedImage;
let signature: PushedImage;
let bundle: PushedManifest & { descriptor: Descriptor };

const sbomAnnotations = {
  "org.opencontainers.image.created": "2024-01-01T14:42:55Z",
  "org.example.sbom.format": "json",
};
const sigAnnotations = { "org.example.signature.fingerprint": "abcd" };
const bundleAnnotations = { "org.opencontainers.image.created": "2024-02-02T07:21:33Z" };

/** An artifact: empty config, one small layer, optional artifactType, subject and annotations. */
function pushArtifact(
  repo: string,
  options: {
    artifactType?: string;
    subject?: Descriptor;
    annotations?: Record<string, string>;
    configMediaType?: string;
  },
): Promise<PushedImage> {
  return pushImage(server, repo, undefined, {
    config: Buffer.from("{}"),
    configMediaType: options.configMediaType ?? OCI_EMPTY,
    layers: [randomBytes(64)],
    artifactType: options.artifactType,
    subject: options.subject,
    annotations: options.annotations,
  });
}

async function referrers(repo: string, digest: string, query = "") {
  const res = await http(server, "GET", `/v2/${repo}/referrers/${digest}${query}`);
  assert.equal(res.status, 200, `referrers: ${res.status} ${res.text()}`);
  assert.equal(res.header("content-type"), OCI_INDEX);
  const index = res.json<ReferrersIndex>();
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, OCI_INDEX);
  assert.ok(Array.isArray(index.manifests));
  return { res, index };
}

function byDigest(list: Descriptor[]): Map<string, Descriptor> {
  return new Map(list.map((d) => [d.digest, d]));
}

before(async () => {
  server = await startServer();
  subject = await pushImage(server, "ref/app", "v1");
  sbom = await pushArtifact("ref/app", {
    artifactType: SBOM,
    subject: subject.descriptor,
    annotations: sbomAnnotations,
  });
  // No artifactType: the referrers API reports the config media type.
  signature = await pushArtifact("ref/app", {
    configMediaType: SIG_CONFIG,
    subject: subject.descriptor,
    annotations: sigAnnotations,
  });
  const child = await pushImage(server, "ref/app", undefined);
  bundle = await pushIndex(server, "ref/app", undefined, [child.descriptor], {
    artifactType: BUNDLE,
    subject: subject.descriptor,
    annotations: bundleAnnotations,
  });
});

after(() => server.cleanup());

describe("referrers API", () => {
  test("lists every manifest and index pushed with the subject, with artifactType and annotations", async () => {
    const { res, index } = await referrers("ref/app", subject.digest);
    assert.equal(res.header("oci-filters-applied"), undefined);
    const found = byDigest(index.manifests);
    assert.equal(found.size, 3);
    assert.deepEqual(found.get(sbom.digest), {
      mediaType: OCI_MANIFEST,
      digest: sbom.digest,
      size: sbom.size,
      artifactType: SBOM,
      annotations: sbomAnnotations,
    });
    assert.deepEqual(found.get(signature.digest), {
      mediaType: OCI_MANIFEST,
      digest: signature.digest,
      size: signature.size,
      artifactType: SIG_CONFIG,
      annotations: sigAnnotations,
    });
    assert.deepEqual(found.get(bundle.digest), {
      mediaType: OCI_INDEX,
      digest: bundle.digest,
      size: bundle.size,
      artifactType: BUNDLE,
      annotations: bundleAnnotations,
    });
  });

  test("an image manifest without artifactType whose config is the empty descriptor reports the config media type", async () => {
    await pushArtifact("ref/empty", { subject: subject.descriptor });
    const { index } = await referrers("ref/empty", subject.digest);
    assert.equal(index.manifests.length, 1);
    // Distribution spec: "If the artifactType is empty or missing in the image manifest, the value of
    // artifactType MUST be set to the config descriptor mediaType value."
    assert.equal(index.manifests[0]!.artifactType, OCI_EMPTY);
  });

  test("an index without artifactType is listed without artifactType", async () => {
    const child = await pushImage(server, "ref/plainindex", undefined);
    const target = await pushImage(server, "ref/plainindex", "v1");
    const plain = await pushIndex(server, "ref/plainindex", undefined, [child.descriptor], {
      subject: target.descriptor,
    });
    const { index } = await referrers("ref/plainindex", target.digest);
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]!.digest, plain.digest);
    assert.equal("artifactType" in index.manifests[0]!, false);
  });

  test("?artifactType= filters and says so in OCI-Filters-Applied", async () => {
    const { res, index } = await referrers(
      "ref/app",
      subject.digest,
      `?artifactType=${encodeURIComponent(SBOM)}`,
    );
    assert.equal(res.header("oci-filters-applied"), "artifactType");
    assert.deepEqual(
      index.manifests.map((d) => d.digest),
      [sbom.digest],
    );
    const byConfig = await referrers(
      "ref/app",
      subject.digest,
      `?artifactType=${encodeURIComponent(SIG_CONFIG)}`,
    );
    assert.deepEqual(
      byConfig.index.manifests.map((d) => d.digest),
      [signature.digest],
    );
  });

  test("a filter that matches nothing is an empty list, still with OCI-Filters-Applied", async () => {
    const { res, index } = await referrers("ref/app", subject.digest, "?artifactType=application%2Fvnd.none");
    assert.equal(res.header("oci-filters-applied"), "artifactType");
    assert.deepEqual(index.manifests, []);
  });

  test("a subject without referrers (pushed or not) is 200 with an empty list", async () => {
    const lonely = await pushImage(server, "ref/app", "lonely");
    assert.deepEqual((await referrers("ref/app", lonely.digest)).index.manifests, []);
    assert.deepEqual((await referrers("ref/app", digestOf("never pushed"))).index.manifests, []);
  });

  test("a referrer pushed before its subject is listed", async () => {
    const futureConfig = Buffer.from(JSON.stringify({ future: randomBytes(8).toString("hex") }));
    const futureDigest = digestOf(futureConfig);
    const early = await pushArtifact("ref/early", {
      artifactType: SBOM,
      subject: { mediaType: OCI_MANIFEST, digest: futureDigest, size: futureConfig.byteLength },
    });
    const { index } = await referrers("ref/early", futureDigest);
    assert.deepEqual(
      index.manifests.map((d) => d.digest),
      [early.digest],
    );
  });

  test("referrers are scoped to the repository", async () => {
    await pushBlob(server, "ref/other", Buffer.from("x"));
    assert.deepEqual((await referrers("ref/other", subject.digest)).index.manifests, []);
  });

  test("referrers of another subject are not listed", async () => {
    const other = await pushImage(server, "ref/app", "other");
    const otherSig = await pushArtifact("ref/app", { artifactType: SBOM, subject: other.descriptor });
    const { index } = await referrers("ref/app", other.digest);
    assert.deepEqual(
      index.manifests.map((d) => d.digest),
      [otherSig.digest],
    );
    const main = await referrers("ref/app", subject.digest);
    assert.ok(!main.index.manifests.some((d) => d.digest === otherSig.digest));
  });

  test("a deleted referrer disappears from the list", async () => {
    const target = await pushImage(server, "ref/deleting", "v1");
    const keep = await pushArtifact("ref/deleting", { artifactType: SBOM, subject: target.descriptor });
    const drop = await pushArtifact("ref/deleting", { artifactType: SBOM, subject: target.descriptor });
    assert.equal((await referrers("ref/deleting", target.digest)).index.manifests.length, 2);
    const del = await http(server, "DELETE", `/v2/ref/deleting/manifests/${drop.digest}`);
    assert.equal(del.status, 202);
    assert.deepEqual(
      (await referrers("ref/deleting", target.digest)).index.manifests.map((d) => d.digest),
      [keep.digest],
    );
  });

  test("a sha512 subject", async () => {
    const target = await pushImage(server, "ref/sha512", undefined, { algorithm: "sha512" });
    const sig = await pushArtifact("ref/sha512", { artifactType: SBOM, subject: target.descriptor });
    const { index } = await referrers("ref/sha512", target.digest);
    assert.deepEqual(
      index.manifests.map((d) => d.digest),
      [sig.digest],
    );
  });

  test("an invalid digest is 400", async () => {
    const res = await http(server, "GET", "/v2/ref/app/referrers/sha256:nothex");
    assertError(res, 400, "DIGEST_INVALID");
  });

  test("methods other than GET are UNSUPPORTED", async () => {
    const res = await http(server, "DELETE", `/v2/ref/app/referrers/${subject.digest}`);
    assertError(res, 405, "UNSUPPORTED");
  });
});

describe("referrers tag schema (fallback) is merged in", () => {
  /** A manifest pushed by a client that kept its referrers list in the fallback tag instead. */
  async function legacyArtifact(repo: string, annotations: Record<string, string>): Promise<PushedImage> {
    return pushArtifact(repo, { artifactType: LEGACY, annotations });
  }

  function fallbackTag(digest: string): string {
    const [algorithm, encoded] = digest.split(":") as [string, string];
    return `${algorithm.slice(0, 32)}-${encoded.slice(0, 64)}`;
  }

  test("entries of the index tagged sha256-<hex> are listed alongside pushed referrers, once each", async () => {
    const target = await pushImage(server, "ref/fallback", "v1");
    const pushed = await pushArtifact("ref/fallback", { artifactType: SBOM, subject: target.descriptor });
    const legacy = await legacyArtifact("ref/fallback", { "org.example.legacy": "yes" });
    const legacyEntry: Descriptor = {
      ...legacy.descriptor,
      artifactType: LEGACY,
      annotations: { "org.example.legacy": "yes" },
    };
    // The fallback list also names the referrer pushed with subject: it must not appear twice.
    await pushIndex(server, "ref/fallback", fallbackTag(target.digest), [
      legacyEntry,
      { ...pushed.descriptor, artifactType: SBOM },
    ]);
    const { index } = await referrers("ref/fallback", target.digest);
    assert.equal(index.manifests.length, 2, JSON.stringify(index.manifests));
    const found = byDigest(index.manifests);
    assert.deepEqual(found.get(legacy.digest), legacyEntry);
    assert.equal(found.get(pushed.digest)?.artifactType, SBOM);

    const filtered = await referrers(
      "ref/fallback",
      target.digest,
      `?artifactType=${encodeURIComponent(LEGACY)}`,
    );
    assert.equal(filtered.res.header("oci-filters-applied"), "artifactType");
    assert.deepEqual(
      filtered.index.manifests.map((d) => d.digest),
      [legacy.digest],
    );
  });

  test("the fallback tag of a sha512 subject is sha512-<first 64 hex characters>", async () => {
    const target = await pushImage(server, "ref/fallback512", undefined, { algorithm: "sha512" });
    const legacy = await legacyArtifact("ref/fallback512", { "org.example.legacy": "512" });
    const tag = fallbackTag(target.digest);
    assert.equal(tag.length, "sha512-".length + 64);
    await pushIndex(server, "ref/fallback512", tag, [{ ...legacy.descriptor, artifactType: LEGACY }]);
    const { index } = await referrers("ref/fallback512", target.digest);
    assert.deepEqual(
      index.manifests.map((d) => d.digest),
      [legacy.digest],
    );
  });

  test("a fallback tag that holds an image manifest, not an index, is ignored", async () => {
    const target = await pushImage(server, "ref/notindex", "v1");
    await pushImage(server, "ref/notindex", fallbackTag(target.digest));
    const { index } = await referrers("ref/notindex", target.digest);
    assert.deepEqual(index.manifests, []);
  });
});

describe("persistence", () => {
  test("referrers and the fallback merge survive a restart", async () => {
    const before = await referrers("ref/app", subject.digest);
    const beforeFallback = await referrers("ref/fallback", (await tagDigest("ref/fallback", "v1"))!);
    await server.restart();
    const after = await referrers("ref/app", subject.digest);
    assert.deepEqual(after.index, before.index);
    assert.equal(after.index.manifests.length, 3);
    const afterFallback = await referrers("ref/fallback", (await tagDigest("ref/fallback", "v1"))!);
    assert.deepEqual(afterFallback.index, beforeFallback.index);
    const filtered = await referrers("ref/app", subject.digest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.deepEqual(
      filtered.index.manifests.map((d) => d.digest),
      [sbom.digest],
    );
  });
});

async function tagDigest(repo: string, tag: string): Promise<string | undefined> {
  const res = await http(server, "HEAD", `/v2/${repo}/manifests/${tag}`);
  return res.header("docker-content-digest");
}
