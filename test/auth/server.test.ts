/**
 * Basic auth on /v2 of an in-process server: the 401 challenge and error envelope, wrong and
 * right credentials, anonymous pull on and off, pushes with credentials, the access log's user.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { loadConfig } from "../../src/config/config.ts";
import { assertError, http, OCI_MANIFEST, startServer, type TestServer } from "../api/helpers.ts";

const PASSWORD = "s3cret:pa ss";

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}
const ALICE = basic("alice", PASSWORD);

let dir = "";
let htpasswd = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-auth-"));
  htpasswd = join(dir, "htpasswd");
  await writeHtpasswd(htpasswd, new Map([["alice", await hashPassword(PASSWORD, 4)]]));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Pushes a one-layer image with credentials; returns the manifest digest. */
async function pushWith(server: TestServer, headers: Record<string, string>, repo: string, tag: string) {
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const { createHash } = await import("node:crypto");
  const digest = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux" }));
  for (const blob of [layer, config]) {
    const res = await http(server, "POST", `/v2/${repo}/blobs/uploads/?digest=${digest(blob)}`, {
      headers: { ...headers, "Content-Type": "application/octet-stream" },
      body: blob,
    });
    assert.equal(res.status, 201, res.text());
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: digest(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: digest(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const res = await http(server, "PUT", `/v2/${repo}/manifests/${tag}`, {
    headers: { ...headers, "Content-Type": OCI_MANIFEST },
    body: manifest,
  });
  assert.equal(res.status, 201, res.text());
  return digest(manifest);
}

function assertChallenge(res: Awaited<ReturnType<typeof http>>, realm = "Reestr"): void {
  assertError(res, 401, "UNAUTHORIZED");
  assert.equal(res.header("www-authenticate"), `Basic realm="${realm}"`);
  assert.equal(res.header("docker-distribution-api-version"), "registry/2.0");
}

describe("basic auth, anonymous pull off", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ auth: { htpasswd, realm: "Test Realm" }, accessLog: true });
  });
  after(() => server.cleanup());

  test("no credentials → 401 with the Basic challenge and the OCI error envelope", async () => {
    for (const path of [
      "/v2/",
      "/v2",
      "/v2/_catalog",
      "/v2/a/tags/list",
      "/v2/a/manifests/x",
      "/v2/nope/x",
    ]) {
      assertChallenge(await http(server, "GET", path), "Test Realm");
    }
    const head = await http(server, "HEAD", "/v2/a/manifests/x");
    assert.equal(head.status, 401);
    assert.equal(head.header("www-authenticate"), 'Basic realm="Test Realm"');
    assertChallenge(await http(server, "POST", "/v2/a/blobs/uploads/"), "Test Realm");
  });

  test("wrong password, unknown user, malformed header, other scheme → 401", async () => {
    for (const headers of [
      basic("alice", "wrong"),
      basic("mallory", PASSWORD),
      { Authorization: "Basic !!!" },
      { Authorization: "Bearer abc.def.ghi" },
      basic("", ""),
    ]) {
      const res = await http(server, "GET", "/v2/", { headers });
      assertChallenge(res, "Test Realm");
      assert.doesNotMatch(res.text(), /s3cret|wrong/);
    }
  });

  test("right credentials → 200 on the ping; push and pull work", async () => {
    const ping = await http(server, "GET", "/v2/", { headers: ALICE });
    assert.equal(ping.status, 200);
    const digest = await pushWith(server, ALICE, "team/app", "v1");
    const pulled = await http(server, "GET", "/v2/team/app/manifests/v1", {
      headers: { ...ALICE, Accept: OCI_MANIFEST },
    });
    assert.equal(pulled.status, 200);
    assert.equal(pulled.header("docker-content-digest"), digest);
    assertChallenge(await http(server, "GET", "/v2/team/app/manifests/v1"), "Test Realm");
  });

  test("the access log names the user, and never carries the password or header", async () => {
    await http(server, "GET", "/v2/_catalog", { headers: ALICE });
    await http(server, "GET", "/v2/_catalog", { headers: basic("alice", "wrong") });
    const lines = server.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = lines.filter((l) => l["msg"] === "request" && l["path"] === "/v2/_catalog");
    assert.ok(
      requests.some((l) => l["user"] === "alice" && l["status"] === 200),
      JSON.stringify(requests),
    );
    assert.ok(requests.some((l) => l["user"] === undefined && l["status"] === 401));
    const all = server.logs.join("\n");
    assert.doesNotMatch(all, /s3cret|wrong|Basic /);
    assert.doesNotMatch(all, new RegExp(ALICE.Authorization!.split(" ")[1]!));
  });

  test("other endpoints stay open (health, metrics)", async () => {
    assert.equal((await http(server, "GET", "/healthz")).status, 200);
  });
});

