/**
 * The contract every `CatalogSource` honours (src/catalog/source.ts): what the catalogue may
 * rely on whichever registry is behind it. A runner calls `catalogSourceContract(name, traits,
 * makeFixture)`; the fixture is a source over an empty registry plus a writer that puts content
 * into that registry by other means (sources only read). The suite seeds it once, then:
 *
 * - probe: ok, with the catalog, and referrers exactly when the registry serves them;
 * - listRepositories, listTags: every name, each once; a tag's digest, when given, is its own;
 * - getManifest by tag and by digest: the stored bytes, digest and media type;
 * - getBlob: a small blob whole up to `maxBytes`, BAD_REQUEST past it;
 * - listReferrers: the artifacts pointing at a manifest ([] without the API);
 * - counts, storage, resolveTags, version: unknown (null / absent) or right;
 * - NOT_FOUND for an unknown repository, tag, manifest or blob;
 * - deletes only from a local source; a deleted tag is gone.
 *
 * Tests that change the content come last and say so.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CatalogError, type CatalogSource } from "../../src/catalog/source.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";

/** Puts content into the registry behind a source. */
export interface ContentWriter {
  putBlob(repository: string, bytes: Buffer): Promise<void>;
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<void>;
}

export interface CatalogSourceFixture {
  /** A source over an empty registry. */
  source: CatalogSource;
  writer: ContentWriter;
  cleanup(): Promise<void>;
}

export interface CatalogSourceTraits {
  /** The registry serves the OCI 1.1 referrers API. */
  referrers: boolean;
  /**
   * Reestr's own registry read in-process: it adds up its storage, resolves tags to digests and
   * deletes. Remote sources do none of these (the catalogue walks them), and the tests of those
   * three are not registered for them, rather than skipped.
   */
  local: boolean;
}

interface Image {
  digest: string;
  bytes: Buffer;
  config: { digest: string; size: number };
  layer: { digest: string; size: number; bytes: Buffer };
}

const APP = "contract/app";
const OTHER = "contract/other";
const SIGNATURE = "application/vnd.example.signature.v1+json";
const UNKNOWN_DIGEST = `sha256:${"e".repeat(64)}`;

