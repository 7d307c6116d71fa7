/**
 * A push cancelled mid-way (Ctrl-C in `reestr push`) ends its upload sessions on the registry
 * instead of leaving them, and the bytes already sent, until the upload expiry (24 h). In-process
 * with an AbortController for a monolithic and a chunked upload; then the CLI itself, through a
 * proxy that holds the upload after its first MiB so the SIGINT lands while it is in flight.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pushImage } from "../../src/client/push-image.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { openImageSource } from "../../src/image/open.ts";
import { startServer, type TestServer } from "../api/helpers.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { REESTR_BIN } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

const LAYER_SIZE = 16 * 1024 * 1024;

let server: TestServer;
let dir: string;
let layout: string;
let bigLayer: { digest: string; size: number };

before(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), "reestr-push-abort-"));
  layout = join(dir, "image");
  const manifest = await makeOciImage(layout, { tag: "v1", layers: 1, layerSize: LAYER_SIZE });
  bigLayer = manifest.blobs.reduce((a, b) => (b.size > a.size ? b : a));
  assert.ok(bigLayer.size >= LAYER_SIZE / 2, `a big layer (${bigLayer.size} bytes)`);
});
after(async () => {
  await server?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Pushes the image and aborts once the big layer's upload is under way; what the registry held then. */
async function pushAndAbort(repository: string, chunkSize?: number) {
  const client = new RegistryClient({ baseUrl: server.url });
  const controller = new AbortController();
  const reason = new Error("interrupted by the test");
  let uploadsWhenAborted: number | undefined;
  try {
    const { source, ref } = await openImageSource(`${layout}:v1`);
    const root = await source.resolve(ref);
    const pushing = pushImage(client, source, root, repository, {
      chunkSize,
      concurrency: 1,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type !== "blob-progress" || event.digest !== bigLayer.digest) return;
        // A whole chunk acknowledged (chunked) or bytes on their way (monolithic): mid-way either way.
        if (uploadsWhenAborted !== undefined || event.bytes >= bigLayer.size || event.bytes === 0) return;
        uploadsWhenAborted = -1;
        void server.running.registry.uploadsInProgress().then((count) => {
          uploadsWhenAborted = count;
          controller.abort(reason);
        });
      },
    });
    await assert.rejects(pushing, (error) => error === reason);
  } finally {
    client.close();
  }
  return { uploadsWhenAborted };
}

describe("a cancelled push", () => {
  test("monolithic: the upload session is deleted before the push rejects", async () => {
    const { uploadsWhenAborted } = await pushAndAbort("abort/mono");
    assert.equal(uploadsWhenAborted, 1, "the big layer's upload session was open when the push was aborted");
    assert.equal(await server.running.registry.uploadsInProgress(), 0);
    const client = new RegistryClient({ baseUrl: server.url });
    try {
      assert.equal(await client.headBlob("abort/mono", bigLayer.digest), undefined, "nothing was committed");
      await assert.rejects(client.getManifest("abort/mono", "v1"), { code: "MANIFEST_UNKNOWN" });
    } finally {
      client.close();
    }
  });

  test("chunked: the session, moved along by each PATCH, is deleted too", async () => {
    const { uploadsWhenAborted } = await pushAndAbort("abort/chunked", 1024 * 1024);
    assert.equal(uploadsWhenAborted, 1);
    assert.equal(await server.running.registry.uploadsInProgress(), 0);
  });
});

/**
 * Forwards every request to the registry, except that an upload body (PUT/PATCH under
 * /blobs/uploads/) is held after its first MiB: the registry has that much and waits for the
 * rest, and the client waits for its answer, until the test interrupts the push. A client that goes away takes the forwarded request down with it, as it would
 * a registry's socket.
 */
function stallingProxy(upstream: string) {
  const target = new URL(upstream);
  const seen: string[] = [];
  let stalled = false;
  const proxy: Server = createServer((req, res) => {
    seen.push(`${req.method} ${new URL(req.url ?? "/", "http://x").pathname}`);
    const forwarded = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on("error", () => res.destroy());
    // Held requests are read on (and what is past the first MiB dropped) rather than paused: a
    // paused socket would not notice the client closing it.
    req.socket.once("close", () => forwarded.destroy());
    const holds = (req.method === "PUT" || req.method === "PATCH") && req.url?.includes("/blobs/uploads/");
    let sent = 0;
    let held = false;
    req.on("data", (chunk: Buffer) => {
      if (!holds || sent < 1024 * 1024) {
        forwarded.write(chunk);
        sent += chunk.length;
      } else {
        held = true;
        stalled = true;
      }
    });
    req.on("end", () => {
      // The registry never sees a held upload end: it waits for the rest, as over a slow link.
      if (!held) forwarded.end();
    });
  });
  return {
    proxy,
    seen,
    stalled: () => stalled,
    listen: () =>
      new Promise<string>((resolve) =>
        proxy.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${(proxy.address() as AddressInfo).port}`)),
      ),
    close: () => {
      proxy.closeAllConnections();
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

describe("reestr push interrupted with Ctrl-C", () => {
  test("SIGINT cancels the upload in flight on the registry and exits 130", async () => {
    const stalling = stallingProxy(server.url);
    const host = await stalling.listen();
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [REESTR_BIN, "push", `${layout}:v1`, `${host}/abort/cli:v1`], {
        env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("REESTR_"))),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.stdout!.resume();
      const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
      const held = await waitFor(
        async () => {
          if (child!.exitCode !== null) return "exited";
          return stalling.stalled() && (await server.running.registry.uploadsInProgress()) === 1 && "held";
        },
        {
          what: () =>
            `the upload to be held at the proxy (seen: ${stalling.seen.join(", ")}; stderr: ${stderr})`,
        },
      );
      assert.equal(held, "held", `reestr push ended before it was interrupted: ${stderr}`);
      child.kill("SIGINT");
      const code = await exited;
      assert.equal(code, 130, `exit code (stderr: ${stderr})`);
      assert.match(stderr, /interrupted \(SIGINT\); the uploads in progress were cancelled/);
      assert.ok(
        stalling.seen.some((line) => /^DELETE \/v2\/abort\/cli\/blobs\/uploads\//.test(line)),
        `a DELETE of the upload (seen: ${stalling.seen.join(", ")})`,
      );
      assert.equal(await server.running.registry.uploadsInProgress(), 0);
    } finally {
      if (child && child.exitCode === null) child.kill("SIGKILL");
      await stalling.close();
    }
  });
});
