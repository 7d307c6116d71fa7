/**
 * `reestr migrate`: an embedded registry (a data dir pushed to through a real server) copied to
 * S3 (Ceph radosgw, test/helpers/ceph-rgw.ts) + PostgreSQL (a private cluster,
 * test/helpers/postgres.ts), then served by `reestr serve` on the target config: every tag pulls
 * with the source's digests, every blob hashes to its digest, referrers and pull counts came
 * along, skopeo copies an image out. Also: refused while a server holds the source, a dry run
 * writes nothing, a corrupt source blob stops the run naming it with nothing written for it, and
 * kill -9 mid-way then a rerun converges.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import type { Digest } from "../../src/oci/digest.ts";
import { blobPath } from "../../src/registry/layout.ts";
import { PostgresMetadataStore } from "../../src/registry/metadata/postgres-metadata-store.ts";
import { S3BlobStore } from "../../src/registry/storage/s3-blob-store.ts";
import {
  OCI_MANIFEST,
  pushImage,
  pushIndex,
  pushManifest,
  startServer as startApiServer,
  type TestServer,
} from "../api/helpers.ts";
import { type Rgw, startRgw } from "../helpers/ceph-rgw.ts";
import { type PostgresCluster, postgresMissing, startPostgres } from "../helpers/postgres.ts";
import { REESTR_BIN, type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const MiB = 1024 * 1024;
const BUCKET = "reestr-migrate-test";
const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");
const SIGNATURE_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json";

const skip = postgresMissing();
let pg: PostgresCluster;
let rgw: Rgw;
let work: string;
const cleanups: (() => Promise<void>)[] = [];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function migrate(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [REESTR_BIN, "migrate", ...args],
      { timeout: 120_000, maxBuffer: 64 * MiB },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A target config file: blobs under `prefix` in the test bucket, metadata in a fresh database. */
async function targetConfig(
  name: string,
): Promise<{ file: string; url: string; s3: Record<string, unknown> }> {
  const url = await pg.createDatabase();
  const s3 = {
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket: BUCKET,
    prefix: name,
    forcePathStyle: true,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
  };
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({ dataDir: join(work, `${name}-data`), storage: { s3 }, metadata: { postgres: { url } } }),
  );
  return { file, url, s3 };
}

function s3Store(s3: Record<string, unknown>): S3BlobStore {
  return new S3BlobStore({
    endpoint: s3.endpoint as string,
    region: s3.region as string,
    bucket: BUCKET,
    prefix: s3.prefix as string,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  });
}

