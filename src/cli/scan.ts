/**
 * `reestr scan <url>/<repository>`: one pass of the scan engine (issue 3 §3) over a repository of
 * any registry, printed as a table (or, with --json, the Registry status object). On a terminal a
 * progress bar counts the tags inspected; elsewhere nothing is drawn.
 *
 * The command builds a `Registry` spec from its flags (so the same validation as `reestr watch`
 * applies), runs `ScanEngine.run` once, and exits 0 on Success, 1 on Failed.
 */
import { parseArgs } from "node:util";
import type { RegistryClient } from "../client/registry-client.ts";
import { formatPlatform } from "../oci/platform.ts";
import { ConfigError } from "../util/config-error.ts";
import type { ResolvedCredentials } from "../watcher/credentials.ts";
import { defaultClient, ScanEngine, tagsToInspect } from "../watcher/engine.ts";
import { TrivyScanner } from "../watcher/scanners/trivy.ts";
import {
  type ImageInfo,
  parseRegistrySpec,
  type RegistrySpec,
  type RegistrySpecInput,
  type RegistryStatus,
  TAG_SORTS,
  type TagSort,
} from "../watcher/spec.ts";
import { credentialsFor, formatBytes, parseTarget } from "./args.ts";
import { type Command, UsageError } from "./command.ts";

const usage = `Usage: reestr scan <url>/<repository> [options]

Scans one repository of a registry once: every tag's digest, size, platforms and creation time,
and with --vulnerabilities a Trivy summary per image. Prints a table, or the status as JSON.

  reestr scan registry-1.docker.io/library/nginx --include '^1\\.2[0-9]' --sort semver --limit 5
  reestr scan http://127.0.0.1:5000/team/app --json

Options:
  --include <regex>       keep tags matching this regular expression (repeatable; any matches)
  --exclude <regex>       drop tags matching this regular expression (repeatable)
  --sort <order>          ${TAG_SORTS.join(" | ")} (newest/highest first)
  --semver-coerce         with --sort semver: read partial versions as semver's coerce does
                          (1.0 as 1.0.0, v1 as 1.0.0) instead of leaving them out
  --ascending             sort oldest/lowest first instead
  --limit <n>             keep the first n tags after include, exclude and sort
  --username <name>       registry user; the password comes from --password-env
  --password-env <VAR>    environment variable holding the password
  --insecure              plain HTTP / unverified TLS for the registry
  --vulnerabilities       scan each image with Trivy (REESTR_TRIVY or "trivy" on PATH)
  --json                  print the Registry status object on stdout (for scripts)
  -h, --help              show this help

Without --username, credentials come from REESTR_USERNAME / REESTR_PASSWORD, else the host's
entry in $DOCKER_CONFIG/config.json or ~/.docker/config.json.
Exit status: 0 when the scan succeeded, 1 when it failed, 2 for bad arguments.
`;

interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ScanCliOptions {
  env?: NodeJS.ProcessEnv;
  stdout?: Output;
  stderr?: Output;
  /** Replaces the engine's default client (tests). */
  client?: (spec: RegistrySpec, credentials: ResolvedCredentials | undefined) => RegistryClient;
}

const FLAG_OF: Record<string, string> = {
  "tagFilter.include": "--include",
  "tagFilter.exclude": "--exclude",
  "tagFilter.limit": "--limit",
  "tagFilter.sort": "--sort",
  "tagFilter.semverCoerce": "--semver-coerce",
  url: "<url>",
  repository: "<repository>",
  credentials: "--username/--password-env",
};

function flagOf(path: string): string {
  const base = path.replace(/\[\d+\]$/, "");
  for (const [prefix, flag] of Object.entries(FLAG_OF)) {
    if (base === prefix || base.startsWith(`${prefix}.`)) return flag;
  }
  return path;
}

function checkRegexes(flag: string, patterns: string[]): void {
  for (const pattern of patterns) {
    try {
      new RegExp(pattern);
    } catch (error) {
      throw new UsageError(`${flag}: invalid regular expression "${pattern}": ${(error as Error).message}`);
    }
  }
}

