/**
 * `reestr serve` re-reads its config's watch section on SIGHUP (a real server process): watched
 * registries added, changed and removed without a restart; a broken config keeps the running one.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

let dir: string;
let file: string;
let server: ServerProcess;

function watchConfig(names: string[]): string {
  const entries = names.map(
    (name) =>
      `    - name: ${name}\n      url: http://127.0.0.1:1\n      repository: team/${name}\n      scanInterval: 3600\n      scanConfig: { timeout: 1, retries: 0 }\n`,
  );
  return `watch:\n  registries:\n${entries.join("")}`;
}

async function watched(): Promise<string[]> {
  const res = await fetch(`${server.url}/api/watch/registries`);
  const body = (await res.json()) as { registries: { name: string }[] };
  return body.registries.map((entry) => entry.name);
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  await waitFor(check, { what: () => `${what}; server output:\n${server.output(4000)}`, intervalMs: 50 });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-serve-reload-"));
  file = join(dir, "reestr.yaml");
  await writeFile(file, watchConfig(["one"]));
  server = await startReestr({ extraArgs: ["--config", file] });
});
after(async () => {
  await server?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

test("SIGHUP applies the new watch section; a broken config is logged and ignored", async () => {
  assert.deepEqual(await watched(), ["one"]);
  await writeFile(file, watchConfig(["two", "three"]));
  process.kill(server.pid, "SIGHUP");
  await until("entries two and three after SIGHUP", async () => (await watched()).join() === "two,three");
  assert.match(server.output(), /watch config reloaded/);

  await writeFile(file, "watch:\n  registries: [{ name: broken }]\n");
  process.kill(server.pid, "SIGHUP");
  await until("the reload error logged", () => /config reload failed/.test(server.output()));
  assert.deepEqual(await watched(), ["two", "three"], "the running config stays");
  assert.ok(server.isRunning());
});
