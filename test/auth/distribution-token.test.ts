/**
 * Reestr's token endpoint as the token server of a real CNCF Distribution (docker-registry
 * 2.8.x), the way Harbor or docker_auth front one: Distribution is configured with Reestr's
 * realm, service and issuer, and trusts a certificate of Reestr's signing key (its
 * `rootcertbundle`, looked up by the token's `kid`, libtrust's key id). skopeo then pushes and
 * pulls through Distribution with credentials Reestr checks, and Reestr's rules decide: a reader
 * is refused the push by Distribution itself. This proves the tokens follow Docker's token spec
 * as Distribution reads it (header, claims, access list, kid).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { DEFAULT_KEY_FILE } from "../../src/auth/token-keys.ts";
import { assertDistributionInstalled, DISTRIBUTION_BIN } from "../helpers/distribution.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { freePort, type ServerProcess, spawnServer, startReestr } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const PASSWORD = "distribution-pass";

function skopeo(args: string[], authFile: string): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      SKOPEO,
      ["--insecure-policy", ...args],
      { timeout: 120_000, env: { ...process.env, REGISTRY_AUTH_FILE: authFile } },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A self-signed certificate for the token signing key (what Distribution's rootcertbundle holds). */
async function certificateFor(keyPem: string): Promise<string> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256" } as const;
  const privateKey = createPrivateKey(keyPem);
  const keys = {
    privateKey: await privateKey.toCryptoKey(algorithm, false, ["sign"]),
    publicKey: await createPublicKey(privateKey).toCryptoKey(algorithm, true, ["verify"]),
  };
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=Reestr token signer",
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 86_400_000),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  return cert.toString("pem");
}

describe("Distribution trusts Reestr's tokens", { timeout: 300_000 }, () => {
  let work = "";
  let reestr: ServerProcess | undefined;
  let registry: ServerProcess | undefined;
  let image = "";
  const authFile = () => join(work, "auth.json");

  before(async () => {
    assertDistributionInstalled();
    work = mkdtempSync(join(tmpdir(), "reestr-dist-token-"));
    const htpasswd = join(work, "htpasswd");
    const hash = await hashPassword(PASSWORD, 5);
    await writeHtpasswd(
      htpasswd,
      new Map([
        ["dev", hash],
        ["reader", hash],
      ]),
    );
    const config = join(work, "reestr.yaml");
    writeFileSync(
      config,
      `auth:
  mode: token
  htpasswd: ${htpasswd}
  token:
    service: dist-registry
    issuer: reestr-token-server
  rules:
    - subjects: [user:dev]
      repositories: ["team/**"]
      actions: [push, delete]
    - subjects: [user:reader]
      repositories: ["team/**"]
      actions: [pull]
`,
    );
    reestr = await startReestr({ extraArgs: ["--config", config], readyPath: "/healthz" });
    const certPath = join(work, "token-cert.pem");
    writeFileSync(
      certPath,
      await certificateFor(readFileSync(join(reestr.dataDir, DEFAULT_KEY_FILE), "utf8")),
    );

    const root = join(work, "distribution");
    mkdirSync(join(root, "storage"), { recursive: true });
    const port = await freePort();
    const debugPort = await freePort();
    writeFileSync(
      join(root, "config.yml"),
      [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${JSON.stringify(join(root, "storage"))}`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: 127.0.0.1:${port}`,
        "  secret: reestr-token-interop",
        "  debug:",
        `    addr: 127.0.0.1:${debugPort}`,
        "auth:",
        "  token:",
        `    realm: ${reestr.url}/auth/token`,
        "    service: dist-registry",
        "    issuer: reestr-token-server",
        `    rootcertbundle: ${JSON.stringify(certPath)}`,
        "",
      ].join("\n"),
    );
    const server = await spawnServer({
      name: "docker-registry",
      command: DISTRIBUTION_BIN,
      args: ["serve", join(root, "config.yml")],
      cwd: root,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: root },
      port: debugPort,
      readyPath: "/debug/health",
      dataDir: join(root, "storage"),
      ownedDirs: [],
      logFile: join(root, "registry.log"),
    });
    registry = { ...server, url: `http://127.0.0.1:${port}`, hostPort: `127.0.0.1:${port}`, port };
    // The registry's own listener may come up a moment after the debug one.
    const v2 = `${registry.url}/v2/`;
    await waitFor(async () => (await fetch(v2)).status === 401, {
      what: `docker-registry to answer 401 on ${v2}`,
    });
    image = join(work, "image");
    await makeOciImage(image, { tag: "v1", layers: 1, layerSize: 8 * 1024, seed: "dist-token" });
    writeFileSync(authFile(), "{}");
  });

  after(async () => {
    await registry?.stop();
    await reestr?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("Distribution challenges with Reestr's realm", async () => {
    const res = await fetch(`${registry!.url}/v2/team/app/tags/list`);
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get("www-authenticate"),
      `Bearer realm="${reestr!.url}/auth/token",service="dist-registry",scope="repository:team/app:pull"`,
    );
  });

  test("dev pushes through Distribution with a Reestr token; reader pulls but may not push", async () => {
    const ref = `docker://${registry!.hostPort}/team/app:v1`;
    const push = await skopeo(
      ["copy", "--dest-tls-verify=false", "--dest-creds", `dev:${PASSWORD}`, `oci:${image}:v1`, ref],
      authFile(),
    );
    assert.equal(push.code, 0, `${push.stderr}\n--- distribution ---\n${registry!.output(4000)}`);
    const pull = await skopeo(
      ["inspect", "--tls-verify=false", "--creds", `reader:${PASSWORD}`, ref],
      authFile(),
    );
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal((JSON.parse(pull.stdout) as { Name: string }).Name, `${registry!.hostPort}/team/app`);
    const readerPush = await skopeo(
      [
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        `reader:${PASSWORD}`,
        `oci:${image}:v1`,
        `docker://${registry!.hostPort}/team/app:v2`,
      ],
      authFile(),
    );
    assert.notEqual(readerPush.code, 0, "reader must not push");
    assert.match(readerPush.stderr, /unauthorized|denied|insufficient/i);
    const wrong = await skopeo(["inspect", "--tls-verify=false", "--creds", "dev:wrong", ref], authFile());
    assert.notEqual(wrong.code, 0);
  });
});
