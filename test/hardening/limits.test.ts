/**
 * Size limits and slow clients: bodies outside /v2 bounded by maxBodyBytes (413; 411 without a
 * Content-Length) while blob uploads are not; request heads bounded by maxHeaderBytes (431);
 * a client that never finishes its headers is cut after headersTimeout; a stalled body is cut
 * after idleTimeout, while an upload that keeps sending for several idle periods completes.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { LimitsSchema } from "../../src/http/limits.ts";
import { digestOf, startServer, type TestServer } from "../api/helpers.ts";
import { send } from "./helpers.ts";

async function withServer(limits: unknown, body: (server: TestServer) => Promise<void>) {
  const server = await startServer({ limits: LimitsSchema.parse(limits) });
  try {
    await body(server);
  } finally {
    await server.cleanup();
  }
}

/** Raw bytes on a socket; resolves with what came back once the server closes it (bounded). */
function rawUntilClosed(port: number, write: (socket: ReturnType<typeof connect>) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = "";
    const guard = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`the server did not close the connection within 20s (got ${JSON.stringify(received)})`),
      );
    }, 20_000);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(guard);
      resolve(received);
    });
    socket.on("connect", () => write(socket));
  });
}

describe("size limits", () => {
  test("a body larger than maxBodyBytes outside /v2 is 413; chunked without a length is 411; blobs are not limited", async () => {
    await withServer({ maxBodyBytes: 1024 }, async (server) => {
      const big = await send(server.url, "POST", "/api/status", {
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ pad: "x".repeat(2000) }),
      });
      assert.equal(big.status, 413);
      assert.match(big.body, /larger than 1024 bytes/);
      const small = await send(server.url, "GET", "/api/status", { body: "{}" });
      assert.equal(small.status, 200);
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: server.port, method: "POST", path: "/api/status", agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.write("{");
        req.end("}");
      });
      assert.equal(chunked, 411);
      const blob = randomBytes(64 * 1024);
      const digest = digestOf(blob);
      const upload = await send(server.url, "POST", `/v2/limits/blob/blobs/uploads/?digest=${digest}`, {
        headers: { "Content-Type": "application/octet-stream" },
        body: blob,
      });
      assert.equal(upload.status, 201, upload.body);
    });
  });

  test("a request head larger than maxHeaderBytes is refused with 431", async () => {
    const header = { "X-Padding": "y".repeat(20 * 1024) };
    await withServer({}, async (server) => {
      assert.equal((await send(server.url, "GET", "/healthz", { headers: header })).status, 431);
    });
    await withServer({ maxHeaderBytes: 64 * 1024 }, async (server) => {
      assert.equal((await send(server.url, "GET", "/healthz", { headers: header })).status, 200);
    });
  });
});

describe("slow clients", () => {
  test("a client that never finishes its headers is cut after headersTimeout", async () => {
    await withServer({ headersTimeout: "1s" }, async (server) => {
      const answer = await rawUntilClosed(server.port, (socket) => {
        socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      });
      assert.ok(answer === "" || answer.startsWith("HTTP/1.1 408"), answer);
    });
  });

  test("a stalled upload body is cut after idleTimeout; one that keeps sending for longer completes", async () => {
    await withServer({ idleTimeout: "1s" }, async (server) => {
      const start = await send(server.url, "POST", "/v2/limits/slow/blobs/uploads/");
      assert.equal(start.status, 202);
      const location = String(start.headers.location);
      const stalled = await rawUntilClosed(server.port, (socket) => {
        socket.write(
          `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`,
        );
        socket.write("x".repeat(10));
      });
      assert.ok(!stalled.startsWith("HTTP/1.1 202"), stalled);

      // 12 chunks, a quarter second apart: three times the idle timeout in all, never idle.
      const again = await send(server.url, "POST", "/v2/limits/slow/blobs/uploads/");
      const chunks = Array.from({ length: 12 }, () => randomBytes(4096));
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: server.port,
            method: "PATCH",
            path: String(again.headers.location),
            agent: false,
            headers: {
              "Content-Type": "application/octet-stream",
              "Content-Length": chunks.length * 4096,
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        (async () => {
          for (const chunk of chunks) {
            req.write(chunk);
            await new Promise((r) => setTimeout(r, 250));
          }
          req.end();
        })().catch(reject);
      });
      assert.equal(status, 202);
    });
  });
});
