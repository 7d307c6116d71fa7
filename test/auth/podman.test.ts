/**
 * podman against access rules, Basic and token auth (`reestr serve` as a child process): login
 * with right and wrong passwords, a reader pulls but may not push, a developer pushes, an
 * anonymous pull of a private repository is refused. Podman runs rootful without systemd here:
 * every invocation gets its own storage (see test/interop/podman.test.ts); when podman cannot
 * work on a machine the tests are skipped with podman's own error as the reason.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { http } from "../api/helpers.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { isolatedPodmanArgs, PODMAN } from "../helpers/podman.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { basic, bearer, fetchToken } from "./helpers.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const PASSWORD = "podman-pass";

let work = "";
let unusable: string | undefined;
let layout = "";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { timeout: 180_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** podman with its own storage under `root`, and its own auth file. */
function podman(root: string, args: string[]): Promise<Run> {
  return run(PODMAN, [...isolatedPodmanArgs(root, "tmp"), ...args]);
}

before(async () => {
  assert.ok(existsSync(PODMAN), `${PODMAN} is missing`);
  work = mkdtempSync(join(tmpdir(), "reestr-auth-podman-"));
  const probe = await podman(join(work, "probe"), ["info", "--format", "{{.Store.GraphDriverName}}"]);
  if (probe.code !== 0) unusable = `podman cannot run here: ${probe.stderr.slice(0, 1500)}`;
  layout = join(work, "layout");
  await makeOciImage(layout, { tag: "v1", layers: 1, layerSize: 8 * 1024, seed: "podman-auth" });
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const mode of ["token", "basic"] as const) {
  describe(`podman with ${mode} auth and rules`, { timeout: 600_000 }, () => {
    let reestr: ServerProcess;
    const root = () => join(work, mode);
    const authFile = () => join(root(), "auth.json");

    before(async () => {
      if (unusable) return;
      const htpasswd = join(work, `htpasswd-${mode}`);
      const hash = await hashPassword(PASSWORD, 5);
      await writeHtpasswd(
        htpasswd,
        new Map([
          ["dev", hash],
          ["reader", hash],
        ]),
      );
      const config = join(work, `${mode}.yaml`);
      writeFileSync(
        config,
        `auth:
  mode: ${mode}
  htpasswd: ${htpasswd}
  rules:
    - subjects: [user:dev]
      repositories: ["team/**"]
      actions: [push]
    - subjects: [user:reader]
      repositories: ["team/**"]
      actions: [pull]
`,
      );
      reestr = await startReestr({ extraArgs: ["--config", config], readyPath: "/healthz" });
      const seeded = await run(SKOPEO, [
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        `dev:${PASSWORD}`,
        `oci:${layout}:v1`,
        `docker://${reestr.hostPort}/team/app:seed`,
      ]);
      assert.equal(seeded.code, 0, seeded.stderr);
    });
    after(async () => {
      await reestr?.cleanup();
    });

    const login = (user: string, password: string) =>
      podman(root(), [
        "login",
        "--tls-verify=false",
        "--authfile",
        authFile(),
        "-u",
        user,
        "-p",
        password,
        reestr.hostPort,
      ]);

    test("login: a wrong password fails, the right one succeeds", async (t) => {
      if (unusable) return t.skip(unusable);
      const wrong = await login("reader", "nope");
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /invalid username\/password|unauthorized/i);
      const ok = await login("reader", PASSWORD);
      assert.equal(ok.code, 0, ok.stderr);
    });

    test("a reader pulls, and may not push", async (t) => {
      if (unusable) return t.skip(unusable);
      assert.equal((await login("reader", PASSWORD)).code, 0);
      const source = `${reestr.hostPort}/team/app:seed`;
      const pull = await podman(root(), ["pull", "--tls-verify=false", "--authfile", authFile(), source]);
      assert.equal(pull.code, 0, pull.stderr);
      const target = `${reestr.hostPort}/team/app:by-reader`;
      assert.equal((await podman(root(), ["tag", source, target])).code, 0);
      const push = await podman(root(), ["push", "--tls-verify=false", "--authfile", authFile(), target]);
      assert.notEqual(push.code, 0, "reader must not push");
      assert.match(push.stderr, /denied|403|forbidden|unauthorized/i);
    });

    test("a developer pushes; the tag then exists", async (t) => {
      if (unusable) return t.skip(unusable);
      assert.equal((await login("dev", PASSWORD)).code, 0);
      const source = `${reestr.hostPort}/team/app:seed`;
      assert.equal(
        (await podman(root(), ["pull", "--tls-verify=false", "--authfile", authFile(), source])).code,
        0,
      );
      const target = `${reestr.hostPort}/team/app:by-dev`;
      assert.equal((await podman(root(), ["tag", source, target])).code, 0);
      const push = await podman(root(), ["push", "--tls-verify=false", "--authfile", authFile(), target]);
      assert.equal(push.code, 0, push.stderr);
      const headers =
        mode === "basic"
          ? basic("reader", PASSWORD)
          : bearer(await fetchToken(reestr.url, ["repository:team/app:pull"], basic("reader", PASSWORD)));
      for (const [tag, status] of [
        ["by-dev", 200],
        ["by-reader", 404],
      ] as const) {
        const res = await http(reestr.url, "HEAD", `/v2/team/app/manifests/${tag}`, { headers });
        assert.equal(res.status, status, tag);
      }
    });

    test("an anonymous pull of a private repository is refused", async (t) => {
      if (unusable) return t.skip(unusable);
      const empty = join(root(), "empty-auth.json");
      writeFileSync(empty, "{}");
      const pull = await podman(join(work, `${mode}-anonymous`), [
        "pull",
        "--tls-verify=false",
        "--authfile",
        empty,
        `${reestr.hostPort}/team/app:seed`,
      ]);
      assert.notEqual(pull.code, 0);
      assert.match(pull.stderr, /unauthorized|authentication required|401/i);
    });
  });
}
