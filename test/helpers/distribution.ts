/**
 * Starts Debian's CNCF Distribution (`/usr/bin/docker-registry`, 2.8.2) on a random loopback port
 * with a temp storage directory and a generated config.yml (filesystem storage, delete enabled),
 * the peer Reestr is compared with in interop tests and in the benchmark.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type ServerProcess, spawnServer } from "./reestr-process.ts";

export const DISTRIBUTION_BIN = process.env["DISTRIBUTION_BIN"] ?? "/usr/bin/docker-registry";

export interface StartDistributionOptions {
  /** Distribution's log level (default "info", as packaged). */
  logLevel?: "error" | "warn" | "info" | "debug";
  /** Disable the access log (default false, as packaged). */
  disableAccessLog?: boolean;
  readyTimeoutMs?: number;
}

/** Fails loudly (with the install command) when the binary is missing. */
export function assertDistributionInstalled(): void {
  if (!existsSync(DISTRIBUTION_BIN)) {
    throw new Error(
      `${DISTRIBUTION_BIN} is missing: install CNCF Distribution with \`apt-get install -y docker-registry\``,
    );
  }
}

export function distributionVersion(): string {
  assertDistributionInstalled();
  return execFileSync(DISTRIBUTION_BIN, ["--version"], { encoding: "utf8" }).trim();
}

/** The config.yml written for a run; mirrors Debian's packaged config minus auth, on loopback. */
export function distributionConfig(
  port: number,
  rootDir: string,
  options: StartDistributionOptions = {},
): string {
  return [
    "version: 0.1",
    "log:",
    `  level: ${options.logLevel ?? "info"}`,
    ...(options.disableAccessLog ? ["  accesslog:", "    disabled: true"] : []),
    "  fields:",
    "    service: registry",
    "storage:",
    "  cache:",
    "    blobdescriptor: inmemory",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(rootDir)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    // A fixed secret silences the "No HTTP secret provided" warning; uploads are stateless anyway.
    "  secret: reestr-interop-secret",
    "  headers:",
    "    X-Content-Type-Options: [nosniff]",
    "",
  ].join("\n");
}

/** Starts docker-registry and waits until `/v2/` answers 200. cleanup() kills it and removes its storage. */
export async function startDistribution(options: StartDistributionOptions = {}): Promise<ServerProcess> {
  assertDistributionInstalled();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const root = mkdtempSync(join(tmpdir(), "distribution-"));
    const dataDir = join(root, "storage");
    mkdirSync(dataDir);
    const port = await freePort();
    const configPath = join(root, "config.yml");
    writeFileSync(configPath, distributionConfig(port, dataDir, options));
    try {
      return await spawnServer({
        name: "docker-registry",
        command: DISTRIBUTION_BIN,
        args: ["serve", configPath],
        cwd: root,
        // OTEL/proxy settings of the parent must not leak into the registry.
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: root },
        port,
        dataDir,
        ownedDirs: [root],
        logFile: join(root, "registry.log"),
        readyTimeoutMs: options.readyTimeoutMs,
      });
    } catch (error) {
      lastError = error;
      if (!/address already in use/.test(String(error))) break;
    }
  }
  throw lastError;
}
