/**
 * Pull statistics: the in-memory batching of PullRecorder (against a recording store and mocked
 * timers), and end to end on a real server — manifest GETs counted (HEAD and 304 not), written in
 * fewer transactions than pulls, shown by the catalogue API (repositories and tags, sortable by
 * last pull), removed with the tag or manifest.
 */
import assert from "node:assert/strict";
import { afterEach, describe, mock, test } from "node:test";
import type { Digest } from "../../src/oci/digest.ts";
import type { PullBatch } from "../../src/registry/metadata/metadata-store.ts";
import { SqliteMetadataStore } from "../../src/registry/metadata/sqlite-metadata-store.ts";
import { PullRecorder } from "../../src/registry/pull-stats.ts";
import { http, OCI_MANIFEST, pushImage, startServer, type TestServer } from "../api/helpers.ts";

const A = `sha256:${"a".repeat(64)}` as Digest;
const B = `sha256:${"b".repeat(64)}` as Digest;

class RecordingStore {
  batches: PullBatch[] = [];
  failures = 0;
  async recordPulls(batch: PullBatch): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error("database is locked");
    }
    this.batches.push(structuredClone(batch));
  }
}

describe("PullRecorder", () => {
  afterEach(() => mock.timers.reset());

  test("pulls wait in memory and are written together, once per interval", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const store = new RecordingStore();
    let time = 1_000;
    const recorder = new PullRecorder({ store, flushIntervalMs: 1000, now: () => time });
    for (let i = 0; i < 50; i++) {
      time++;
      recorder.record("app", A, i % 2 === 0 ? "latest" : undefined);
    }
    recorder.record("app", B);
    recorder.record("other", A, "v1");
    assert.equal(store.batches.length, 0, "nothing is written on the pull path");
    assert.equal(recorder.pending, 5);
    mock.timers.tick(999);
    assert.equal(store.batches.length, 0);
    mock.timers.tick(1);
    await recorder.flush(); // the interval's write is under way: wait for it
    assert.equal(store.batches.length, 1);
    assert.deepEqual(store.batches[0], {
      manifests: [
        { repository: "app", digest: A, pulls: 50, lastPulledAt: 1_050 },
        { repository: "app", digest: B, pulls: 1, lastPulledAt: 1_050 },
        { repository: "other", digest: A, pulls: 1, lastPulledAt: 1_050 },
      ],
      tags: [
        { repository: "app", tag: "latest", lastPulledAt: 1_049 },
        { repository: "other", tag: "v1", lastPulledAt: 1_050 },
      ],
    });
    assert.equal(recorder.pending, 0);
    await recorder.flush();
    assert.equal(store.batches.length, 1, "an empty flush writes nothing");
    await recorder.close();
  });

  test("as many distinct entries as maxEntries are written at once", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const store = new RecordingStore();
    const recorder = new PullRecorder({ store, flushIntervalMs: 60_000, maxEntries: 3 });
    recorder.record("a", A);
    recorder.record("b", A);
    recorder.record("a", A);
    assert.equal(store.batches.length, 0);
    recorder.record("c", A);
    await recorder.flush();
    assert.deepEqual(
      store.batches[0]?.manifests.map((m) => [m.repository, m.pulls]),
      [
        ["a", 2],
        ["b", 1],
        ["c", 1],
      ],
    );
    await recorder.close();
  });

  test("a failed write is kept and retried with what came after", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const store = new RecordingStore();
    store.failures = 1;
    const recorder = new PullRecorder({ store, flushIntervalMs: 1000 });
    recorder.record("app", A, "v1");
    recorder.record("app", A);
    await recorder.flush();
    assert.equal(store.batches.length, 0);
    recorder.record("app", A);
    await recorder.flush();
    assert.deepEqual(
      store.batches.map((batch) => [batch.manifests[0]?.pulls, batch.tags.length]),
      [[3, 1]],
    );
    await recorder.close();
  });

  test("close writes what is waiting; pulls after close are ignored", async () => {
    const store = new RecordingStore();
    const recorder = new PullRecorder({ store, flushIntervalMs: 60_000 });
    recorder.record("app", A);
    await recorder.close();
    assert.equal(store.batches.length, 1);
    recorder.record("app", A);
    assert.equal(recorder.pending, 0);
    await recorder.close();
    assert.equal(store.batches.length, 1);
  });
});

/** The SQLite store, counting its pull-statistics transactions. */
class CountingStore extends SqliteMetadataStore {
  writes = 0;
  override async recordPulls(batch: PullBatch): Promise<void> {
    this.writes++;
    return super.recordPulls(batch);
  }
}

interface TagItem {
  tag: string;
  pulls: number | null;
  lastPulledAt: string | null;
}

interface RepoItem {
  name: string;
  pulls: number | null;
  lastPulledAt: string | null;
}

async function tagsOf(server: TestServer, repository: string, query = ""): Promise<TagItem[]> {
  const res = await http(
    server,
    "GET",
    `/api/registries/local/repositories/${encodeURIComponent(repository)}/tags${query}`,
  );
  assert.equal(res.status, 200, res.text());
  return res.json<{ items: TagItem[] }>().items;
}

async function repositories(server: TestServer, query = ""): Promise<RepoItem[]> {
  const res = await http(server, "GET", `/api/registries/local/repositories${query}`);
  assert.equal(res.status, 200, res.text());
  return res.json<{ items: RepoItem[] }>().items;
}

