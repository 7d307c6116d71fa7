import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { BlobDigestMismatchError, OciLayout, REF_NAME_ANNOTATION } from "../../src/image/oci-layout.ts";
import { indexTar } from "../../src/image/tar.ts";
import { walkImage } from "../../src/image/walk.ts";
import { type Digest, digestOf } from "../../src/oci/digest.ts";
import type { ImageManifest } from "../../src/oci/manifest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { makeMultiArchImage, makeOciImage } from "../helpers/fixtures.ts";

const run = promisify(execFile);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-layout-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("OciLayout", () => {
  it("creates a layout, writes blobs atomically and reads them back", async () => {
    const layout = await OciLayout.create(join(dir, "basic"));
    assert.deepEqual(JSON.parse(await readFile(join(dir, "basic", "oci-layout"), "utf8")), {
      imageLayoutVersion: "1.0.0",
    });
    assert.deepEqual((await layout.readIndex()).manifests, []);

    const bytes = Buffer.from("some blob content");
    const digest = digestOf(bytes);
    assert.deepEqual(await layout.writeBlob(bytes, { digest }), { digest, size: bytes.length });
    assert.equal(await layout.blobSize(digest), bytes.length);
    assert.deepEqual(await layout.readBlob(digest), bytes);
    assert.deepEqual(await collect(await layout.openBlob(digest)), bytes);
    assert.deepEqual(
      await collect(await layout.openBlob(digest, { start: 5, end: 8 })),
      bytes.subarray(5, 9),
    );

    // Without an expected digest the written content names itself.
    const streamed = await layout.writeBlob(Readable.from([Buffer.from("a"), Buffer.from("b")]));
    assert.equal(streamed.digest, digestOf("ab"));
  });

  it("refuses a blob whose content does not match its digest and leaves nothing behind", async () => {
    const layout = await OciLayout.create(join(dir, "mismatch"));
    const wrong = digestOf("other content");
    await assert.rejects(
      layout.writeBlob(Buffer.from("content"), { digest: wrong }),
      BlobDigestMismatchError,
    );
    assert.equal(await layout.hasBlob(wrong), false);
    assert.deepEqual(await readdir(join(dir, "mismatch", "blobs", "sha256")), []);
    await assert.rejects(
      layout.writeBlob(Buffer.from("content"), { digest: digestOf("content"), size: 3 }),
      /3 bytes/,
    );
  });

  it("tags manifests in index.json and resolves them by ref, digest or as the only one", async () => {
    const layout = await OciLayout.create(join(dir, "tags"));
    const one = { mediaType: MediaType.OciManifest, digest: digestOf("{}") as Digest, size: 2 };
    await layout.writeBlob(Buffer.from("{}"));
    await layout.tag(one, "v1");
    assert.equal((await layout.resolve()).digest, one.digest);
    assert.equal((await layout.resolve("v1")).digest, one.digest);
    assert.equal((await layout.resolve(one.digest)).digest, one.digest);

    const two = { mediaType: MediaType.OciManifest, digest: digestOf('{"a":1}') as Digest, size: 7 };
    await layout.tag(two, "v2");
    await assert.rejects(layout.resolve(), /holds 2 manifests/);
    await assert.rejects(layout.resolve("v3"), /no image tagged "v3"/);
    // Re-tagging moves the ref: a ref names exactly one manifest.
    await layout.tag(two, "v1");
    const index = await layout.readIndex();
    assert.deepEqual(
      index.manifests.map((m) => [m.digest, m.annotations?.[REF_NAME_ANNOTATION]]),
      [
        [two.digest, "v2"],
        [two.digest, "v1"],
      ],
    );
  });

  it("opening a directory that is not a layout fails clearly", async () => {
    await assert.rejects(OciLayout.open(join(dir, "nowhere")), /not an OCI image layout/);
  });
});

