/**
 * The client against the real Reestr server (src/registry/server.ts), on loopback with a
 * throwaway data directory: every operation the client offers, and the typed errors.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { startServer } from "../../src/app/server.ts";
import { isRegistryClientError, type RegistryClientError } from "../../src/client/errors.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { testServerConfig } from "../api/helpers.ts";

let dir: string;
let server: Awaited<ReturnType<typeof startServer>>;
let client: RegistryClient;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-client-"));
  server = await startServer(testServerConfig({}, dir), { logger: new JsonLogger({ level: "error" }) });
  client = new RegistryClient({ baseUrl: server.url });
});
after(async () => {
  client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function blob(text: string) {
  const bytes = Buffer.from(text);
  return { bytes, digest: digestOf(bytes), size: bytes.length };
}

function expectCode(code: string, status?: number) {
  return (error: unknown) => {
    assert.ok(isRegistryClientError(error), `expected a RegistryClientError, got ${error}`);
    assert.equal((error as RegistryClientError).code, code);
    if (status !== undefined) assert.equal((error as RegistryClientError).status, status);
    return true;
  };
}

/** Pushes a config + one layer and returns an image manifest over them. */
async function pushImage(repository: string, seed: string) {
  const config = blob(
    JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, seed }),
  );
  const layer = blob(`layer ${seed}`);
  await client.pushBlob(repository, config, config.bytes);
  await client.pushBlob(repository, layer, layer.bytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }],
    }),
  );
  return { manifest, digest: digestOf(manifest), config, layer };
}

