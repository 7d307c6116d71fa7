/**
 * Certificate rotation while serving: `reestr serve --tls` (a child process) with a server
 * certificate valid for seconds. A blob upload whose body is half sent when the certificate is
 * renewed completes on its original connection; connections opened after the renewal get a new
 * serial from the same CA, verified against the CA file written at first start; the process is
 * the same one throughout (no restart) and the CA never changes.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type TLSSocket } from "node:tls";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

const work = mkdtempSync(join(tmpdir(), "reestr-tls-rotation-"));

function peerSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const serial = socket.getPeerCertificate().serialNumber.toUpperCase();
      socket.end();
      resolve(serial);
    });
    socket.once("error", reject);
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(port: number, ca: string, method: string, path: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method, path, ca, servername: "localhost", agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

after(() => rmSync(work, { recursive: true, force: true }));

describe("rotation of the automatic certificate while serving", { timeout: 120_000 }, () => {
  let server: ServerProcess | undefined;

  before(async () => {
    const config = join(work, "reestr.yaml");
    // Renewed every ~3s: each certificate is valid 6s and replaced 3s before it expires.
    writeFileSync(config, "tls:\n  enabled: true\n  certValidity: 6s\n  renewBefore: 3s\n");
    server = await startReestr({ extraArgs: ["--config", config], https: true, readyPath: "/healthz" });
  });

  after(async () => {
    await server?.cleanup();
  });

  test("an upload in flight finishes on its connection; new connections get the new serial", async () => {
    const caFile = join(server!.dataDir, "tls", "ca.crt");
    const ca = readFileSync(caFile, "utf8");
    const pid = server!.pid;
    const initial = await peerSerial(server!.port, ca);
    let renewed = initial;

    const start = await send(server!.port, ca, "POST", "/v2/rotation/app/blobs/uploads/");
    assert.equal(start.status, 202, start.body);
    const location = new URL(String(start.headers.location), "https://placeholder");
    const data = randomBytes(256 * 1024);
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;

    // The PATCH: half the body now, on a connection that negotiated the first certificate.
    let socket: TLSSocket | undefined;
    const patched = new Promise<Answer>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: server!.port,
          method: "PATCH",
          path: location.pathname + location.search,
          ca,
          servername: "localhost",
          agent: false,
          headers: { "Content-Type": "application/octet-stream", "Content-Length": data.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: "" }));
        },
      );
      req.on("socket", (s) => {
        socket = s as TLSSocket;
      });
      req.on("error", reject);
      req.write(data.subarray(0, data.length / 2));
      // The rest once a new connection has seen a renewed certificate.
      waitForNewSerial().then(
        () => req.end(data.subarray(data.length / 2)),
        (error: unknown) => req.destroy(error as Error),
      );
    });

    async function waitForNewSerial(): Promise<void> {
      await waitFor(
        async () => {
          renewed = await peerSerial(server!.port, ca);
          return renewed !== initial;
        },
        { what: "a new connection to see a new certificate", intervalMs: 100 },
      );
    }

    const patch = await patched;
    assert.equal(patch.status, 202, "the upload in flight completed");
    assert.notEqual(renewed, initial, "a new connection sees the renewed certificate");
    assert.equal(
      socket!.getPeerCertificate().serialNumber.toUpperCase(),
      initial,
      "the open connection kept its certificate",
    );

    const next = new URL(String(patch.headers.location), "https://placeholder");
    const done = await send(
      server!.port,
      ca,
      "PUT",
      `${next.pathname}${next.search ? `${next.search}&` : "?"}digest=${digest}`,
    );
    assert.equal(done.status, 201, done.body);
    const blob = await send(server!.port, ca, "HEAD", `/v2/rotation/app/blobs/${digest}`);
    assert.equal(blob.status, 200);
    assert.equal(blob.headers["content-length"], String(data.length));

    assert.equal(server!.pid, pid);
    assert.ok(server!.isRunning(), "no restart");
    assert.equal(readFileSync(caFile, "utf8"), ca, "the CA is kept");
    assert.match(server!.output(), /"msg":"tls: issued a server certificate","reason":"due for renewal"/);
  });
});
