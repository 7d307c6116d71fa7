/**
 * `reestr ui -c registries.yaml`: the catalogue alone, run as users run it (bin/reestr.js),
 * against a remote Reestr and a closed port; and its refusals of bad files and flags.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { RegistrySummary, RepositoryPage, TagPage } from "../../src/catalog/api-schemas.ts";
import { pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { freePort, REESTR_BIN, type ServerProcess, spawnServer } from "../helpers/reestr-process.ts";
import { api, assertApiError, waitForProbes } from "./helpers.ts";

const run = promisify(execFile);

async function ui(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [REESTR_BIN, "ui", ...args], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("reestr ui", () => {
  let dir: string;
  let remote: TestServer;
  let catalogue: ServerProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-ui-"));
    remote = await startServer();
    await pushImage(remote, "team/app", "v1");
    await pushImage(remote, "team/tool", "2.0");
  });

  after(async () => {
    await catalogue?.stop();
    await remote?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("serves the catalogue of the file's registries; a dead one beside a healthy one", async () => {
    const closed = await freePort();
    const file = join(dir, "registries.yaml");
    await writeFile(
      file,
      [
        "registries:",
        "  - id: remote",
        "    displayName: Remote Reestr",
        `    baseUrl: ${remote.url}`,
        "  - id: dead",
        `    baseUrl: http://127.0.0.1:${closed}`,
        "cache:",
        "  ttl: 5s",
        "",
      ].join("\n"),
    );
    const port = await freePort();
    catalogue = await spawnServer({
      name: "reestr-ui",
      command: process.execPath,
      args: [REESTR_BIN, "ui", "-c", file, "--port", String(port), "--probe-timeout", "2s"],
      env: { ...process.env },
      port,
      dataDir: dir,
      ownedDirs: [],
      logFile: join(dir, "ui.log"),
      readyPath: "/healthz",
    });
    await waitForProbes(catalogue.url);
    const list = await api<{ registries: RegistrySummary[] }>(catalogue.url, "/api/registries");
    assert.deepEqual(
      list.body.registries.map((r) => [r.id, r.local, r.status.state]),
      [
        ["remote", false, "ok"],
        ["dead", false, "unreachable"],
      ],
    );
    const repos = await api<RepositoryPage>(catalogue.url, "/api/registries/remote/repositories?q=team");
    assert.deepEqual(
      repos.body.items.map((r) => r.name),
      ["team/app", "team/tool"],
    );
    const tags = await api<TagPage>(catalogue.url, "/api/registries/remote/repositories/team%2Fapp/tags");
    assert.deepEqual(
      tags.body.items.map((t) => t.tag),
      ["v1"],
    );
    assertApiError(
      await api(catalogue.url, "/api/registries/dead/repositories"),
      504,
      "UPSTREAM_UNREACHABLE",
    );
    // No registry of its own: no /v2 and no "local".
    assertApiError(await api(catalogue.url, "/api/registries/local"), 404, "NOT_FOUND");
    const openapi = await api<{ openapi: string }>(catalogue.url, "/api/openapi.json");
    assert.equal(openapi.body.openapi, "3.1.0");
  });

  test("a bad registries file stops the start with exit 2 and names the field", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      "registries:\n  - id: x\n    baseUrl: https://x.io\n    auth: {type: bearer, token: abc123}\n",
    );
    const result = await ui(["-c", file, "--port", "0"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /registries\[0\]\.auth\.token: secrets must not be written in the file/);
    assert.match(result.stderr, /REESTR_REGISTRY_X_TOKEN/);
    assert.ok(!result.stderr.includes("abc123"));
  });

  test("flags: a file is required; --port and --help", async () => {
    const missing = await ui([]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /registries file is required/);
    const port = await ui(["-c", "x.yaml", "--port", "http"]);
    assert.notEqual(port.code, 0);
    assert.match(port.stderr, /--port/);
    const help = await ui(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: reestr ui -c <registries.yaml>/);
  });
});
