/**
 * RedisCoordination against a real redis-server: locks exclude across instances (as across
 * replicas), release only ever removes our own token, tryLock names the holder; and two
 * Registries sharing one metadata store and blob store (two replicas in one process) see each
 * other's tag moves and deletes at once, read directly while Redis is down, and use their
 * caches again once it is back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { digestOf } from "../../src/oci/digest.ts";
import type { RegistryError } from "../../src/oci/errors.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { RedisCoordination } from "../../src/registry/redis-coordination.ts";
import { GcElsewhere, Registry } from "../../src/registry/registry.ts";
import { StoreUnavailable } from "../../src/registry/storage/errors.ts";
import { MemoryBlobStore } from "../../src/registry/storage/memory-blob-store.ts";
import { type RedisProcess, startRedis } from "../catalog/redis.ts";
import { waitFor } from "../helpers/wait.ts";

async function* bytes(data: Buffer | string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(data);
}

async function pushImage(registry: Registry, repository: string, tag: string, label = tag) {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", label }));
  await registry.putBlob(repository, digestOf(config), bytes(config));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: digestOf(config),
        size: config.length,
      },
      layers: [],
    }),
  );
  const { digest } = await registry.putManifest(repository, tag, manifest, MediaType.OciManifest);
  return digest;
}

const tags = async (registry: Registry, repository: string) => registry.listTags(repository, { limit: 100 });

describe("RedisCoordination", () => {
  let redis: RedisProcess;
  const open: RedisCoordination[] = [];
  const coordination = async (keyPrefix: string) => {
    const c = new RedisCoordination({ url: redis.url, keyPrefix, lockWaitMs: 10_000 });
    open.push(c);
    await c.ready();
    return c;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of open) await c.close();
    await redis.stop();
  });

  test("a lock excludes another instance; tryLock names the holder; release leaves a successor's token", async () => {
    const prefix = "shared:";
    const a = new RedisCoordination({ url: redis.url, keyPrefix: prefix });
    const b = new RedisCoordination({ url: redis.url, keyPrefix: prefix });
    open.push(a, b);
    await Promise.all([a.ready(), b.ready()]);
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = a.lock("k", 1000, async () => {
      events.push("a in");
      await gate;
      events.push("a out");
    });
    await waitFor(async () => events.length === 1, { what: "a to hold the lock" });
    const second = b.lock("k", 1000, async () => {
      events.push("b in");
    });
    try {
      const busy = await b.tryLock("k", 1000, async () => "ran");
      assert.ok("holder" in busy && busy.holder.endsWith(`:${process.pid}`), JSON.stringify(busy));
      // Held well past its 1 s TTL: renewal keeps it, so b still waits.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.deepEqual(events, ["a in"]);
    } finally {
      release();
    }
    await Promise.all([first, second]);
    assert.deepEqual(events, ["a in", "a out", "b in"]);

    // A holder whose key was taken over (expired, re-acquired) must not delete the new token.
    const raw = new Redis(redis.url);
    try {
      await a.lock("stolen", 10_000, async () => {
        await raw.set(`${prefix}lock:stolen`, "someone-else");
      });
      assert.equal(await raw.get(`${prefix}lock:stolen`), "someone-else");
    } finally {
      raw.disconnect();
    }
  });

  test("two replicas: tag moves and deletes on one are seen by the other at once; GC has one leader", async () => {
    const metadata = new SqliteMetadataStore(":memory:");
    const blobs = new MemoryBlobStore();
    const ca = await coordination("replicas:");
    const cb = await coordination("replicas:");
    try {
      const a = new Registry({ blobs, metadata, index: metadata, coordination: ca });
      const b = new Registry({ blobs, metadata, index: metadata, coordination: cb });
      const first = await pushImage(a, "app", "v1", "one");
      // b reads (and caches) the tag list and the manifest.
      assert.deepEqual(await tags(b, "app"), ["v1"]);
      assert.equal((await b.getManifest("app", first)).digest, first);
      const second = await pushImage(a, "app", "v2", "two");
      assert.deepEqual(await tags(b, "app"), ["v1", "v2"], "a's new tag, on b at once");
      await pushImage(a, "app", "v1", "moved");
      assert.notEqual((await b.getManifest("app", "v1")).digest, first, "the tag moved on b too");
      await a.deleteManifest("app", "v2");
      assert.deepEqual(await tags(b, "app"), ["v1"], "a's tag delete, on b at once");
      await a.deleteManifest("app", first);
      await assert.rejects(
        b.getManifest("app", first),
        (error: RegistryError) => error.code === "MANIFEST_UNKNOWN",
      );
      assert.equal((await b.getManifest("app", second)).digest, second);

      // GC: one replica at a time.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const leader = ca.lock("gc", 10_000, () => gate);
      await waitFor(async () => "holder" in (await cb.tryLock("gc", 1000, async () => 0)), {
        what: "the gc lock",
      });
      await assert.rejects(
        b.collectGarbage({ gracePeriodMs: 0, untagged: false, dryRun: false }),
        (error: Error) => {
          assert.ok(error instanceof GcElsewhere);
          assert.match(error.message, /garbage collection is already running on replica /);
          return true;
        },
      );
      release();
      await leader;
      const result = await b.collectGarbage({ gracePeriodMs: 0, untagged: false, dryRun: false });
      assert.ok(result.blobs.length >= 1, "the deleted manifest's config blob was collected");
    } finally {
      await metadata.close();
    }
  });

  test("redis down: direct reads (never a stale list), locked writes 503; back up: caches again", async () => {
    const own = await startRedis();
    const metadata = new SqliteMetadataStore(":memory:");
    const blobs = new MemoryBlobStore();
    const ca = new RedisCoordination({ url: own.url, lockWaitMs: 2000, commandTimeoutMs: 500 });
    const cb = new RedisCoordination({ url: own.url, lockWaitMs: 2000, commandTimeoutMs: 500 });
    let restarted: RedisProcess | undefined;
    try {
      await Promise.all([ca.ready(), cb.ready()]);
      const a = new Registry({ blobs, metadata, index: metadata, coordination: ca });
      const b = new Registry({ blobs, metadata, index: metadata, coordination: cb });
      await pushImage(a, "app", "v1");
      assert.deepEqual(await tags(b, "app"), ["v1"]);
      await own.stop();
      await waitFor(async () => !(await cb.cachesTrusted()), { what: "b to notice redis is gone" });
      // A tag change no replica can be told of (straight into the shared store): b reads it anyway.
      const manifest = await metadata.getManifestByTag("app", "v1");
      await metadata.putManifest(
        "app",
        {
          digest: manifest!.digest,
          mediaType: manifest!.mediaType,
          content: manifest!.content,
          blobs: [],
          children: [],
        },
        ["v9"],
      );
      assert.deepEqual(await tags(b, "app"), ["v1", "v9"]);
      // A blob commit needs the shared lock: 503, not a write without it.
      await assert.rejects(
        pushImage(a, "app", "v3", "three"),
        (error: Error) => error instanceof StoreUnavailable,
      );

      restarted = await startRedis({ port: own.port });
      await Promise.all([ca.ready(10_000), cb.ready(10_000)]);
      await pushImage(a, "app", "v3", "three");
      assert.deepEqual(await tags(b, "app"), ["v1", "v3", "v9"]);
      await pushImage(a, "app", "v4", "four");
      assert.deepEqual(await tags(b, "app"), ["v1", "v3", "v4", "v9"], "invalidations flow again");
    } finally {
      await ca.close();
      await cb.close();
      await metadata.close();
      await restarted?.stop();
    }
  });
});
