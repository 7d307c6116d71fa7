/**
 * A registry server with its metadata in PostgreSQL (`metadata.postgres.url`), against a private
 * cluster (test/helpers/postgres.ts): push, pull, mount and delete through /v2 land in the
 * database; a restart finds them there; while PostgreSQL is stopped /readyz is not ready and
 * /v2 answers 503 UNAVAILABLE in the OCI envelope, and when it is back the same server serves
 * again without a restart. The database password never reaches the logs. Also the config section.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { startServer as startReestr } from "../../src/app/server.ts";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { DATA_DIR_FILES } from "../../src/registry/layout.ts";
import { describePostgresUrl } from "../../src/registry/metadata/postgres-database.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { type PostgresCluster, postgresMissing, startPostgres } from "../helpers/postgres.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  assertError,
  digestOf,
  http,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  putManifest,
  startServer,
  startUpload,
  type TestServer,
  testServerConfig,
  withQuery,
} from "./helpers.ts";

const skip = postgresMissing();
/** Trust authentication accepts any password: this one is only there to be kept out of the logs. */
const PASSWORD = "pg-secret-never-logged";
let cluster: PostgresCluster;
let url: string;
let server: TestServer;

before(async () => {
  if (skip) return;
  cluster = await startPostgres();
  const plain = await cluster.createDatabase("registry");
  url = plain.replace("postgres@", `postgres:${PASSWORD}@`);
  server = await startServer({
    config: { metadata: { postgres: { url, poolSize: 4 } }, gc: { gracePeriod: 0 } },
  });
});

after(async () => {
  await server?.cleanup();
  await cluster?.cleanup();
});

