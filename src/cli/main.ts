import { describeTlsError } from "../client/errors.ts";
import { ConfigError } from "../config/config.ts";
import { VERSION } from "../version.ts";
import { type Command, UsageError } from "./command.ts";

/** Commands are loaded lazily so `reestr list` does not pay for the server's imports. */
const COMMANDS: Record<string, () => Promise<{ default: Command }>> = {
  serve: () => import("./serve.ts"),
  status: () => import("./status.ts"),
  gc: () => import("./gc.ts"),
  scrub: () => import("./scrub.ts"),
  list: () => import("./list.ts"),
  push: () => import("./push.ts"),
  pull: () => import("./pull.ts"),
  scan: () => import("./scan.ts"),
  watch: () => import("./watch.ts"),
  deploy: () => import("./deploy.ts"),
  kind: () => import("./kind.ts"),
  user: () => import("./user.ts"),
  retention: () => import("./retention.ts"),
  cert: () => import("./cert.ts"),
  ui: () => import("./ui.ts"),
  operator: () => import("./operator.ts"),
  migrate: () => import("./migrate.ts"),
};

async function loadAll(): Promise<Command[]> {
  const loaded: Command[] = [];
  for (const load of Object.values(COMMANDS)) {
    try {
      loaded.push((await load()).default);
    } catch {
      // A command whose module is missing is left out of the overview.
    }
  }
  return loaded;
}

async function overview(): Promise<string> {
  const commands = await loadAll();
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `reestr ${VERSION}: a container registry platform (OCI Distribution v1.1 registry and more)`,
    "",
    "Usage: reestr <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `reestr <command> --help` for a command's options. Every command takes --json for scripts.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${await overview()}\n`);
    return name ? 0 : 1;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`reestr: unknown command "${name}"\n\n${await overview()}\n`);
    return 2;
  }
  const command = (await load()).default;
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.usage.trimEnd()}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      process.stderr.write(
        `reestr ${name}: ${(error as Error).message}\nRun \`reestr ${name} --help\` for usage.\n`,
      );
      return 2;
    }
    process.stderr.write(`reestr ${name}: ${describeTlsError(error)?.message ?? (error as Error).message}\n`);
    return 1;
  }
}
