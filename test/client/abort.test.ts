/**
 * Cancellation through `signal`: against a stand-in registry that never answers (or asks for a
 * long Retry-After), an abort rejects promptly with the signal's reason, destroys the socket and
 * makes no further attempt.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { RegistryClient } from "../../src/client/registry-client.ts";
import type { RetryInfo } from "../../src/client/retry.ts";
import { waitFor } from "../helpers/wait.ts";

let server: Server;
let baseUrl: string;
let seen: string[] = [];
let sockets: Socket[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.url?.includes("/busy")) {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "2" });
      res.end(JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }));
      return;
    }
    if (req.url?.includes("/ok/")) {
      res.writeHead(200, { "content-type": "application/json", "content-length": "2" });
      res.end(req.method === "HEAD" ? undefined : "{}");
      return;
    }
    if (req.url?.includes("/blobs/")) {
      // Headers and a first chunk, then silence: the body never ends.
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": "1000" });
      res.write(Buffer.alloc(10));
      return;
    }
    // Anything else: never answered.
  });
  server.on("connection", (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  seen = [];
  sockets = [];
});

function makeClient(onRetry?: (info: RetryInfo) => void): RegistryClient {
  return new RegistryClient({
    baseUrl,
    timeoutMs: 60_000,
    retries: 3,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 10_000,
    ...(onRetry ? { onRetry } : {}),
  });
}

/** Resolves once every socket the server accepted has closed. */
function socketsClosed(): Promise<true> {
  return waitFor(() => sockets.every((s) => s.destroyed), { what: "every server socket to close" });
}

function untilSeen(n: number): Promise<true> {
  return waitFor(() => seen.length >= n, { what: `${n} requests at the stand-in` });
}

describe("RegistryClient cancellation", () => {
  const cases: [string, (client: RegistryClient, signal: AbortSignal) => Promise<unknown>][] = [
    ["getManifest", (c, signal) => c.getManifest("app", "latest", { signal })],
    ["headManifest", (c, signal) => c.headManifest("app", "latest", { signal })],
    ["listTags", (c, signal) => c.listTags("app", { signal })],
    [
      "transport.send",
      (c, signal) => c.transport.send({ method: "GET", path: "/v2/", expect: [200], signal }),
    ],
  ];
  for (const [name, call] of cases) {
    it(`${name}: abort while unanswered rejects promptly with the reason and destroys the socket`, async () => {
      const client = makeClient();
      try {
        const controller = new AbortController();
        const reason = new Error(`stop ${name}`);
        const pending = call(client, controller.signal);
        await untilSeen(1);
        controller.abort(reason);
        // The reason, not the 60 s timeout's error: the abort ended the request.
        await assert.rejects(pending, (error) => error === reason);
        await socketsClosed();
        assert.equal(seen.length, 1, "no retry after the abort");
      } finally {
        client.close();
      }
    });
  }

  it("an already aborted signal makes no request", async () => {
    const client = makeClient();
    try {
      const reason = new Error("never started");
      await assert.rejects(
        client.getManifest("app", "latest", { signal: AbortSignal.abort(reason) }),
        (error) => error === reason,
      );
      assert.equal(seen.length, 0);
    } finally {
      client.close();
    }
  });

  it("abort during a Retry-After wait ends the wait and makes no further attempt", async (t) => {
    // The client's 2 s wait runs on a mocked setTimeout that only this test advances.
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const controller = new AbortController();
    const reason = new Error("stop waiting");
    const retries: RetryInfo[] = [];
    const client = makeClient((info) => retries.push(info));
    try {
      let outcome: unknown;
      client.getManifest("busy", "latest", { signal: controller.signal }).then(
        () => {
          outcome = "answered";
        },
        (error: unknown) => {
          outcome = error;
        },
      );
      await waitFor(() => retries.length === 1, { what: "the 429 with Retry-After" });
      assert.equal(retries[0]!.fromRetryAfter, true);
      assert.equal(retries[0]!.delayMs, 2000);
      controller.abort(reason);
      // No time passes: only the abort can end the wait.
      await waitFor(() => outcome !== undefined, { what: "the abort to end the wait" });
      assert.equal(outcome, reason);
      // Past the Retry-After: still only the first attempt (a request after it shows the order).
      t.mock.timers.tick(2000);
      await client.headManifest("ok", "latest");
      assert.deepEqual(seen, ["GET /v2/busy/manifests/latest", "HEAD /v2/ok/manifests/latest"]);
      assert.equal(retries.length, 1);
    } finally {
      client.close();
    }
  });

  it("getBlob: abort while the body is read destroys the stream with the reason", async () => {
    const client = makeClient();
    try {
      const controller = new AbortController();
      const reason = new Error("stop reading");
      const blob = await client.getBlob("app", `sha256:${"0".repeat(64)}`, { signal: controller.signal });
      assert.equal(blob.status, 200);
      const reading = (async () => {
        for await (const _chunk of blob.stream) controller.abort(reason);
      })();
      await assert.rejects(reading, (error) => error === reason);
      await socketsClosed();
    } finally {
      client.close();
    }
  });

  it("a finished request leaves no abort listener behind", async () => {
    const client = makeClient();
    const controller = new AbortController();
    try {
      await client.headManifest("ok", "latest", { signal: controller.signal });
      const manifest = await client.getManifest("ok", "latest", { signal: controller.signal });
      assert.equal(manifest.bytes.toString(), "{}");
      assert.equal(getEventListeners(controller.signal, "abort").length, 0);
    } finally {
      client.close();
    }
  });
});
