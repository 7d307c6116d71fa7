import { parseArgs } from "node:util";
import { ConfigError, durationMs, loadConfig } from "../config/config.ts";
import { startRegistryServer } from "../registry/server.ts";
import type { Command } from "./command.ts";

const usage = `Usage: reestr serve [options]

Runs the registry (OCI Distribution v1.1 on /v2) with embedded storage:
blobs on the filesystem and metadata in SQLite under the data directory.

Options:
  --host <addr>         address to listen on          (REESTR_HOST, default 127.0.0.1)
  --port <n>            port to listen on, 0 = any     (REESTR_PORT, default 5000)
  --data <dir>          data directory                 (REESTR_DATA, default ./data)
  --config <file>       YAML configuration file        (REESTR_CONFIG)
  --log-level <level>   debug | info | warn | error    (REESTR_LOG_LEVEL, default info)
  --no-access-log       do not log one line per request
  --no-delete           refuse DELETE of manifests, tags and blobs (UNSUPPORTED)
  --htpasswd <file>     require basic auth on /v2 with this htpasswd file (bcrypt)
                        (REESTR_HTPASSWD; config: auth: {htpasswd, realm, anonymousPull})
  -h, --help            show this help

Precedence: flags > environment > config file > defaults.

Endpoints: /v2/ (registry API), /healthz, /readyz, /metrics, /api/status, and with a
\`watch\` section in the config, /api/watch/registries[/<name>[/history?tag=&limit=]].

A \`watch\` section (the same as \`reestr watch\`'s file: registries: [{name, url, repository,
...}]) makes the server scan those registries on their intervals; results are kept in
<dataDir>/watch.sqlite and exported as reestr_watch_* metrics.
With auth, every /v2 request needs a user of the file (\`reestr user add\`), answered 401
with a Basic challenge otherwise; \`anonymousPull: true\` lets GET/HEAD through without
credentials (the /v2/ ping still asks to log in). Any user may pull, push and delete.
Stop with SIGTERM or Ctrl-C: in-flight requests finish, new ones are refused.

Example:
  reestr serve --port 5000 --data /var/lib/reestr
  skopeo copy --dest-tls-verify=false oci:./image:latest docker://127.0.0.1:5000/demo:latest
`;

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      data: { type: "string" },
      config: { type: "string" },
      "log-level": { type: "string" },
      "no-access-log": { type: "boolean" },
      "no-delete": { type: "boolean" },
      htpasswd: { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: false,
  });
  const flags: Record<string, unknown> = {
    host: values.host,
    dataDir: values.data,
    "log.level": values["log-level"],
    "auth.htpasswd": values.htpasswd,
  };
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port)) throw new ConfigError(`--port: expected a number, got "${values.port}"`);
    flags.port = port;
  }
  if (values["no-access-log"]) flags["log.accessLog"] = false;
  if (values["no-delete"]) flags["storage.deleteEnabled"] = false;

  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig({ file: values.config ?? process.env.REESTR_CONFIG, env: process.env, flags });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`reestr serve: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  const server = await startRegistryServer({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    deleteEnabled: config.storage.deleteEnabled,
    uploadExpiryMs: durationMs(config.storage.uploadExpiry),
    sync: config.storage.sync,
    logLevel: config.log.level,
    accessLog: config.log.accessLog,
    shutdownTimeoutMs: durationMs(config.shutdownTimeout),
    watch: config.watch,
    auth: config.auth,
  });

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      server.logger.info("shutting down", { signal });
      server.close().then(
        () => resolve(0),
        (error) => {
          server.logger.error("shutdown failed", { err: error });
          server.logger.flush();
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

export default {
  name: "serve",
  summary: "run the registry (embedded storage by default)",
  usage,
  run,
} satisfies Command;
