import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import bcrypt from "bcryptjs";
import {
  HtpasswdFile,
  hashPassword,
  parseHtpasswd,
  readHtpasswd,
  writeHtpasswd,
} from "../../src/auth/htpasswd.ts";
import { parseBasicAuth } from "../../src/http/credentials.ts";
import { ConfigError } from "../../src/util/config-error.ts";

const HTPASSWD = process.env["HTPASSWD_BIN"] ?? "/usr/bin/htpasswd";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-htpasswd-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("htpasswd file format", () => {
  test("parse and write round trip, atomically, mode 0600, no temp files left", async () => {
    const alice = await hashPassword("secret", 4);
    const bob = await hashPassword("p:a ss", 4);
    assert.match(alice, /^\$2y\$04\$/);
    const entries = parseHtpasswd(`# users\nalice:${alice}\n\r\nbob:${bob}\r\n`);
    assert.deepEqual([...entries.keys()], ["alice", "bob"]);
    const path = join(dir, "round-trip");
    await writeHtpasswd(path, entries);
    assert.equal(await readFile(path, "utf8"), `alice:${alice}\nbob:${bob}\n`);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readHtpasswd(path), entries);
    // Rewriting keeps an existing file's mode.
    execFileSync("chmod", ["640", path]);
    await writeHtpasswd(path, new Map([["alice", alice]]));
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    assert.deepEqual([...(await readHtpasswd(path)).keys()], ["alice"]);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.endsWith(".tmp")),
      [],
    );
  });

  test("refuses non-bcrypt hashes, naming the line and never echoing the hash", () => {
    const good = "alice:$2y$05$0cTRS6leB79N1CZ6AZdO7.WPdB6UVRaZDBvfnto0W.dxz.zmP1EVa";
    const cases: [string, RegExp][] = [
      ["bob:$apr1$abcdefgh$0123456789abcdefghijkl", /users:2: user "bob" has a MD5 \(\$apr1\$\) hash/],
      ["bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", /users:2: .*SHA1/],
      ["bob:plaintext", /users:2: .*non-bcrypt/],
      ["bob:$2y$05$short", /users:2: .*malformed bcrypt/],
      ["nocolon", /users:2: expected "user:hash"/],
      [good, /users:2: user "alice" appears twice/],
    ];
    for (const [line, pattern] of cases) {
      assert.throws(
        () => parseHtpasswd(`${good}\n${line}\n`, "users"),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, pattern);
          assert.doesNotMatch(error.message, /W6ph5Mm5|plaintext|0123456789abc/);
          return true;
        },
      );
    }
  });

  test("missing file: an error naming it, or empty when missingOk", async () => {
    const path = join(dir, "absent");
    await assert.rejects(readHtpasswd(path), /does not exist/);
    assert.equal((await readHtpasswd(path, { missingOk: true })).size, 0);
  });

  test("basic auth header parsing", () => {
    const encode = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;
    assert.deepEqual(parseBasicAuth(encode("alice:pa:ss")), { user: "alice", password: "pa:ss" });
    assert.deepEqual(parseBasicAuth(`bAsIc  ${Buffer.from("a:b").toString("base64")}`), {
      user: "a",
      password: "b",
    });
    assert.deepEqual(parseBasicAuth(encode(":")), { user: "", password: "" });
    assert.equal(parseBasicAuth(undefined), undefined);
    assert.equal(parseBasicAuth("Bearer abc"), null);
    assert.equal(parseBasicAuth(encode("nocolon")), null);
    assert.equal(parseBasicAuth("Basic !!!"), null);
  });
});

