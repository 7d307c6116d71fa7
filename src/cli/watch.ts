import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../config/config.ts";
import { JsonLogger, type LogLevel, type LogSink } from "../util/logger.ts";
import type { ScanEvent, WatchScheduler } from "../watcher/scheduler.ts";
import { loadWatchConfig } from "../watcher/watch-config.ts";
import { createWatcher } from "../watcher/watcher.ts";
import { formatBytes } from "./args.ts";
import { type Command, UsageError } from "./command.ts";
import { waitForStop } from "./stop-signal.ts";

const usage = `Usage: reestr watch -c <file> [options]

Scans every registry entry of the watch config on its own interval (scanInterval) and keeps
each entry's latest status and the history of digest changes (tag T moved from A to B at time
t) in <data>/watch.sqlite. Logs one JSON line per scan on stdout. SIGHUP re-reads the config
(added, changed and removed entries take effect at once; results of removed entries are
forgotten). Stop with SIGTERM or Ctrl-C: running scans are cancelled and the store is closed.

Options:
  -c, --config <file>   watch config, YAML or JSON (required)
  --data <dir>          data directory (default: the file's dataDir, else REESTR_DATA, else ./data)
  --once                scan every entry once, print a summary and exit
  --json                with --once: print the results as JSON instead of a table
  --log-level <level>   debug | info | warn | error (default info; warn with --once, on stderr)
  -h, --help            show this help

Exit status: 0; with --once, 1 when any scan Failed; 2 for a bad config or bad flags.

Example watch.yaml:
  dataDir: /var/lib/reestr
  registries:
    - name: nginx                        # unique; key of the stored status and history
      url: https://registry-1.docker.io
      repository: library/nginx
      scanInterval: 600                  # seconds (default 300, at least 10)
      tagFilter:
        include: ["^1\\\\.2[0-9]\\\\."]
        exclude: ["-alpine$"]
        sort: semver                     # semver | alphabetical | numerical | created
        semverCoerce: true               # with semver: 1.0 as 1.0.0, v1 as 1.0.0 (else left out)
        limit: 10
    - name: app
      url: https://registry.example.com
      repository: company/app
      credentials:
        username: robot
        passwordEnv: APP_REGISTRY_PASSWORD   # or password / passwordFile
      scanConfig: { timeout: 30, retries: 3, concurrency: 5 }
      vulnerabilityScanning:
        enabled: true                    # needs trivy on PATH (or REESTR_TRIVY)
        severityThreshold: HIGH
        interval: 86400

Every field of an entry besides name is a Registry spec field (see the operator's CRD).
`;

export interface WatchIo {
  stdout?: LogSink;
  stderr?: LogSink;
  env?: NodeJS.ProcessEnv;
  /** Stops the watcher when aborted (instead of SIGTERM / SIGINT). */
  signal?: AbortSignal;
  /** Called once the scheduler has started (not with --once). */
  onStarted?: (scheduler: WatchScheduler) => void;
  /** Receives the config reload trigger (instead of listening for SIGHUP). */
  reload?: (trigger: () => void) => void;
}

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))),
    )
    .map((row) => row.join("  ").trimEnd())
    .join("\n");
}

/** The --once summary: one row per entry. */
export function summaryTable(events: ScanEvent[]): string {
  const rows = [["ENTRY", "REPOSITORY", "STATUS", "TAGS", "CHANGED", "SIZE", "DURATION", "MESSAGE"]];
  for (const event of events) {
    const size = event.result.images.reduce((sum, image) => sum + image.size, 0);
    rows.push([
      event.entry,
      `${event.url.replace(/^https?:\/\//, "")}/${event.repository}`,
      event.status,
      String(event.tags),
      String(event.changed),
      formatBytes(size),
      `${(event.durationMs / 1000).toFixed(1)}s`,
      (event.message ?? "").replace(/\s+/g, " "),
    ]);
  }
  return pad(rows);
}

/** `reestr watch` with injectable output and stop signal (tests); `run` is this with the process's. */
export async function runWatch(argv: string[], io: WatchIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      data: { type: "string" },
      once: { type: "boolean" },
      json: { type: "boolean" },
      "log-level": { type: "string" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values.config === undefined) throw new UsageError("a watch config file is required: -c <file>");
  if (values.json && !values.once) throw new UsageError("--json goes with --once (scans are logged as JSON)");
  const level = (values["log-level"] ?? (values.once ? "warn" : "info")) as LogLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
  }

  let config: Awaited<ReturnType<typeof loadWatchConfig>>;
  try {
    config = await loadWatchConfig(values.config);
  } catch (error) {
    if (error instanceof ConfigError) {
      stderr.write(`reestr watch: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const dataDir = resolve(values.data ?? config.dataDir ?? (env.REESTR_DATA || "./data"));
  // --once keeps stdout for the summary; the watcher's own log lines go to stderr.
  const logger = new JsonLogger({
    level,
    sink: values.once ? stderr : stdout,
    bindings: { component: "watch" },
  });
  const watcher = createWatcher({ entries: config.registries, dataDir, logger });
  const { scheduler } = watcher;

  try {
    if (values.once) {
      const events = await scheduler.runOnce();
      logger.flush();
      if (values.json) {
        const results = events.map((event) => ({
          entry: event.entry,
          url: event.url,
          repository: event.repository,
          changed: event.changed,
          durationMs: event.durationMs,
          status: event.result,
          ...(event.stats ? { stats: event.stats } : {}),
        }));
        stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      } else {
        stdout.write(`${summaryTable(events)}\n`);
      }
      return events.some((event) => event.status === "Failed") ? 1 : 0;
    }

    logger.info("watching", { entries: config.registries.length, dataDir });
    await watcher.start();
    io.onStarted?.(scheduler);
    // SIGHUP re-reads the config: added, removed and changed entries take effect without a
    // restart; a config that no longer parses is logged and the running one stays in force.
    const configFile = values.config;
    const onHangup = () => {
      void (async () => {
        try {
          const reloaded = await loadWatchConfig(configFile);
          await watcher.reload(reloaded.registries);
        } catch (error) {
          logger.error("watch config reload failed; the previous config stays in force", {
            file: configFile,
            error: (error as Error).message,
          });
        }
      })();
    };
    if (io.reload) io.reload(onHangup);
    else process.on("SIGHUP", onHangup);
    const reason = await waitForStop(io.signal);
    process.off("SIGHUP", onHangup);
    logger.info("shutting down", { signal: reason });
    await scheduler.stop();
    return 0;
  } finally {
    await watcher.close();
    logger.flush();
  }
}

async function run(argv: string[]): Promise<number> {
  return runWatch(argv);
}

export default {
  name: "watch",
  summary: "scan registries on a schedule and keep their tags, digests and history",
  usage,
  run,
} satisfies Command;