describe("fixtures", () => {
  it("makeOciImage writes a valid image: diff_ids match the uncompressed layers", async () => {
    const path = join(dir, "fixture");
    const fixture = await makeOciImage(path, { tag: "t1", layers: 3, layerSize: 10_000, seed: "s1" });
    const layout = await OciLayout.open(path);
    const root = await layout.resolve("t1");
    assert.equal(root.digest, fixture.digest);
    assert.equal(root.size, fixture.size);
    const manifest = JSON.parse((await layout.readBlob(root.digest)).toString()) as ImageManifest;
    assert.equal(manifest.layers.length, 3);
    const config = JSON.parse((await layout.readBlob(manifest.config.digest)).toString()) as {
      os: string;
      architecture: string;
      rootfs: { type: string; diff_ids: string[] };
      history: unknown[];
    };
    assert.equal(config.os, "linux");
    assert.equal(config.architecture, "amd64");
    assert.equal(config.rootfs.type, "layers");
    assert.equal(config.history.length, 3);
    for (const [i, layer] of manifest.layers.entries()) {
      assert.equal(layer.mediaType, MediaType.OciLayerGzip);
      const compressed = await layout.readBlob(layer.digest);
      assert.equal(digestOf(compressed), layer.digest);
      const tar = gunzipSync(compressed);
      assert.equal(digestOf(tar), config.rootfs.diff_ids[i]);
    }
    assert.deepEqual(
      fixture.blobs.map((b) => b.digest),
      [manifest.config.digest, ...manifest.layers.map((l) => l.digest)],
    );
    // The layers are real tars.
    const tarPath = join(dir, "layer.tar");
    await writeFile(tarPath, gunzipSync(await layout.readBlob(manifest.layers[0]!.digest)));
    const entries = await indexTar(tarPath);
    assert.deepEqual(
      entries.map((e) => [e.name, e.size]),
      [
        ["layer0", 0],
        ["layer0/seed.txt", 5],
        ["layer0/data.bin", 10_000],
      ],
    );
  });

  it("equal seeds give equal images, no seed gives distinct ones", async () => {
    const a = await makeOciImage(join(dir, "seed-a"), { seed: "same" });
    const b = await makeOciImage(join(dir, "seed-b"), { seed: "same" });
    const c = await makeOciImage(join(dir, "seed-c"));
    const d = await makeOciImage(join(dir, "seed-d"));
    assert.equal(a.digest, b.digest);
    assert.notEqual(c.digest, d.digest);
  });

  it("skopeo inspects a fixture image", async () => {
    const path = join(dir, "skopeo-single");
    const fixture = await makeOciImage(path, { tag: "v1", platform: { os: "linux", architecture: "arm64" } });
    const { stdout } = await run("skopeo", ["inspect", `oci:${path}:v1`]);
    const info = JSON.parse(stdout) as { Digest: string; Architecture: string; Os: string; Layers: string[] };
    assert.equal(info.Digest, fixture.digest);
    assert.equal(info.Architecture, "arm64");
    assert.equal(info.Os, "linux");
    assert.deepEqual(
      info.Layers,
      fixture.blobs.slice(1).map((b) => b.digest),
    );
  });

  it("makeMultiArchImage writes an index skopeo copies with --all", async () => {
    const path = join(dir, "multi");
    const platforms = [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
    ];
    const multi = await makeMultiArchImage(path, { tag: "m", platforms });
    assert.equal(multi.children.length, 2);
    const layout = await OciLayout.open(path);
    const root = await layout.resolve("m");
    assert.equal(root.mediaType, MediaType.OciIndex);
    assert.equal(root.digest, multi.digest);
    const graph = await walkImage(root, (d) => layout.readBlob(d.digest));
    assert.deepEqual(
      graph.manifests.map((m) => m.descriptor.digest),
      [...multi.children.map((c) => c.digest), multi.digest],
    );
    assert.equal(graph.blobs.length, 4);
    const arm = await walkImage(root, (d) => layout.readBlob(d.digest), {
      platform: { os: "linux", architecture: "arm64" },
    });
    assert.equal(arm.root.digest, multi.children[1]!.digest);

    const { stdout } = await run("skopeo", ["inspect", "--raw", `oci:${path}:m`]);
    assert.equal(digestOf(stdout), multi.digest);
    const copy = join(dir, "multi-copy");
    await run("skopeo", ["copy", "--all", `oci:${path}:m`, `oci:${copy}:m`]);
    assert.equal((await (await OciLayout.open(copy)).resolve("m")).digest, multi.digest);
  });
});