async function get(server: ServerProcess, path: string, accept = ACCEPT) {
  const response = await fetch(`${server.url}${path}`, { headers: { accept } });
  return {
    status: response.status,
    headers: response.headers,
    body: Buffer.from(await response.arrayBuffer()),
  };
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** What the source holds, as the test pushed it: tag → digest per repository. */
type Tags = Map<string, Map<string, string>>;

function remember(tags: Tags, repository: string, tag: string, digest: string): void {
  const map = tags.get(repository) ?? new Map<string, string>();
  map.set(tag, digest);
  tags.set(repository, map);
}

describe("reestr migrate", { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "reestr-migrate-"));
    [pg, rgw] = await Promise.all([startPostgres(), startRgw()]);
    await rgw.createBucket(BUCKET);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await Promise.all([pg?.cleanup(), rgw?.down()]);
    rmSync(work, { recursive: true, force: true });
  });

  test("copies repositories, indexes, referrers, tags and pulls to S3 + PostgreSQL; the target serves them", async () => {
    const source: TestServer = await startApiServer({ config: { storage: { pullStats: true } } });
    cleanups.push(() => source.cleanup());
    const tags: Tags = new Map();
    const shared = randomBytes(64 * 1024);
    const v1 = await pushImage(source, "library/app", "v1", { layers: [shared, randomBytes(6 * MiB)] });
    remember(tags, "library/app", "v1", v1.digest);
    const v2 = await pushImage(source, "library/app", "v2", { layers: [shared, randomBytes(512 * 1024)] });
    remember(tags, "library/app", "v2", v2.digest);
    // A second tag on the same manifest.
    await pushManifest(source, "library/app", "latest", v2.bytes, OCI_MANIFEST);
    remember(tags, "library/app", "latest", v2.digest);
    const sig = await pushImage(source, "library/app", undefined, {
      artifactType: SIGNATURE_TYPE,
      layers: [randomBytes(300)],
      subject: v1.descriptor,
    });
    const amd = await pushImage(source, "library/multi", undefined, { layers: [randomBytes(2048)] });
    const arm = await pushImage(source, "library/multi", undefined, { layers: [shared] });
    const index = await pushIndex(source, "library/multi", "1.0", [
      { ...amd.descriptor, platform: { os: "linux", architecture: "amd64" } },
      { ...arm.descriptor, platform: { os: "linux", architecture: "arm64" } },
    ]);
    remember(tags, "library/multi", "1.0", index.digest);
    const tools = await pushImage(source, "team/tools", "stable", { layers: [shared, randomBytes(4096)] });
    remember(tags, "team/tools", "stable", tools.digest);
    // Pulls, recorded when the server stops.
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${source.url}/v2/library/app/manifests/v1`, {
        headers: { accept: ACCEPT },
      });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }

    const target = await targetConfig("main");
    const refused = await migrate(["--from", source.dataDir, "--to", target.file]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /is in use by another reestr serve/);
    await source.stop();

    const dry = await migrate(["--from", source.dataDir, "--to", target.file, "--dry-run", "--json"]);
    assert.equal(dry.code, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout);
    assert.equal(planned.dryRun, true);
    assert.equal(planned.blobs.copied, planned.blobs.total);

    const first = await migrate(["--from", source.dataDir, "--to", target.file, "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const result = JSON.parse(first.stdout);
    // The dry run wrote nothing: everything was copied now.
    assert.equal(result.blobs.present, 0);
    assert.equal(result.blobs.copied, planned.blobs.total);
    assert.equal(result.repositories, 3);
    // library/app: v1, v2, signature; library/multi: two children and the index; team/tools.
    assert.equal(result.manifests.total, 7);
    assert.equal(result.manifests.written, 7);
    assert.equal(result.tags, 5);
    assert.equal(result.pulls, 3);
    // The shared layer is stored once, linked into three repositories.
    assert.ok(result.links > result.blobs.total, JSON.stringify(result));
    const seconds = result.durationMs / 1000;
    console.log(
      `# migrated ${(result.blobs.bytesCopied / MiB).toFixed(1)} MiB in ${seconds.toFixed(2)} s: ` +
        `${(result.blobs.bytesCopied / MiB / seconds).toFixed(1)} MiB/s`,
    );

    // Again: nothing left to do.
    const again = await migrate(["--from", source.dataDir, "--to", target.file, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout);
    assert.deepEqual(
      [second.blobs.copied, second.manifests.written, second.links, second.pulls],
      [0, 0, 0, 0],
    );

    const served = await startReestr({ extraArgs: ["--config", target.file] });
    cleanups.push(() => served.cleanup());
    for (const [repository, byTag] of tags) {
      for (const [tag, digest] of byTag) {
        const manifest = await get(served, `/v2/${repository}/manifests/${tag}`);
        assert.equal(manifest.status, 200, `${repository}:${tag}`);
        assert.equal(manifest.headers.get("docker-content-digest"), digest);
        assert.equal(sha256(manifest.body), digest);
        const parsed = JSON.parse(manifest.body.toString("utf8"));
        const children = (parsed.manifests ?? []) as { digest: string }[];
        const images = parsed.layers
          ? [parsed]
          : await Promise.all(
              children.map(async (c) => {
                const child = await get(served, `/v2/${repository}/manifests/${c.digest}`);
                assert.equal(child.status, 200);
                assert.equal(sha256(child.body), c.digest);
                return JSON.parse(child.body.toString("utf8"));
              }),
            );
        for (const image of images) {
          for (const blob of [image.config, ...image.layers] as { digest: string }[]) {
            const bytes = await get(served, `/v2/${repository}/blobs/${blob.digest}`, "*/*");
            assert.equal(bytes.status, 200, `${repository} blob ${blob.digest}`);
            assert.equal(sha256(bytes.body), blob.digest);
          }
        }
      }
    }
    const referrers = await get(served, `/v2/library/app/referrers/${v1.digest}`);
    assert.equal(referrers.status, 200);
    const listed = JSON.parse(referrers.body.toString("utf8")).manifests as { digest: string }[];
    assert.deepEqual(
      listed.map((m) => m.digest),
      [sig.digest],
    );
    const list = await get(served, "/v2/library/app/tags/list");
    assert.deepEqual(JSON.parse(list.body.toString("utf8")).tags, ["latest", "v1", "v2"]);

    const metadata = await PostgresMetadataStore.open({ url: target.url, poolSize: 1 });
    try {
      const entries = (await metadata.listManifestEntries("library/app")) ?? [];
      // The source's 3 pulls came along; the target server counts this test's own GETs too
      // (flushed once a second), so there may be more by now, never fewer.
      const pulls = entries.find((e) => e.digest === v1.digest)?.pulls ?? 0;
      assert.ok(pulls >= 3, `${pulls} pulls`);
    } finally {
      await metadata.close();
    }

    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing`);
    const out = join(work, "skopeo-out");
    await new Promise<void>((resolve, reject) =>
      execFile(
        SKOPEO,
        [
          "--insecure-policy",
          "copy",
          "--src-tls-verify=false",
          "--preserve-digests",
          `docker://${served.hostPort}/library/app:v1`,
          `oci:${out}:v1`,
        ],
        { timeout: 120_000 },
        (error, _stdout, stderr) => (error ? reject(new Error(`skopeo: ${stderr}`)) : resolve()),
      ),
    );
    const layout = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
    assert.equal(layout.manifests[0].digest, v1.digest);
  });

  test("a corrupt source blob stops the migration naming it, and nothing is written for it", async () => {
    const source = await startApiServer();
    cleanups.push(() => source.cleanup());
    const good = await pushImage(source, "corrupt/app", "v1", { layers: [randomBytes(256 * 1024)] });
    await source.stop();
    const layer = good.layers[0]!.digest as Digest;
    const file = blobPath(source.dataDir, layer);
    const bytes = readFileSync(file);
    bytes[100] = (bytes[100]! + 1) % 256; // same size, other bytes
    writeFileSync(file, bytes);

    const target = await targetConfig("corrupt");
    const failed = await migrate(["--from", source.dataDir, "--to", target.file]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, new RegExp(`${layer}.*corrupt`));
    const store = s3Store(target.s3);
    try {
      assert.equal(await store.stat(layer), undefined, "the wrong bytes were stored");
      assert.deepEqual(await store.listUploads(), [], "an upload of the wrong bytes was left behind");
    } finally {
      store.close();
    }
    const metadata = await PostgresMetadataStore.open({ url: target.url, poolSize: 1 });
    try {
      assert.equal(await metadata.blobSize(layer), undefined);
      assert.equal(await metadata.resolveTag("corrupt/app", "v1"), undefined);
    } finally {
      await metadata.close();
    }
  });

  test("kill -9 in the middle, then a rerun finishes the copy", async () => {
    const source = await startApiServer();
    cleanups.push(() => source.cleanup());
    const tags: Tags = new Map();
    for (let i = 0; i < 8; i++) {
      const image = await pushImage(source, `bulk/image${i % 2}`, `t${i}`, {
        layers: [randomBytes(MiB), randomBytes(MiB), randomBytes(MiB)],
        mediaType: OCI_MANIFEST,
      });
      remember(tags, `bulk/image${i % 2}`, `t${i}`, image.digest);
    }
    await source.stop();
    const target = await targetConfig("killed");

    const child = spawn(
      process.execPath,
      [REESTR_BIN, "migrate", "--from", source.dataDir, "--to", target.file, "--json"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let buffered = "";
    let killedAt: { blobsDone: number; blobsTotal: number } | undefined;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (killedAt || !line.startsWith("{")) continue;
        const progress = JSON.parse(line);
        if (progress.phase === "blobs" && progress.blobsDone >= 5) {
          killedAt = progress;
          child.kill("SIGKILL");
        }
      }
    });
    const { signal } = await exited;
    assert.equal(signal, "SIGKILL", "the migration finished before it could be killed");
    assert.ok(killedAt && killedAt.blobsDone < killedAt.blobsTotal);

    const rerun = await migrate(["--from", source.dataDir, "--to", target.file, "--json"]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const result = JSON.parse(rerun.stdout);
    assert.ok(result.blobs.present >= 5, `blobs copied before the kill were skipped: ${rerun.stdout}`);
    assert.equal(result.blobs.present + result.blobs.copied, result.blobs.total);
    assert.equal(result.blobs.total, 8 * 4);
    console.log(
      `# rerun after kill -9: ${(result.blobs.bytesCopied / MiB).toFixed(1)} MiB in ${result.blobs.copied} blobs, ` +
        `${(result.blobs.bytesCopied / MiB / (result.durationMs / 1000)).toFixed(1)} MiB/s`,
    );

    const metadata = await PostgresMetadataStore.open({ url: target.url, poolSize: 1 });
    const store = s3Store(target.s3);
    try {
      for (const [repository, byTag] of tags) {
        for (const [tag, digest] of byTag) {
          assert.equal(await metadata.resolveTag(repository, tag), digest, `${repository}:${tag}`);
          const manifest = await metadata.getManifestByDigest(repository, digest as Digest);
          const parsed = JSON.parse(Buffer.from(manifest!.content).toString("utf8"));
          for (const blob of [parsed.config, ...parsed.layers] as { digest: Digest; size: number }[]) {
            assert.equal((await store.stat(blob.digest))?.size, blob.size);
            assert.equal(await metadata.linkedBlobSize(repository, blob.digest), blob.size);
          }
        }
      }
    } finally {
      store.close();
      await metadata.close();
    }
  });
});

