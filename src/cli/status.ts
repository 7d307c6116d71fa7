import { describeTlsError } from "../client/errors.ts";
import type { RegistryClient } from "../client/registry-client.ts";
import { DEFAULT_URL, formatBytes, parseRegistryArgs, printJson } from "./args.ts";
import type { Command } from "./command.ts";

const usage = `Usage: reestr status [url] [options]

Tells whether a registry is up and what it holds: the /v2/ API answer, its version
(Reestr-Version header, /readyz), readiness checks, number of repositories (catalog) and
storage used (Reestr's /api/status). Works against any OCI registry; what it does not
expose is reported as unknown.

Options:
  --json                print a JSON result on stdout (for scripts)
  --insecure            do not verify the registry's TLS certificate
  -h, --help            show this help

Environment:
  REESTR_URL            registry used when no url is given (default ${DEFAULT_URL})
  REESTR_USERNAME, REESTR_PASSWORD   credentials; else the host's entry in docker's config.json

Exit status: 0 when the registry is up, 1 when it is not (DOWN: nothing answers, or an error
said in words: a certificate this machine does not trust, expired or for another name).
`;

export interface RegistryStatus {
  url: string;
  up: boolean;
  error?: string;
  /** The TLS failure's code (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, …) when TLS is why it is not up. */
  tlsError?: string;
  apiVersion?: string;
  version?: string;
  ready?: { status: string; checks?: unknown[] };
  repositories?: number;
  tags?: number;
  manifests?: number;
  blobs?: number;
  storageBytes?: number;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Gathers status, tolerating registries that lack Reestr's extra endpoints. */
export async function registryStatus(client: RegistryClient, url: string): Promise<RegistryStatus> {
  const status: RegistryStatus = { url, up: false };
  try {
    const ping = await client.ping();
    status.up = true;
    status.apiVersion = ping.apiVersion;
    const version = ping.headers["reestr-version"];
    if (typeof version === "string") status.version = version;
  } catch (error) {
    const tls = describeTlsError(error);
    status.error = tls?.message ?? (error as Error).message;
    if (tls) status.tlsError = tls.code;
    return status;
  }
  const ready = await client.probe("/readyz").catch(() => undefined);
  const readyJson = record(ready?.json);
  if (readyJson && typeof readyJson.status === "string") {
    status.ready = {
      status: readyJson.status,
      checks: Array.isArray(readyJson.checks) ? readyJson.checks : undefined,
    };
    if (!status.version && typeof readyJson.version === "string") status.version = readyJson.version;
  }
  const api = await client.probe("/api/status").catch(() => undefined);
  const apiJson = api?.status === 200 ? record(api.json) : undefined;
  if (apiJson) {
    if (!status.version && typeof apiJson.version === "string") status.version = apiJson.version;
    status.repositories = num(apiJson.repositories);
    status.tags = num(apiJson.tags);
    status.manifests = num(apiJson.manifests);
    status.blobs = num(apiJson.blobs);
    status.storageBytes = num(apiJson.storageBytes);
  }
  if (status.repositories === undefined) {
    // Any registry: count the catalog (it may be disabled or forbidden: then unknown).
    status.repositories = await client.catalog({ pageSize: 1000 }).then(
      (repos) => repos.length,
      () => undefined,
    );
  }
  return status;
}

async function run(argv: string[]): Promise<number> {
  const { json, url, client } = parseRegistryArgs(argv);
  try {
    const status = await registryStatus(client, url);
    if (json) {
      printJson(status);
    } else if (status.tlsError) {
      // It answered: not DOWN, but not usable from here until the certificate is sorted out.
      process.stdout.write(`${url}: ${status.error}\n`);
    } else if (!status.up) {
      process.stdout.write(`${url}: DOWN (${status.error})\n`);
    } else {
      const unknown = "unknown";
      process.stdout.write(
        [
          `${url}: up${status.ready ? ` (${status.ready.status})` : ""}`,
          `  version:       ${status.version ?? unknown}${status.apiVersion ? ` (${status.apiVersion})` : ""}`,
          `  repositories:  ${status.repositories ?? unknown}`,
          ...(status.tags !== undefined ? [`  tags:          ${status.tags}`] : []),
          `  storage used:  ${status.storageBytes !== undefined ? formatBytes(status.storageBytes) : unknown}`,
        ].join("\n") + "\n",
      );
    }
    return status.up ? 0 : 1;
  } finally {
    client.close();
  }
}

export default {
  name: "status",
  summary: "show whether a registry is up, its version, repositories and storage used",
  usage,
  run,
} satisfies Command;
