/**
 * Starts Debian's CNCF Distribution (`/usr/bin/docker-registry`, 2.8.2) on a random loopback port
 * with a temp storage directory and a generated config.yml (filesystem storage, delete enabled),
 * the peer Reestr is compared with in interop tests and in the benchmark.
 *
 * With `auth: { htpasswd }` the registry demands HTTP basic auth (Distribution's `htpasswd`
 * access controller, bcrypt entries as `htpasswd -Bbn` from apache2-utils writes them). `/v2/`
 * then answers 401, so readiness is probed on the debug listener's `/debug/health` instead.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type ServerProcess, spawnServer } from "./reestr-process.ts";
import { waitFor } from "./wait.ts";

export const DISTRIBUTION_BIN = process.env["DISTRIBUTION_BIN"] ?? "/usr/bin/docker-registry";

export interface StartDistributionOptions {
  /** Distribution's log level (default "info", as packaged). */
  logLevel?: "error" | "warn" | "info" | "debug";
  /** Disable the access log (default false, as packaged). */
  disableAccessLog?: boolean;
  readyTimeoutMs?: number;
  /** Require basic auth: `htpasswd` is the file's content (see htpasswdEntry). */
  auth?: { htpasswd: string };
}

export const HTPASSWD_BIN = process.env["HTPASSWD_BIN"] ?? "/usr/bin/htpasswd";

/** One bcrypt htpasswd line for user:password, made by apache2-utils' `htpasswd -Bbn`. */
export function htpasswdEntry(username: string, password: string): string {
  if (!existsSync(HTPASSWD_BIN)) {
    throw new Error(`${HTPASSWD_BIN} is missing: install it with \`apt-get install -y apache2-utils\``);
  }
  return execFileSync(HTPASSWD_BIN, ["-Bbn", username, password], { encoding: "utf8" }).trim();
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
  options: StartDistributionOptions & { htpasswdPath?: string; debugPort?: number } = {},
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
    ...(options.debugPort ? ["  debug:", `    addr: 127.0.0.1:${options.debugPort}`] : []),
    ...(options.htpasswdPath
      ? [
          "auth:",
          "  htpasswd:",
          "    realm: reestr-interop",
          `    path: ${JSON.stringify(options.htpasswdPath)}`,
        ]
      : []),
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
    let htpasswdPath: string | undefined;
    let debugPort: number | undefined;
    if (options.auth) {
      htpasswdPath = join(root, "htpasswd");
      writeFileSync(htpasswdPath, `${options.auth.htpasswd.trim()}\n`, { mode: 0o600 });
      debugPort = await freePort();
    }
    writeFileSync(configPath, distributionConfig(port, dataDir, { ...options, htpasswdPath, debugPort }));
    try {
      if (debugPort !== undefined) {
        // /v2/ answers 401 with auth on: wait for the debug listener's health check, then report
        // the registry's own address.
        const server = await spawnServer({
          name: "docker-registry",
          command: DISTRIBUTION_BIN,
          args: ["serve", configPath],
          cwd: root,
          env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: root },
          port: debugPort,
          readyPath: "/debug/health",
          dataDir,
          ownedDirs: [root],
          logFile: join(root, "registry.log"),
          readyTimeoutMs: options.readyTimeoutMs,
        });
        const url = `http://127.0.0.1:${port}`;
        // The debug listener may come up a moment before the registry's own.
        await waitFor(async () => (await fetch(`${url}/v2/`)).status === 401, {
          what: `docker-registry to answer 401 on ${url}/v2/`,
        });
        return { ...server, url, hostPort: `127.0.0.1:${port}`, port };
      }
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
