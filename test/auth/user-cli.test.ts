import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { HtpasswdFile } from "../../src/auth/htpasswd.ts";
import { runUser, type UserIo } from "../../src/cli/user.ts";

const HTPASSWD = process.env["HTPASSWD_BIN"] ?? "/usr/bin/htpasswd";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-user-cli-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function user(
  argv: string[],
  { stdin = "", env = {} }: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
) {
  let stdout = "";
  let stderr = "";
  const io: UserIo = {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: new Writable({
      write(chunk, _enc, cb) {
        stdout += String(chunk);
        cb();
      },
    }),
    stderr: new Writable({
      write(chunk, _enc, cb) {
        stderr += String(chunk);
        cb();
      },
    }),
    env,
    cost: 4,
  };
  const code = await runUser(argv, io);
  return { code, stdout, stderr };
}

async function verifies(file: string, name: string, password: string): Promise<boolean> {
  return (await new HtpasswdFile(file).load()).verify(name, password);
}

describe("reestr user", () => {
  test("add / list / passwd / remove round trip", async () => {
    const file = join(dir, "sub", "htpasswd");
    const f = ["--htpasswd", file];
    assert.deepEqual(await user(["list", ...f]), { code: 0, stdout: "", stderr: "" });

    let res = await user(["add", "alice", "--password-stdin", ...f], { stdin: "first pass\n" });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /added user alice/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.ok(await verifies(file, "alice", "first pass"));
    // Compatible with Apache's tool.
    execFileSync(HTPASSWD, ["-vbB", file, "alice", "first pass"], { stdio: "pipe" });

    res = await user(["add", "bob", "--password-stdin", ...f], { stdin: "bob's" });
    assert.equal(res.code, 0, res.stderr);
    res = await user(["add", "alice", "--password-stdin", ...f], { stdin: "again" });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /already exists/);

    res = await user(["list", ...f]);
    assert.equal(res.stdout, "alice\nbob\n");
    res = await user(["list", "--json", ...f]);
    assert.deepEqual(JSON.parse(res.stdout), { file, users: ["alice", "bob"] });

    res = await user(["passwd", "alice", "--password-stdin", ...f], { stdin: "second pass\r\n" });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(await verifies(file, "alice", "second pass"));
    assert.ok(!(await verifies(file, "alice", "first pass")));
    assert.ok(await verifies(file, "bob", "bob's"));

    res = await user(["remove", "alice", "--json", ...f]);
    assert.equal(res.code, 0);
    assert.deepEqual(JSON.parse(res.stdout), { file, user: "alice", action: "removed" });
    assert.equal((await user(["list", ...f])).stdout, "bob\n");
    assert.equal((await user(["remove", "alice", ...f])).code, 1);
    assert.equal((await user(["passwd", "alice", "--password-stdin", ...f], { stdin: "x" })).code, 1);
    // The password never appears in the file or the output.
    assert.doesNotMatch(await readFile(file, "utf8"), /second pass|bob's/);
  });

  test("the file comes from REESTR_HTPASSWD, else <data>/htpasswd", async () => {
    const envFile = join(dir, "from-env");
    let res = await user(["add", "carol", "--password-stdin"], {
      stdin: "pw",
      env: { REESTR_HTPASSWD: envFile },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(await verifies(envFile, "carol", "pw"));
    const data = join(dir, "data");
    res = await user(["add", "dan", "--password-stdin", "--data", data], { stdin: "pw" });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(await verifies(join(data, "htpasswd"), "dan", "pw"));
    res = await user(["list", "--json"], { env: { REESTR_DATA: data } });
    assert.deepEqual(JSON.parse(res.stdout).users, ["dan"]);
  });

  test("refusals: bad names, empty or over-long passwords, no TTY without --password-stdin", async () => {
    const f = ["--htpasswd", join(dir, "refusals")];
    for (const name of ["a:b", "with space", ""]) {
      const res = await user(["add", name, "--password-stdin", ...f], { stdin: "pw" }).catch((e: Error) => ({
        code: 2,
        stderr: e.message,
      }));
      assert.notEqual(res.code, 0, name);
    }
    assert.match(
      (await user(["add", "eve", "--password-stdin", ...f], { stdin: "\n" })).stderr,
      /empty password/,
    );
    assert.match(
      (await user(["add", "eve", "--password-stdin", ...f], { stdin: "x".repeat(73) })).stderr,
      /longer than 72 bytes/,
    );
    await assert.rejects(
      user(["add", "eve", ...f]),
      /not a terminal: pass the password with --password-stdin/,
    );
    await assert.rejects(user(["frob", ...f]), /unknown action "frob"/);
    await assert.rejects(user([]), /expected an action/);
  });

  test("a file with a non-bcrypt line is refused with its line, not rewritten", async () => {
    const file = join(dir, "md5");
    execFileSync(HTPASSWD, ["-cbm", file, "old", "pw"], { stdio: "pipe" });
    const before = await readFile(file, "utf8");
    const res = await user(["add", "new", "--password-stdin", "--htpasswd", file], { stdin: "pw" });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /md5:1: user "old" has a MD5 \(\$apr1\$\) hash/);
    assert.equal(await readFile(file, "utf8"), before);
  });
});
