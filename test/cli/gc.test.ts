/**
 * `reestr gc` as a user runs it (a child process of bin/reestr.js) against a real server with
 * basic auth: a dry run lists what would go and deletes nothing, a run frees the bytes, JSON for
 * scripts, and refusals that say what to do (no credentials, not an administrator).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type RunningServer, startServer } from "../../src/app/server.ts";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import type { GcRun } from "../../src/registry/lifecycle/gc-service.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { testServerConfig } from "../api/helpers.ts";
import { basic, pushImage } from "../auth/helpers.ts";

const exec = promisify(execFile);
const BIN = new URL("../../bin/reestr.js", import.meta.url).pathname;
const ADMIN = { REESTR_USERNAME: "admin", REESTR_PASSWORD: "admin-pass" };

let dir: string;
let server: RunningServer;

async function reestr(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, "gc", ...args], {
      env: { ...process.env, REESTR_URL: server.url, DOCKER_CONFIG: dir, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function blobCount(): Promise<number> {
  let count = 0;
  const root = join(dir, "data", "blobs", "sha256");
  for (const prefix of await readdir(root)) count += (await readdir(join(root, prefix))).length;
  return count;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-gc-cli-"));
  const htpasswd = join(dir, "htpasswd");
  await writeHtpasswd(
    htpasswd,
    new Map([
      ["admin", await hashPassword("admin-pass", 4)],
      ["reader", await hashPassword("reader-pass", 4)],
    ]),
  );
  server = await startServer(
    testServerConfig(
      {
        auth: {
          htpasswd,
          rules: [
            { subjects: ["user:admin"], repositories: ["**"], actions: ["admin"] },
            { subjects: ["user:reader"], repositories: ["**"], actions: ["pull"] },
          ],
        },
        config: { gc: { gracePeriod: 0 } },
      },
      join(dir, "data"),
    ),
    { logger: new JsonLogger({ level: "error" }) },
  );
  const credentials = basic("admin", ADMIN.REESTR_PASSWORD);
  await pushImage(server.url, credentials, "cli/app", "kept");
  const gone = await pushImage(server.url, credentials, "cli/app", "gone");
  const res = await fetch(`${server.url}/v2/cli/app/manifests/${gone.manifest}`, {
    method: "DELETE",
    headers: credentials,
  });
  assert.equal(res.status, 202);
});

after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test("--dry-run lists what would go and deletes nothing", async () => {
  const files = await blobCount();
  const result = await reestr(["--dry-run"], ADMIN);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /garbage collection dry run would free \d+ B in/);
  assert.match(result.stdout, /Would remove:\n(.|\n)*blob +sha256:[0-9a-f]{64}/);
  assert.equal(await blobCount(), files);
});

test("a run frees the bytes and --json prints the run", async () => {
  const files = await blobCount();
  const result = await reestr(["--json"], ADMIN);
  assert.equal(result.code, 0, result.stderr);
  const run = JSON.parse(result.stdout) as GcRun;
  assert.equal(run.status, "succeeded");
  assert.equal(run.dryRun, false);
  assert.equal(run.removed!.blobs, 2, "the deleted image's config and layer");
  assert.equal(await blobCount(), files - 2);
  const again = await reestr([], ADMIN);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /freed 0 B/);
});

test("refusals say what to do", async () => {
  const anonymous = await reestr([]);
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /wants credentials .*REESTR_USERNAME/);
  const reader = await reestr([], { REESTR_USERNAME: "reader", REESTR_PASSWORD: "reader-pass" });
  assert.equal(reader.code, 1);
  assert.match(reader.stderr, /needs a registry administrator/);
  const usage = await reestr(["--untagged", "--keep-untagged"], ADMIN);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /contradict/);
});

test("in token mode the admin API gets the user's credentials, not a repository-scoped token", async () => {
  const tokenDir = await mkdtemp(join(tmpdir(), "reestr-gc-token-"));
  const htpasswd = join(tokenDir, "htpasswd");
  await writeHtpasswd(htpasswd, new Map([["admin", await hashPassword("admin-pass", 4)]]));
  const tokenServer = await startServer(
    testServerConfig(
      {
        auth: {
          mode: "token",
          htpasswd,
          rules: [{ subjects: ["user:admin"], repositories: ["**"], actions: ["admin"] }],
        },
      },
      join(tokenDir, "data"),
    ),
    { logger: new JsonLogger({ level: "error" }) },
  );
  try {
    const { stdout } = await exec(process.execPath, [BIN, "gc", tokenServer.url, "--dry-run", "--json"], {
      env: { ...process.env, ...ADMIN, DOCKER_CONFIG: tokenDir },
    });
    assert.equal((JSON.parse(stdout) as GcRun).status, "succeeded");
  } finally {
    await tokenServer.close();
    await rm(tokenDir, { recursive: true, force: true });
  }
});
