/**
 * Real client: skopeo against `reestr serve --htpasswd` run as a child process, with a user added
 * by `reestr user add --password-stdin` (the CLI module) — copy, inspect and login with
 * credentials succeed; without them they fail; with anonymous pull, an anonymous inspect works.
 * The same with `--auth-mode token --anonymous-pull` given as flags.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { runUser } from "../../src/cli/user.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const PASSWORD = "p@ss:word with spaces";

let work = "";

function skopeo(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      SKOPEO,
      ["--insecure-policy", ...args],
      { timeout: 120_000, env: { ...process.env, REGISTRY_AUTH_FILE: join(work, "auth.json") } },
      (error, stdout, stderr) => resolve({ code: error ? ((error.code as number) ?? 1) : 0, stdout, stderr }),
    );
  });
}

function sink(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}

function startAuthReestr(extraArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  // /v2/ answers 401 with auth on.
  return startReestr({ extraArgs, env, readyPath: "/healthz" });
}

/** Adds the user "ci" with PASSWORD to an htpasswd file through `reestr user add`. */
async function addUser(htpasswd: string): Promise<void> {
  const code = await runUser(["add", "ci", "--password-stdin", "--htpasswd", htpasswd], {
    stdin: Readable.from([Buffer.from(`${PASSWORD}\n`)]),
    stdout: sink(),
    stderr: sink(),
    env: {},
    cost: 5,
  });
  assert.equal(code, 0);
}

describe("skopeo against basic auth", { timeout: 300_000 }, () => {
  let htpasswd = "";
  let image = "";
  let closed: ServerProcess | undefined;
  let open: ServerProcess | undefined;

  before(async () => {
    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing`);
    work = mkdtempSync(join(tmpdir(), "reestr-auth-skopeo-"));
    htpasswd = join(work, "htpasswd");
    await addUser(htpasswd);
    image = join(work, "image");
    await makeOciImage(image, { tag: "v1", layers: 1, layerSize: 16 * 1024 });
    writeFileSync(join(work, "auth.json"), "{}");
    // One at a time, so a failing start never leaves the other child running.
    closed = await startAuthReestr(["--htpasswd", htpasswd]);
    // Env wins over the config file's path; the file turns anonymous pull on.
    open = await startAuthReestr([], { REESTR_HTPASSWD: htpasswd, REESTR_CONFIG: writeConfig() });
  });

  function writeConfig(): string {
    const path = join(work, "open.yaml");
    writeFileSync(path, "auth:\n  htpasswd: ignored-by-env\n  anonymousPull: true\n");
    return path;
  }

  after(async () => {
    await Promise.all([closed?.cleanup(), open?.cleanup()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const creds = `ci:${PASSWORD}`;

  test("copy with --dest-creds succeeds; without credentials it fails", async () => {
    const ref = `docker://${closed!.hostPort}/auth/app:v1`;
    const denied = await skopeo(["copy", "--dest-tls-verify=false", `oci:${image}:v1`, ref]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /401|unauthorized|authentication required/i);
    const wrong = await skopeo([
      "copy",
      "--dest-tls-verify=false",
      "--dest-creds",
      "ci:nope",
      `oci:${image}:v1`,
      ref,
    ]);
    assert.notEqual(wrong.code, 0);
    const ok = await skopeo([
      "copy",
      "--dest-tls-verify=false",
      "--dest-creds",
      creds,
      `oci:${image}:v1`,
      ref,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test("inspect with --creds succeeds; without credentials it fails", async () => {
    const ref = `docker://${closed!.hostPort}/auth/app:v1`;
    const ok = await skopeo(["inspect", "--tls-verify=false", "--creds", creds, ref]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { Name: string }).Name, `${closed!.hostPort}/auth/app`);
    const denied = await skopeo(["inspect", "--tls-verify=false", ref]);
    assert.notEqual(denied.code, 0);
  });

  test("skopeo login stores credentials that later commands use; wrong password is refused", async () => {
    const bad = await skopeo(["login", "--tls-verify=false", "-u", "ci", "-p", "nope", closed!.hostPort]);
    assert.notEqual(bad.code, 0);
    const login = await skopeo(["login", "--tls-verify=false", "-u", "ci", "-p", PASSWORD, closed!.hostPort]);
    assert.equal(login.code, 0, login.stderr);
    const inspect = await skopeo([
      "inspect",
      "--tls-verify=false",
      `docker://${closed!.hostPort}/auth/app:v1`,
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const logout = await skopeo(["logout", closed!.hostPort]);
    assert.equal(logout.code, 0, logout.stderr);
  });

  test("anonymous pull: inspect and copy out without credentials, push still needs them", async () => {
    const ref = `docker://${open!.hostPort}/pub/app:v1`;
    const anonymousPush = await skopeo(["copy", "--dest-tls-verify=false", `oci:${image}:v1`, ref]);
    assert.notEqual(anonymousPush.code, 0);
    const push = await skopeo([
      "copy",
      "--dest-tls-verify=false",
      "--dest-creds",
      creds,
      `oci:${image}:v1`,
      ref,
    ]);
    assert.equal(push.code, 0, push.stderr);
    const inspect = await skopeo(["inspect", "--tls-verify=false", ref]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const pull = await skopeo(["copy", "--src-tls-verify=false", ref, `oci:${join(work, "pulled")}:v1`]);
    assert.equal(pull.code, 0, pull.stderr);
  });
});

describe("skopeo against `reestr serve --auth-mode token --anonymous-pull`", { timeout: 300_000 }, () => {
  let server: ServerProcess | undefined;
  let dir = "";
  let htpasswd = "";
  let image = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "reestr-auth-skopeo-token-"));
    htpasswd = join(dir, "htpasswd");
    await addUser(htpasswd);
    image = join(dir, "image");
    await makeOciImage(image, { tag: "v1", layers: 1, layerSize: 8 * 1024 });
    server = await startAuthReestr(["--auth-mode", "token", "--htpasswd", htpasswd, "--anonymous-pull"]);
  });
  after(async () => {
    await server?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the flags turn on token auth: Bearer challenge, anonymous pull, push with credentials", async () => {
    const ping = await fetch(`${server!.url}/v2/`);
    assert.equal(ping.status, 401);
    assert.match(
      ping.headers.get("www-authenticate") ?? "",
      /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/auth\/token",service="reestr"$/,
    );
    const ref = `docker://${server!.hostPort}/token/app:v1`;
    const anonymousPush = await skopeo(["copy", "--dest-tls-verify=false", `oci:${image}:v1`, ref]);
    assert.notEqual(anonymousPush.code, 0);
    const push = await skopeo([
      "copy",
      "--dest-tls-verify=false",
      "--dest-creds",
      `ci:${PASSWORD}`,
      `oci:${image}:v1`,
      ref,
    ]);
    assert.equal(push.code, 0, push.stderr);
    const inspect = await skopeo(["inspect", "--tls-verify=false", ref]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const wrong = await skopeo(["inspect", "--tls-verify=false", "--creds", "ci:wrong", ref]);
    assert.notEqual(wrong.code, 0, "wrong credentials never fall back to anonymous");
  });
});
