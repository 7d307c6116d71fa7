/**
 * The access matrix through a real client: users × repositories × actions with skopeo against
 * `reestr serve` run as a child process, once with Basic auth and once with token auth (Docker's
 * token flow through Reestr's /auth/token). Every cell is checked twice — skopeo's exit status
 * (a refusal must come from the registry: "denied"/"unauthorized", not from anything else) and
 * the registry's state afterwards (a pushed tag exists only where push is allowed, a deleted
 * manifest is gone only where delete is allowed) — so a wrong grant cannot hide. The catalog is
 * checked over HTTP per user, and `skopeo login` with right and wrong passwords.
 *
 * Cells: 5 callers (admin, dev, reader, outsider, anonymous) × 3 repositories (team/app,
 * pub/app, secret/app) × 4 actions (pull = copy out, push = copy in, delete, list-tags) = 60 per
 * mode, plus 5 catalogs.
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
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { basic, bearer, fetchToken, pushImage } from "./helpers.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const PASSWORD = "matrix pass:1";
const USERS = ["admin", "dev", "reader", "outsider"] as const;
type Caller = (typeof USERS)[number] | "anonymous";
const CALLERS: Caller[] = [...USERS, "anonymous"];
const REPOS = ["team/app", "pub/app", "secret/app"] as const;
type Repo = (typeof REPOS)[number];
const ACTIONS = ["pull", "push", "delete", "list"] as const;
type CellAction = (typeof ACTIONS)[number];

const CONFIG = (mode: string, htpasswd: string) => `
auth:
  mode: ${mode}
  htpasswd: ${htpasswd}
  groups:
    admins: [admin]
    dev: [dev]
    readers: [reader]
  rules:
    - subjects: [group:admins]
      repositories: ["**"]
      actions: [admin]
    - subjects: [everyone]
      repositories: ["secret/**"]
      actions: []
    - subjects: [group:dev]
      repositories: ["team/**"]
      actions: [push, delete]
    - subjects: [group:readers]
      repositories: ["team/*"]
      actions: [pull]
    - subjects: [everyone]
      repositories: ["pub/*"]
      actions: [pull]
`;

/** The matrix's truth, written out rather than derived from the policy under test. */
const ALLOWED: Record<Caller, Record<Repo, CellAction[]>> = {
  admin: {
    "team/app": ["pull", "push", "delete", "list"],
    "pub/app": ["pull", "push", "delete", "list"],
    "secret/app": ["pull", "push", "delete", "list"],
  },
  dev: { "team/app": ["pull", "push", "delete", "list"], "pub/app": ["pull", "list"], "secret/app": [] },
  reader: { "team/app": ["pull", "list"], "pub/app": ["pull", "list"], "secret/app": [] },
  outsider: { "team/app": [], "pub/app": ["pull", "list"], "secret/app": [] },
  anonymous: { "team/app": [], "pub/app": ["pull", "list"], "secret/app": [] },
};
const CATALOG: Record<Caller, Repo[]> = {
  admin: ["pub/app", "secret/app", "team/app"],
  dev: ["pub/app", "team/app"],
  reader: ["pub/app", "team/app"],
  outsider: ["pub/app"],
  anonymous: ["pub/app"],
};