describe("RegistryClient against the Reestr server", () => {
  it("pings /v2/", async () => {
    const ping = await client.ping();
    assert.equal(ping.apiVersion, "registry/2.0");
  });

  it("uploads monolithically, checks, streams, ranges and deletes a blob", async () => {
    const b = blob("monolithic blob contents");
    assert.equal(await client.headBlob("c/mono", b.digest), undefined);
    assert.equal(await client.pushBlob("c/mono", b, () => Readable.from([b.bytes])), "uploaded");
    assert.equal(await client.pushBlob("c/mono", b, b.bytes), "exists");
    assert.deepEqual(await client.headBlob("c/mono", b.digest), { size: b.size });

    const whole = await client.getBlob("c/mono", b.digest);
    assert.equal(whole.status, 200);
    assert.equal(whole.length, b.size);
    assert.deepEqual(await collect(whole.stream), b.bytes);

    const part = await client.getBlob("c/mono", b.digest, { range: { start: 5, end: 9 } });
    assert.equal(part.status, 206);
    assert.equal(part.contentRange, `bytes 5-9/${b.size}`);
    assert.deepEqual(await collect(part.stream), b.bytes.subarray(5, 10));

    await client.deleteBlob("c/mono", b.digest);
    assert.equal(await client.headBlob("c/mono", b.digest), undefined);
    await assert.rejects(client.getBlob("c/mono", b.digest), expectCode("BLOB_UNKNOWN", 404));
  });

  it("uploads in chunks with progress", async () => {
    const bytes = Buffer.alloc(10_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
    const digest = digestOf(bytes);
    const progress: number[] = [];
    const result = await client.pushBlob(
      "c/chunked",
      { digest, size: bytes.length },
      () => Readable.from([bytes]),
      {
        chunkSize: 3000,
        onProgress: (n) => progress.push(n),
      },
    );
    assert.equal(result, "uploaded");
    assert.deepEqual(progress, [3000, 6000, 9000, 10_000]);
    assert.deepEqual(await collect((await client.getBlob("c/chunked", digest)).stream), bytes);
  });

  it("uploads with a single POST ?digest=", async () => {
    const b = blob("single post body");
    const posted = await client.postBlob("c/post", b.digest, b.size, () => Readable.from([b.bytes]));
    if (!posted.created) await client.putUpload("c/post", posted.location, b.digest, b.size, b.bytes);
    assert.deepEqual(await client.headBlob("c/post", b.digest), { size: b.size });
  });

  it("mounts a blob from another repository, and falls back to an upload session", async () => {
    const b = blob("mountable");
    await client.pushBlob("c/mount-src", b, b.bytes);
    assert.deepEqual(await client.mountBlob("c/mount-dst", b.digest, "c/mount-src"), { mounted: true });
    assert.deepEqual(await client.headBlob("c/mount-dst", b.digest), { size: b.size });
    assert.equal(await client.pushBlob("c/mount-dst2", b, b.bytes, { mountFrom: "c/mount-src" }), "mounted");

    const missing = blob("not anywhere");
    const fallback = await client.mountBlob("c/mount-dst", missing.digest, "c/mount-src");
    assert.equal(fallback.mounted, false);
    if (!fallback.mounted) {
      assert.deepEqual(await client.uploadStatus("c/mount-dst", fallback.location), {
        offset: 0,
        location: fallback.location,
      });
      await client.cancelUpload("c/mount-dst", fallback.location);
      await assert.rejects(
        client.uploadStatus("c/mount-dst", fallback.location),
        expectCode("BLOB_UPLOAD_UNKNOWN", 404),
      );
    }
  });

  it("refuses an upload whose content does not match the digest", async () => {
    const location = await client.startUpload("c/bad");
    await assert.rejects(
      client.putUpload("c/bad", location, digestOf("something else"), 4, Buffer.from("abcd")),
      expectCode("DIGEST_INVALID", 400),
    );
  });

  it("puts, gets, heads and deletes manifests", async () => {
    const image = await pushImage("c/manifests", "m1");
    const put = await client.putManifest("c/manifests", "v1", image.manifest, MediaType.OciManifest);
    assert.equal(put.digest, image.digest);

    const byTag = await client.getManifest("c/manifests", "v1");
    assert.deepEqual(byTag.bytes, image.manifest);
    assert.equal(byTag.digest, image.digest);
    assert.equal(byTag.mediaType, MediaType.OciManifest);
    assert.deepEqual(await client.headManifest("c/manifests", "v1"), {
      mediaType: MediaType.OciManifest,
      digest: image.digest,
      size: image.manifest.length,
    });
    assert.deepEqual((await client.getManifest("c/manifests", image.digest)).bytes, image.manifest);

    await client.deleteManifest("c/manifests", image.digest);
    assert.equal(await client.headManifest("c/manifests", "v1"), undefined);
    await assert.rejects(client.getManifest("c/manifests", "v1"), expectCode("MANIFEST_UNKNOWN", 404));
  });

  it("surfaces the registry's error envelope for an invalid manifest", async () => {
    const missing = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: digestOf("nope"), size: 4 },
        layers: [],
      }),
    );
    await assert.rejects(
      client.putManifest("c/invalid", "v1", missing, MediaType.OciManifest),
      expectCode("MANIFEST_BLOB_UNKNOWN", 400),
    );
  });

  it("follows Link pagination for tags and the catalog", async () => {
    const image = await pushImage("c/paged", "p");
    const tags = ["t1", "t2", "t3", "t4", "t5"];
    for (const tag of tags) await client.putManifest("c/paged", tag, image.manifest, MediaType.OciManifest);
    assert.deepEqual(await client.listTags("c/paged", { pageSize: 2 }), tags);
    assert.deepEqual(await client.listTags("c/paged"), tags);

    // The catalog lists repositories holding a manifest: make sure there are several.
    for (const repo of ["c/paged-2", "c/paged-3"]) {
      const other = await pushImage(repo, "p");
      await client.putManifest(repo, "p", other.manifest, MediaType.OciManifest);
    }
    const all = await client.catalog();
    assert.deepEqual(await client.catalog({ pageSize: 1 }), all);
    assert.ok(all.includes("c/paged"));
    const pages = [];
    for await (const page of client.catalogPages({ pageSize: 2 })) pages.push(page);
    assert.ok(pages.length >= 2);
    assert.ok(pages.every((p) => p.length <= 2));
  });

  it("reports an unknown repository as NAME_UNKNOWN", async () => {
    await assert.rejects(client.listTags("c/never-pushed"), expectCode("NAME_UNKNOWN", 404));
  });
});
