/**
 * Reestr's own registry client and watcher against Reestr in token mode: the client follows the
 * Bearer challenge to /auth/token with its credentials, pushes and pulls within the rules, is
 * refused beyond them, and a watcher scan of a repository the robot user may pull succeeds while
 * one with wrong credentials fails saying so. The catalog through the client lists only what the
 * user may pull.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeSmallImage } from "../../bench/oci.ts";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { ScanEngine } from "../../src/watcher/engine.ts";
import { parseRegistrySpec } from "../../src/watcher/spec.ts";
import { startServer, type TestServer } from "../api/helpers.ts";

const PASSWORD = "client-pass";

describe("Reestr's client and watcher against token auth", () => {
  let dir = "";
  let server: TestServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-client-token-"));
    const htpasswd = join(dir, "htpasswd");
    const hash = await hashPassword(PASSWORD, 4);
    await writeHtpasswd(
      htpasswd,
      new Map([
        ["ci", hash],
        ["robot", hash],
      ]),
    );
    server = await startServer({
      auth: {
        mode: "token",
        htpasswd,
        rules: [
          { subjects: ["user:ci"], repositories: ["team/**"], actions: ["push"] },
          { subjects: ["user:robot"], repositories: ["team/app"], actions: ["pull"] },
        ],
      },
    });
  });
  after(async () => {
    await server?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const client = (username: string, password = PASSWORD) =>
    new RegistryClient({ baseUrl: server.url, username, password });

  test("push and pull within the rules; refused beyond them", async () => {
    const ci = client("ci");
    const robot = client("robot");
    try {
      for (const repo of ["team/app", "team/other"]) {
        const image = makeSmallImage(repo, 1, 256);
        for (const blob of [image.config, ...image.layers]) await ci.pushBlob(repo, blob, blob.data);
        await ci.putManifest(repo, "v1", image.manifest, image.mediaType);
      }
      assert.deepEqual(await robot.listTags("team/app"), ["v1"]);
      await assert.rejects(robot.listTags("team/other"), /denied|403/i);
      const image = makeSmallImage("team/app", 1, 128);
      await assert.rejects(
        robot.pushBlob("team/app", image.layers[0]!, image.layers[0]!.data),
        /denied|403/i,
      );
      assert.deepEqual(await robot.catalog(), ["team/app"]);
      assert.deepEqual(await ci.catalog(), ["team/app", "team/other"]);
    } finally {
      ci.close();
      robot.close();
    }
  });

  test("a watcher scan with the robot's credentials succeeds; wrong ones fail as authentication", async () => {
    const spec = (password: string) =>
      parseRegistrySpec({
        url: server.url,
        repository: "team/app",
        credentials: { username: "robot", password },
      });
    const { status } = await new ScanEngine().run(spec(PASSWORD));
    assert.equal(status.lastScanStatus, "Success", status.message);
    assert.deepEqual(
      status.images.map((image) => image.tag),
      ["v1"],
    );
    const failed = await new ScanEngine().run(spec("wrong"));
    assert.equal(failed.status.lastScanStatus, "Failed");
    assert.match(failed.status.message ?? "", /authentication failed|unauthorized/i);
  });
});