async function pushImage(
  writer: ContentWriter,
  repository: string,
  tags: string[],
  arch: string,
): Promise<Image> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: "linux",
      rootfs: { type: "layers", diff_ids: [] },
      nonce: randomBytes(4).toString("hex"),
    }),
  );
  const layer = randomBytes(4096);
  await writer.putBlob(repository, config);
  await writer.putBlob(repository, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: digestOf(layer), size: layer.length }],
    }),
  );
  const digest = digestOf(manifest);
  await writer.putManifest(repository, digest, manifest, MediaType.OciManifest);
  for (const tag of tags) await writer.putManifest(repository, tag, manifest, MediaType.OciManifest);
  return {
    digest,
    bytes: manifest,
    config: { digest: digestOf(config), size: config.length },
    layer: { digest: digestOf(layer), size: layer.length, bytes: layer },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: CatalogError["code"]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CatalogError, `expected a CatalogError ${code}, got ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

export function catalogSourceContract(
  name: string,
  traits: CatalogSourceTraits,
  makeFixture: () => Promise<CatalogSourceFixture>,
): void {
  describe(`CatalogSource contract: ${name}`, () => {
    let fixture: CatalogSourceFixture;
    let source: CatalogSource;
    let amd64: Image;
    let arm64: Image;
    let other: Image;
    let index: { digest: string; bytes: Buffer };
    let referrer: string;
    /** Pushed by the first test that changes content. */
    let added: Image;
    /** Every tag the registry holds, by repository. */
    const tags: Record<string, string[]> = { [APP]: ["latest", "multi", "v1", "v2"], [OTHER]: ["1.0"] };

    before(async () => {
      fixture = await makeFixture();
      source = fixture.source;
      const { writer } = fixture;
      amd64 = await pushImage(writer, APP, ["v1", "latest"], "amd64");
      arm64 = await pushImage(writer, APP, ["v2"], "arm64");
      other = await pushImage(writer, OTHER, ["1.0"], "amd64");
      const indexBytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciIndex,
          manifests: [amd64, arm64].map((image, i) => ({
            mediaType: MediaType.OciManifest,
            digest: image.digest,
            size: image.bytes.length,
            platform: { os: "linux", architecture: i === 0 ? "amd64" : "arm64" },
          })),
        }),
      );
      await writer.putManifest(APP, "multi", indexBytes, MediaType.OciIndex);
      index = { digest: digestOf(indexBytes), bytes: indexBytes };
      // A signature of v1: an artifact whose subject is v1's manifest, stored by digest only.
      const empty = Buffer.from("{}");
      await writer.putBlob(APP, empty);
      const signature = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          artifactType: SIGNATURE,
          config: { mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: empty.length },
          layers: [{ mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: empty.length }],
          subject: { mediaType: MediaType.OciManifest, digest: amd64.digest, size: amd64.bytes.length },
        }),
      );
      referrer = digestOf(signature);
      await writer.putManifest(APP, referrer, signature, MediaType.OciManifest);
    });

    after(async () => {
      await fixture?.cleanup();
    });

    test("probe: ok, with the catalog, and referrers exactly when the registry serves them", async () => {
      const probe = await source.probe();
      assert.equal(probe.state, "ok", probe.message ?? "");
      assert.equal(probe.capabilities.catalog, true);
      assert.equal(probe.capabilities.referrers, traits.referrers);
      assert.deepEqual(probe.missingOperations, []);
    });

    test("identity: pull host and plain HTTP follow the base URL", () => {
      const url = new URL(source.baseUrl);
      assert.equal(source.pullHost, `${url.host}${url.pathname.replace(/\/+$/, "")}`);
      assert.equal(source.plainHttp, url.protocol === "http:");
    });

    test("listRepositories: every repository, once; a tag count, when given, is right", async () => {
      const repositories = await source.listRepositories();
      assert.deepEqual(repositories.map((r) => r.name).sort(), [APP, OTHER]);
      for (const repo of repositories) {
        if (repo.tagCount !== undefined) assert.equal(repo.tagCount, tags[repo.name]!.length, repo.name);
      }
    });

    test("listTags: every tag, once; a digest, when given, is the tag's", async () => {
      const listed = await source.listTags(APP);
      assert.deepEqual(listed.map((t) => t.tag).sort(), tags[APP]);
      const expected: Record<string, string> = {
        latest: amd64.digest,
        v1: amd64.digest,
        v2: arm64.digest,
        multi: index.digest,
      };
      for (const tag of listed)
        if (tag.digest !== undefined) assert.equal(tag.digest, expected[tag.tag], tag.tag);
    });

    test("listTags of an unknown repository: NOT_FOUND", async () => {
      await rejectsWith(source.listTags("contract/never-pushed"), "NOT_FOUND");
    });

    test("getManifest by tag and by digest: the stored bytes, digest and media type", async () => {
      for (const reference of ["v1", amd64.digest]) {
        const manifest = await source.getManifest(APP, reference);
        assert.equal(manifest.digest, amd64.digest, reference);
        assert.equal(manifest.mediaType, MediaType.OciManifest);
        assert.deepEqual(manifest.bytes, amd64.bytes);
      }
      const multi = await source.getManifest(APP, "multi");
      assert.equal(multi.digest, index.digest);
      assert.equal(multi.mediaType, MediaType.OciIndex);
      assert.deepEqual(multi.bytes, index.bytes);
    });

    test("getManifest of an unknown tag, digest or repository: NOT_FOUND", async () => {
      await rejectsWith(source.getManifest(APP, "no-such-tag"), "NOT_FOUND");
      await rejectsWith(source.getManifest(APP, UNKNOWN_DIGEST), "NOT_FOUND");
      await rejectsWith(source.getManifest("contract/never-pushed", "v1"), "NOT_FOUND");
    });

    test("getBlob: a small blob whole up to maxBytes; BAD_REQUEST past it", async () => {
      const { layer } = amd64;
      assert.deepEqual(await source.getBlob(APP, layer.digest, layer.size), layer.bytes);
      await rejectsWith(source.getBlob(APP, layer.digest, layer.size - 1), "BAD_REQUEST");
      const config = await source.getBlob(APP, amd64.config.digest, 1024 * 1024);
      assert.equal(config.length, amd64.config.size);
      assert.equal(digestOf(config), amd64.config.digest);
    });

    test("getBlob of an unknown blob or repository: NOT_FOUND", async () => {
      await rejectsWith(source.getBlob(APP, UNKNOWN_DIGEST, 1024), "NOT_FOUND");
      await rejectsWith(
        source.getBlob("contract/never-pushed", amd64.layer.digest, 1024 * 1024),
        "NOT_FOUND",
      );
    });

    test("listReferrers: the artifacts pointing at a manifest ([] without the API)", async () => {
      const referrers = await source.listReferrers(APP, amd64.digest);
      if (traits.referrers) {
        assert.deepEqual(
          referrers.map((r) => ({ digest: r.digest, artifactType: r.artifactType, mediaType: r.mediaType })),
          [{ digest: referrer, artifactType: SIGNATURE, mediaType: MediaType.OciManifest }],
        );
        assert.ok(referrers[0]!.size > 0);
      } else {
        assert.deepEqual(referrers, []);
      }
      assert.deepEqual(await source.listReferrers(APP, arm64.digest), [], "nothing points at v2");
    });

    test("counts: each unknown (null) or right", async () => {
      const counts = await source.counts();
      if (counts.repositories !== null) assert.equal(counts.repositories, 2);
      if (counts.tags !== null) assert.equal(counts.tags, tags[APP]!.length + tags[OTHER]!.length);
      if (counts.storageBytes !== null) {
        const images = [amd64, arm64, other];
        const least = images.reduce((sum, image) => sum + image.config.size + image.layer.size, 0);
        assert.ok(counts.storageBytes >= least, `${counts.storageBytes} bytes, at least ${least} stored`);
      }
    });

    const localOnly = traits.local ? test : () => {};

    test("a local source adds up storage and resolves tags itself; a remote one leaves both to the catalogue", () => {
      assert.equal(source.storage !== undefined, traits.local);
      assert.equal(source.resolveTags !== undefined, traits.local);
    });

    localOnly("storage: every repository with its tags and bytes", async () => {
      const report = await source.storage!();
      const byName = new Map(report.repositories.map((r) => [r.name, r]));
      assert.deepEqual([...byName.keys()].sort(), [APP, OTHER]);
      assert.equal(byName.get(OTHER)!.tagCount, 1);
      assert.ok(byName.get(OTHER)!.bytes >= other.config.size + other.layer.size);
      assert.ok(report.totalBytes >= byName.get(APP)!.bytes);
    });

    localOnly("resolveTags: each known tag's current digest, unknown ones left out", async () => {
      const digests = await source.resolveTags!(APP, ["v1", "v2", "no-such-tag"]);
      assert.deepEqual(Object.fromEntries(digests), { v1: amd64.digest, v2: arm64.digest });
    });

    test("deletes: offered by local sources only", () => {
      assert.equal(source.deleteTag !== undefined, source.local);
      assert.equal(source.deleteManifest !== undefined, source.local);
    });

    // ---- from here on, the content changes ----------------------------------------------

    test("(changes content) version, when the source tells one, changes with a push; the push shows", async () => {
      const before = await source.version?.();
      added = await pushImage(fixture.writer, OTHER, ["2.0"], "riscv64");
      tags[OTHER]!.push("2.0");
      if (before !== undefined) assert.notEqual(await source.version!(), before);
      assert.deepEqual((await source.listTags(OTHER)).map((t) => t.tag).sort(), tags[OTHER]);
    });

    localOnly("(changes content) deleteTag: the tag is gone, its manifest stays", async () => {
      await source.deleteTag!(OTHER, "2.0");
      assert.deepEqual(
        (await source.listTags(OTHER)).map((t) => t.tag),
        ["1.0"],
      );
      assert.equal((await source.getManifest(OTHER, added.digest)).digest, added.digest);
      await rejectsWith(source.getManifest(OTHER, "2.0"), "NOT_FOUND");
    });
  });
}
