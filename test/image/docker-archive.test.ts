import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { DockerArchive } from "../../src/image/docker-archive.ts";
import { OciLayout } from "../../src/image/oci-layout.ts";
import { openImageSource } from "../../src/image/open.ts";
import { type TarInputEntry, tarBuffer } from "../../src/image/tar.ts";
import { walkImage } from "../../src/image/walk.ts";
import { type Digest, digestOf } from "../../src/oci/digest.ts";
import type { ImageManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { makeOciImage } from "../helpers/fixtures.ts";

const run = promisify(execFile);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-docker-archive-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A classic `docker save` archive: <id>.json config, <layer-id>/layer.tar, manifest.json. */
async function classicArchive() {
  const plainLayer = await tarBuffer([{ name: "bin/tool", data: "#!/bin/sh\necho tool\n", mode: 0o755 }]);
  const gzipLayerTar = await tarBuffer([{ name: "etc/motd", data: "hi\n" }]);
  const gzipLayer = gzipSync(gzipLayerTar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Cmd: ["/bin/tool"] },
      rootfs: { type: "layers", diff_ids: [digestOf(plainLayer), digestOf(gzipLayerTar)] },
    }),
  );
  const configHex = digestOf(config).slice("sha256:".length);
  const otherConfig = Buffer.from(
    JSON.stringify({
      architecture: "arm64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [digestOf(plainLayer)] },
    }),
  );
  const otherHex = digestOf(otherConfig).slice("sha256:".length);
  const manifest = [
    {
      Config: `${configHex}.json`,
      RepoTags: ["demo/app:1.0", "demo/app:latest"],
      Layers: ["aaa/layer.tar", "bbb/layer.tar"],
    },
    // Docker dedups a repeated layer with a symlink to the first copy.
    { Config: `${otherHex}.json`, RepoTags: ["other:2"], Layers: ["ccc/layer.tar"] },
  ];
  const entries: TarInputEntry[] = [
    { name: "aaa", type: "directory" },
    { name: "aaa/layer.tar", data: plainLayer },
    { name: "bbb", type: "directory" },
    { name: "bbb/layer.tar", data: gzipLayer },
    { name: "ccc", type: "directory" },
    { name: "ccc/layer.tar", type: "symlink", linkname: "../aaa/layer.tar" },
    { name: `${configHex}.json`, data: config },
    { name: `${otherHex}.json`, data: otherConfig },
    { name: "manifest.json", data: JSON.stringify(manifest) },
    { name: "repositories", data: JSON.stringify({ "demo/app": { "1.0": "aaa" } }) },
  ];
  const path = join(dir, "classic.tar");
  await writeFile(path, await tarBuffer(entries));
  return { path, plainLayer, gzipLayer, config, otherConfig };
}

describe("DockerArchive (classic docker save)", () => {
  it("presents each image as an OCI manifest over the archive's own config and layers", async () => {
    const fx = await classicArchive();
    const archive = await DockerArchive.open(fx.path);
    assert.equal(archive.isOciLayout(), false);
    assert.deepEqual(await archive.tags(), ["demo/app:1.0", "demo/app:latest", "other:2"]);
    await assert.rejects(archive.resolve(), /holds 2 images/);
    await assert.rejects(archive.resolve("nope:1"), /no image tagged/);

    const root = await archive.resolve("demo/app:1.0");
    assert.equal(root.mediaType, MediaType.OciManifest);
    assert.equal((await archive.resolve("demo/app:latest")).digest, root.digest);
    const manifestBytes = await archive.readBlob(root.digest);
    assert.equal(digestOf(manifestBytes), root.digest);
    const manifest = JSON.parse(manifestBytes.toString()) as ImageManifest;
    assert.deepEqual(manifest.config, {
      mediaType: MediaType.OciConfig,
      digest: digestOf(fx.config),
      size: fx.config.length,
    });
    // Layers are kept byte for byte; the media type follows their magic bytes.
    assert.deepEqual(manifest.layers, [
      { mediaType: MediaType.OciLayer, digest: digestOf(fx.plainLayer), size: fx.plainLayer.length },
      { mediaType: MediaType.OciLayerGzip, digest: digestOf(fx.gzipLayer), size: fx.gzipLayer.length },
    ]);
    assert.deepEqual(await collect(await archive.openBlob(manifest.layers[1]!.digest)), fx.gzipLayer);
    assert.deepEqual(await archive.readBlob(manifest.config.digest), fx.config);
    assert.equal(await archive.blobSize(manifest.layers[0]!.digest), fx.plainLayer.length);
    assert.equal(await archive.blobSize(digestOf("absent")), undefined);

    // The symlinked layer of the second image resolves to the first image's bytes.
    const other = await archive.resolve("other:2");
    const graph = await walkImage(other, (d) => archive.readBlob(d.digest));
    assert.deepEqual(
      graph.blobs.map((b) => b.digest),
      [digestOf(fx.otherConfig), digestOf(fx.plainLayer)],
    );
    assert.deepEqual(await collect(await archive.openBlob(digestOf(fx.plainLayer))), fx.plainLayer);
  });

  it("reads archives skopeo writes (docker-archive transport)", async () => {
    const layoutDir = join(dir, "for-skopeo");
    const fixture = await makeOciImage(layoutDir, { tag: "v1", layers: 2, layerSize: 4096 });
    const path = join(dir, "skopeo.tar");
    await run("skopeo", ["copy", `oci:${layoutDir}:v1`, `docker-archive:${path}:demo/skopeo:v1`]);
    const { source, ref } = await openImageSource(`${path}:demo/skopeo:v1`);
    assert.ok(source instanceof DockerArchive);
    assert.equal(ref, "demo/skopeo:v1");
    const root = await source.resolve(ref);
    const manifest = JSON.parse((await source.readBlob(root.digest)).toString()) as ImageManifest;
    const config = JSON.parse((await source.readBlob(manifest.config.digest)).toString()) as {
      rootfs: { diff_ids: string[] };
    };
    // skopeo stores layers uncompressed: each layer's digest is its diff_id.
    assert.equal(manifest.layers.length, 2);
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      config.rootfs.diff_ids,
    );
    assert.ok(manifest.layers.every((l) => l.mediaType === MediaType.OciLayer));
    // The original compressed image and this one describe the same file system.
    const original = await OciLayout.open(layoutDir);
    const originalConfig = JSON.parse(
      (await original.readBlob(fixture.blobs[0]!.digest as Digest)).toString(),
    ) as {
      rootfs: { diff_ids: string[] };
    };
    assert.deepEqual(config.rootfs.diff_ids, originalConfig.rootfs.diff_ids);
  });
});

