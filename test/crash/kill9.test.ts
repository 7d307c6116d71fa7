/**
 * Crash safety (issue 2 §3, §6): kill -9 Reestr while 50 image pushes are in flight, restart it
 * on the same data directory, and check that
 *  - every push that received its 201 for the manifest is pullable by tag, with the manifest's
 *    digest, and every blob of it is fetchable with matching digest and size;
 *  - nothing half-visible: a tag of a push that never got its 201 is either absent or fully
 *    pullable; no tag points at a manifest with missing blobs; no blob GET answers content whose
 *    digest or size is wrong (partial uploads never become visible blobs);
 *  - nothing foreign: tags lists and the catalog hold only what was pushed;
 *  - the registry is not wedged: every push that failed can be pushed again and then pulled.
 * Three rounds, killing after a different number of acknowledged pushes each time, on one data
 * directory, so earlier rounds' pushes must also survive later crashes.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { expectStatus, HttpTarget } from "../../bench/http.ts";
import {
  blobOf,
  imageManifest,
  MANIFEST_ACCEPT,
  pushBlob,
  pushBlobChunked,
  putManifest,
  type SmallImage,
} from "../../bench/oci.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const PUSHES = 50;
/** Kill after this many acknowledged manifest PUTs, one round each. */
const KILL_POINTS = [3, 17, 41];
const ROUND_TIMEOUT_MS = 60_000;

interface Push {
  repo: string;
  tag: string;
  image: SmallImage;
  /** Push the second layer in PATCH chunks instead of one PUT. */
  chunked: boolean;
  acknowledged: boolean;
  error?: unknown;
}

function makeImage(round: number, i: number): SmallImage {
  // Layers of 16 KiB to ~400 KiB, so uploads are in flight when the kill lands.
  const sizes = [16 * 1024 + ((i * 7919) % 97) * 1024, 32 * 1024 + ((i * 104_729) % 353) * 1024];
  const layers = sizes.map((size) => blobOf(randomBytes(size), MediaType.OciLayerGzip));
  const config = blobOf(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Labels: { round: String(round), image: String(i) } },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
      }),
    ),
    MediaType.OciConfig,
  );
  const manifest = imageManifest(config, layers);
  return { config, layers, manifest, manifestDigest: digestOf(manifest), mediaType: MediaType.OciManifest };
}

async function pushOne(target: HttpTarget, push: Push): Promise<void> {
  const { image } = push;
  await pushBlob(target, push.repo, image.config);
  await pushBlob(target, push.repo, image.layers[0]!);
  const second = image.layers[1]!;
  if (push.chunked) await pushBlobChunked(target, push.repo, second.data, second.digest, 64 * 1024);
  else await pushBlob(target, push.repo, second);
  await putManifest(target, push.repo, push.tag, image.manifest);
}

/** Asserts the tag resolves to exactly the image, and every blob of it reads back intact. */
async function assertPullable(target: HttpTarget, push: Push): Promise<void> {
  const where = `${push.repo}:${push.tag}`;
  const res = expectStatus(
    `GET manifest ${where}`,
    await target.request("GET", `/v2/${push.repo}/manifests/${push.tag}`, {
      headers: { accept: MANIFEST_ACCEPT },
    }),
    200,
  );
  assert.equal(digestOf(res.body), push.image.manifestDigest, `manifest digest of ${where}`);
  assert.equal(
    res.headers["docker-content-digest"],
    push.image.manifestDigest,
    `Docker-Content-Digest of ${where}`,
  );
  const byDigest = await target.request("GET", `/v2/${push.repo}/manifests/${push.image.manifestDigest}`, {
    headers: { accept: MANIFEST_ACCEPT },
  });
  assert.equal(byDigest.status, 200, `GET ${push.repo}@${push.image.manifestDigest}`);
  assert.equal(digestOf(byDigest.body), push.image.manifestDigest);
  for (const blob of [push.image.config, ...push.image.layers]) {
    const got = await target.request("GET", `/v2/${push.repo}/blobs/${blob.digest}`);
    assert.equal(got.status, 200, `blob ${blob.digest} of ${where}: HTTP ${got.status}`);
    assert.equal(got.body.length, blob.size, `size of blob ${blob.digest} of ${where}`);
    assert.equal(digestOf(got.body), blob.digest, `content of blob ${blob.digest} of ${where}`);
  }
}

/** A blob of a push that failed may be absent or present, but never wrong; answers whether present. */
async function assertBlobAbsentOrIntact(
  target: HttpTarget,
  repo: string,
  blob: SmallImage["config"],
): Promise<boolean> {
  const head = await target.request("HEAD", `/v2/${repo}/blobs/${blob.digest}`);
  assert.ok(
    head.status === 200 || head.status === 404,
    `HEAD blob ${blob.digest} in ${repo}: HTTP ${head.status}`,
  );
  if (head.status === 200) {
    assert.equal(Number(head.headers["content-length"]), blob.size, `HEAD size of ${blob.digest} in ${repo}`);
  }
  const got = await target.request("GET", `/v2/${repo}/blobs/${blob.digest}`);
  assert.ok(
    got.status === 200 || got.status === 404,
    `GET blob ${blob.digest} in ${repo}: HTTP ${got.status}`,
  );
  if (got.status === 200) {
    assert.equal(got.body.length, blob.size, `size of ${blob.digest} in ${repo}`);
    assert.equal(digestOf(got.body), blob.digest, `content of ${blob.digest} in ${repo}`);
  }
  return got.status === 200;
}