let work = "";
let htpasswd = "";
let image = "";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function skopeo(args: string[], authFile: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      SKOPEO,
      ["--insecure-policy", ...args],
      { timeout: 120_000, env: { ...process.env, REGISTRY_AUTH_FILE: authFile } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

before(async () => {
  assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing`);
  work = mkdtempSync(join(tmpdir(), "reestr-matrix-"));
  htpasswd = join(work, "htpasswd");
  const hash = await hashPassword(PASSWORD, 5);
  await writeHtpasswd(htpasswd, new Map(USERS.map((user) => [user, hash])));
  image = join(work, "image");
  await makeOciImage(image, { tag: "v1", layers: 1, layerSize: 4096, seed: "matrix" });
  writeFileSync(join(work, "empty-auth.json"), "{}");
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const mode of ["basic", "token"] as const) {
  describe(`access matrix through skopeo, ${mode} auth`, { timeout: 600_000 }, () => {
    let reestr: ServerProcess;
    const adminBasic = basic("admin", PASSWORD);

    /** Admin credentials for a raw HTTP request needing `scope`. */
    async function adminHeaders(scope: string): Promise<Record<string, string>> {
      return mode === "basic" ? adminBasic : bearer(await fetchToken(reestr.url, [scope], adminBasic));
    }

    async function manifestStatus(repo: string, tag: string): Promise<number> {
      const headers = await adminHeaders(`repository:${repo}:pull`);
      return (await http(reestr.url, "HEAD", `/v2/${repo}/manifests/${tag}`, { headers })).status;
    }

    before(async () => {
      const config = join(work, `${mode}.yaml`);
      writeFileSync(config, CONFIG(mode, htpasswd));
      reestr = await startReestr({ extraArgs: ["--config", config], readyPath: "/healthz" });
      // Seed every repository: a tag to pull and, per caller, a distinct manifest to delete.
      for (const repo of REPOS) {
        const headers = await adminHeaders(`repository:${repo}:pull,push`);
        await pushImage(reestr.url, headers, repo, "seed");
        for (const caller of CALLERS) await pushImage(reestr.url, headers, repo, `del-${caller}`);
      }
    });
    after(async () => {
      await reestr?.cleanup();
    });

    async function cell(caller: Caller, repo: Repo, action: CellAction): Promise<string | undefined> {
      const creds = caller === "anonymous" ? [] : [`${caller}:${PASSWORD}`];
      const authFile = join(work, "empty-auth.json");
      const ref = `docker://${reestr.hostPort}/${repo}`;
      const expected = ALLOWED[caller][repo].includes(action);
      let run: Run;
      let stateOk = true;
      switch (action) {
        case "pull": {
          const target = join(work, `pulled-${mode}-${caller}-${repo.replace("/", "_")}`);
          run = await skopeo(
            [
              "copy",
              "--src-tls-verify=false",
              ...creds.flatMap((c) => ["--src-creds", c]),
              `${ref}:seed`,
              `oci:${target}:seed`,
            ],
            authFile,
          );
          if (run.code === 0) stateOk = existsSync(join(target, "index.json"));
          rmSync(target, { recursive: true, force: true });
          break;
        }
        case "push":
          run = await skopeo(
            [
              "copy",
              "--dest-tls-verify=false",
              ...creds.flatMap((c) => ["--dest-creds", c]),
              `oci:${image}:v1`,
              `${ref}:push-${caller}`,
            ],
            authFile,
          );
          stateOk = (await manifestStatus(repo, `push-${caller}`)) === (expected ? 200 : 404);
          break;
        case "delete":
          run = await skopeo(
            ["delete", "--tls-verify=false", ...creds.flatMap((c) => ["--creds", c]), `${ref}:del-${caller}`],
            authFile,
          );
          stateOk = (await manifestStatus(repo, `del-${caller}`)) === (expected ? 404 : 200);
          break;
        case "list":
          run = await skopeo(
            ["list-tags", "--tls-verify=false", ...creds.flatMap((c) => ["--creds", c]), ref],
            authFile,
          );
          if (run.code === 0) stateOk = (JSON.parse(run.stdout) as { Tags: string[] }).Tags.includes("seed");
          break;
      }
      const name = `${caller} ${action} ${repo}`;
      if (expected && run.code !== 0) return `${name}: expected success, skopeo failed: ${run.stderr.trim()}`;
      if (!expected && run.code === 0) return `${name}: WRONG GRANT, skopeo succeeded`;
      if (
        !expected &&
        !/denied|unauthorized|authentication required|insufficient scope|\b40[13]\b|forbidden/i.test(
          run.stderr,
        )
      ) {
        return `${name}: refused for another reason: ${run.stderr.trim()}`;
      }
      if (!stateOk)
        return `${name}: registry state does not match (expected ${expected ? "allowed" : "refused"})`;
      return undefined;
    }

    for (const caller of CALLERS) {
      test(`${caller}: every repository × action`, async () => {
        const cells = REPOS.flatMap((repo) => ACTIONS.map((action) => () => cell(caller, repo, action)));
        const problems = (await pool(3, cells)).filter((problem) => problem !== undefined);
        assert.deepEqual(problems, [], problems.join("\n"));
      });
    }

    test("the catalog shows each caller exactly what it may pull", async () => {
      for (const caller of CALLERS) {
        const credentials = caller === "anonymous" ? undefined : basic(caller, PASSWORD);
        const headers =
          mode === "basic"
            ? (credentials ?? {})
            : bearer(await fetchToken(reestr.url, ["registry:catalog:*"], credentials));
        const res = await http(reestr.url, "GET", "/v2/_catalog", { headers });
        assert.equal(res.status, 200, `${caller}: ${res.text()}`);
        assert.deepEqual(res.json<{ repositories: string[] }>().repositories, CATALOG[caller], caller);
      }
    });

    test("skopeo login: right passwords succeed and are used later, wrong ones fail", async () => {
      const authFile = join(work, `auth-${mode}.json`);
      writeFileSync(authFile, "{}");
      const wrong = await skopeo(
        ["login", "--tls-verify=false", "-u", "dev", "-p", "nope", reestr.hostPort],
        authFile,
      );
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /invalid username\/password|unauthorized/i);
      const unknown = await skopeo(
        ["login", "--tls-verify=false", "-u", "mallory", "-p", PASSWORD, reestr.hostPort],
        authFile,
      );
      assert.notEqual(unknown.code, 0);
      for (const user of USERS) {
        const login = await skopeo(
          ["login", "--tls-verify=false", "-u", user, "-p", PASSWORD, reestr.hostPort],
          authFile,
        );
        assert.equal(login.code, 0, `${user}: ${login.stderr}`);
      }
      // The last login (outsider) is stored: it lists pub/app, and is refused team/app.
      const ref = `docker://${reestr.hostPort}`;
      const pub = await skopeo(["list-tags", "--tls-verify=false", `${ref}/pub/app`], authFile);
      assert.equal(pub.code, 0, pub.stderr);
      const team = await skopeo(["list-tags", "--tls-verify=false", `${ref}/team/app`], authFile);
      assert.notEqual(team.code, 0);
      assert.match(team.stderr, /denied|403|forbidden/i);
      assert.equal((await skopeo(["logout", reestr.hostPort], authFile)).code, 0);
    });
  });
}
