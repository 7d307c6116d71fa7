/**
 * `reestr serve --config` with a `catalog` section: the registries file is read, its registries
 * show beside "local", and a bad file stops the start naming the field.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { RegistrySummary } from "../../src/catalog/api-schemas.ts";
import { pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { REESTR_BIN, type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { api, waitForProbes } from "./helpers.ts";

const run = promisify(execFile);

describe("reestr serve with a catalog section", () => {
  let dir: string;
  let remote: TestServer;
  let serve: ServerProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-serve-catalog-"));
    remote = await startServer();
    await pushImage(remote, "team/app", "v1");
  });

  after(async () => {
    await serve?.stop();
    await remote?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test("registries from registriesFile appear beside local", async () => {
    const registries = join(dir, "registries.yaml");
    await writeFile(registries, `- id: remote\n  displayName: Remote\n  baseUrl: ${remote.url}\n`);
    const config = join(dir, "serve.yaml");
    await writeFile(
      config,
      `catalog:\n  registriesFile: ${JSON.stringify(registries)}\n  probeTimeout: 3s\n`,
    );
    serve = await startReestr({ extraArgs: ["--config", config, "--no-access-log"] });
    await waitForProbes(serve.url);
    const list = await api<{ registries: RegistrySummary[] }>(serve.url, "/api/registries");
    assert.deepEqual(
      list.body.registries.map((r) => [r.id, r.status.state]),
      [
        ["local", "ok"],
        ["remote", "ok"],
      ],
    );
    const repos = await api<{ items: { name: string }[] }>(serve.url, "/api/registries/remote/repositories");
    assert.deepEqual(
      repos.body.items.map((r) => r.name),
      ["team/app"],
    );
  });

  test("an invalid inline catalog section stops the start naming the field", async () => {
    const config = join(dir, "bad.yaml");
    await writeFile(
      config,
      "catalog:\n  registries:\n    - id: x\n      baseUrl: https://x.io\n      auth: {type: basic, password: pw}\n",
    );
    const result = await run(
      process.execPath,
      [REESTR_BIN, "serve", "--config", config, "--port", "0", "--data", dir],
      {
        timeout: 30_000,
      },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code ?? -1, stderr: error.stderr ?? "" }),
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /catalog\.registries\[0\]\.auth\.password: secrets must not be written/);
  });
});
