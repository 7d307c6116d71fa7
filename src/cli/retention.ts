import { parseArgs } from "node:util";
import type { RetentionResult } from "../registry/lifecycle/retention.ts";
import { adminApi } from "./admin-api.ts";
import { clientFor, DEFAULT_URL, printJson, registryUrl } from "./args.ts";
import { type Command, UsageError } from "./command.ts";

const usage = `Usage: reestr retention [url] [options]

Asks a running Reestr server (its /api/admin/retention, as an administrator) about its retention
policies. Without an option: the policies, the schedule, the next and the last run.

Options:
  --dry-run             show what a run would do: per repository, each tag with keep or delete
                        and why, and the manifests that would be deleted; nothing is deleted
  --run                 run the policies now and show what was deleted
  --policy <name>       only this policy (repeatable; with --dry-run or --run)
  --deletions-only      leave out the tags that stay
  --json                print the server's JSON answer (for scripts)
  -h, --help            show this help

Environment:
  REESTR_URL            server used when no url is given (default ${DEFAULT_URL})
  REESTR_USERNAME, REESTR_PASSWORD   an administrator's credentials; else the host's entry in
                        docker's config.json

Exit status: 0 on success, 1 when the server refused or a deletion failed.
`;

interface Status {
  schedule: string;
  scheduled: boolean;
  nextRun: string | null;
  deleteEnabled: boolean;
  policies: { name: string; repositories: string[] }[];
  lastRun: { startedAt: string; dryRun: boolean; trigger: string; summary: Record<string, number> } | null;
}

/** Rows of text as aligned columns. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function printResult(result: RetentionResult, deletionsOnly: boolean): void {
  const rows: string[][] = [["REPOSITORY", "TAG / MANIFEST", "ACTION", "REASON"]];
  for (const plan of result.repositories) {
    for (const decision of [...plan.tags, ...plan.manifests]) {
      if (decision.action === "keep" && deletionsOnly) continue;
      const action =
        decision.outcome && decision.outcome !== "deleted" ? `${decision.outcome}` : decision.action;
      const reason = decision.error ? `${decision.reason} (${decision.error})` : decision.reason;
      rows.push([
        plan.repository,
        "tag" in decision ? decision.tag : decision.digest.slice(0, 19),
        action,
        reason,
      ]);
    }
  }
  if (rows.length > 1) process.stdout.write(`${table(rows)}\n\n`);
  const s = result.summary;
  process.stdout.write(
    `${result.dryRun ? "dry run" : "run"}: ${s.repositories} repositories, ${s.tagsKept} tags kept, ` +
      `${s.tagsDeleted} tags ${result.dryRun ? "to delete" : "deleted"}, ${s.manifestsDeleted} manifests ` +
      `${result.dryRun ? "to delete" : "deleted"}${s.skipped ? `, ${s.skipped} skipped` : ""}${s.failed ? `, ${s.failed} failed` : ""}\n`,
  );
}

function printStatus(status: Status): void {
  const lines = [
    `schedule:   ${status.scheduled ? status.schedule : "not scheduled"}${status.nextRun ? ` (next ${status.nextRun})` : ""}`,
    `deletion:   ${status.deleteEnabled ? "enabled" : "disabled (storage.deleteEnabled: false): dry runs only"}`,
    `policies:   ${status.policies.length === 0 ? "none" : status.policies.map((p) => `${p.name} (${p.repositories.join(", ")})`).join("; ")}`,
  ];
  const last = status.lastRun;
  lines.push(
    `last run:   ${last ? `${last.startedAt} ${last.dryRun ? "dry run" : "run"} (${last.trigger}): ${last.summary.tagsDeleted} tags, ${last.summary.manifestsDeleted} manifests ${last.dryRun ? "to delete" : "deleted"}` : "none"}`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      "dry-run": { type: "boolean" },
      run: { type: "boolean" },
      policy: { type: "string", multiple: true },
      "deletions-only": { type: "boolean" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError("expected at most one server URL");
  if (values["dry-run"] && values.run) throw new UsageError("--dry-run and --run exclude each other");
  if (values.policy && !values["dry-run"] && !values.run) {
    throw new UsageError("--policy needs --dry-run or --run");
  }
  const url = registryUrl(positionals[0]);
  const client = clientFor(url);
  const api = adminApi(client, url);
  try {
    const running = values["dry-run"] || values.run;
    const query = new URLSearchParams({ dryRun: values.run ? "false" : "true" });
    for (const name of values.policy ?? []) query.append("policy", name);
    const answer = running
      ? await api.call("POST", `/api/admin/retention?${query}`)
      : await api.call("GET", "/api/admin/retention");
    if (values.json) printJson(answer.body);
    else if (running) printResult(answer.body as RetentionResult, values["deletions-only"] ?? false);
    else printStatus(answer.body as Status);
    return running && ((answer.body as RetentionResult).summary.failed ?? 0) > 0 ? 1 : 0;
  } finally {
    client.close();
  }
}

export default {
  name: "retention",
  summary: "show a server's retention policies, dry-run them (--dry-run) or run them (--run)",
  usage,
  run,
} satisfies Command;
