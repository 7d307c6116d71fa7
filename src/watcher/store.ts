/**
 * Where standalone mode keeps what the watcher found (issue 3 §3): the latest `RegistryStatus`
 * of each watch entry, and a history of digest changes (tag T moved from A to B at time t, or
 * appeared, or disappeared). `WatchStore` is async so a PostgreSQL store can sit behind it later;
 * `SqliteWatchStore` is the embedded one (`<dataDir>/watch.sqlite`), in the style of
 * src/registry/metadata/sqlite-metadata-store.ts (WAL, cached statements, user_version).
 * Beside the status it keeps each scanned image's vulnerability findings (the list behind the
 * status's counts), per (entry, digest), for the catalogue's tag view.
 */
import { join } from "node:path";
import { SqliteFile } from "../util/sqlite.ts";
import type { VulnerabilityFinding } from "./scanners/scanner.ts";
import { parseRegistryStatus, type RegistryStatus, type ScanStatus } from "./spec.ts";

/** One move of a tag: `from` absent when the tag appeared, `to` absent when it disappeared. */
export interface DigestChange {
  entry: string;
  repository: string;
  tag: string;
  from?: string;
  to?: string;
  /** ISO timestamp: the scan that saw the change. */
  at: string;
}

export interface HistoryQuery {
  /** Only this tag's changes. */
  tag?: string;
  /** At most this many (newest first). Default 100. */
  limit?: number;
  /** Only changes strictly older than this time (for paging: pass the last `at` seen). */
  before?: Date | string;
}

/** A watch entry as last saved. */
export interface WatchEntryRecord {
  name: string;
  url?: string;
  repository: string;
  lastScanTime?: string;
  lastScanStatus?: ScanStatus;
  message?: string;
  /** Images in the last status. */
  tags: number;
}

/** Where the entry was scanned: recorded with each change and in the entry list. */
export interface SaveTarget {
  url?: string;
  repository: string;
}

export interface WatchStore {
  /** The latest status saved for an entry, if any. */
  load(entry: string): Promise<RegistryStatus | undefined>;
  /**
   * Saves an entry's new status and records the digest changes since the previous one (in one
   * transaction); resolves to the changes recorded. A Failed status records no changes: its images
   * are the previous ones (or none, when the registry was never reached), not an observation, so
   * the next successful status is compared with the last one that was not Failed.
   */
  save(
    entry: string,
    target: SaveTarget,
    status: RegistryStatus,
    findings?: ReadonlyMap<string, readonly VulnerabilityFinding[]>,
  ): Promise<DigestChange[]>;
  /**
   * The vulnerability findings last saved for an image of an entry (`save`'s `findings`, by
   * digest; each save replaces a digest's list, and a successful status drops the lists of
   * digests it no longer holds with a summary). Undefined when none were saved (never scanned, or
   * scanned before the store kept findings).
   */
  findings(entry: string, digest: string): Promise<VulnerabilityFinding[] | undefined>;
  /** An entry's digest changes, newest first. */
  history(entry: string, query?: HistoryQuery): Promise<DigestChange[]>;
  /** Every entry saved, by name. */
  entries(): Promise<WatchEntryRecord[]>;
  /** Forgets an entry and its history (e.g. removed from the config). */
  remove(entry: string): Promise<void>;
  close(): Promise<void>;
}