describe("DockerArchive (docker 25+ archive with an OCI layout inside)", () => {
  it("reads index.json and blobs straight from the tar", async () => {
    const layoutDir = join(dir, "inner-layout");
    const fixture = await makeOciImage(layoutDir, { tag: "ignored", layers: 1, layerSize: 2048 });
    const blobNames = await readdir(join(layoutDir, "blobs", "sha256"));
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        {
          mediaType: fixture.mediaType,
          digest: fixture.digest,
          size: fixture.size,
          annotations: {
            "io.containerd.image.name": "docker.io/library/demo:1.0",
            "org.opencontainers.image.ref.name": "1.0",
          },
        },
      ],
    };
    const manifestJson = [
      {
        Config: `blobs/sha256/${fixture.blobs[0]!.digest.slice(7)}`,
        RepoTags: ["demo:1.0"],
        Layers: fixture.blobs.slice(1).map((b) => `blobs/sha256/${b.digest.slice(7)}`),
      },
    ];
    const entries: TarInputEntry[] = [
      { name: "blobs", type: "directory" },
      { name: "blobs/sha256", type: "directory" },
    ];
    for (const name of blobNames) {
      const data = await readFile(join(layoutDir, "blobs", "sha256", name));
      entries.push({ name: relative(layoutDir, join(layoutDir, "blobs", "sha256", name)), data });
    }
    entries.push(
      { name: "index.json", data: JSON.stringify(index) },
      { name: "manifest.json", data: JSON.stringify(manifestJson) },
      { name: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    );
    const path = join(dir, "docker25.tar");
    await writeFile(path, await tarBuffer(entries));

    const archive = await DockerArchive.open(path);
    assert.equal(archive.isOciLayout(), true);
    assert.deepEqual(await archive.tags(), ["docker.io/library/demo:1.0"]);
    for (const ref of [undefined, "1.0", "demo:1.0", "docker.io/library/demo:1.0"]) {
      assert.equal((await archive.resolve(ref)).digest, fixture.digest, `ref ${ref}`);
    }
    const graph = await walkImage(await archive.resolve("1.0"), (d) => archive.readBlob(d.digest));
    assert.deepEqual(
      graph.blobs.map((b) => b.digest),
      fixture.blobs.map((b) => b.digest),
    );
    const layer = fixture.blobs[1]!;
    const bytes = await collect(await archive.openBlob(layer.digest as Digest));
    assert.equal(digestOf(bytes), layer.digest);
  });

  it("refuses a tarball that is not a docker-save archive", async () => {
    const path = join(dir, "plain.tar");
    await writeFile(path, await tarBuffer([{ name: "hello.txt", data: "hi" }]));
    await assert.rejects(DockerArchive.open(path), /not a docker-save archive/);
  });
});
