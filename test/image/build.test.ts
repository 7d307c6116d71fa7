import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { imageConfig } from "../../src/image/build.ts";
import type { Digest } from "../../src/oci/digest.ts";

const platform = { os: "linux", architecture: "amd64" };
const diffIds = [`sha256:${"a".repeat(64)}` as Digest];

describe("imageConfig", () => {
  test("carries the runtime fields an application image declares", () => {
    const config = imageConfig({
      platform,
      diffIds,
      created: "2024-01-01T00:00:00Z",
      user: "65532:65532",
      entrypoint: ["/usr/local/bin/node", "/app/bin/reestr.js"],
      cmd: ["serve"],
      env: ["REESTR_DATA=/data"],
      exposedPorts: ["5000/tcp"],
      volumes: ["/data"],
      workingDir: "/data",
      labels: { "org.opencontainers.image.version": "1.0.0" },
      stopSignal: "SIGTERM",
      history: ["app"],
    });
    assert.deepEqual(config.config, {
      User: "65532:65532",
      ExposedPorts: { "5000/tcp": {} },
      Env: ["REESTR_DATA=/data"],
      Entrypoint: ["/usr/local/bin/node", "/app/bin/reestr.js"],
      Cmd: ["serve"],
      Volumes: { "/data": {} },
      WorkingDir: "/data",
      Labels: { "org.opencontainers.image.version": "1.0.0" },
      StopSignal: "SIGTERM",
    });
    assert.deepEqual(config.history, [{ created: "2024-01-01T00:00:00Z", created_by: "app" }]);
  });

  test("an entrypoint gets no default shell as its argument; with neither, the image runs /bin/sh", () => {
    const withEntrypoint = imageConfig({ platform, diffIds, entrypoint: ["/bin/app"] }).config as Record<
      string,
      unknown
    >;
    assert.deepEqual(withEntrypoint.Entrypoint, ["/bin/app"]);
    assert.equal("Cmd" in withEntrypoint, false);
    const bare = imageConfig({ platform, diffIds }).config as Record<string, unknown>;
    assert.deepEqual(bare.Cmd, ["/bin/sh"]);
    assert.equal("User" in bare, false);
    assert.equal("ExposedPorts" in bare, false);
  });
});
