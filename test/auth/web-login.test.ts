/**
 * The web login wired into a real server (issue 5 §3): sessions from /api/auth/login, personal
 * access tokens used as basic-auth passwords on /v2 (limited to their actions), and deletes
 * through the catalogue API with the session cookie (CSRF header required, access rules applied).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AuthSettings } from "../../src/auth/auth-config.ts";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { http, startServer, type TestServer } from "../api/helpers.ts";
import { basic, pushImage } from "./helpers.ts";

const PASSWORD = "web-pass";

const AUTH: AuthSettings = {
  rules: [
    { subjects: ["user:alice"], repositories: ["**"], actions: ["delete", "push"] },
    { subjects: ["user:bob"], repositories: ["team/**"], actions: ["pull"] },
    { subjects: ["anonymous", "authenticated"], repositories: ["public/*"], actions: ["pull"] },
  ],
};

let dir = "";
let server: TestServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-web-login-"));
  const htpasswd = join(dir, "htpasswd");
  const hash = await hashPassword(PASSWORD, 4);
  await writeHtpasswd(
    htpasswd,
    new Map([
      ["alice", hash],
      ["bob", hash],
    ]),
  );
  server = await startServer({ auth: { htpasswd, ...AUTH } });
  for (const tag of ["v1", "v2", "v3"]) await pushImage(server, basic("alice", PASSWORD), "team/app", tag);
  await pushImage(server, basic("alice", PASSWORD), "public/tool", "1.0");
  await pushImage(server, basic("alice", PASSWORD), "secret/keys", "1.0");
});
after(async () => {
  await server?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function login(user: string): Promise<{ cookie: string; csrf: string }> {
  const res = await http(server, "POST", "/api/auth/login", {
    headers: { "Content-Type": "application/json" },
    body: Buffer.from(JSON.stringify({ username: user, password: PASSWORD })),
  });
  assert.equal(res.status, 200, res.text());
  const cookie = (res.header("set-cookie") ?? "").split(";")[0]!;
  return { cookie, csrf: res.json<{ csrfToken: string }>().csrfToken };
}

describe("web login on reestr serve", () => {
  test("the session endpoint says auth is required; a login knows the user", async () => {
    const anonymous = await http(server, "GET", "/api/auth/session");
    assert.equal(anonymous.json<{ authRequired: boolean }>().authRequired, true);
    const { cookie } = await login("alice");
    const session = await http(server, "GET", "/api/auth/session", { headers: { Cookie: cookie } });
    assert.equal(session.json<{ user: string }>().user, "alice");
    const wrong = await http(server, "POST", "/api/auth/login", {
      headers: { "Content-Type": "application/json" },
      body: Buffer.from(JSON.stringify({ username: "alice", password: "nope" })),
    });
    assert.equal(wrong.status, 401);
  });

  test("a personal token is a password on /v2, limited to its actions", async () => {
    const { cookie, csrf } = await login("alice");
    const created = await http(server, "POST", "/api/auth/tokens", {
      headers: { "Content-Type": "application/json", Cookie: cookie, "X-CSRF-Token": csrf },
      body: Buffer.from(JSON.stringify({ name: "pull-only", actions: ["pull"] })),
    });
    assert.equal(created.status, 201, created.text());
    const { secret } = created.json<{ secret: string }>();
    const pull = await http(server, "GET", "/v2/team/app/manifests/v1", { headers: basic("alice", secret) });
    assert.equal(pull.status, 200);
    const push = await http(server, "POST", "/v2/team/app/blobs/uploads/", {
      headers: basic("alice", secret),
    });
    assert.equal(push.status, 403, "the token may pull only, although alice may push");
    const asBob = await http(server, "GET", "/v2/team/app/manifests/v1", { headers: basic("bob", secret) });
    assert.equal(asBob.status, 401, "a token is its owner's only");
  });

  test("deletes through the catalogue with the session: CSRF header and access rules", async () => {
    const path = "/api/registries/local/repositories/team%2Fapp/tags/v3";
    const alice = await login("alice");
    const noCsrf = await http(server, "DELETE", path, { headers: { Cookie: alice.cookie } });
    assert.equal(noCsrf.status, 403);
    assert.match(noCsrf.json<{ error: { message: string } }>().error.message, /CSRF/);
    const bob = await login("bob");
    const refused = await http(server, "DELETE", path, {
      headers: { Cookie: bob.cookie, "X-CSRF-Token": bob.csrf },
    });
    assert.equal(refused.status, 403, "bob may only pull");
    assert.equal(
      (await http(server, "HEAD", "/v2/team/app/manifests/v3", { headers: basic("bob", PASSWORD) })).status,
      200,
    );
    const deleted = await http(server, "DELETE", path, {
      headers: { Cookie: alice.cookie, "X-CSRF-Token": alice.csrf },
    });
    assert.equal(deleted.status, 204, deleted.text());
    assert.equal(
      (await http(server, "HEAD", "/v2/team/app/manifests/v3", { headers: basic("bob", PASSWORD) })).status,
      404,
    );
    const anonymous = await http(server, "DELETE", "/api/registries/local/repositories/team%2Fapp/tags/v2");
    assert.equal(anonymous.status, 401);
  });
});

describe("the catalogue shows what the caller may pull", () => {
  const names = async (headers: Record<string, string>) => {
    const res = await http(server, "GET", "/api/registries/local/repositories", { headers });
    assert.equal(res.status, 200, res.text());
    const body = res.json<{ items: { name: string }[]; total: number }>();
    assert.equal(body.total, body.items.length, "totals count only what is visible");
    return body.items.map((item) => item.name);
  };

  test("repository lists and storage follow the access rules", async () => {
    assert.deepEqual(await names({}), ["public/tool"]);
    assert.deepEqual(await names(basic("bob", PASSWORD)), ["public/tool", "team/app"]);
    const alice = await login("alice");
    assert.deepEqual(await names({ Cookie: alice.cookie }), ["public/tool", "secret/keys", "team/app"]);
    const storage = await http(server, "GET", "/api/registries/local/storage", {
      headers: basic("bob", PASSWORD),
    });
    assert.deepEqual(
      storage
        .json<{ repositories: { name: string }[] }>()
        .repositories.map((r) => r.name)
        .sort(),
      ["public/tool", "team/app"],
    );
    const wrong = await http(server, "GET", "/api/registries/local/repositories", {
      headers: basic("bob", "nope"),
    });
    assert.equal(wrong.status, 401);
  });

  test("a repository, its tags and manifests: 401 for anonymous, 403 for a user without pull", async () => {
    for (const path of [
      "/api/registries/local/repositories/secret%2Fkeys",
      "/api/registries/local/repositories/secret%2Fkeys/tags",
      "/api/registries/local/repositories/secret%2Fkeys/manifests/1.0",
    ]) {
      assert.equal((await http(server, "GET", path)).status, 401, path);
      assert.equal((await http(server, "GET", path, { headers: basic("bob", PASSWORD) })).status, 403, path);
      assert.equal(
        (await http(server, "GET", path, { headers: basic("alice", PASSWORD) })).status,
        200,
        path,
      );
    }
    assert.equal(
      (await http(server, "GET", "/api/registries/local/repositories/public%2Ftool/tags")).status,
      200,
    );
  });
});

test("without auth configured nothing asks for a login", async () => {
  const open = await startServer();
  try {
    const res = await http(open, "GET", "/api/auth/session");
    assert.deepEqual(res.json(), { user: null, csrfToken: null, expiresAt: null, authRequired: false });
    assert.equal((await http(open, "POST", "/api/auth/login")).status, 404);
  } finally {
    await open.cleanup();
  }
});