describe("compatibility with Apache htpasswd", () => {
  test("a file written by `htpasswd -Bbn` verifies with our code", async () => {
    const line = execFileSync(HTPASSWD, ["-Bbn", "-C", "5", "carol", "s3cr:et é"], { encoding: "utf8" });
    const path = join(dir, "apache");
    await writeFile(path, line);
    const file = await new HtpasswdFile(path).load();
    assert.equal(await file.verify("carol", "s3cr:et é"), true);
    assert.equal(await file.verify("carol", "wrong"), false);
    assert.equal(await file.verify("nobody", "s3cr:et é"), false);
  });

  test("a file written by our code verifies with `htpasswd -vbB`", async () => {
    const path = join(dir, "ours");
    await writeHtpasswd(path, new Map([["dave", await hashPassword("hunter2 :x", 5)]]));
    // -v exits 0 when the password is correct, 3 when it is not.
    execFileSync(HTPASSWD, ["-vbB", path, "dave", "hunter2 :x"], { stdio: "pipe" });
    assert.throws(() => execFileSync(HTPASSWD, ["-vbB", path, "dave", "nope"], { stdio: "pipe" }));
  });
});

describe("HtpasswdFile verification cache and reload", () => {
  async function setup(name: string, users: Record<string, string>) {
    const path = join(dir, name);
    const entries = new Map<string, string>();
    for (const [user, password] of Object.entries(users)) entries.set(user, await hashPassword(password, 4));
    await writeHtpasswd(path, entries);
    let clock = 1_000_000;
    const calls: string[] = [];
    const errors: Error[] = [];
    const file = await new HtpasswdFile(path, {
      statIntervalMs: 0,
      cacheTtlMs: 60_000,
      now: () => clock,
      compare: (password, hash) => {
        calls.push(hash);
        return bcrypt.compare(password, hash);
      },
      onReloadError: (error) => errors.push(error),
    }).load();
    return {
      path,
      file,
      calls,
      errors,
      advance: (ms: number) => {
        clock += ms;
      },
    };
  }

  test("a second verify within the TTL does not call bcrypt; after it, it does", async () => {
    const { file, calls, advance } = await setup("cache", { alice: "secret" });
    assert.equal(await file.verify("alice", "secret"), true);
    assert.equal(calls.length, 1);
    assert.equal(await file.verify("alice", "secret"), true);
    assert.equal(calls.length, 1, "cached");
    // Wrong passwords are never served from the cache.
    assert.equal(await file.verify("alice", "Secret"), false);
    assert.equal(calls.length, 2);
    advance(60_001);
    assert.equal(await file.verify("alice", "secret"), true);
    assert.equal(calls.length, 3, "expired");
  });

  test("the cache is bounded: the least recently used entry is dropped", async () => {
    const path = join(dir, "bounded");
    const entries = new Map([
      ["alice", await hashPassword("secret", 4)],
      ["bob", await hashPassword("builder", 4)],
    ]);
    await writeHtpasswd(path, entries);
    let calls = 0;
    const file = await new HtpasswdFile(path, {
      cacheSize: 1,
      compare: (password, hash) => {
        calls++;
        return bcrypt.compare(password, hash);
      },
    }).load();
    await file.verify("alice", "secret");
    await file.verify("alice", "secret");
    assert.equal(calls, 1);
    await file.verify("bob", "builder"); // evicts alice
    await file.verify("alice", "secret");
    assert.equal(calls, 3);
  });

  test("reloads when the file changes: new password wins at once, removed user is refused", async () => {
    const { path, file, calls, advance } = await setup("reload", { alice: "secret", bob: "builder" });
    assert.equal(await file.verify("alice", "secret"), true);
    await writeHtpasswd(path, new Map([["alice", await hashPassword("changed", 4)]]));
    // Make sure the mtime differs even on coarse clocks.
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    advance(1);
    assert.equal(await file.verify("alice", "secret"), false, "the cached old password is not honoured");
    assert.equal(await file.verify("alice", "changed"), true);
    assert.equal(await file.verify("bob", "builder"), false);
    assert.ok(calls.length >= 3);
  });

  test("a broken edit keeps the previous users and reports once", async () => {
    const { path, file, errors } = await setup("broken", { alice: "secret" });
    await writeFile(path, "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    assert.equal(await file.verify("alice", "secret"), true);
    assert.equal(await file.verify("alice", "secret"), true);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /broken:1: user "alice" has a SHA1/);
  });
});