describe("reestr migrate to another data directory", () => {
  test("copies everything through the same seams; the target's own dir as source is refused", async () => {
    const root = mkdtempSync(join(tmpdir(), "reestr-migrate-fs-"));
    const source = await startApiServer();
    try {
      const image = await pushImage(source, "fs/app", "v1", { layers: [randomBytes(2 * MiB)] });
      const index = await pushIndex(source, "fs/app", "multi", [image.descriptor]);
      await source.stop();
      const file = join(root, "target.yaml");
      const targetDir = join(root, "target");
      writeFileSync(file, stringify({ dataDir: targetDir }));
      const same = join(root, "same.yaml");
      writeFileSync(same, stringify({ dataDir: source.dataDir }));
      const refused = await migrate(["--from", source.dataDir, "--to", same]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /is the source directory/);
      const missing = await migrate(["--from", join(root, "nowhere"), "--to", file]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /not a Reestr data directory/);

      const done = await migrate(["--from", source.dataDir, "--to", file]);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /manifests: +2: 2 written/);
      console.log(`# ${done.stdout.split("\n")[0]}`);
      const { SqliteMetadataStore } = await import("../../src/registry/metadata/sqlite-metadata-store.ts");
      const { metadataPath } = await import("../../src/registry/layout.ts");
      const metadata = new SqliteMetadataStore(metadataPath(targetDir));
      try {
        assert.equal(await metadata.resolveTag("fs/app", "v1"), image.digest);
        assert.equal(await metadata.resolveTag("fs/app", "multi"), index.digest);
      } finally {
        await metadata.close();
      }
      const layer = image.layers[0]!.digest as Digest;
      assert.equal(sha256(readFileSync(blobPath(targetDir, layer))), layer);
    } finally {
      await source.cleanup();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("reestr migrate of a source that breaks the target's reference check", () => {
  test("an index whose child was deleted stops the run naming both; allowSparseManifests copies it", async () => {
    const root = mkdtempSync(join(tmpdir(), "reestr-migrate-sparse-"));
    const source = await startApiServer({ deleteEnabled: true });
    try {
      const child = await pushImage(source, "sparse/app", undefined, { layers: [randomBytes(1024)] });
      const index = await pushIndex(source, "sparse/app", "v1", [child.descriptor]);
      const deleted = await fetch(`${source.url}/v2/sparse/app/manifests/${child.digest}`, {
        method: "DELETE",
      });
      assert.equal(deleted.status, 202);
      await source.stop();
      const strict = join(root, "strict.yaml");
      writeFileSync(strict, stringify({ dataDir: join(root, "strict") }));
      const failed = await migrate(["--from", source.dataDir, "--to", strict]);
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(
        failed.stderr,
        new RegExp(
          `manifest sparse/app@${index.digest} cannot be stored: its manifest ${child.digest} is not in the target`,
        ),
      );
      assert.match(failed.stderr, /allowSparseManifests/);

      const sparse = join(root, "sparse.yaml");
      writeFileSync(
        sparse,
        stringify({ dataDir: join(root, "sparse"), storage: { allowSparseManifests: true } }),
      );
      const copied = await migrate(["--from", source.dataDir, "--to", sparse, "--json"]);
      assert.equal(copied.code, 0, copied.stderr);
      assert.equal(JSON.parse(copied.stdout).manifests.written, 1);
    } finally {
      await source.cleanup();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