async function listTags(target: HttpTarget, repo: string): Promise<string[]> {
  const res = await target.request("GET", `/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  expectStatus(`tags list ${repo}`, res, 200);
  return (JSON.parse(res.body.toString("utf8")) as { tags: string[] | null }).tags ?? [];
}

async function listCatalog(target: HttpTarget): Promise<string[]> {
  const res = expectStatus("catalog", await target.request("GET", "/v2/_catalog?n=1000"), 200);
  return (JSON.parse(res.body.toString("utf8")) as { repositories: string[] }).repositories;
}

const dataRoot = mkdtempSync(join(tmpdir(), "reestr-crash-"));
const dataDir = join(dataRoot, "data");
let server: ServerProcess | undefined;
/** Every server started, cleaned up (killed, log directory removed) at the end whatever happens. */
const started: ServerProcess[] = [];
async function start(): Promise<ServerProcess> {
  const s = await startReestr({ dataDir });
  started.push(s);
  return s;
}
/** Every push of every round so far. */
const allPushes: Push[] = [];

describe("kill -9 during 50 concurrent pushes", { timeout: 300_000 }, () => {
  after(async () => {
    await Promise.all(started.map((s) => s.cleanup()));
    rmSync(dataRoot, { recursive: true, force: true });
  });

  for (const [round, killAfter] of KILL_POINTS.entries()) {
    test(`round ${round}: kill -9 after ${killAfter} acknowledged pushes, restart, verify`, async (t) => {
      server = await start();
      const pushes: Push[] = Array.from({ length: PUSHES }, (_, i) => ({
        // Ten repositories with five tags each: concurrent pushes share repositories too.
        repo: `crash/round${round}/repo${i % 10}`,
        tag: `t${i}`,
        image: makeImage(round, i),
        chunked: i % 3 === 0,
        acknowledged: false,
      }));
      allPushes.push(...pushes);

      const victim = server;
      let acknowledged = 0;
      let killed: Promise<void> | undefined;
      const target = new HttpTarget(victim.url);
      let roundTimer: NodeJS.Timeout | undefined;
      try {
        const all = Promise.allSettled(
          pushes.map(async (push) => {
            try {
              await pushOne(target, push);
              push.acknowledged = true;
              acknowledged++;
              if (acknowledged === killAfter) killed = victim.kill9();
            } catch (error) {
              push.error = error;
            }
          }),
        );
        const timeout = new Promise<never>((_, reject) => {
          roundTimer = setTimeout(() => reject(new Error("pushes did not settle in time")), ROUND_TIMEOUT_MS);
        });
        await Promise.race([all, timeout]);
      } finally {
        clearTimeout(roundTimer);
        target.close();
      }
      assert.ok(killed, `the server was killed (${acknowledged} of ${PUSHES} pushes acknowledged)`);
      await killed;
      const exit = await victim.exited;
      await victim.cleanup(); // its log directory; the data directory is ours
      assert.equal(exit.signal, "SIGKILL");
      const failed = pushes.filter((p) => !p.acknowledged);
      t.diagnostic(
        `acknowledged ${acknowledged}, failed ${failed.length} (killed when 201 number ${killAfter} arrived)`,
      );
      assert.ok(acknowledged >= killAfter);

      server = await start();
      const check = new HttpTarget(server.url);
      try {
        // Every acknowledged push of this round and of earlier rounds survived.
        for (const push of allPushes.filter((p) => p.acknowledged)) await assertPullable(check, push);

        // Pushes that never got their 201: absent or whole, never half there.
        let committedAnyway = 0;
        let blobsPresent = 0;
        let blobsAbsent = 0;
        for (const push of failed) {
          const res = await check.request("GET", `/v2/${push.repo}/manifests/${push.tag}`, {
            headers: { accept: MANIFEST_ACCEPT },
          });
          assert.ok(
            res.status === 200 || res.status === 404,
            `GET ${push.repo}:${push.tag}: HTTP ${res.status}`,
          );
          if (res.status === 200) {
            committedAnyway++;
            await assertPullable(check, push);
          }
          for (const blob of [push.image.config, ...push.image.layers]) {
            if (await assertBlobAbsentOrIntact(check, push.repo, blob)) blobsPresent++;
            else blobsAbsent++;
          }
        }
        t.diagnostic(
          `${committedAnyway} unacknowledged pushes were committed before the kill (fully pullable); ` +
            `their blobs: ${blobsPresent} present and intact, ${blobsAbsent} absent`,
        );

        // Tags lists hold only pushed tags, and every listed tag is whole.
        const byRepo = new Map<string, Push[]>();
        for (const push of allPushes) byRepo.set(push.repo, [...(byRepo.get(push.repo) ?? []), push]);
        for (const [repo, repoPushes] of byRepo) {
          for (const tag of await listTags(check, repo)) {
            const push = repoPushes.find((p) => p.tag === tag);
            assert.ok(push, `tag ${repo}:${tag} was never pushed`);
            await assertPullable(check, push);
          }
        }
        for (const repo of await listCatalog(check)) {
          assert.ok(byRepo.has(repo), `catalog lists ${repo}, which was never pushed to`);
        }

        // Not wedged: every failed push goes through now and is pullable.
        await Promise.all(failed.map((push) => pushOne(check, push)));
        for (const push of failed) {
          push.acknowledged = true;
          await assertPullable(check, push);
        }
      } catch (error) {
        t.diagnostic(`reestr output after restart:\n${server.output(8000)}`);
        throw error;
      } finally {
        check.close();
      }
      await server.cleanup();
    });
  }
});
