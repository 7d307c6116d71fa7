/**
 * A watch entry on the server's own URL is the local registry: the catalogue lists it once, as
 * "local", not a second time as a remote registry probed (and reported unreachable) at start.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startServer } from "../../src/app/server.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import { testServerConfig } from "../api/helpers.ts";
import { freePort } from "../helpers/reestr-process.ts";

test("the server watching itself shows one registry, local", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "reestr-self-watch-"));
  const port = await freePort();
  const watch = parseWatchSection({
    registries: [
      { name: "self", url: `http://127.0.0.1:${port}`, repository: "team/app", scanInterval: 3600 },
    ],
  });
  const server = await startServer(testServerConfig({ watch }, dataDir, port), {
    logger: new JsonLogger({ level: "error" }),
    watchInitialDelay: () => 3_600_000,
  });
  try {
    const res = await fetch(`${server.url}/api/registries`);
    const body = (await res.json()) as { registries: { id: string; local: boolean }[] };
    assert.deepEqual(
      body.registries.map((r) => [r.id, r.local]),
      [["local", true]],
    );
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
