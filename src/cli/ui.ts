import { parseArgs } from "node:util";
import { startUiServer } from "../app/ui-server.ts";
import { loadRegistriesFile } from "../catalog/registries-config.ts";
import { ConfigError } from "../config/config.ts";
import { parseDuration } from "../util/duration.ts";
import { JsonLogger, type LogLevel } from "../util/logger.ts";
import { type Command, UsageError } from "./command.ts";

const usage = `Usage: reestr ui -c <registries.yaml> [options]

Serves the web catalogue alone, against the remote registries of a registries file: the app
on /, its JSON API on /api (OpenAPI 3.1 at /api/openapi.json). No registry is served here;
\`reestr serve\` shows its own registry in the same catalogue.

Options:
  -c, --config <file>   registries file (YAML): a list, or {registries: [...], cache: {...}}
  --host <addr>         address to listen on (default 127.0.0.1)
  --port <n>            port to listen on, 0 = any (default 5080)
  --probe-timeout <d>   per-registry probe timeout, e.g. 5s (default 5s)
  --log-level <level>   debug | info | warn | error (default info)
  --json                print {url, registries} as JSON once listening
  -h, --help            show this help

Registries file:
  registries:
    - id: ghcr
      displayName: GitHub Container Registry
      baseUrl: https://ghcr.io
      auth: { type: bearer }            # token from REESTR_REGISTRY_GHCR_TOKEN
      repositories: [myorg/app]         # registries without a catalog
    - id: lab
      baseUrl: http://registry.lab:5000
      auth: { type: basic }             # REESTR_REGISTRY_LAB_USERNAME / _PASSWORD
      tls: { allowHttp: true }

Secrets are never written in the file: credentials come from REESTR_REGISTRY_<ID>_USERNAME,
_PASSWORD and _TOKEN (or the variables named by usernameEnv, passwordEnv, tokenEnv).
Environment: REESTR_REDIS_URL puts the cache in Redis (default: in memory).

Example:
  REESTR_REGISTRY_GHCR_TOKEN=ghp_… reestr ui -c registries.yaml --port 8080
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      host: { type: "string" },
      port: { type: "string" },
      "probe-timeout": { type: "string" },
      "log-level": { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const file = values.config ?? process.env.REESTR_UI_CONFIG;
  if (!file) throw new UsageError("a registries file is required: reestr ui -c registries.yaml");
  let port = 5080;
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port) || Number(values.port) > 65535)
      throw new UsageError(`--port: expected a port number, got "${values.port}"`);
    port = Number(values.port);
  }
  const level = (values["log-level"] ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(level))
    throw new UsageError(`--log-level: expected debug, info, warn or error, got "${level}"`);
  let probeTimeoutMs = 5000;
  if (values["probe-timeout"] !== undefined) {
    try {
      probeTimeoutMs = parseDuration(values["probe-timeout"]);
    } catch (error) {
      throw new UsageError(`--probe-timeout: ${(error as Error).message}`);
    }
  }
  let loaded: Awaited<ReturnType<typeof loadRegistriesFile>>;
  try {
    loaded = await loadRegistriesFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`reestr ui: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = new JsonLogger({ level });
  const server = await startUiServer({
    registries: loaded.registries,
    cache: loaded.cache,
    host: values.host ?? "127.0.0.1",
    port,
    logger: logger.child({ component: "catalog" }),
    probeTimeoutMs,
  });
  logger.info("reestr ui listening", {
    url: server.url,
    registries: loaded.registries.map((r) => r.id),
    cache: server.catalog.catalog.cache.cache.kind,
  });
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ url: server.url, registries: loaded.registries.map((r) => r.id) })}\n`,
    );
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info("shutting down", { signal });
      server.close().then(
        () => {
          logger.flush();
          resolve(0);
        },
        (error: unknown) => {
          logger.error("shutdown failed", { err: error });
          logger.flush();
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

const command: Command = {
  name: "ui",
  summary: "serve the web catalogue alone against remote registries",
  usage,
  run,
};
export default command;
