/**
 * PostgresMetadataStore against a real PostgreSQL (a private cluster, test/helpers/postgres.ts):
 * the MetadataStore and RegistryIndex contract suites, each test on a new database; then what is
 * PostgreSQL's own: migrations (once under concurrent opens, a newer schema refused), rollback,
 * PUTs racing garbage collection's sweep, and an outage the store recovers from by itself.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { PostgresMetadataStore } from "../../src/registry/metadata/postgres-metadata-store.ts";
import { POSTGRES_MIGRATIONS } from "../../src/registry/metadata/postgres-schema.ts";
import { StoreUnavailable } from "../../src/registry/storage/errors.ts";
import { blob, manifest, metadataStoreContract } from "../contract/metadata-store.contract.ts";
import { registryIndexContract } from "../contract/registry-index.contract.ts";
import { type PostgresCluster, postgresMissing, startPostgres } from "../helpers/postgres.ts";

const skip = postgresMissing();
let cluster: PostgresCluster;
/** The database the contract suites run on, migrated once and emptied before each test. */
let shared: string;

before(async () => {
  if (skip) return;
  cluster = await startPostgres();
  shared = await cluster.createDatabase("contract");
  await (await PostgresMetadataStore.open({ url: shared })).close();
});
after(() => cluster?.cleanup());

/**
 * A store over an empty database: the shared one with every table emptied (tests in a file run
 * one at a time). A new database per test would cost some 200 ms in CREATE DATABASE alone; a
 * DELETE of the few rows a test leaves is cheaper than a TRUNCATE.
 */
async function freshStore(): Promise<{
  store: PostgresMetadataStore;
  url: string;
  cleanup(): Promise<void>;
}> {
  await withClient(shared, async (client) => {
    const { rows } = await client.query(
      "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'",
    );
    await client.query(rows.map((row) => `DELETE FROM ${pg.escapeIdentifier(row.tablename)};`).join("\n"));
  });
  const store = await PostgresMetadataStore.open({ url: shared, poolSize: 4 });
  return { store, url: shared, cleanup: () => store.close() };
}

/** Runs `body` with a fresh store (see freshStore), closed whatever happens. */
async function withStore(body: (store: PostgresMetadataStore, url: string) => Promise<void>): Promise<void> {
  const { store, url, cleanup } = await freshStore();
  try {
    await body(store, url);
  } finally {
    await cleanup();
  }
}

/** Runs `body` with a store on a new database of its own, dropped afterwards. */
async function withOwnDatabase(
  body: (store: PostgresMetadataStore, url: string) => Promise<void>,
): Promise<void> {
  const url = await cluster.createDatabase();
  const store = await PostgresMetadataStore.open({ url, poolSize: 4 });
  try {
    await body(store, url);
  } finally {
    await store.close();
    await cluster.dropDatabase(new URL(url).pathname.slice(1));
  }
}

/** A connection to the database at `url`, outside the store, for `work`. */
async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One statement on the database at `url`, outside the store. */
function sql(url: string, text: string, values?: unknown[]): Promise<pg.QueryResult> {
  return withClient(url, (client) => client.query(text, values));
}