/** Parses argv into a spec (throws UsageError naming the flag) plus output choices. */
export function parseScanArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): { spec: RegistrySpec; json: boolean; credentials: ResolvedCredentials | undefined } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      include: { type: "string", multiple: true },
      exclude: { type: "string", multiple: true },
      limit: { type: "string" },
      sort: { type: "string" },
      ascending: { type: "boolean" },
      "semver-coerce": { type: "boolean" },
      username: { type: "string" },
      "password-env": { type: "string" },
      insecure: { type: "boolean" },
      vulnerabilities: { type: "boolean" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "expected <url>/<repository>, e.g. registry-1.docker.io/library/nginx"
        : `expected one <url>/<repository>, got ${positionals.length} arguments`,
    );
  }
  const insecure = values.insecure ?? false;
  const target = parseTarget(positionals[0]!, { insecure, env });
  if (target.tag !== undefined || target.digest !== undefined) {
    throw new UsageError(
      `"${positionals[0]}": scan takes a repository, not a tag or digest (filter tags with --include)`,
    );
  }

  const include = values.include ?? [];
  const exclude = values.exclude ?? [];
  checkRegexes("--include", include);
  checkRegexes("--exclude", exclude);
  let limit: number | undefined;
  if (values.limit !== undefined) {
    if (!/^[0-9]+$/.test(values.limit) || Number(values.limit) < 1) {
      throw new UsageError(`--limit: expected a positive integer, got "${values.limit}"`);
    }
    limit = Number(values.limit);
  }
  let sort: TagSort | undefined;
  if (values.sort !== undefined) {
    if (!(TAG_SORTS as readonly string[]).includes(values.sort)) {
      throw new UsageError(`--sort: expected one of ${TAG_SORTS.join(", ")}, got "${values.sort}"`);
    }
    sort = values.sort as TagSort;
  }
  if (values.ascending && sort === undefined) {
    throw new UsageError("--ascending: needs --sort (without a sort the registry's order is kept)");
  }

  const username = values.username;
  const passwordEnv = values["password-env"];
  let credentials: ResolvedCredentials | undefined;
  if (username !== undefined || passwordEnv !== undefined) {
    if (username === undefined || username === "") {
      throw new UsageError("--password-env: needs --username");
    }
    if (passwordEnv === undefined) {
      throw new UsageError(
        "--username: needs --password-env <VAR> naming the variable that holds the password",
      );
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(passwordEnv)) {
      throw new UsageError(`--password-env: "${passwordEnv}" is not an environment variable name`);
    }
    const password = env[passwordEnv];
    if (password === undefined || password === "") {
      throw new UsageError(`--password-env: environment variable ${passwordEnv} is not set`);
    }
    credentials = { username, password };
  } else {
    credentials = credentialsFor(target.url, env);
  }

  const input: RegistrySpecInput = {
    url: target.url,
    repository: target.repository,
    insecureSkipVerify: insecure,
    tagFilter: {
      include,
      exclude,
      ...(limit !== undefined ? { limit } : {}),
      ...(sort !== undefined ? { sort } : {}),
      ...(values["semver-coerce"] ? { semverCoerce: true } : {}),
      order: values.ascending ? "ascending" : "descending",
    },
    vulnerabilityScanning: { enabled: values.vulnerabilities ?? false },
  };
  let spec: RegistrySpec;
  try {
    spec = parseRegistrySpec(input);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new UsageError(error.problems.map((p) => `${flagOf(p.path)}: ${p.message}`).join("; "));
    }
    throw error;
  }
  return { spec, json: values.json ?? false, credentials };
}

// ---- output -----------------------------------------------------------------------------