describe("pull statistics on a running server", () => {
  test("manifest GETs are counted per manifest and tag, in batches, and shown by the catalogue", async () => {
    const store = new CountingStore(":memory:");
    const server = await startServer({ metadata: store });
    try {
      const app = await pushImage(server, "team/app", "v1");
      await pushManifest(server, "team/app", "stable", app.bytes);
      const other = await pushImage(server, "team/app", "v2");
      await pushImage(server, "quiet", "v1");
      const accept = { Accept: OCI_MANIFEST };
      const pulls = 40;
      const before = Date.now();
      for (let i = 0; i < pulls / 2; i++) {
        assert.equal(
          (await http(server, "GET", "/v2/team/app/manifests/v1", { headers: accept })).status,
          200,
        );
        assert.equal(
          (await http(server, "GET", `/v2/team/app/manifests/${app.digest}`, { headers: accept })).status,
          200,
        );
      }
      // Neither a HEAD nor a 304 sends the manifest: no pull.
      assert.equal(
        (await http(server, "HEAD", "/v2/team/app/manifests/v2", { headers: accept })).status,
        200,
      );
      const notModified = await http(server, "GET", "/v2/team/app/manifests/v2", {
        headers: { ...accept, "If-None-Match": `"${other.digest}"` },
      });
      assert.equal(notModified.status, 304);
      // A missing manifest is no pull either.
      assert.equal(
        (await http(server, "GET", "/v2/team/app/manifests/nope", { headers: accept })).status,
        404,
      );
      await server.running.pulls!.flush();
      assert.ok(store.writes >= 1 && store.writes < pulls, `${store.writes} transactions for ${pulls} pulls`);

      const tags = await tagsOf(server, "team/app");
      const byTag = new Map(tags.map((t) => [t.tag, t]));
      assert.equal(byTag.get("v1")?.pulls, pulls, "GETs by tag and by digest of one manifest add up");
      assert.equal(byTag.get("stable")?.pulls, pulls, "a tag shows its manifest's pulls");
      assert.equal(byTag.get("v2")?.pulls, 0);
      assert.equal(byTag.get("v2")?.lastPulledAt, null);
      const pulledAt = Date.parse(byTag.get("v1")!.lastPulledAt!);
      assert.ok(pulledAt >= before && pulledAt <= Date.now());

      const repos = await repositories(server);
      assert.deepEqual(
        repos.map((r) => [r.name, r.pulls, r.lastPulledAt === null]),
        [
          ["quiet", 0, true],
          ["team/app", pulls, false],
        ],
      );
      const detail = await http(
        server,
        "GET",
        `/api/registries/local/repositories/${encodeURIComponent("team/app")}`,
      );
      assert.equal(detail.json<RepoItem>().pulls, pulls);

      // Sorted by last pull, newest first; never pulled last.
      assert.deepEqual(
        (await repositories(server, "?sort=pulled&order=desc")).map((r) => r.name),
        ["team/app", "quiet"],
      );
      assert.deepEqual(
        (await repositories(server, "?sort=pulled&order=asc")).map((r) => r.name),
        ["team/app", "quiet"],
        "never pulled sorts last in either order",
      );
      await http(server, "GET", "/v2/team/app/manifests/v2", { headers: accept });
      await server.running.pulls!.flush();
      assert.deepEqual(
        (await tagsOf(server, "team/app", "?sort=pulled&order=desc")).map((t) => t.tag),
        ["v2", "stable", "v1"],
        "v2 was pulled last; stable and v1 share a time and go by name",
      );
    } finally {
      await server.cleanup();
    }
  });

  test("deleting a tag or a manifest removes its statistics", async () => {
    const server = await startServer();
    try {
      const image = await pushImage(server, "app", "v1");
      await pushManifest(server, "app", "v1-copy", image.bytes);
      const accept = { Accept: OCI_MANIFEST };
      await http(server, "GET", "/v2/app/manifests/v1", { headers: accept });
      await server.running.pulls!.flush();
      assert.equal((await tagsOf(server, "app"))[0]?.pulls, 1);
      assert.equal((await http(server, "DELETE", "/v2/app/manifests/v1")).status, 202);
      assert.equal((await tagsOf(server, "app"))[0]?.tag, "v1-copy");
      assert.equal((await tagsOf(server, "app"))[0]?.pulls, 1, "the manifest's count stays with it");
      assert.equal((await http(server, "DELETE", `/v2/app/manifests/${image.digest}`)).status, 202);
      // Pushed again: a new manifest row without the old statistics.
      await pushManifest(server, "app", "v1", image.bytes);
      const [tag] = await tagsOf(server, "app");
      assert.deepEqual([tag?.tag, tag?.pulls, tag?.lastPulledAt], ["v1", 0, null]);
      assert.equal((await repositories(server))[0]?.pulls, 0);
    } finally {
      await server.cleanup();
    }
  });

  test("with storage.pullStats off nothing is recorded", async () => {
    const server = await startServer({ config: { storage: { pullStats: false } } });
    try {
      await pushImage(server, "app", "v1");
      await http(server, "GET", "/v2/app/manifests/v1", { headers: { Accept: OCI_MANIFEST } });
      assert.equal(server.running.pulls, undefined);
      assert.equal((await tagsOf(server, "app"))[0]?.pulls, 0);
    } finally {
      await server.cleanup();
    }
  });

  test("what is waiting is written when the server closes", async () => {
    const server = await startServer();
    try {
      await pushImage(server, "app", "v1");
      await http(server, "GET", "/v2/app/manifests/v1", { headers: { Accept: OCI_MANIFEST } });
      await server.restart();
      assert.equal((await tagsOf(server, "app"))[0]?.pulls, 1);
    } finally {
      await server.cleanup();
    }
  });
});

async function pushManifest(
  server: TestServer,
  repository: string,
  tag: string,
  bytes: Buffer,
): Promise<void> {
  const res = await http(server, "PUT", `/v2/${repository}/manifests/${tag}`, {
    headers: { "Content-Type": OCI_MANIFEST },
    body: bytes,
  });
  assert.equal(res.status, 201, res.text());
}