describe("basic auth, anonymous pull on", () => {
  let server: TestServer;
  let digest = "";
  before(async () => {
    server = await startServer({ auth: { htpasswd, anonymousPull: true } });
    digest = await pushWith(server, ALICE, "pub/app", "v1");
  });
  after(() => server.cleanup());

  test("anonymous GET/HEAD of manifests, blobs, tags and catalog succeed", async () => {
    const manifest = await http(server, "GET", "/v2/pub/app/manifests/v1", {
      headers: { Accept: OCI_MANIFEST },
    });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.header("docker-content-digest"), digest);
    assert.equal((await http(server, "HEAD", `/v2/pub/app/manifests/${digest}`)).status, 200);
    assert.equal((await http(server, "GET", "/v2/pub/app/tags/list")).status, 200);
    const layer = manifest.json<{ layers: { digest: string }[] }>().layers[0]!.digest;
    assert.equal((await http(server, "GET", `/v2/pub/app/blobs/${layer}`)).status, 200);
    assert.equal((await http(server, "GET", "/v2/_catalog")).status, 200);
    // `Basic Og==` (empty user and password, what skopeo sends without credentials) is anonymous.
    assert.equal(
      (await http(server, "GET", "/v2/pub/app/tags/list", { headers: basic("", "") })).status,
      200,
    );
  });

  test("the ping still answers 401 to anonymous callers, 200 with credentials", async () => {
    assertChallenge(await http(server, "GET", "/v2/"));
    assert.equal((await http(server, "GET", "/v2/", { headers: ALICE })).status, 200);
  });

  test("anonymous push and delete → 401; wrong credentials on a pull → 401", async () => {
    assertChallenge(await http(server, "POST", "/v2/pub/app/blobs/uploads/"));
    assertChallenge(await http(server, "DELETE", `/v2/pub/app/manifests/${digest}`));
    assertChallenge(await http(server, "PUT", "/v2/pub/app/manifests/v2", { body: "{}" }));
    assertChallenge(await http(server, "GET", "/v2/pub/app/tags/list", { headers: basic("alice", "wrong") }));
  });

  test("push with credentials works", async () => {
    await pushWith(server, ALICE, "pub/app", "v2");
  });
});

describe("without auth configured", () => {
  test("behaviour unchanged: /v2/ answers 200 with no credentials", async () => {
    const server = await startServer();
    try {
      const res = await http(server, "GET", "/v2/");
      assert.equal(res.status, 200);
      assert.equal(res.header("www-authenticate"), undefined);
    } finally {
      await server.cleanup();
    }
  });

  test("a missing htpasswd file stops the start with a clear error", async () => {
    await assert.rejects(
      startServer({ auth: { htpasswd: join(dir, "missing") } }),
      /htpasswd file .*missing does not exist/,
    );
  });
});

describe("config", () => {
  test("auth section, REESTR_HTPASSWD and --htpasswd", async () => {
    assert.equal((await loadConfig({ env: {} })).auth, undefined);
    const fromEnv = await loadConfig({ env: { REESTR_HTPASSWD: "rel/htpasswd" } });
    assert.deepEqual(fromEnv.auth, {
      htpasswd: join(process.cwd(), "rel/htpasswd"),
      realm: "Reestr",
      anonymousPull: false,
    });
    const fromFlag = await loadConfig({
      env: { REESTR_HTPASSWD: "/env" },
      flags: { "auth.htpasswd": "/flag" },
    });
    assert.equal(fromFlag.auth?.htpasswd, "/flag");
    // An unset flag (as `reestr serve` passes them) leaves the environment's value in force.
    const unsetFlag = await loadConfig({
      env: { REESTR_HTPASSWD: "/env", REESTR_HOST: "0.0.0.0" },
      flags: { "auth.htpasswd": undefined, host: undefined },
    });
    assert.equal(unsetFlag.auth?.htpasswd, "/env");
    assert.equal(unsetFlag.host, "0.0.0.0");
    await assert.rejects(loadConfig({ flags: { "auth.anonymousPull": true } }), /auth\.htpasswd/);
  });
});
