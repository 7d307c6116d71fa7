import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { openMetadata, openS3BlobStore } from "../app/server.ts";
import { loadConfig } from "../config/config.ts";
import { DATA_DIR_FILES, metadataPath } from "../registry/layout.ts";
import { SqliteMetadataStore } from "../registry/metadata/sqlite-metadata-store.ts";
import {
  type MigrationEnd,
  type MigrationProgress,
  type MigrationResult,
  migrateRegistry,
} from "../registry/migrate.ts";
import { FsBlobStore } from "../registry/storage/fs-blob-store.ts";
import { acquireDataDirLock, type DataDirLock } from "../util/data-dir-lock.ts";
import { JsonLogger } from "../util/logger.ts";
import { formatBytes, printJson } from "./args.ts";
import { type Command, UsageError } from "./command.ts";

const usage = `Usage: reestr migrate --from <data dir> --to <config file> [options]

Copies an embedded registry (a data directory: blobs/ and metadata.sqlite) into the storage a
configuration file names: typically S3 (storage.s3) and PostgreSQL (metadata.postgres), to move
a single server to replicas; or another data directory. The environment applies to the target
configuration as it does to \`reestr serve\` (REESTR_POSTGRES_URL, REESTR_S3_*).

Copied: every blob (streamed and re-hashed on the way: a blob whose bytes do not match its
digest stops the migration, named, and is never written), which repository links it, every
manifest with its tags and referrers (children before the indexes listing them), and pull
statistics. Not copied: uploads in progress, blob files no metadata knows, and dates (pushed
and tagged times become the migration's).

Resumable: what the target already holds is skipped, so after an interruption (Ctrl-C, a crash,
kill -9) run the same command again; it finishes the rest. Running it again after a finished
migration copies only what was pushed to the source since.

The source must not be served while it is copied: migrate takes <data dir>/reestr.lock and
refuses to start while \`reestr serve\` holds it (stop the server first; a read-only copy of a
live registry could miss what is pushed meanwhile). Start the new servers once it is done.

Options:
  --from <dir>          the source data directory
  --to <file>           the target's configuration file (reestr.yaml)
  --dry-run             count what would be copied; write nothing
  --jobs <n>            blobs copied at once (default 4; 1 to 64)
  --json                print the result as JSON on stdout (progress as JSON lines on stderr)
  -h, --help            show this help

Exit status: 0 when everything was copied, 1 when the migration failed (the message says which
blob or manifest) or a server holds the source, 2 for bad usage or configuration.

Example:
  systemctl stop reestr
  REESTR_POSTGRES_URL=postgresql://reestr:…@db:5432/reestr \\
    reestr migrate --from /var/lib/reestr --to /etc/reestr/production.yaml
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      "dry-run": { type: "boolean" },
      jobs: { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.from) throw new UsageError("--from <data dir> is required");
  if (!values.to) throw new UsageError("--to <config file> is required");
  const from = resolve(values.from);
  if (!existsSync(metadataPath(from)))
    throw new UsageError(`--from ${from}: not a Reestr data directory (no ${DATA_DIR_FILES.metadata} in it)`);
  const config = await loadConfig({ file: values.to, env: process.env });
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1 && jobs <= 64))
    throw new UsageError(`--jobs: expected a whole number from 1 to 64, got "${values.jobs}"`);
  const json = values.json ?? false;
  const dryRun = values["dry-run"] ?? false;
  const targetUsesDataDir = !config.storage.s3 || !config.metadata?.postgres;
  if (targetUsesDataDir && resolve(config.dataDir) === from)
    throw new UsageError(`--to ${values.to}: its dataDir is the source directory ${from}`);

  const locks: DataDirLock[] = [];
  const closing: { close(): unknown }[] = [];
  try {
    // Refused while a server runs on the source (or, for a data-dir target, on the target).
    locks.push(acquireDataDirLock(join(from, DATA_DIR_FILES.lock), from));
    if (targetUsesDataDir && !dryRun) {
      await mkdir(config.dataDir, { recursive: true });
      locks.push(acquireDataDirLock(join(config.dataDir, DATA_DIR_FILES.lock), config.dataDir));
    }
    const sourceMetadata = new SqliteMetadataStore(metadataPath(from));
    closing.push(sourceMetadata);
    const source: MigrationEnd = { blobs: await new FsBlobStore(from).init(), metadata: sourceMetadata };
    const logger = new JsonLogger({ level: "warn", sink: process.stderr });
    const targetBlobs = config.storage.s3
      ? await openS3BlobStore(config.storage.s3, logger, closing)
      : await new FsBlobStore(config.dataDir).init();
    await targetBlobs.check();
    const targetMetadata = await openMetadata(config, logger);
    closing.push(targetMetadata);
    const progress = new Progress(json);
    let result: MigrationResult;
    try {
      result = await migrateRegistry(
        source,
        { blobs: targetBlobs, metadata: targetMetadata },
        {
          dryRun,
          concurrency: jobs,
          allowSparseManifests: config.storage.allowSparseManifests,
          onProgress: (p) => progress.show(p),
        },
      );
    } finally {
      progress.done();
    }
    if (json) printJson(result);
    else process.stdout.write(summary(from, values.to, result));
    return 0;
  } finally {
    for (const opened of closing.reverse()) await opened.close();
    for (const lock of locks) lock.release();
  }
}

/** A bar redrawn in place on a terminal; JSON lines with --json; a line per phase otherwise. */
class Progress {
  readonly #json: boolean;
  readonly #tty = process.stderr.isTTY === true;
  #phase = "";
  #drawnAt = 0;

  constructor(json: boolean) {
    this.#json = json;
  }

  show(p: MigrationProgress): void {
    const changed = p.phase !== this.#phase;
    this.#phase = p.phase;
    // JSON lines: one per blob and manifest done, for scripts that follow (or stop) the run.
    if (this.#json) {
      process.stderr.write(`${JSON.stringify(p)}\n`);
      return;
    }
    const now = Date.now();
    if (!changed && now - this.#drawnAt < 100) return;
    this.#drawnAt = now;
    if (this.#tty) process.stderr.write(`\r\x1b[2K${line(p)}`);
    else if (changed) process.stderr.write(`${line(p)}\n`);
  }

  done(): void {
    if (this.#tty && !this.#json) process.stderr.write("\r\x1b[2K");
  }
}

function line(p: MigrationProgress): string {
  const fraction = p.bytesTotal === 0 ? 1 : p.bytesDone / p.bytesTotal;
  const width = 30;
  const filled = Math.round(Math.min(fraction, 1) * width);
  return (
    `${p.phase.padEnd(9)} [${"=".repeat(filled)}${" ".repeat(width - filled)}] ` +
    `blobs ${p.blobsDone}/${p.blobsTotal} (${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}), ` +
    `manifests ${p.manifestsDone}/${p.manifestsTotal}`
  );
}

function summary(from: string, to: string, r: MigrationResult): string {
  const seconds = r.durationMs / 1000;
  const rate = seconds > 0 ? `, ${formatBytes(r.blobs.bytesCopied / seconds)}/s` : "";
  return `${[
    `${r.dryRun ? "dry run: would migrate" : "migrated"} ${from} to ${to} (${seconds.toFixed(1)} s${rate})`,
    `  repositories: ${r.repositories}`,
    `  blobs:        ${r.blobs.total} (${formatBytes(r.blobs.bytesTotal)}): ${r.blobs.copied} ${r.dryRun ? "to copy" : "copied"} (${formatBytes(r.blobs.bytesCopied)}), ${r.blobs.present} already there`,
    `  links:        ${r.links} ${r.dryRun ? "to make" : "made"}`,
    `  manifests:    ${r.manifests.total}: ${r.manifests.written} ${r.dryRun ? "to write" : "written"}, ${r.manifests.present} already there (${r.tags} tags)`,
    `  pulls:        ${r.pulls} recorded`,
    ...(r.orphanBlobs > 0 ? [`  skipped:      ${r.orphanBlobs} blob files no metadata knows (garbage)`] : []),
  ].join("\n")}\n`;
}

export default {
  name: "migrate",
  summary: "copy an embedded registry (data dir) to S3 + PostgreSQL or another configuration",
  usage,
  run,
} satisfies Command;
