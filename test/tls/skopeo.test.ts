/**
 * Real clients over real TLS: `reestr serve --tls` as a child process, skopeo trusting only the
 * generated CA (a cert dir holding ca.crt; never --tls-verify=false) pushes and pulls, by IP and
 * by host name; without the CA skopeo refuses the server. Then a user's certificate and key made
 * by openssl (RSA, another toolchain) via --tls-cert/--tls-key, and its replacement picked up
 * while serving.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { makeOciImage } from "../helpers/fixtures.ts";
import { type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";
const work = mkdtempSync(join(tmpdir(), "reestr-tls-skopeo-"));

function run(command: string, args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: 120_000, env: { ...process.env, REGISTRY_AUTH_FILE: join(work, "auth.json") } },
      (error, stdout, stderr) => resolve({ code: error ? ((error.code as number) ?? 1) : 0, stdout, stderr }),
    );
  });
}

const skopeo = (args: string[]) => run(SKOPEO, ["--insecure-policy", ...args]);

/** The serial of the certificate a new TLS connection gets, verified against `ca` for `servername`. */
function peerSerial(port: number, ca: string, servername = "localhost"): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca, servername }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial.toUpperCase());
    });
    socket.once("error", reject);
  });
}

after(() => rmSync(work, { recursive: true, force: true }));

describe("skopeo against reestr serve --tls", { timeout: 300_000 }, () => {
  let server: ServerProcess | undefined;
  let image = "";
  let certDir = "";

  before(async () => {
    assert.ok(existsSync(SKOPEO), `${SKOPEO} is missing`);
    writeFileSync(join(work, "auth.json"), "{}");
    image = join(work, "image");
    await makeOciImage(image, { tag: "v1", layers: 2, layerSize: 64 * 1024 });
    server = await startReestr({ extraArgs: ["--tls"], https: true, readyPath: "/healthz" });
    certDir = join(work, "certs");
    mkdirSync(certDir);
    copyFileSync(join(server.dataDir, "tls", "ca.crt"), join(certDir, "ca.crt"));
  });

  after(async () => {
    await server?.cleanup();
  });

  test("the server logs an https URL and answers only TLS", async () => {
    assert.match(server!.output(), /"msg":"reestr listening","url":"https:\/\/127\.0\.0\.1:\d+"/);
    const ca = readFileSync(join(certDir, "ca.crt"), "utf8");
    const serial = await peerSerial(server!.port, ca);
    assert.match(serial, /^[0-9A-F]+$/);
  });

  test("push and pull with the CA in --dest-cert-dir/--src-cert-dir, by IP and by name", async () => {
    const byIp = `docker://${server!.hostPort}/tls/app:v1`;
    const push = await skopeo(["copy", "--dest-cert-dir", certDir, `oci:${image}:v1`, byIp]);
    assert.equal(push.code, 0, push.stderr);
    const byName = `docker://localhost:${server!.port}/tls/app:v1`;
    const inspect = await skopeo(["inspect", "--cert-dir", certDir, byName]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const pulled = join(work, "pulled");
    const pull = await skopeo(["copy", "--src-cert-dir", certDir, byName, `oci:${pulled}:v1`]);
    assert.equal(pull.code, 0, pull.stderr);
    const local = await skopeo(["inspect", `oci:${image}:v1`]);
    const copied = await skopeo(["inspect", `oci:${pulled}:v1`]);
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual(
      (JSON.parse(copied.stdout) as { Layers: string[] }).Layers,
      (JSON.parse(local.stdout) as { Layers: string[] }).Layers,
    );
    assert.equal(
      (JSON.parse(inspect.stdout) as { Digest: string }).Digest,
      (JSON.parse(copied.stdout) as { Digest: string }).Digest,
    );
  });

  test("without the CA skopeo refuses the certificate", async () => {
    const empty = join(work, "no-certs");
    mkdirSync(empty, { recursive: true });
    const refused = await skopeo(["inspect", "--cert-dir", empty, `docker://${server!.hostPort}/tls/app:v1`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /x509|certificate/i);
  });
});

describe("a user's certificate (--tls-cert/--tls-key)", { timeout: 300_000 }, () => {
  let server: ServerProcess | undefined;
  const dir = join(work, "user");
  const certFile = join(dir, "tls.crt");
  const keyFile = join(dir, "tls.key");

  async function opensslPair(cn: string, certOut: string, keyOut: string): Promise<void> {
    const made = await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      keyOut,
      "-out",
      certOut,
    ]);
    assert.equal(made.code, 0, made.stderr);
  }

  before(async () => {
    mkdirSync(dir, { recursive: true });
    await opensslPair("first", certFile, keyFile);
    const config = join(dir, "reestr.yaml");
    writeFileSync(config, "tls:\n  reloadInterval: 200ms\n");
    server = await startReestr({
      extraArgs: ["--tls-cert", certFile, "--tls-key", keyFile, "--config", config],
      https: true,
      readyPath: "/healthz",
    });
  });

  after(async () => {
    await server?.cleanup();
  });

  test("skopeo trusting the user's certificate pushes; a replaced pair is served without a restart", async () => {
    const certDir = join(dir, "certs");
    mkdirSync(certDir, { recursive: true });
    copyFileSync(certFile, join(certDir, "ca.crt"));
    const image = join(work, "user-image");
    await makeOciImage(image, { tag: "v1", layers: 1, layerSize: 8 * 1024 });
    const push = await skopeo([
      "copy",
      "--dest-cert-dir",
      certDir,
      `oci:${image}:v1`,
      `docker://${server!.hostPort}/user/app:v1`,
    ]);
    assert.equal(push.code, 0, push.stderr);
    assert.ok(!existsSync(join(server!.dataDir, "tls")), "no automatic CA in user mode");

    const first = await peerSerial(server!.port, readFileSync(certFile, "utf8"));
    // Replace both files the way a cert manager does (new files renamed into place).
    await opensslPair("second", `${certFile}.new`, `${keyFile}.new`);
    const second = readFileSync(`${certFile}.new`, "utf8");
    renameSync(`${keyFile}.new`, keyFile);
    renameSync(`${certFile}.new`, certFile);
    await waitFor(async () => (await peerSerial(server!.port, second)) !== first, {
      what: "the new certificate to be served",
      intervalMs: 100,
    });
    assert.ok(server!.isRunning());
    assert.match(server!.output(), /reloaded the configured certificate/);
  });
});