async function rows(text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe("a server with metadata in PostgreSQL", { skip }, () => {
  test("push, pull, mount and delete work, and the metadata is in the database, not in the data directory", async () => {
    const image = await pushImage(server, "pg/app", "v1", { layers: [Buffer.from("layer one")] });
    const byTag = await http(server, "GET", "/v2/pg/app/manifests/v1", { headers: { Accept: OCI_MANIFEST } });
    assert.equal(byTag.status, 200, byTag.text());
    assert.equal(byTag.header("docker-content-digest"), image.digest);
    assert.ok(byTag.body.equals(image.bytes));
    const layer = await http(server, "GET", `/v2/pg/app/blobs/${image.layers[0]!.digest}`);
    assert.equal(layer.status, 200);
    assert.equal(layer.text(), "layer one");
    assert.deepEqual((await http(server, "GET", "/v2/pg/app/tags/list")).json(), {
      name: "pg/app",
      tags: ["v1"],
    });
    assert.deepEqual((await http(server, "GET", "/v2/_catalog")).json(), { repositories: ["pg/app"] });

    const mount = await http(
      server,
      "POST",
      withQuery("/v2/pg/other/blobs/uploads/", { mount: image.layers[0]!.digest, from: "pg/app" }),
    );
    assert.equal(mount.status, 201, mount.text());
    assert.equal((await http(server, "HEAD", `/v2/pg/other/blobs/${image.layers[0]!.digest}`)).status, 200);

    // A manifest naming a blob the repository does not have is refused in the PUT's transaction.
    const missing = digestOf("never pushed");
    const refused = await putManifest(
      server,
      "pg/app",
      "broken",
      { ...image.manifest, layers: [{ mediaType: "application/octet-stream", digest: missing, size: 12 }] },
      OCI_MANIFEST,
    );
    assertError(refused, 400, "MANIFEST_BLOB_UNKNOWN");

    assert.deepEqual(
      (await rows("SELECT repository, tag, digest FROM tags")).map((row) => ({ ...row })),
      [{ repository: "pg/app", tag: "v1", digest: image.digest }],
    );
    assert.equal(existsSync(join(server.dataDir, DATA_DIR_FILES.metadata)), false, "no metadata.sqlite");

    const deleted = await http(server, "DELETE", `/v2/pg/app/manifests/${image.digest}`);
    assert.equal(deleted.status, 202);
    assertError(await http(server, "GET", "/v2/pg/app/manifests/v1"), 404, "MANIFEST_UNKNOWN");
    assert.deepEqual(await rows("SELECT * FROM tags"), []);
  });

  test("a chunked upload's session lives in the database until the blob is committed", async () => {
    const data = Buffer.from("uploaded in two chunks");
    const location = await startUpload(server, "pg/chunked");
    assert.equal((await rows("SELECT repository FROM uploads"))[0]?.repository, "pg/chunked");
    const patch = await http(server, "PATCH", location, {
      headers: { "Content-Type": "application/octet-stream", "Content-Range": "0-9" },
      body: data.subarray(0, 10),
    });
    assert.equal(patch.status, 202, patch.text());
    const put = await http(
      server,
      "PUT",
      withQuery(new URL(patch.header("location")!, server.url).pathname, { digest: digestOf(data) }),
      {
        headers: { "Content-Type": "application/octet-stream" },
        body: data.subarray(10),
      },
    );
    assert.equal(put.status, 201, put.text());
    assert.deepEqual(await rows("SELECT * FROM uploads"), []);
    assert.equal(
      (await http(server, "GET", `/v2/pg/chunked/blobs/${digestOf(data)}`)).text(),
      data.toString(),
    );
  });

  test("garbage collection frees what a deleted image held and keeps what another references", async () => {
    const kept = await pushImage(server, "pg/gc", "kept", { layers: [Buffer.from("kept layer")] });
    const doomed = await pushImage(server, "pg/gc", "doomed", { layers: [Buffer.from("doomed layer")] });
    assert.equal((await http(server, "DELETE", `/v2/pg/gc/manifests/${doomed.digest}`)).status, 202);
    const run = await http(server, "POST", "/api/admin/gc?wait=true");
    assert.equal(run.status, 200, run.text());
    assert.equal(run.json<{ status: string }>().status, "succeeded", run.text());
    assert.equal((await http(server, "HEAD", `/v2/pg/gc/blobs/${doomed.layers[0]!.digest}`)).status, 404);
    assert.deepEqual(await rows(`SELECT digest FROM blobs WHERE digest = '${doomed.layers[0]!.digest}'`), []);
    assert.equal(
      (await http(server, "GET", `/v2/pg/gc/blobs/${kept.layers[0]!.digest}`)).text(),
      "kept layer",
    );
  });

  test("a restarted server finds everything in the database", async () => {
    const image = await pushImage(server, "pg/restart", "stable");
    await server.restart();
    const res = await http(server, "GET", "/v2/pg/restart/manifests/stable", {
      headers: { Accept: OCI_MANIFEST },
    });
    assert.equal(res.status, 200, res.text());
    assert.equal(res.header("docker-content-digest"), image.digest);
  });

  test("PostgreSQL stopped: /readyz not ready, /v2 answers 503 UNAVAILABLE; back: served again without a restart", async () => {
    const image = await pushImage(server, "pg/outage", "v1");
    await cluster.stop();
    try {
      const ready = await http(server, "GET", "/readyz");
      assert.equal(ready.status, 503);
      const body = ready.json<{
        status: string;
        checks: { name: string; status: string; message?: string }[];
      }>();
      assert.equal(body.status, "unhealthy");
      const metadata = body.checks.find((check) => check.name === "metadata");
      assert.equal(metadata?.status, "unhealthy");
      assert.match(metadata?.message ?? "", /metadata database is unavailable/);
      assert.equal(body.checks.find((check) => check.name === "storage")?.status, "healthy");

      for (const [method, path] of [
        ["GET", "/v2/pg/outage/manifests/v1"],
        ["HEAD", `/v2/pg/outage/blobs/${image.config.digest}`],
        ["GET", "/v2/pg/outage/tags/list"],
        ["GET", "/v2/_catalog"],
      ] as const) {
        const res = await http(server, method, path);
        assert.equal(res.status, 503, `${method} ${path}: ${res.status} ${res.text()}`);
        assert.equal(res.header("retry-after"), "5");
        if (method === "GET") {
          const [error] = assertError(res, 503, "UNAVAILABLE");
          assert.match(error!.message, /metadata database is unavailable/);
        }
      }
      const push = await putManifest(server, "pg/outage", "v2", image.bytes, OCI_MANIFEST);
      assertError(push, 503, "UNAVAILABLE");
      // The JSON API answers in its own shape.
      const status = await http(server, "GET", "/api/status");
      assert.equal(status.status, 503, status.text());
      assert.equal(status.json<{ error: { code: string } }>().error.code, "UNAVAILABLE");
    } finally {
      await cluster.start();
    }
    await waitFor(async () => (await http(server, "GET", "/readyz")).status === 200, {
      what: "/readyz to be ready again once PostgreSQL is back",
    });
    const res = await http(server, "GET", "/v2/pg/outage/manifests/v1", {
      headers: { Accept: OCI_MANIFEST },
    });
    assert.equal(res.status, 200, res.text());
    assert.equal(res.header("docker-content-digest"), image.digest);
    const again = await putManifest(server, "pg/outage", "v2", image.bytes, OCI_MANIFEST);
    assert.equal(again.status, 201, again.text());
    await pushBlob(server, "pg/outage", "after the outage");
  });

  test("the logs name the database without its password, and the outage's cause is logged", () => {
    const opened = server.logs
      .map((line) => JSON.parse(line))
      .find((entry) => entry.msg === "metadata in PostgreSQL");
    assert.ok(opened, "a line says where the metadata is");
    assert.equal(opened.url, `postgresql://postgres:[REDACTED]@127.0.0.1:${cluster.port}/registry`);
    assert.ok(
      server.logs.some((line) => line.includes('"request failed"') && line.includes("cause")),
      "a failed request of the outage is logged with its cause",
    );
    for (const line of server.logs)
      assert.ok(!line.includes(PASSWORD), `a log line holds the password: ${line}`);
  });

  test("a server whose database cannot be reached does not start, and says so without the password", async () => {
    const unreachable = `postgresql://postgres:${PASSWORD}@127.0.0.1:1/registry`;
    const lines: string[] = [];
    const config = testServerConfig(
      { config: { metadata: { postgres: { url: unreachable } } } },
      server.root,
    );
    await assert.rejects(
      startReestr(config, {
        logger: new JsonLogger({ sink: { write: (chunk: string) => lines.push(chunk) } }),
      }),
      (error: Error) => {
        assert.match(
          error.message,
          /cannot open the metadata database postgresql:\/\/postgres:\[REDACTED\]@127\.0\.0\.1:1/,
        );
        assert.match(error.message, /ECONNREFUSED/);
        assert.ok(!error.message.includes(PASSWORD));
        return true;
      },
    );
    assert.ok(!lines.join("").includes(PASSWORD));
  });
});

describe("metadata.postgres configuration", () => {
  test("REESTR_POSTGRES_URL and REESTR_POSTGRES_POOL_SIZE set the section; without them the metadata is SQLite's", async () => {
    const config = await loadConfig({
      env: { REESTR_POSTGRES_URL: "postgres://reestr:pw@db:5432/reestr", REESTR_POSTGRES_POOL_SIZE: "20" },
    });
    assert.deepEqual(config.metadata, {
      postgres: { url: "postgres://reestr:pw@db:5432/reestr", poolSize: 20 },
    });
    assert.equal((await loadConfig({ env: {} })).metadata, undefined);
    const defaults = await loadConfig({ env: { REESTR_POSTGRES_URL: "postgresql:///reestr" } });
    assert.equal(defaults.metadata?.postgres?.poolSize, 10);
  });

  test("a URL that is not PostgreSQL's is an error naming the field, without repeating the URL", async () => {
    for (const bad of ["mysql://root:hunter2@db/reestr", "db:5432/hunter2", ""]) {
      await assert.rejects(
        loadConfig({ env: {}, flags: { "metadata.postgres.url": bad } }),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(
            error.message,
            /metadata\.postgres\.url: expected a postgres:\/\/ or postgresql:\/\/ URL/,
          );
          assert.ok(!error.message.includes("hunter2"), error.message);
          return true;
        },
      );
    }
    await assert.rejects(
      loadConfig({ env: { REESTR_POSTGRES_URL: "postgres://db/reestr", REESTR_POSTGRES_POOL_SIZE: "0" } }),
      /metadata\.postgres\.poolSize/,
    );
    await assert.rejects(loadConfig({ env: { REESTR_POSTGRES_POOL_SIZE: "5" } }), /metadata\.postgres\.url/);
  });

  test("the URL is logged with its password replaced, in the authority and as a parameter", () => {
    assert.equal(
      describePostgresUrl("postgresql://reestr:p%40ss:w@db:5432/reestr?sslmode=require&password=hunter2"),
      "postgresql://reestr:[REDACTED]@db:5432/reestr?sslmode=require&password=[REDACTED]",
    );
    assert.equal(describePostgresUrl("postgres://db/reestr"), "postgres://db/reestr");
    assert.equal(describePostgresUrl("postgresql:///reestr"), "postgresql:///reestr");
  });
});
