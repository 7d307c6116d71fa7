import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { type CertificateInfo, createCa, describeCertificate } from "../tls/certificates.ts";
import { TlsSchema } from "../tls/config.ts";
import { readPair, tlsPaths, writePair } from "../tls/files.ts";
import { type Command, UsageError } from "./command.ts";

const usage = `Usage: reestr cert <ca|show> [options]

The certificates of \`reestr serve --tls\`: a local certificate authority (CA) created once
in <data>/tls/, and the server certificate it issues (renewed before expiry while serving).

  reestr cert ca      print the CA certificate (PEM) and the commands that make docker,
                      containerd, podman/skopeo and the system trust it; creates the CA
                      when the server has not yet
  reestr cert show    print the current server certificate: subject, names, validity

Options:
  --data <dir>          data directory (REESTR_DATA, default ./data); --data-dir also works
  --registry <host:port>
                        the address clients use, for the certs.d paths
                        (default localhost:<REESTR_PORT or 5000>)
  --cert <file>         (show) a certificate file instead of <data>/tls/server.crt
  --pem                 (ca) print only the PEM, e.g. \`reestr cert ca --pem > ca.crt\`
  --json                print a JSON result on stdout
  -h, --help            show this help

Example:
  reestr serve --tls --port 5000 &
  reestr cert ca --registry registry.local:5000
  skopeo copy --dest-cert-dir ./certs oci:./image:latest docker://localhost:5000/demo:latest
`;

export interface CertIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export interface TrustCommands {
  containerd: string[];
  docker: string[];
  podman: string[];
  system: string[];
}

/** The shell commands that make each client trust the CA file for `registry` (host:port). */
export function trustCommands(caFile: string, registry: string): TrustCommands {
  const quoted = shellQuote(caFile);
  const containerd = `/etc/containerd/certs.d/${registry}`;
  const docker = `/etc/docker/certs.d/${registry}`;
  const containers = `/etc/containers/certs.d/${registry}`;
  return {
    containerd: [
      `sudo mkdir -p ${containerd}`,
      `sudo cp ${quoted} ${containerd}/ca.crt`,
      `sudo tee ${containerd}/hosts.toml >/dev/null <<'EOF'
server = "https://${registry}"

[host."https://${registry}"]
  capabilities = ["pull", "resolve", "push"]
  ca = "${containerd}/ca.crt"
EOF`,
      '# containerd reads certs.d when its CRI config has config_path = "/etc/containerd/certs.d"',
    ],
    docker: [`sudo mkdir -p ${docker}`, `sudo cp ${quoted} ${docker}/ca.crt`],
    podman: [
      `sudo mkdir -p ${containers}`,
      `sudo cp ${quoted} ${containers}/ca.crt`,
      "# or per command: skopeo/podman --cert-dir (--src-cert-dir, --dest-cert-dir) <a directory holding ca.crt>",
    ],
    system: [
      `sudo cp ${quoted} /usr/local/share/ca-certificates/reestr-local-ca.crt`,
      "sudo update-ca-certificates",
      `# node-based tools (reestr push/pull): NODE_EXTRA_CA_CERTS=${quoted}`,
    ],
  };
}

