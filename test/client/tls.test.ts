/**
 * TLS options against an HTTPS stand-in on loopback with a self-signed certificate made by
 * openssl at test time: refused by default, trusted through `caFile` or `ca`, or accepted
 * unverified with `insecureSkipVerify`. And plain HTTP: loopback always, elsewhere only with
 * `allowHttp`.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isRegistryClientError, type RegistryClientError } from "../../src/client/errors.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";

let dir: string;
let server: Server;
let url: string;
let certPath: string;
let requests = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-tls-"));
  certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  server = createServer({ key: await readFile(keyPath), cert: await readFile(certPath) }, (_req, res) => {
    requests++;
    res.writeHead(200, { "docker-distribution-api-version": "registry/2.0" });
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

async function ping(client: RegistryClient): Promise<string | undefined> {
  try {
    return (await client.ping()).apiVersion;
  } finally {
    client.close();
  }
}

describe("TLS", () => {
  it("refuses a self-signed certificate by default, without retrying", async () => {
    requests = 0;
    const retried: unknown[] = [];
    await assert.rejects(
      ping(new RegistryClient({ baseUrl: url, onRetry: (info) => retried.push(info) })),
      (error: unknown) => (error as NodeJS.ErrnoException).code === "DEPTH_ZERO_SELF_SIGNED_CERT",
    );
    assert.equal(requests, 0);
    assert.equal(retried.length, 0);
  });

  it("trusts it through caFile", async () => {
    assert.equal(await ping(new RegistryClient({ baseUrl: url, caFile: certPath })), "registry/2.0");
  });

  it("trusts it through ca (PEM text), alongside the built-in roots", async () => {
    const pem = await readFile(certPath, "utf8");
    assert.equal(await ping(new RegistryClient({ baseUrl: url, ca: pem })), "registry/2.0");
    assert.equal(await ping(new RegistryClient({ baseUrl: url, ca: [Buffer.from(pem)] })), "registry/2.0");
  });

  it("accepts it unverified with insecureSkipVerify (and the older insecure)", async () => {
    assert.equal(await ping(new RegistryClient({ baseUrl: url, insecureSkipVerify: true })), "registry/2.0");
    assert.equal(await ping(new RegistryClient({ baseUrl: url, insecure: true })), "registry/2.0");
  });
});

describe("plain HTTP", () => {
  it("is refused for a non-loopback host without allowHttp", () => {
    assert.throws(
      () => new RegistryClient({ baseUrl: "http://registry.example.com:5000" }),
      (error: unknown) => {
        assert.ok(isRegistryClientError(error, "INSECURE_HTTP"));
        assert.match(
          (error as RegistryClientError).message,
          /refusing plain HTTP to registry\.example\.com:5000/,
        );
        return true;
      },
    );
    assert.throws(() => new RegistryClient({ baseUrl: "http://10.0.0.1" }), /allowHttp/);
  });

  it("is allowed with allowHttp, and always on loopback", () => {
    for (const baseUrl of [
      "http://registry.example.com",
      "http://127.0.0.1:5000",
      "http://127.1.2.3",
      "http://localhost:5000",
      "http://[::1]:5000",
    ]) {
      const allowHttp = !/127\.|localhost|::1/.test(baseUrl);
      new RegistryClient({ baseUrl, allowHttp }).close();
    }
  });

  it("refuses a redirect to plain HTTP on a non-loopback host", async () => {
    const redirector = createHttpServer((_req, res) => {
      res.writeHead(307, { location: "http://blobs.example.invalid/blob" });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    const client = new RegistryClient({
      baseUrl: `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`,
    });
    try {
      await assert.rejects(client.getBlob("app", `sha256:${"0".repeat(64)}`), (error: unknown) =>
        isRegistryClientError(error, "INSECURE_HTTP"),
      );
    } finally {
      client.close();
      await new Promise<void>((resolve) => redirector.close(() => resolve()));
    }
  });
});