describe("PostgresMetadataStore", { skip }, () => {
  metadataStoreContract("PostgresMetadataStore", freshStore);

  // The same object is the index: one database.
  registryIndexContract("PostgresMetadataStore", async () => {
    const { store, cleanup } = await freshStore();
    return { metadata: store, index: store, cleanup };
  });

  describe("schema migrations", () => {
    test("several stores opening a new database at once apply each migration exactly once", async () => {
      const url = await cluster.createDatabase();
      const stores = await Promise.all(
        Array.from({ length: 5 }, () => PostgresMetadataStore.open({ url, poolSize: 2 })),
      );
      try {
        const latest = POSTGRES_MIGRATIONS.at(-1)!.version;
        const applied = stores.flatMap((store) => store.migrations.applied);
        assert.deepEqual(
          applied.sort(),
          POSTGRES_MIGRATIONS.map((m) => m.version),
        );
        for (const store of stores) assert.equal(store.migrations.version, latest);
        const { rows } = await sql(url, "SELECT version FROM schema_migrations ORDER BY version");
        assert.deepEqual(
          rows.map((row) => row.version),
          POSTGRES_MIGRATIONS.map((m) => m.version),
        );
        // All of them work on the one schema.
        await stores[0]!.putManifest("app", manifest("m"), "v1");
        assert.equal(await stores[4]!.resolveTag("app", "v1"), manifest("m").digest);
      } finally {
        for (const store of stores) await store.close();
      }
    });

    test("reopening applies nothing and keeps the data", () =>
      withOwnDatabase(async (first, url) => {
        const referrer = manifest("referrer", {
          subject: manifest("subject").digest,
          artifactType: "application/x-sig",
          annotations: { a: "b" },
        });
        await first.linkBlob("app", blob("layer"), 5 * 1024 ** 3);
        await first.putManifest("app", { ...manifest("subject"), blobs: [blob("layer")] }, "v1");
        await first.putManifest("app", referrer);
        const statsBefore = await first.stats();
        const second = await PostgresMetadataStore.open({ url });
        try {
          assert.deepEqual(second.migrations.applied, []);
          assert.equal(await second.linkedBlobSize("app", blob("layer")), 5 * 1024 ** 3);
          assert.equal((await second.getManifestByTag("app", "v1"))?.digest, manifest("subject").digest);
          assert.deepEqual(
            (await second.listReferrers("app", manifest("subject").digest)).map((r) => r.annotations),
            [{ a: "b" }],
          );
          assert.deepEqual(await second.stats(), statsBefore);
        } finally {
          await second.close();
        }
      }));

    test("a database migrated by a newer Reestr is refused with a clear message, and left alone", () =>
      withOwnDatabase(async (store, url) => {
        await store.putManifest("app", manifest("m"), "v1");
        await sql(url, "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)");
        await assert.rejects(
          PostgresMetadataStore.open({ url }),
          /schema 999 is newer than this Reestr understands/,
        );
        assert.equal(await store.resolveTag("app", "v1"), manifest("m").digest);
      }));
  });

  describe("transactions", () => {
    test("a putManifest failing on its last statement rolls back entirely", () =>
      withStore(async (store) => {
        const record = manifest("rolled back");
        // A null second tag violates tags.tag NOT NULL after the repository and the manifest
        // were inserted in the same transaction.
        await assert.rejects(
          store.putManifest("fresh", record, ["fine", null as unknown as string]),
          /null value/,
        );
        assert.equal(await store.repositoryExists("fresh"), false);
        assert.equal(await store.getManifestByDigest("fresh", record.digest), undefined);
        assert.equal((await store.stats()).manifests, 0);
        // No transaction was left open on the pool's connections.
        await store.putManifest("fresh", record, "ok");
        assert.deepEqual(await store.listTags("fresh", { limit: 10 }), ["ok"]);
      }));

    test("many concurrent writes to one new repository all land (serialisation failures are retried)", () =>
      withStore(async (store) => {
        const layers = Array.from({ length: 40 }, (_, i) => blob(`parallel-${i}`));
        await Promise.all(layers.map((digest, i) => store.linkBlob("parallel/app", digest, i + 1)));
        for (const [i, digest] of layers.entries()) {
          assert.equal(await store.linkedBlobSize("parallel/app", digest), i + 1);
        }
        const images = layers.map((digest, i) => manifest(`parallel-${i}`, { blobs: [digest] }));
        const problems = await Promise.all(
          images.map((image, i) =>
            store.putManifest("parallel/app", image, `t${i}`, {
              blobs: [{ digest: layers[i]!, size: i + 1 }],
              manifests: [],
            }),
          ),
        );
        assert.deepEqual(
          problems,
          images.map(() => undefined),
        );
        assert.equal((await store.listTags("parallel/app", { limit: 100 }))?.length, 40);
      }));
  });

  describe("garbage collection racing pushes", () => {
    // `before` in the future: everything is past the grace period, so the sweep removes a link
    // the moment nothing references it.
    const sweep = (store: PostgresMetadataStore) =>
      store.sweep({ before: Date.now() + 60_000, untagged: true, dryRun: false });
    const jitter = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
    const ROUNDS = 60;

    test("a manifest PUT racing a sweep is either refused, or lands with its blob kept", (t) =>
      withStore(async (store) => {
        let landed = 0;
        for (let i = 0; i < ROUNDS; i++) {
          const layer = blob(`raced-${i}`);
          const size = 100 + i;
          await store.linkBlob("race/app", layer, size);
          const image = manifest(`raced-${i}`, { blobs: [layer] });
          const [problem] = await Promise.all([
            (async () => {
              if (i % 2) await jitter();
              return store.putManifest("race/app", image, `t${i}`, {
                blobs: [{ digest: layer, size }],
                manifests: [],
              });
            })(),
            (async () => {
              if (i % 2 === 0) await jitter();
              return sweep(store);
            })(),
          ]);
          if (problem === undefined) {
            landed++;
            // Acknowledged: the manifest, its tag, its link and its blob are all there, and stay.
            await sweep(store);
            assert.equal(await store.resolveTag("race/app", `t${i}`), image.digest, `round ${i}`);
            assert.equal(await store.linkedBlobSize("race/app", layer), size, `round ${i}: link`);
            assert.equal(await store.blobSize(layer), size, `round ${i}: blob`);
          } else {
            assert.deepEqual(problem, { kind: "blob", digest: layer, problem: "missing" }, `round ${i}`);
            assert.equal(await store.getManifestByDigest("race/app", image.digest), undefined);
            assert.equal(await store.resolveTag("race/app", `t${i}`), undefined);
          }
        }
        t.diagnostic(`${landed} of ${ROUNDS} PUTs landed, ${ROUNDS - landed} were refused`);
      }));

    test("tagging an untagged manifest while a sweep removes untagged ones never leaves a dangling tag", (t) =>
      withStore(async (store) => {
        let landed = 0;
        for (let i = 0; i < ROUNDS; i++) {
          const layer = blob(`untagged-${i}`);
          await store.linkBlob("race/untagged", layer, 10);
          const image = manifest(`untagged-${i}`, { blobs: [layer] });
          const required = { blobs: [{ digest: layer, size: 10 }], manifests: [] };
          assert.equal(await store.putManifest("race/untagged", image, [], required), undefined);
          const [problem] = await Promise.all([
            (async () => {
              if (i % 2) await jitter();
              return store.putManifest("race/untagged", image, "latest", required);
            })(),
            (async () => {
              if (i % 2 === 0) await jitter();
              return sweep(store);
            })(),
          ]);
          const tagged = await store.resolveTag("race/untagged", "latest");
          if (problem === undefined) {
            landed++;
            assert.equal(tagged, image.digest, `round ${i}`);
            assert.equal((await store.getManifestByTag("race/untagged", "latest"))?.digest, image.digest);
            assert.equal(await store.linkedBlobSize("race/untagged", layer), 10, `round ${i}: link`);
            assert.equal(await store.blobSize(layer), 10, `round ${i}: blob`);
          } else {
            assert.equal(problem.problem, "missing", `round ${i}`);
            assert.notEqual(tagged, image.digest, `round ${i}: refused, yet tagged`);
          }
          // Whatever "latest" points at exists.
          if (tagged !== undefined) assert.ok(await store.getManifestByTag("race/untagged", "latest"));
        }
        t.diagnostic(`${landed} of ${ROUNDS} tag PUTs landed, ${ROUNDS - landed} were refused`);
      }));
  });

  describe("an outage", () => {
    test("while PostgreSQL is stopped calls reject with StoreUnavailable; when it is back the store works again", () =>
      withStore(async (store) => {
        await store.putManifest("app", manifest("before"), "v1");
        await cluster.stop();
        try {
          await assert.rejects(store.check(), StoreUnavailable);
          await assert.rejects(store.resolveTag("app", "v1"), (error: unknown) => {
            assert.ok(error instanceof StoreUnavailable);
            assert.equal(error.status, 503);
            assert.equal(error.code, "UNAVAILABLE");
            assert.match(error.message, /metadata database is unavailable/);
            return true;
          });
          await assert.rejects(store.putManifest("app", manifest("during"), "v2"), StoreUnavailable);
        } finally {
          await cluster.start();
        }
        await store.check();
        assert.equal(await store.resolveTag("app", "v1"), manifest("before").digest);
        assert.equal(await store.putManifest("app", manifest("after"), "v2"), undefined);
        assert.equal(await store.resolveTag("app", "v2"), manifest("after").digest);
      }));

    test("a store cannot be opened on a database that does not answer", async () => {
      const url = cluster.url("postgres").replace(`:${cluster.port}/`, ":1/");
      await assert.rejects(PostgresMetadataStore.open({ url }), StoreUnavailable);
    });
  });
});
