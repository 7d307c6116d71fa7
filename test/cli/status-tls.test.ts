/**
 * `reestr status https://…` when TLS is what stands in the way: not "DOWN" but the reason in
 * words and what to do. Against `reestr serve --tls` (its automatic CA, not trusted here), then
 * against HTTPS stand-ins with certificates made for the case: for another name, expired; and
 * https:// to a plain-HTTP server.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { registryStatus } from "../../src/cli/status.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { createCa, issueServerCert, type PemPair } from "../../src/tls/certificates.ts";
import { REESTR_BIN, type ServerProcess, startReestr } from "../helpers/reestr-process.ts";

const ENV = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !name.startsWith("REESTR_") && name !== "NODE_EXTRA_CA_CERTS",
  ),
);

function reestr(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [REESTR_BIN, ...args],
      { env: { ...ENV, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

describe("reestr status against reestr serve --tls", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startReestr({ extraArgs: ["--tls"], https: true });
  });
  after(async () => {
    await server?.cleanup();
  });

  test("an untrusted CA: the reason, `reestr cert ca` and --insecure, not DOWN; exit 1", async () => {
    const result = await reestr(["status", server.url]);
    assert.equal(result.code, 1, result.stderr);
    assert.doesNotMatch(result.stdout, /DOWN/);
    assert.match(
      result.stdout,
      /^https:\/\/127\.0\.0\.1:\d+: certificate not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY): /,
    );
    assert.match(result.stdout, /see `reestr cert ca`/);
    assert.match(result.stdout, /--insecure/);
  });

  test("--json says the same, with the TLS code", async () => {
    const result = await reestr(["status", server.url, "--json"]);
    assert.equal(result.code, 1);
    const status = JSON.parse(result.stdout) as { up: boolean; tlsError?: string; error?: string };
    assert.equal(status.up, false);
    assert.match(
      status.tlsError ?? "",
      /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
    );
    assert.match(status.error ?? "", /certificate not trusted/);
  });

  test("trusting the CA as the hint says makes it up; so does --insecure", async () => {
    const trusted = await reestr(["status", server.url], {
      NODE_EXTRA_CA_CERTS: join(server.dataDir, "tls", "ca.crt"),
    });
    assert.equal(trusted.code, 0, trusted.stdout + trusted.stderr);
    assert.match(trusted.stdout, /: up/);
    const insecure = await reestr(["status", server.url, "--insecure"]);
    assert.equal(insecure.code, 0, insecure.stdout + insecure.stderr);
  });

  test("other commands say it too (reestr list)", async () => {
    const result = await reestr(["list", server.url]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^reestr list: certificate not trusted \(/);
  });
});

describe("registryStatus against certificates that are wrong in other ways", () => {
  let dir: string;
  let ca: PemPair;
  const servers: Server[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reestr-status-tls-"));
    ca = await createCa({
      validityMs: 10 * 365 * 86_400_000,
      now: new Date(Date.now() - 3 * 365 * 86_400_000),
    });
  });
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function serveWith(pair: PemPair): Promise<string> {
    const server = createServer({ cert: pair.cert, key: pair.key }, (_req, res) => res.end("{}"));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function statusOf(url: string) {
    const client = new RegistryClient({ baseUrl: url, ca: [ca.cert], retries: 0 });
    try {
      return await registryStatus(client, url);
    } finally {
      client.close();
    }
  }

  test("a certificate for another name", async () => {
    const url = await serveWith(
      await issueServerCert({ ca, names: ["registry.example"], validityMs: 86_400_000 }),
    );
    const status = await statusOf(url);
    assert.equal(status.up, false);
    assert.equal(status.tlsError, "ERR_TLS_CERT_ALTNAME_INVALID");
    assert.match(
      status.error ?? "",
      /^certificate is for another name \(ERR_TLS_CERT_ALTNAME_INVALID: .*--tls-names/,
    );
  });

  test("an expired certificate", async () => {
    const url = await serveWith(
      await issueServerCert({
        ca,
        names: ["127.0.0.1"],
        validityMs: 86_400_000,
        now: new Date(Date.now() - 2 * 365 * 86_400_000),
      }),
    );
    const status = await statusOf(url);
    assert.equal(status.tlsError, "CERT_HAS_EXPIRED");
    assert.match(status.error ?? "", /^certificate expired \(CERT_HAS_EXPIRED: .*clock/);
  });

  test("https:// to a server that speaks plain HTTP", async () => {
    const plain = createHttpServer((_req, res) => res.end("{}"));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    try {
      const url = `https://127.0.0.1:${(plain.address() as AddressInfo).port}`;
      const status = await statusOf(url);
      assert.equal(status.up, false);
      assert.match(status.error ?? "", /^the server does not speak TLS \(.*\); try http:\/\/$/);
    } finally {
      plain.closeAllConnections();
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  test("a valid one is up", async () => {
    const url = await serveWith(await issueServerCert({ ca, names: ["127.0.0.1"], validityMs: 86_400_000 }));
    const status = await statusOf(url);
    assert.equal(status.tlsError, undefined);
    assert.equal(status.up, true, status.error);
  });
});