/** 2 added vulnerability_findings; a version 1 file gains the table when opened. */
const SCHEMA_VERSION = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS watch_entries (
  name TEXT PRIMARY KEY,
  url TEXT,
  repository TEXT NOT NULL,
  status TEXT NOT NULL,
  -- JSON [[tag, digest], …] of the last status that was not Failed: what digest changes diff against.
  observed TEXT NOT NULL,
  last_scan_time TEXT,
  last_scan_status TEXT,
  message TEXT,
  tags INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS digest_changes (
  id INTEGER PRIMARY KEY,
  entry TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  from_digest TEXT,
  to_digest TEXT,
  at TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS digest_changes_by_entry ON digest_changes (entry, at_ms, id);
CREATE INDEX IF NOT EXISTS digest_changes_by_tag ON digest_changes (entry, tag, at_ms, id);
CREATE TABLE IF NOT EXISTS vulnerability_findings (
  entry TEXT NOT NULL,
  digest TEXT NOT NULL,
  -- JSON VulnerabilityFinding[]: read and written whole, one image at a time.
  findings TEXT NOT NULL,
  PRIMARY KEY (entry, digest)
) WITHOUT ROWID;
`;

const DEFAULT_HISTORY_LIMIT = 100;
const MAX_HISTORY_LIMIT = 10_000;

/** The changes between two image lists (by tag), in the new list's order, then disappearances. */
export function diffImages(
  previous: readonly { tag: string; digest: string }[],
  next: readonly { tag: string; digest: string }[],
): { tag: string; from?: string; to?: string }[] {
  const before = new Map(previous.map((image) => [image.tag, image.digest]));
  const seen = new Set<string>();
  const changes: { tag: string; from?: string; to?: string }[] = [];
  for (const image of next) {
    seen.add(image.tag);
    const from = before.get(image.tag);
    if (from === undefined) changes.push({ tag: image.tag, to: image.digest });
    else if (from !== image.digest) changes.push({ tag: image.tag, from, to: image.digest });
  }
  for (const [tag, from] of before) if (!seen.has(tag)) changes.push({ tag, from });
  return changes;
}

function timeMs(value: Date | string, what: string): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`${what}: not a valid time: ${String(value)}`);
  return ms;
}

/** Watch results in one SQLite file (`:memory:` for tests and one-shot runs). */
export class SqliteWatchStore implements WatchStore {
  readonly #file: SqliteFile;
  readonly #now: () => Date;

  /** `path` is the database file; see `SqliteWatchStore.inDataDir` for `<dataDir>/watch.sqlite`. */
  constructor(path: string, options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
    // NORMAL: everything here can be rebuilt by scanning again; the registry's metadata uses FULL.
    this.#file = new SqliteFile(path, {
      name: "watch",
      schema: SCHEMA,
      schemaVersion: SCHEMA_VERSION,
      synchronous: "normal",
    });
  }

  static inDataDir(dataDir: string): SqliteWatchStore {
    return new SqliteWatchStore(join(dataDir, "watch.sqlite"));
  }

  #loadSync(entry: string): RegistryStatus | undefined {
    const row = this.#file.sql("SELECT status FROM watch_entries WHERE name = ?").get(entry);
    return row === undefined ? undefined : parseRegistryStatus(JSON.parse(String(row.status)));
  }

  async load(entry: string): Promise<RegistryStatus | undefined> {
    return this.#loadSync(entry);
  }

  async save(
    entry: string,
    target: SaveTarget,
    status: RegistryStatus,
    findings?: ReadonlyMap<string, readonly VulnerabilityFinding[]>,
  ): Promise<DigestChange[]> {
    const at = status.lastScanTime ?? this.#now().toISOString();
    const atMs = timeMs(at, "lastScanTime");
    // node:sqlite is synchronous: read, diff and write run without interleaving.
    return this.#file.transaction(() => {
      const row = this.#file.sql("SELECT observed FROM watch_entries WHERE name = ?").get(entry);
      const before: [string, string][] = row === undefined ? [] : JSON.parse(String(row.observed));
      const failed = status.lastScanStatus === "Failed";
      const observed = failed ? before : status.images.map((image) => [image.tag, image.digest]);
      const changes: DigestChange[] = [];
      if (!failed) {
        const insert = this.#file.sql(
          "INSERT INTO digest_changes (entry, repository, tag, from_digest, to_digest, at, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        );
        for (const change of diffImages(
          before.map(([tag, digest]) => ({ tag, digest })),
          status.images,
        )) {
          insert.run(entry, target.repository, change.tag, change.from ?? null, change.to ?? null, at, atMs);
          changes.push({ entry, repository: target.repository, ...change, at });
        }
      }
      this.#file
        .sql(
          `INSERT INTO watch_entries (name, url, repository, status, observed, last_scan_time, last_scan_status, message, tags, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, repository = excluded.repository,
           status = excluded.status, observed = excluded.observed, last_scan_time = excluded.last_scan_time,
           last_scan_status = excluded.last_scan_status, message = excluded.message,
           tags = excluded.tags, updated_at = excluded.updated_at`,
        )
        .run(
          entry,
          target.url ?? null,
          target.repository,
          JSON.stringify(status),
          JSON.stringify(observed),
          status.lastScanTime ?? null,
          status.lastScanStatus ?? null,
          status.message ?? null,
          status.images.length,
          Date.now(),
        );
      this.#saveFindings(entry, status, findings);
      return changes;
    });
  }

  /** Inside save's transaction: replaces the lists scanned, drops those the status no longer backs. */
  #saveFindings(
    entry: string,
    status: RegistryStatus,
    findings: ReadonlyMap<string, readonly VulnerabilityFinding[]> | undefined,
  ): void {
    const upsert = this.#file.sql(
      `INSERT INTO vulnerability_findings (entry, digest, findings) VALUES (?, ?, ?)
       ON CONFLICT (entry, digest) DO UPDATE SET findings = excluded.findings`,
    );
    for (const [digest, list] of findings ?? []) upsert.run(entry, digest, JSON.stringify(list));
    // A Failed status carries the previous images (or none): not a reason to forget anything.
    if (status.lastScanStatus === "Failed") return;
    const backed = new Set(
      status.images.filter((image) => image.vulnerabilities).map((image) => image.digest),
    );
    const drop = this.#file.sql("DELETE FROM vulnerability_findings WHERE entry = ? AND digest = ?");
    for (const row of this.#file
      .sql("SELECT digest FROM vulnerability_findings WHERE entry = ?")
      .all(entry)) {
      const digest = String(row.digest);
      if (!backed.has(digest)) drop.run(entry, digest);
    }
  }

  async findings(entry: string, digest: string): Promise<VulnerabilityFinding[] | undefined> {
    const row = this.#file
      .sql("SELECT findings FROM vulnerability_findings WHERE entry = ? AND digest = ?")
      .get(entry, digest);
    return row === undefined ? undefined : (JSON.parse(String(row.findings)) as VulnerabilityFinding[]);
  }

  async history(entry: string, query: HistoryQuery = {}): Promise<DigestChange[]> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? DEFAULT_HISTORY_LIMIT), 0), MAX_HISTORY_LIMIT);
    const before = query.before === undefined ? Number.MAX_SAFE_INTEGER : timeMs(query.before, "before");
    const rows =
      query.tag === undefined
        ? this.#file
            .sql(
              "SELECT * FROM digest_changes WHERE entry = ? AND at_ms < ? ORDER BY at_ms DESC, id DESC LIMIT ?",
            )
            .all(entry, before, limit)
        : this.#file
            .sql(
              "SELECT * FROM digest_changes WHERE entry = ? AND tag = ? AND at_ms < ? ORDER BY at_ms DESC, id DESC LIMIT ?",
            )
            .all(entry, query.tag, before, limit);
    return rows.map((row) => {
      const change: DigestChange = {
        entry: String(row.entry),
        repository: String(row.repository),
        tag: String(row.tag),
        at: String(row.at),
      };
      if (row.from_digest !== null) change.from = String(row.from_digest);
      if (row.to_digest !== null) change.to = String(row.to_digest);
      return change;
    });
  }

  async entries(): Promise<WatchEntryRecord[]> {
    return this.#file
      .sql("SELECT * FROM watch_entries ORDER BY name")
      .all()
      .map((row) => {
        const record: WatchEntryRecord = {
          name: String(row.name),
          repository: String(row.repository),
          tags: Number(row.tags),
        };
        if (row.url !== null) record.url = String(row.url);
        if (row.last_scan_time !== null) record.lastScanTime = String(row.last_scan_time);
        if (row.last_scan_status !== null) record.lastScanStatus = String(row.last_scan_status) as ScanStatus;
        if (row.message !== null) record.message = String(row.message);
        return record;
      });
  }

  async remove(entry: string): Promise<void> {
    this.#file.transaction(() => {
      this.#file.sql("DELETE FROM watch_entries WHERE name = ?").run(entry);
      this.#file.sql("DELETE FROM digest_changes WHERE entry = ?").run(entry);
      this.#file.sql("DELETE FROM vulnerability_findings WHERE entry = ?").run(entry);
    });
  }

  async close(): Promise<void> {
    this.#file.close();
  }
}
