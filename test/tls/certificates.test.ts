/**
 * The local CA and server certificates (src/tls/certificates.ts) and the manager that keeps them
 * in <dataDir>/tls (src/tls/manager.ts): what the certificates say, that node:tls accepts them
 * for the names they carry, that keys are 0600 and written without leftovers, that a restart
 * reuses them and a change of names or a damaged file makes a new one under the same CA, and
 * that a user's certificate is reloaded when its files change (but not when they break).
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { checkServerIdentity } from "node:tls";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import {
  coversNames,
  createCa,
  describeCertificate,
  issuedBy,
  issueServerCert,
  keyMatches,
  serverNames,
} from "../../src/tls/certificates.ts";
import { TlsSchema } from "../../src/tls/config.ts";
import { tlsPaths } from "../../src/tls/files.ts";
import { TlsManager } from "../../src/tls/manager.ts";
import { JsonLogger, type Logger } from "../../src/util/logger.ts";
import { waitFor } from "../helpers/wait.ts";

const DAY = 86_400_000;
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reestr-tls-"));
  dirs.push(dir);
  return dir;
}

after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function quietLogger(lines: string[] = []): Logger {
  return new JsonLogger({
    level: "debug",
    sink: {
      write: (chunk: string) => {
        for (const line of chunk.split("\n")) if (line) lines.push(line);
      },
    },
  });
}

describe("certificates", () => {
  test("the CA is a CA limited to signing end-entity certificates", async () => {
    const ca = await createCa({ validityMs: 10 * DAY });
    const cert = new x509.X509Certificate(ca.cert);
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    assert.ok(basic?.ca);
    assert.equal(basic.pathLength, 0);
    assert.ok(basic.critical);
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    assert.ok(usage && usage.usages & x509.KeyUsageFlags.keyCertSign);
    assert.equal(usage.usages & x509.KeyUsageFlags.digitalSignature, 0);
    assert.match(cert.subject, /Reestr local CA/);
    assert.equal(cert.publicKey.algorithm.name, "ECDSA");
    assert.ok(keyMatches(ca.cert, ca.key));
    assert.match(ca.key, /^-----BEGIN PRIVATE KEY-----/);
  });

  test("a server certificate carries the default and extra names, serverAuth, and is the CA's", async () => {
    const ca = await createCa({ validityMs: 10 * DAY });
    const names = serverNames(["registry.example.com", "10.20.30.40"]);
    for (const name of ["localhost", "127.0.0.1", "::1", hostname().toLowerCase(), "registry.local"]) {
      assert.ok(names.includes(name), `${name} missing from ${names.join(",")}`);
    }
    const server = await issueServerCert({ ca, names, validityMs: 2 * DAY });
    const info = describeCertificate(server.cert);
    assert.ok(coversNames(info, names), `SANs ${info.names.join(",")}`);
    assert.ok(!coversNames(info, ["other.example.com"]));
    assert.equal(info.isCa, false);
    assert.ok(issuedBy(server.cert, ca.cert));
    assert.ok(
      !issuedBy(server.cert, (await createCa({ validityMs: DAY })).cert),
      "another CA with the same name",
    );
    assert.ok(keyMatches(server.cert, server.key));
    assert.ok(!keyMatches(server.cert, ca.key));
    const parsed = new x509.X509Certificate(server.cert);
    const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...(eku?.usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
    const left = info.notAfter.getTime() - Date.now();
    assert.ok(left > DAY && left <= 2 * DAY + 1000, `expires in ${left} ms`);
    // node's own hostname check accepts every name, and refuses one not on the certificate.
    const peer = new X509Certificate(server.cert).toLegacyObject();
    for (const name of ["localhost", "registry.example.com", "127.0.0.1", "10.20.30.40", "::1"]) {
      assert.equal(checkServerIdentity(name, peer), undefined, name);
    }
    assert.ok(checkServerIdentity("evil.example.com", peer) instanceof Error);
  });

  test("a server certificate never outlives its CA", async () => {
    const ca = await createCa({ validityMs: DAY });
    const server = await issueServerCert({ ca, names: ["localhost"], validityMs: 30 * DAY });
    assert.ok(
      describeCertificate(server.cert).notAfter.getTime() <= describeCertificate(ca.cert).notAfter.getTime(),
    );
  });
});

describe("TlsManager, automatic mode", () => {
  const config = (extra: Record<string, unknown> = {}) => TlsSchema.parse({ enabled: true, ...extra });

  test("creates CA and server certificate in <data>/tls with private keys 0600 and no temp files", async () => {
    const dataDir = await tempDir();
    const manager = await TlsManager.start({ config: config(), dataDir, logger: quietLogger() });
    manager.close();
    const paths = tlsPaths(dataDir);
    assert.deepEqual((await readdir(paths.dir)).sort(), ["ca.crt", "ca.key", "server.crt", "server.key"]);
    assert.equal((await stat(paths.caKey)).mode & 0o777, 0o600);
    assert.equal((await stat(paths.serverKey)).mode & 0o777, 0o600);
    assert.equal((await stat(paths.dir)).mode & 0o077, 0, "the tls directory is private");
    const serverPem = await readFile(paths.serverCert, "utf8");
    assert.equal(manager.secureContextOptions.cert, serverPem);
    assert.ok(issuedBy(serverPem, await readFile(paths.caCert, "utf8")));
    assert.equal(manager.certificate.serialNumber, describeCertificate(serverPem).serialNumber);
  });

  test("a restart reuses both; new names or a damaged certificate get a new one from the same CA", async () => {
    const dataDir = await tempDir();
    const paths = tlsPaths(dataDir);
    const first = await TlsManager.start({ config: config(), dataDir, logger: quietLogger() });
    first.close();
    const ca = await readFile(paths.caCert, "utf8");
    const again = await TlsManager.start({ config: config(), dataDir, logger: quietLogger() });
    again.close();
    assert.equal(again.certificate.serialNumber, first.certificate.serialNumber);

    const renamed = await TlsManager.start({
      config: config({ names: "registry.example.com" }),
      dataDir,
      logger: quietLogger(),
    });
    renamed.close();
    assert.notEqual(renamed.certificate.serialNumber, first.certificate.serialNumber);
    assert.ok(renamed.certificate.names.includes("registry.example.com"));
    assert.equal(await readFile(paths.caCert, "utf8"), ca, "the CA is kept");

    await writeFile(paths.serverCert, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
    const repaired = await TlsManager.start({
      config: config({ names: ["registry.example.com"] }),
      dataDir,
      logger: quietLogger(),
    });
    repaired.close();
    assert.notEqual(repaired.certificate.serialNumber, renamed.certificate.serialNumber);
    assert.ok(issuedBy(await readFile(paths.serverCert, "utf8"), ca));
  });

  test("a certificate due for renewal at start is replaced; a CA key that does not match stops the start", async () => {
    const dataDir = await tempDir();
    const paths = tlsPaths(dataDir);
    const short = await TlsManager.start({
      config: config({ certValidity: "10d", renewBefore: "1d" }),
      dataDir,
      logger: quietLogger(),
    });
    short.close();
    // With renewBefore longer than what is left (10 days), the next start renews.
    const renewed = await TlsManager.start({
      config: config({ certValidity: "90d", renewBefore: "20d" }),
      dataDir,
      logger: quietLogger(),
    });
    renewed.close();
    assert.notEqual(renewed.certificate.serialNumber, short.certificate.serialNumber);

    await writeFile(paths.caKey, (await createCa({ validityMs: DAY })).key);
    await assert.rejects(
      TlsManager.start({ config: config(), dataDir, logger: quietLogger() }),
      /ca\.key is not the key of .*ca\.crt/,
    );
  });

  test("renews on its timer and hands the new certificate to attached servers", async (t) => {
    // Mocked timers and Date: 60 days pass at once, through timers clamped to setTimeout's ~24.8 days.
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: Date.now() });
    const start = Date.now();
    const dataDir = await tempDir();
    const lines: string[] = [];
    const manager = await TlsManager.start({
      config: config({ certValidity: "90d", renewBefore: "30d" }),
      dataDir,
      logger: quietLogger(lines),
    });
    const applied: string[] = [];
    manager.attach({ setSecureContext: ({ cert }) => applied.push(cert) });
    const firstSerial = manager.certificate.serialNumber;
    const ca = await readFile(tlsPaths(dataDir).caCert, "utf8");
    try {
      t.mock.timers.tick(59 * DAY);
      t.mock.timers.tick(DAY);
      await waitFor(() => applied.length > 0, { what: "the renewed certificate" });
      assert.equal(applied.length, 1);
      const info = describeCertificate(applied[0]!);
      assert.notEqual(info.serialNumber, firstSerial);
      // Issued when due (day 60, 30 days before the first one's end), not when a clamped timer fired.
      const issuedAt = info.notAfter.getTime() - 90 * DAY;
      assert.ok(Math.abs(issuedAt - (start + 60 * DAY)) < 60_000, info.notAfter.toISOString());
      assert.ok(issuedBy(applied[0]!, ca));
      assert.equal(await readFile(tlsPaths(dataDir).caCert, "utf8"), ca);
      assert.ok(lines.some((line) => /"reason":"due for renewal"/.test(line)));
    } finally {
      manager.close();
    }
  });
});

describe("TlsManager, user certificate", () => {
  test("reloads a changed pair; a pair that does not match is refused and the old one kept", async () => {
    const dir = await tempDir();
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    const ca = await createCa({ validityMs: 10 * DAY });
    const one = await issueServerCert({ ca, names: ["one.example"], validityMs: 5 * DAY });
    const two = await issueServerCert({ ca, names: ["two.example"], validityMs: 5 * DAY });
    await writeFile(certFile, one.cert);
    await writeFile(keyFile, one.key);
    const lines: string[] = [];
    const manager = await TlsManager.start({
      config: TlsSchema.parse({ cert: certFile, key: keyFile, reloadInterval: "100ms" }),
      dataDir: dir,
      logger: quietLogger(lines),
    });
    const applied: string[] = [];
    manager.attach({ setSecureContext: ({ cert }) => applied.push(cert) });
    try {
      assert.equal(manager.mode, "user");
      assert.deepEqual(manager.certificate.names, ["one.example"]);
      // Only the certificate changes: its key no longer matches, so nothing is applied.
      await writeFile(certFile, two.cert);
      await waitFor(() => lines.some((line) => /could not be reloaded/.test(line)), {
        what: "the mismatch to be reported",
      });
      assert.equal(applied.length, 0);
      assert.deepEqual(manager.certificate.names, ["one.example"]);
      await writeFile(keyFile, two.key);
      await waitFor(() => applied.length > 0, { what: "the matching pair to be applied" });
      assert.deepEqual(manager.certificate.names, ["two.example"]);
      assert.equal(applied[0], two.cert);
    } finally {
      manager.close();
    }
  });

  test("a missing or mismatched pair stops the start with a message naming the files", async () => {
    const dir = await tempDir();
    const ca = await createCa({ validityMs: DAY });
    const pair = await issueServerCert({ ca, names: ["x.example"], validityMs: DAY });
    await writeFile(join(dir, "a.crt"), pair.cert);
    await writeFile(join(dir, "a.key"), ca.key);
    const start = (cert: string, key: string) =>
      TlsManager.start({ config: TlsSchema.parse({ cert, key }), dataDir: dir, logger: quietLogger() });
    await assert.rejects(
      start(join(dir, "missing.crt"), join(dir, "a.key")),
      /missing\.crt .*does not exist/,
    );
    await assert.rejects(start(join(dir, "a.crt"), join(dir, "a.key")), /a\.key is not the key of .*a\.crt/);
  });

  test("the schema wants cert and key together and renewBefore shorter than the validity", () => {
    assert.throws(() => TlsSchema.parse({ cert: "a.crt" }), /cert and key go together/);
    assert.throws(
      () => TlsSchema.parse({ certValidity: "1d", renewBefore: "2d" }),
      /shorter than certValidity/,
    );
    assert.deepEqual(TlsSchema.parse({ names: "a.example, 10.0.0.1" }).names, ["a.example", "10.0.0.1"]);
  });
});
