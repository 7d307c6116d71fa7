/**
 * `reestr retention` as a user runs it (a child process of bin/reestr.js) against a real server
 * with basic auth: the status, a dry run's table and JSON, a real run, and refusals (a user who
 * is no administrator, flags that exclude each other).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type RunningServer, startServer } from "../../src/app/server.ts";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { testServerConfig } from "../api/helpers.ts";
import { basic, pushImage } from "../auth/helpers.ts";

const exec = promisify(execFile);
const BIN = new URL("../../bin/reestr.js", import.meta.url).pathname;
const USERS = { admin: "admin-pass", reader: "reader-pass" };

let dir: string;
let server: RunningServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-retention-cli-"));
  const htpasswd = join(dir, "htpasswd");
  await writeHtpasswd(
    htpasswd,
    new Map(
      await Promise.all(
        Object.entries(USERS).map(async ([user, pass]) => [user, await hashPassword(pass, 4)] as const),
      ),
    ),
  );
  const config = testServerConfig(
    {
      auth: {
        htpasswd,
        rules: [
          { subjects: ["user:admin"], repositories: ["**"], actions: ["admin"] },
          { subjects: ["user:reader"], repositories: ["**"], actions: ["pull"] },
        ],
      },
      config: { retention: { scheduled: false, policies: [{ name: "pr", deleteTags: ["^pr-"] }] } },
    },
    join(dir, "data"),
  );
  server = await startServer(config, { logger: new JsonLogger({ level: "error" }) });
  for (const tag of ["latest", "pr-1", "pr-2"]) {
    await pushImage(server.url, basic("admin", USERS.admin), "team/app", tag);
  }
});

after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function reestr(args: string[], user: keyof typeof USERS = "admin") {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, "retention", server.url, ...args], {
      env: { ...process.env, REESTR_USERNAME: user, REESTR_PASSWORD: USERS[user], DOCKER_CONFIG: dir },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("reestr retention", () => {
  test("without options: the policies and the last run", async () => {
    const result = await reestr([]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /schedule: +not scheduled/);
    assert.match(result.stdout, /policies: +pr \(\*\*\)/);
    assert.match(result.stdout, /last run: +none/);
  });

  test("--dry-run prints a table of every tag with its action and reason; nothing is deleted", async () => {
    const result = await reestr(["--dry-run"]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    assert.match(lines[0]!, /^REPOSITORY +TAG \/ MANIFEST +ACTION +REASON$/);
    assert.ok(lines.some((line) => /^team\/app +latest +keep +matches no deleteTags pattern$/.test(line)));
    assert.ok(lines.some((line) => /^team\/app +pr-1 +delete +matches deleteTags \/\^pr-\/$/.test(line)));
    assert.match(
      result.stdout,
      /dry run: 1 repositories, 1 tags kept, 2 tags to delete, 2 manifests to delete/,
    );
    const json = await reestr(["--dry-run", "--json"]);
    const plan = JSON.parse(json.stdout) as {
      dryRun: boolean;
      repositories: { tags: { tag: string; action: string }[] }[];
    };
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.repositories[0]!.tags.map((t) => [t.tag, t.action]),
      [
        ["latest", "keep"],
        ["pr-1", "delete"],
        ["pr-2", "delete"],
      ],
    );
    const tags = (await (
      await fetch(`${server.url}/v2/team/app/tags/list`, { headers: basic("admin", USERS.admin) })
    ).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ["latest", "pr-1", "pr-2"]);
  });

  test("a user who is no administrator is refused", async () => {
    const result = await reestr(["--dry-run"], "reader");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /needs a registry administrator/);
  });

  test("flags that exclude each other are a usage error", async () => {
    const both = await reestr(["--dry-run", "--run"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--dry-run and --run exclude each other/);
    const policyAlone = await reestr(["--policy", "pr"]);
    assert.equal(policyAlone.code, 2);
  });

  test("--run deletes what the dry run listed", async () => {
    const result = await reestr(["--run", "--deletions-only", "--policy", "pr"]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, / keep /);
    assert.match(result.stdout, /run: 1 repositories, 1 tags kept, 2 tags deleted, 2 manifests deleted/);
    const tags = (await (
      await fetch(`${server.url}/v2/team/app/tags/list`, { headers: basic("admin", USERS.admin) })
    ).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ["latest"]);
    const status = await reestr([]);
    assert.match(status.stdout, /last run: .* run \(api\): 2 tags, 2 manifests deleted/);
  });
});
