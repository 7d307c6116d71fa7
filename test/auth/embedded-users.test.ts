/**
 * Users in the embedded store (`<dataDir>/users.sqlite`): `reestr user … --embedded` manages
 * them; a server with `auth.embeddedUsers: true` (alone or next to an htpasswd file) lets them log
 * in with Basic auth and at the token endpoint, and sees password changes and removals made by the
 * CLI at once, without a restart. A name in both stores is the htpasswd file's.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Readable, Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { EmbeddedUserStore, UserStoresAuthenticator } from "../../src/auth/user-store.ts";
import { runUser } from "../../src/cli/user.ts";
import { assertError, http, startServer, type TestServer } from "../api/helpers.ts";
import { accessOf, basic, bearer, fetchToken } from "./helpers.ts";

async function user(args: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runUser(args, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: new Writable({
      write: (chunk, _enc, cb) => {
        stdout += chunk;
        cb();
      },
    }),
    stderr: new Writable({
      write: (chunk, _enc, cb) => {
        stderr += chunk;
        cb();
      },
    }),
    env: {},
    cost: 4,
  });
  return { code, stdout, stderr };
}

describe("embedded users", () => {
  let dir = "";
  let data = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-embedded-users-"));
    data = join(dir, "data");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("reestr user add|list|passwd|remove --embedded", async () => {
    const d = ["--embedded", "--data", data];
    assert.equal((await user(["add", "alice", "--password-stdin", ...d], "first\n")).code, 0);
    assert.equal((await user(["add", "bob", "--password-stdin", ...d], "bobpass")).code, 0);
    const again = await user(["add", "alice", "--password-stdin", ...d], "x");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists in .*users\.sqlite/);
    const list = await user(["list", "--json", ...d]);
    assert.deepEqual(JSON.parse(list.stdout), {
      file: join(data, "users.sqlite"),
      users: ["alice", "bob"],
      disabled: [],
    });
    assert.ok((await stat(join(data, "users.sqlite"))).isFile());
    assert.equal((await user(["passwd", "alice", "--password-stdin", ...d], "second")).code, 0);
    assert.equal((await user(["passwd", "nobody", "--password-stdin", ...d], "x")).code, 1);
    assert.equal((await user(["remove", "bob", ...d])).code, 0);
    assert.equal((await user(["remove", "bob", ...d])).code, 1);
    assert.equal((await user(["list", ...d])).stdout, "alice\n");
    const both = await user(["list", "--embedded", "--htpasswd", "x"]).catch((error: Error) => error);
    assert.match(String(both instanceof Error ? both.message : both.stderr), /exclude each other/);
    const store = new EmbeddedUserStore(data);
    try {
      assert.equal(await store.check("alice", "second"), "ok");
      assert.equal(await store.check("alice", "first"), "wrong");
      assert.equal(await store.check("bob", "bobpass"), "unknown");
    } finally {
      store.close();
    }
  });

  describe("served", () => {
    let server: TestServer;
    let htpasswd = "";
    before(async () => {
      htpasswd = join(dir, "htpasswd");
      const hash = await hashPassword("from-file", 4);
      await writeHtpasswd(
        htpasswd,
        new Map([
          ["carol", hash],
          ["alice", hash],
        ]),
      );
      server = await startServer({ auth: { embeddedUsers: true, htpasswd } });
      // The server's own data directory holds its users.sqlite.
      const d = ["--embedded", "--data", server.dataDir];
      assert.equal((await user(["add", "dave", "--password-stdin", ...d], "dave-1")).code, 0);
      assert.equal((await user(["add", "alice", "--password-stdin", ...d], "embedded-alice")).code, 0);
    });
    after(() => server.cleanup());

    const ping = (u: string, p: string) => http(server, "GET", "/v2/", { headers: basic(u, p) });

    test("users of both stores log in; the htpasswd file decides a name in both", async () => {
      assert.equal((await ping("dave", "dave-1")).status, 200);
      assert.equal((await ping("carol", "from-file")).status, 200);
      assert.equal((await ping("alice", "from-file")).status, 200);
      assertError(await ping("alice", "embedded-alice"), 401, "UNAUTHORIZED");
      assertError(await ping("nobody", "x"), 401, "UNAUTHORIZED");
    });

    test("a password change and a removal by the CLI apply at once", async () => {
      const d = ["--embedded", "--data", server.dataDir];
      assert.equal((await ping("dave", "dave-1")).status, 200);
      assert.equal((await user(["passwd", "dave", "--password-stdin", ...d], "dave-2")).code, 0);
      assertError(await ping("dave", "dave-1"), 401, "UNAUTHORIZED");
      assert.equal((await ping("dave", "dave-2")).status, 200);
      assert.equal((await user(["remove", "dave", ...d])).code, 0);
      assertError(await ping("dave", "dave-2"), 401, "UNAUTHORIZED");
    });
  });

  test("token mode with only embedded users: the token endpoint checks them", async () => {
    const server = await startServer({ auth: { mode: "token", embeddedUsers: true } });
    try {
      const d = ["--embedded", "--data", server.dataDir];
      assert.equal((await user(["add", "erin", "--password-stdin", ...d], "erin-pass")).code, 0);
      const token = await fetchToken(server, ["repository:x/y:push"], basic("erin", "erin-pass"));
      assert.deepEqual(accessOf(token), [{ type: "repository", name: "x/y", actions: ["push"] }]);
      const wrong = await http(server, "GET", "/auth/token?service=reestr", {
        headers: basic("erin", "nope"),
      });
      assertError(wrong, 401, "UNAUTHORIZED");

      // Disabled: the token issued before stops working at once, and no new one is issued.
      const pull = await fetchToken(server, ["repository:x/y:pull"], basic("erin", "erin-pass"));
      const tags = () => http(server, "GET", "/v2/x/y/tags/list", { headers: bearer(pull) });
      assert.equal((await tags()).status, 404, "allowed (the repository does not exist yet)");
      assert.equal((await user(["disable", "erin", ...d])).code, 0);
      assert.equal((await user(["list", ...d])).stdout, "erin (disabled)\n");
      assertError(await tags(), 401, "UNAUTHORIZED");
      const refused = await http(server, "GET", "/auth/token?service=reestr&scope=repository:x/y:pull", {
        headers: basic("erin", "erin-pass"),
      });
      assertError(refused, 401, "UNAUTHORIZED");
      assert.equal((await user(["enable", "erin", ...d])).code, 0);
      assert.equal((await tags()).status, 404, "enabled again: the same token works");
      assert.equal((await user(["disable", "nobody", ...d])).code, 1);
    } finally {
      await server.cleanup();
    }
  });

  test("a users.sqlite of schema 1 (before the disabled state) is upgraded in place, users kept", async () => {
    const file = join(dir, "v1-users.sqlite");
    const old = new DatabaseSync(file);
    old.exec(
      "CREATE TABLE users (name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT;",
    );
    old
      .prepare("INSERT INTO users VALUES (?, ?, ?, ?)")
      .run("grace", await hashPassword("g-pass", 4), "t", "t");
    old.exec("PRAGMA user_version = 1");
    old.close();
    const store = new EmbeddedUserStore(file);
    try {
      assert.equal(await store.check("grace", "g-pass"), "ok");
      store.setDisabled("grace", true);
      assert.equal(
        await store.check("grace", "g-pass"),
        "wrong",
        "a disabled user looks like a wrong password",
      );
      assert.equal(await store.exists("grace"), false);
      assert.deepEqual(store.disabled(), ["grace"]);
    } finally {
      store.close();
    }
  });

  test("htpasswd users cannot be disabled, only removed: the command says so", async () => {
    const file = join(dir, "plain.htpasswd");
    await writeHtpasswd(file, new Map([["frank", await hashPassword("x", 4)]]));
    const result = await user(["disable", "frank", "--htpasswd", file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /htpasswd format has no disabled state.*reestr user remove frank/);
  });

  test("unknown users cost a bcrypt comparison too", async () => {
    let compares = 0;
    const authenticator = new UserStoresAuthenticator([], async () => {
      compares++;
      return false;
    });
    await assert.rejects(
      authenticator.authenticate({ headers: { authorization: basic("ghost", "x").Authorization } }),
      /invalid username or password/,
    );
    assert.equal(compares, 1);
  });
});