function shellQuote(text: string): string {
  return /^[\w./:@-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

function infoJson(info: CertificateInfo): Record<string, unknown> {
  return {
    subject: info.subject,
    issuer: info.issuer,
    serialNumber: info.serialNumber,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    names: info.names,
    fingerprint256: info.fingerprint256,
    isCa: info.isCa,
  };
}

function daysLeft(info: CertificateInfo): string {
  const ms = info.notAfter.getTime() - Date.now();
  if (ms <= 0) return "expired";
  const days = ms / 86_400_000;
  return days >= 2 ? `${Math.floor(days)} days left` : `${Math.max(1, Math.round(ms / 60_000))} minutes left`;
}

export async function runCert(argv: string[], io: CertIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      data: { type: "string" },
      "data-dir": { type: "string" },
      registry: { type: "string" },
      cert: { type: "string" },
      pem: { type: "boolean" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  const [action, ...extra] = positionals;
  if (!action) throw new UsageError("expected an action: ca or show");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const dataDir = resolve(values.data ?? values["data-dir"] ?? (io.env.REESTR_DATA || "./data"));
  const paths = tlsPaths(dataDir);
  const port = io.env.REESTR_PORT || "5000";
  const registry = values.registry ?? `localhost:${port}`;
  if (!/^[A-Za-z0-9.\-[\]:]+$/.test(registry)) {
    throw new UsageError(`--registry: expected host:port, got "${registry}"`);
  }
  const json = values.json ?? false;

  if (action === "ca") {
    let ca = await readPair(paths.caCert, paths.caKey);
    let created = false;
    if (!ca) {
      // The same CA the server would create on its first --tls start, so it can be trusted first.
      const defaults = TlsSchema.parse({});
      ca = await createCa({ validityMs: defaults.caValidity });
      await writePair(paths.caCert, paths.caKey, ca);
      created = true;
    }
    const info = describeCertificate(ca.cert);
    const commands = trustCommands(paths.caCert, registry);
    if (json) {
      io.stdout.write(
        `${JSON.stringify({ file: paths.caCert, created, registry, ...infoJson(info), pem: ca.cert, commands }, null, 2)}\n`,
      );
      return 0;
    }
    if (created) io.stderr.write(`created a local CA in ${paths.dir}\n`);
    if (values.pem) {
      io.stdout.write(ca.cert);
      return 0;
    }
    const section = (title: string, lines: string[]) => `# ${title}\n${lines.join("\n")}\n`;
    io.stdout.write(
      [
        `# Reestr local CA: ${info.subject}`,
        `# file ${paths.caCert}, valid until ${info.notAfter.toISOString()} (${daysLeft(info)})`,
        `# SHA-256 fingerprint ${info.fingerprint256}`,
        "",
        ca.cert.trimEnd(),
        "",
        `# To trust it for the registry at ${registry} (use the address clients pull from):`,
        "",
        section("containerd (CRI, kind nodes)", commands.containerd),
        section("docker", commands.docker),
        section("podman, skopeo, buildah (containers/image)", commands.podman),
        section("the system store (Debian/Ubuntu: curl, git, most programs)", commands.system),
      ].join("\n"),
    );
    return 0;
  }

  if (action === "show") {
    const file = values.cert ? resolve(values.cert) : paths.serverCert;
    let pem: string;
    try {
      pem = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      io.stderr.write(
        `reestr cert: no certificate at ${file} (start \`reestr serve --tls --data ${dataDir}\` once to create it)\n`,
      );
      return 1;
    }
    let info: CertificateInfo;
    try {
      info = describeCertificate(pem);
    } catch (error) {
      io.stderr.write(`reestr cert: ${file} is not a PEM certificate: ${(error as Error).message}\n`);
      return 1;
    }
    if (json) {
      io.stdout.write(`${JSON.stringify({ file, ...infoJson(info) }, null, 2)}\n`);
      return 0;
    }
    io.stdout.write(
      [
        `file        ${file}`,
        `subject     ${info.subject}`,
        `issuer      ${info.issuer}`,
        `serial      ${info.serialNumber}`,
        `names       ${info.names.join(", ") || "(none)"}`,
        `not before  ${info.notBefore.toISOString()}`,
        `not after   ${info.notAfter.toISOString()} (${daysLeft(info)})`,
        `sha-256     ${info.fingerprint256}`,
        "",
      ].join("\n"),
    );
    return 0;
  }
  throw new UsageError(`unknown action "${action}": expected ca or show`);
}

export default {
  name: "cert",
  summary: "the local CA and server certificate of serve --tls (trust commands)",
  usage,
  run: (argv) => runCert(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }),
} satisfies Command;
