/**
 * `reestr cert ca` and `reestr cert show`: the CA PEM (the very file serve --tls uses, created
 * when missing), the trust commands for containerd, docker, podman/skopeo and the Debian system
 * store with the registry's host:port in the certs.d paths, --pem and --json; `show` reports the
 * server certificate's names and serial. One run through the real binary checks the wiring.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, test } from "node:test";
import { runCert } from "../../src/cli/cert.ts";
import { issuedBy } from "../../src/tls/certificates.ts";
import { TlsSchema } from "../../src/tls/config.ts";
import { TlsManager } from "../../src/tls/manager.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { REESTR_BIN } from "../helpers/reestr-process.ts";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reestr-cert-cli-"));
  dirs.push(dir);
  return dir;
}

function capture(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk as Buffer));
      cb();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString("utf8") });
}

async function cert(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCert(argv, { stdout, stderr, env });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe("reestr cert", () => {
  test("ca creates the CA when missing, prints it with the trust commands, and reuses it", async () => {
    const data = await tempDir();
    const first = await cert(["ca", "--data", data, "--registry", "registry.local:5443"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /created a local CA/);
    const pem = await readFile(join(data, "tls", "ca.crt"), "utf8");
    assert.ok(first.stdout.includes(pem.trimEnd()), "the PEM of <data>/tls/ca.crt");
    for (const line of [
      "sudo cp " + join(data, "tls", "ca.crt") + " /etc/containerd/certs.d/registry.local:5443/ca.crt",
      '[host."https://registry.local:5443"]',
      'server = "https://registry.local:5443"',
      "/etc/docker/certs.d/registry.local:5443/ca.crt",
      "/etc/containers/certs.d/registry.local:5443/ca.crt",
      "/usr/local/share/ca-certificates/reestr-local-ca.crt",
      "sudo update-ca-certificates",
    ]) {
      assert.ok(first.stdout.includes(line), `missing: ${line}`);
    }
    const again = await cert(["ca", "--data-dir", data, "--pem"]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, pem, "--pem prints exactly the file");
    assert.equal(again.stderr, "");
  });

  test("ca --json; the registry defaults to localhost:$REESTR_PORT", async () => {
    const data = await tempDir();
    const result = await cert(["ca", "--json"], { REESTR_DATA: data, REESTR_PORT: "5999" });
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as {
      file: string;
      created: boolean;
      registry: string;
      isCa: boolean;
      pem: string;
      notAfter: string;
      commands: Record<string, string[]>;
    };
    assert.equal(json.file, join(data, "tls", "ca.crt"));
    assert.equal(json.created, true);
    assert.equal(json.registry, "localhost:5999");
    assert.equal(json.isCa, true);
    assert.equal(json.pem, await readFile(json.file, "utf8"));
    assert.deepEqual(Object.keys(json.commands).sort(), ["containerd", "docker", "podman", "system"]);
    assert.ok(
      json.commands.docker!.some((line) => line.includes("/etc/docker/certs.d/localhost:5999/ca.crt")),
    );
  });

  test("the server started afterwards uses the CA `cert ca` created", async () => {
    const data = await tempDir();
    assert.equal((await cert(["ca", "--data", data, "--pem"])).code, 0);
    const ca = await readFile(join(data, "tls", "ca.crt"), "utf8");
    const manager = await TlsManager.start({
      config: TlsSchema.parse({ enabled: true }),
      dataDir: data,
      logger: new JsonLogger({ sink: { write: () => true } }),
    });
    manager.close();
    assert.ok(issuedBy(manager.secureContextOptions.cert, ca));
    const shown = await cert(["show", "--data", data]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`serial\\s+${manager.certificate.serialNumber}`));
    assert.match(shown.stdout, /names\s+localhost, 127\.0\.0\.1, ::1, .*registry\.local/);
    assert.match(shown.stdout, /days left/);
    const json = JSON.parse((await cert(["show", "--data", data, "--json"])).stdout) as { isCa: boolean };
    assert.equal(json.isCa, false);
  });

  test("show without a certificate, a bad action and a bad --registry are clear errors", async () => {
    const data = await tempDir();
    const missing = await cert(["show", "--data", data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no certificate at .*server\.crt .*reestr serve --tls/);
    await assert.rejects(cert(["bogus", "--data", data]), /unknown action "bogus"/);
    await assert.rejects(cert(["ca", "--data", data, "--registry", "a b"]), /--registry: expected host:port/);
  });

  test("the binary runs it (reestr cert ca --pem)", async () => {
    const data = await tempDir();
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [REESTR_BIN, "cert", "ca", "--pem", "--data", data], (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      );
    });
    assert.equal(output, await readFile(join(data, "tls", "ca.crt"), "utf8"));
  });
});
