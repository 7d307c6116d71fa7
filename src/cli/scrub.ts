import { parseArgs } from "node:util";
import type { RegistryClient } from "../client/registry-client.ts";
import type { ScrubRun } from "../registry/lifecycle/scrub-service.ts";
import { type AdminApi, adminApi } from "./admin-api.ts";
import { clientFor, DEFAULT_URL, formatBytes, positiveNumber, printJson, registryUrl } from "./args.ts";
import { type Command, UsageError } from "./command.ts";

const usage = `Usage: reestr scrub [url] [options]

Asks a running Reestr server to check the integrity of its storage (POST /api/admin/scrub):
every stored blob is read back and re-hashed, and every manifest's references are checked
(blobs linked and their bytes present, child manifests present). A blob whose bytes no longer
match its digest is quarantined (moved to <data>/quarantine/) so it is never served; pushing
the image again stores it anew. Shows progress while it runs and prints a summary.

One scrub runs at a time: asking while one runs follows that one. The scrub reads one blob at
a time; --rate limits it further so pulls keep the disk.

Options:
  --rate <MB/s>         read at most this many megabytes (10^6 bytes) per second
  --no-wait             start the scrub and return at once (follow it with --status)
  --status              show the scrub in progress or the last one's result; start nothing
  --json                print the run as JSON on stdout (for scripts)
  -h, --help            show this help

Needs a registry administrator: credentials from REESTR_USERNAME / REESTR_PASSWORD, else the
host's entry in docker's config.json (sent as Basic auth; personal access tokens work too).

Environment:
  REESTR_URL            server used when no url is given (default ${DEFAULT_URL})
  REESTR_USERNAME, REESTR_PASSWORD   an administrator's credentials

Exit status: 0 when everything is sound, 1 when corrupt blobs or missing references were
found (or the scrub failed), 2 for bad usage.

Example:
  REESTR_USERNAME=admin REESTR_PASSWORD=… reestr scrub https://registry.example.com --rate 100
`;

const PATH = "/api/admin/scrub";
const POLL_MS = 1000;

/** `{ running, last }` of GET /api/admin/scrub. */
interface ScrubState {
  running: ScrubRun | null;
  last: ScrubRun | null;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      rate: { type: "string" },
      "no-wait": { type: "boolean" },
      status: { type: "boolean" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError("expected at most one server URL");
  const url = registryUrl(positionals[0]);
  const rateMB = positiveNumber(values.rate, "--rate");
  const json = values.json ?? false;
  const api = new ScrubApi(url);
  try {
    if (values.status) {
      const state = await api.get();
      const shown = state.running ?? state.last;
      if (json) printJson(state);
      else if (!shown) process.stdout.write(`${url}: no scrub has run since the server started\n`);
      else process.stdout.write(state.running ? `${progressLine(state.running)}\n` : summary(url, shown));
      return shown && !state.running ? exitCode(shown) : 0;
    }
    const query = rateMB === undefined ? "" : `?rate=${Math.round(rateMB * 1e6)}`;
    const { started, run: begun } = await api.start(query);
    if (!json && !started)
      process.stderr.write(`a scrub is already running (run ${begun.id}): following it\n`);
    if (values["no-wait"]) {
      if (json) printJson({ started, run: begun });
      else process.stdout.write(`scrub run ${begun.id} ${started ? "started" : "is running"} on ${url}\n`);
      return 0;
    }
    const finished = await api.follow(begun.id, json ? undefined : new ProgressLine());
    if (json) printJson(finished);
    else process.stdout.write(summary(url, finished));
    return exitCode(finished);
  } finally {
    api.close();
  }
}

/** The server's scrub API (src/cli/admin-api.ts: the credentials, refusals in words). */
class ScrubApi {
  readonly #client: RegistryClient;
  readonly #api: AdminApi;

  constructor(url: string) {
    this.#client = clientFor(url);
    this.#api = adminApi(this.#client, url);
  }

  close(): void {
    this.#client.close();
  }

  async get(): Promise<ScrubState> {
    return (await this.#api.call<ScrubState>("GET", PATH)).body;
  }

  async start(query: string): Promise<{ started: boolean; run: ScrubRun }> {
    return (await this.#api.call<{ started: boolean; run: ScrubRun }>("POST", `${PATH}${query}`, [200, 202]))
      .body;
  }

  /** Polls until run `id` has finished; its final state. */
  async follow(id: number, progress?: ProgressLine): Promise<ScrubRun> {
    try {
      for (;;) {
        const state = await this.get();
        if (state.running?.id === id) progress?.show(state.running);
        else if (state.last?.id === id) return state.last;
        else throw new Error(`scrub run ${id} is no longer known to the server (was it restarted?)`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    } finally {
      progress?.done();
    }
  }
}

/** One line of progress on a terminal, redrawn in place; nothing elsewhere. */
class ProgressLine {
  readonly #tty = process.stderr.isTTY === true;
  #drawn = false;

  show(run: ScrubRun): void {
    if (!this.#tty) return;
    process.stderr.write(`\r\x1b[2K${progressLine(run)}`);
    this.#drawn = true;
  }

  done(): void {
    if (this.#drawn) process.stderr.write("\r\x1b[2K");
  }
}

function progressLine(run: ScrubRun): string {
  const p = run.progress;
  const phase = p.phase === "blobs" ? "re-hashing blobs" : "checking manifests";
  return (
    `scrub run ${run.id}: ${phase}: ${p.blobsChecked} blobs (${formatBytes(p.bytesChecked)}), ` +
    `${p.manifestsChecked} manifests, ${p.corrupt} corrupt, ${p.missing} missing`
  );
}

function exitCode(run: ScrubRun): number {
  if (run.status !== "succeeded" || !run.result) return 1;
  const { corrupt, missing, unreadable } = run.result.counts;
  return corrupt + missing + unreadable > 0 ? 1 : 0;
}

function summary(url: string, run: ScrubRun): string {
  const result = run.result;
  if (run.status === "failed" || !result)
    return `scrub run ${run.id} of ${url} failed: ${run.error ?? run.status}\n`;
  const { corrupt, missing, unreadable } = result.counts;
  const problems = corrupt + missing + unreadable;
  const lines = [
    `scrub of ${url}: ${problems === 0 ? "everything is sound" : `${problems} problem${problems === 1 ? "" : "s"} found`} (${(result.durationMs / 1000).toFixed(1)} s)`,
    `  blobs:      ${result.blobsChecked} re-hashed, ${formatBytes(result.bytesChecked)} read`,
    `  manifests:  ${result.manifestsChecked} checked`,
    `  corrupt:    ${corrupt}${corrupt > 0 ? " (quarantined: never served; push the images again to heal them)" : ""}`,
    ...result.corrupt.map(
      (blob) =>
        `    ${blob.digest} (${formatBytes(blob.size)}): the bytes hash to ${blob.actual}${blob.quarantined ? "" : " (not moved)"}`,
    ),
    `  missing:    ${missing}`,
    ...result.missing.map(
      (entry) =>
        `    ${entry.repository}@${entry.manifest} names ${entry.kind} ${entry.digest}: ${entry.problem}`,
    ),
    ...(unreadable > 0
      ? [
          `  unreadable: ${unreadable}`,
          ...result.unreadable.map((blob) => `    ${blob.digest}: ${blob.error}`),
        ]
      : []),
    ...(result.truncated ? ["  (lists cut short; the counts are complete)"] : []),
  ];
  return `${lines.join("\n")}\n`;
}

export default {
  name: "scrub",
  summary: "check a running server's storage: re-hash every blob, quarantine corrupt ones",
  usage,
  run,
} satisfies Command;
