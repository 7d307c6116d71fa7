import { parseArgs } from "node:util";
import { type RunningServer, startServer } from "../app/server.ts";
import { ConfigError, loadConfig } from "../config/config.ts";
import { ListenError } from "../http/listen.ts";
import { DataDirLockedError } from "../util/data-dir-lock.ts";
import { tuneGarbageCollection } from "../util/gc-tuning.ts";
import type { Command } from "./command.ts";

const usage = `Usage: reestr serve [options]

Runs the registry (OCI Distribution v1.1 on /v2) with embedded storage:
blobs on the filesystem and metadata in SQLite under the data directory, which is this
server's alone while it runs (<data>/reestr.lock: a second serve on it is refused, exit 2).

Options:
  --host <addr>         address to listen on          (REESTR_HOST, default 127.0.0.1)
  --port <n>            port to listen on, 0 = any     (REESTR_PORT, default 5000)
  --data <dir>          data directory                 (REESTR_DATA, default ./data)
  -c, --config <file>   YAML configuration file        (REESTR_CONFIG)
  --log-level <level>   debug | info | warn | error    (REESTR_LOG_LEVEL, default info)
  --no-access-log       do not log one line per request
  --no-delete           refuse DELETE of manifests, tags and blobs (UNSUPPORTED)
  --htpasswd <file>     require auth on /v2 with the users of this htpasswd file (bcrypt)
                        (REESTR_HTPASSWD; config: auth: {htpasswd, realm, anonymousPull})
  --auth-mode <mode>    basic (Basic credentials on every request, the default) or token
                        (Docker's token flow: /auth/token issues signed JWTs) (REESTR_AUTH_MODE)
  --anonymous-pull      let anonymous callers pull (REESTR_ANONYMOUS_PULL)
  --embedded-users      users also in <data>/users.sqlite (\`reestr user add --embedded\`)
                        (REESTR_EMBEDDED_USERS)
  --tls                 serve HTTPS with an automatic local CA and server certificate,
                        kept in <data>/tls/ and renewed before expiry without a restart;
                        trust the CA with \`reestr cert ca\`                   (REESTR_TLS)
  --tls-names <list>    extra names (comma-separated DNS names or IPs) for the automatic
                        certificate, besides localhost, 127.0.0.1, ::1, the host name
                        and registry.local                              (REESTR_TLS_NAMES)
  --tls-cert <file>     serve HTTPS with your own PEM certificate (chain) ...
  --tls-key <file>      ... and its key; both reloaded when they change
                        (REESTR_TLS_CERT, REESTR_TLS_KEY)
  -h, --help            show this help

Precedence: flags > environment > config file > defaults.

Endpoints: / (the web catalogue in a browser), /v2/ (registry API), /healthz, /readyz,
/metrics, /api/ (the catalogue's JSON API, document at /api/openapi.json; /api/auth/… for the
web login and personal access tokens when auth is on), /api/status, and with a \`watch\` section
in the config, /api/watch/registries[/<name>[/history?tag=&limit=|/scan]].

A \`catalog\` section lists remote registries the web catalogue shows beside this one
(registries: [{id, displayName, baseUrl, auth: {type: anonymous|basic|bearer}, tls}] or
registriesFile; secrets only from REESTR_REGISTRY_<ID>_USERNAME/_PASSWORD/_TOKEN), and its
cache (memory by default, Redis with REESTR_REDIS_URL). See docs/catalogue.md.

A \`watch\` section (the same as \`reestr watch\`'s file: registries: [{name, url, repository,
...}]) makes the server scan those registries on their intervals; results are kept in
<dataDir>/watch.sqlite and exported as reestr_watch_* metrics.
With auth, every /v2 request needs a user of the file (\`reestr user add\`), answered 401
with a Basic challenge otherwise; \`anonymousPull: true\` lets GET/HEAD through without
credentials (the /v2/ ping still asks to log in). Without \`auth.rules\` any user may pull,
push and delete; with them, the first rule matching the caller and the repository decides
(docs/security.md: users, tokens, groups, rules).
The \`limits\` section sets rate limits per client IP and per user (429 TOOMANYREQUESTS), the
failed-login lockout (on: 10 failures in 5m), body and header size limits and timeouts; the
\`audit\` section ({file, log, sync}; REESTR_AUDIT_FILE) records who pushed, pulled and deleted
what (docs/security.md: TLS, Hardening).
Pushes leave storage.reserve (REESTR_STORAGE_RESERVE, default 16MiB, or e.g. "1%") free on the
data directory's disk for metadata and deletes: below it pushes get 507 STORAGE_FULL, /readyz is
not ready, pulls and deletes go on (docs/operations.md). \`reestr scrub\` re-hashes every blob.
Stop with SIGTERM or Ctrl-C: in-flight requests finish, new ones are refused. SIGHUP re-reads
the config's watch section (watched registries added, changed or removed without a restart).

Example:
  reestr serve --port 5000 --data /var/lib/reestr
  skopeo copy --dest-tls-verify=false oci:./image:latest docker://127.0.0.1:5000/demo:latest
  reestr cert ca --data /var/lib/reestr      # the CA and how to trust it (created if new)
  reestr serve --tls --data /var/lib/reestr
`;

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      data: { type: "string" },
      config: { type: "string", short: "c" },
      "log-level": { type: "string" },
      "no-access-log": { type: "boolean" },
      "no-delete": { type: "boolean" },
      htpasswd: { type: "string" },
      "auth-mode": { type: "string" },
      "anonymous-pull": { type: "boolean" },
      "embedded-users": { type: "boolean" },
      tls: { type: "boolean" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-names": { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: false,
  });
  const flags: Record<string, unknown> = {
    host: values.host,
    dataDir: values.data,
    "log.level": values["log-level"],
    "auth.htpasswd": values.htpasswd,
    "auth.mode": values["auth-mode"],
    "auth.anonymousPull": values["anonymous-pull"],
    "auth.embeddedUsers": values["embedded-users"],
    "tls.enabled": values.tls,
    "tls.cert": values["tls-cert"],
    "tls.key": values["tls-key"],
    "tls.names": values["tls-names"],
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

  // Blob pushes otherwise run V8 into a mark-compact every few MiB (see gc-tuning.ts).
  tuneGarbageCollection();
  let server: RunningServer;
  try {
    server = await startServer(config);
  } catch (error) {
    // A taken port, a data directory that cannot be created or is another server's, a bad file
    // named in the config: say it in a line, not a stack.
    if (error instanceof ListenError || error instanceof ConfigError || error instanceof DataDirLockedError) {
      process.stderr.write(`reestr serve: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      server.logger.info("shutting down", { signal });
      server.close().then(
        () => resolve(0),
        (error: unknown) => {
          server.logger.error("shutdown failed", { err: error });
          server.logger.flush();
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    // SIGHUP re-reads the config for the watch section: added, changed and removed registries
    // take effect without a restart. Other settings (port, storage, auth) need a restart.
    process.on("SIGHUP", () => {
      void reloadWatch(server, values.config ?? process.env.REESTR_CONFIG, flags);
    });
  });
}

async function reloadWatch(
  server: RunningServer,
  file: string | undefined,
  flags: Record<string, unknown>,
): Promise<void> {
  try {
    const config = await loadConfig({ file, env: process.env, flags });
    const entries = config.watch?.registries ?? [];
    if (!server.watcher) {
      if (entries.length > 0) {
        server.logger.warn("config reloaded: the watch section was added; restart to start watching");
      }
      return;
    }
    await server.watcher.reload(entries);
  } catch (error) {
    server.logger.error("config reload failed; the running config stays in force", {
      error: (error as Error).message,
    });
  }
}

export default {
  name: "serve",
  summary: "run the registry (embedded storage by default)",
  usage,
  run,
} satisfies Command;
