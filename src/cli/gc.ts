import { parseArgs } from "node:util";
import type { GcRun } from "../registry/lifecycle/gc-service.ts";
import { AdminApiError, adminApi } from "./admin-api.ts";
import { clientFor, DEFAULT_URL, formatBytes, printJson, registryUrl } from "./args.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./command.ts";

const usage = `Usage: reestr gc [url] [options]

Runs garbage collection on a running Reestr server, which keeps serving meanwhile: deletes the
blobs no manifest references any more (after the grace period, 1h by default), blob links and
repositories left empty, stray files from crashes and expired uploads; with --untagged (or
gc.untagged in the server's config) also manifests no tag or index holds.

Options:
  --dry-run             list what would go and how many bytes, change nothing
  --untagged            also remove untagged manifests this run
  --keep-untagged       keep untagged manifests this run (overrides gc.untagged)
  --json                print the run as JSON on stdout (for scripts)
  -h, --help            show this help

Environment:
  REESTR_URL            server used when no url is given (default ${DEFAULT_URL})
  REESTR_USERNAME, REESTR_PASSWORD   an administrator's credentials; else docker's config.json

Examples:
  reestr gc --dry-run                      what would a run free on the local server?
  reestr gc https://registry.example.com   collect now (as an administrator)

Exit status: 0 when the run succeeded, 1 when it failed or the server refused.
`;

/** How often the run's progress is polled. */
const POLL_MS = 500;
/** Dry-run items printed for humans (all of them with --json). */
const SHOWN = 50;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean" },
      "dry-run": { type: "boolean" },
      untagged: { type: "boolean" },
      "keep-untagged": { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError("expected at most one server URL");
  if (values.untagged && values["keep-untagged"])
    throw new UsageError("--untagged and --keep-untagged contradict each other");
  const url = registryUrl(positionals[0]);
  const client = clientFor(url);
  const api = adminApi(client, url);
  const json = values.json ?? false;
  const dryRun = values["dry-run"] ?? false;
  const query = new URLSearchParams({ dryRun: String(dryRun) });
  if (values.untagged) query.set("untagged", "true");
  if (values["keep-untagged"]) query.set("untagged", "false");
  const status = (line: string) => {
    if (!json && process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`);
  };
  try {
    const started = await api.call<GcRun | { error: { details: GcRun } }>(
      "POST",
      `/api/admin/gc?${query}`,
      [202, 409],
    );
    if (started.status === 409) {
      const running = (started.body as { error: { details: GcRun } }).error.details;
      throw new AdminApiError(
        `run ${running.id} (started ${running.startedAt}) is still in progress; try again when it ends`,
      );
    }
    const id = (started.body as GcRun).id;
    let current = started.body as GcRun;
    // Bounded: a run that goes on for a day is reported as still running.
    for (let polls = 0; current.status === "running" && polls < (24 * 3600 * 1000) / POLL_MS; polls++) {
      status(`garbage collection ${dryRun ? "(dry run) " : ""}run ${id}: ${current.phase ?? "starting"}…`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const { body } = await api.call<{ runs: GcRun[] }>("GET", "/api/admin/gc");
      current = body.runs.find((r) => r.id === id) ?? current;
    }
    status("");
    if (json) printJson(current);
    else process.stdout.write(describe(url, current));
    return current.status === "succeeded" ? 0 : 1;
  } catch (error) {
    if (error instanceof AdminApiError) {
      process.stderr.write(`reestr gc: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    client.close();
  }
}

/** The run for humans: one summary line, and with a dry run the items that would go. */
export function describe(url: string, run: GcRun): string {
  if (run.status === "running")
    return `${url}: run ${run.id} is still running (${run.phase ?? "starting"})\n`;
  if (run.status === "failed") return `${url}: garbage collection failed: ${run.error}\n`;
  const r = run.removed!;
  const verb = run.dryRun ? "would free" : "freed";
  const lines = [
    `${url}: garbage collection${run.dryRun ? " dry run" : ""} ${verb} ${formatBytes(r.bytesFreed)} in ${formatMs(run.durationMs ?? 0)}`,
    `  blobs:          ${r.blobs} (${formatBytes(r.blobBytes)})`,
    `  manifests:      ${r.manifests}${run.untagged ? "" : " (untagged manifests kept)"}`,
    `  blob links:     ${r.links}`,
    `  repositories:   ${r.repositories}`,
    `  stray files:    ${r.strayFiles} (${formatBytes(r.strayBytes)})`,
    `  expired uploads: ${r.uploads}`,
  ];
  if (run.dryRun && run.items) {
    const items = [
      ...run.items.repositories.map((name) => `  repository ${name}`),
      ...run.items.manifests.map((m) => `  manifest   ${m.repository}@${m.digest}`),
      ...run.items.blobs.map((b) => `  blob       ${b.digest}  ${formatBytes(b.size)}`),
      ...run.items.strayFiles.map((b) => `  stray      ${b.digest}  ${formatBytes(b.size)}`),
    ];
    if (items.length > 0) lines.push("", "Would remove:", ...items.slice(0, SHOWN));
    if (items.length > SHOWN || run.items.truncated) lines.push(`  … and more (use --json for the list)`);
  }
  return `${lines.join("\n")}\n`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export default {
  name: "gc",
  summary: "run garbage collection on a running server (--dry-run lists what would go)",
  usage,
  run,
} satisfies Command;