export function shortDigest(digest: string): string {
  const colon = digest.indexOf(":");
  return `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}

function platformsText(image: ImageInfo): string {
  if (image.platforms.length === 0) return "-";
  return image.platforms.map(formatPlatform).join(",");
}

function createdText(created: string | undefined): string {
  return created === undefined ? "-" : `${created.slice(0, 10)} ${created.slice(11, 16)}`;
}

function vulnsText(image: ImageInfo): string {
  const v = image.vulnerabilities;
  return v ? `${v.critical}/${v.high}/${v.medium}/${v.low}` : "-";
}

/** The human table of a status's images, columns padded to their widest cell. */
export function formatTable(status: RegistryStatus): string {
  const rows = [
    ["TAG", "DIGEST", "SIZE", "PLATFORMS", "CREATED", "VULNS C/H/M/L"],
    ...status.images.map((image) => [
      image.tag,
      shortDigest(image.digest),
      formatBytes(image.size),
      platformsText(image),
      createdText(image.created),
      vulnsText(image),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** A one-line bar of tags inspected, redrawn in place at most ten times a second. */
export function tagProgress(out: Output, now: () => number = Date.now) {
  let total: number | undefined;
  let done = 0;
  let last = 0;
  let drawn = false;
  const draw = (force: boolean) => {
    const t = now();
    if (!force && t - last < 100) return;
    last = t;
    const width = Math.max(20, Math.min(out.columns ?? 80, 120) - 40);
    const fraction = total ? Math.min(done / total, 1) : 0;
    const filled = Math.round(fraction * width);
    const bar = `[${"=".repeat(Math.max(filled - 1, 0))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}]`;
    out.write(`\x1b[2K\rScanning tags ${bar} ${done}/${total ?? "?"}`);
    drawn = true;
  };
  return {
    listed(count: number) {
      total = count;
      draw(true);
    },
    tagDone() {
      done++;
      draw(done === total);
    },
    finish() {
      if (drawn) out.write("\x1b[2K\r");
    },
  };
}

/** Wraps a client so the progress bar learns the tag count (after the filter) and each HEAD. */
function withProgress(client: RegistryClient, spec: RegistrySpec, progress: ReturnType<typeof tagProgress>) {
  const listTags = client.listTags.bind(client);
  client.listTags = async (repository, options) => {
    const tags = await listTags(repository, options);
    progress.listed(tagsToInspect(tags, spec.tagFilter).length);
    return tags;
  };
  const headManifest = client.headManifest.bind(client);
  client.headManifest = async (repository, reference, options) => {
    try {
      return await headManifest(repository, reference, options);
    } finally {
      progress.tagDone();
    }
  };
  return client;
}

export async function runScan(argv: string[], options: ScanCliOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const { spec, json, credentials } = parseScanArgs(argv, env);

  const progress = stderr.isTTY ? tagProgress(stderr) : undefined;
  const clients: RegistryClient[] = [];
  const engine = new ScanEngine({
    credentials: async () => credentials,
    client: ({ spec: s, credentials: c }) => {
      const client = options.client ? options.client(s, c) : defaultClient(s, c);
      clients.push(client);
      return progress ? withProgress(client, s, progress) : client;
    },
    ...(spec.vulnerabilityScanning.enabled
      ? { scanner: new TrivyScanner(env.REESTR_TRIVY ? { binary: env.REESTR_TRIVY } : {}) }
      : {}),
  });
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error("interrupted"));
  process.once("SIGINT", onSignal);
  let status: RegistryStatus;
  try {
    status = (await engine.run(spec, undefined, abort.signal)).status;
  } finally {
    process.removeListener("SIGINT", onSignal);
    progress?.finish();
    if (!options.client) for (const client of clients) client.close();
  }

  if (json) {
    stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  } else if (status.lastScanStatus === "Success") {
    stdout.write(
      status.images.length > 0
        ? `${formatTable(status)}\n`
        : `${spec.url}/${spec.repository}: no tags${spec.tagFilter.include.length + spec.tagFilter.exclude.length > 0 ? " match the filter" : ""}\n`,
    );
    if (status.message) stderr.write(`${status.message}\n`);
  }
  if (status.lastScanStatus !== "Success") {
    if (!json) stderr.write(`reestr scan: ${status.message ?? "scan failed"}\n`);
    return 1;
  }
  return 0;
}

/** `run(argv)` as main.ts calls it (bad flags throw UsageError, printed with the usage hint). */
export function run(argv: string[]): Promise<number> {
  return runScan(argv);
}

export default {
  name: "scan",
  summary: "scan a repository's tags, digests, sizes, platforms and vulnerabilities once",
  usage,
  run,
} satisfies Command;
