import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { makeDirectorySync } from "./fs.ts";

export interface SqliteFileOptions {
  /** What the file holds, for error messages ("metadata", "watch"). */
  name: string;
  /** The latest schema, applied to a new file (statements that are safe to run again). */
  schema: string;
  schemaVersion: number;
  /**
   * Changes to existing tables an older file needs: `migrations[v]` takes a file of version v + 1
   * to v + 2 (so `migrations[0]` upgrades version 1); versions that only added tables need none.
   * Run in the same transaction as the schema.
   */
  migrations?: readonly string[];
  /** `full` fsyncs every commit (survives power loss); `normal` survives a process crash only. */
  synchronous: "full" | "normal";
}

/**
 * One SQLite file through node:sqlite, set up the way every Reestr store uses it: WAL, a busy
 * timeout, the schema applied in a transaction and versioned with `user_version` (a newer file
 * is refused), prepared statements cached, and transactions that roll back on error.
 * node:sqlite is synchronous, so a transaction run in one call cannot interleave with another.
 */
export class SqliteFile {
  readonly db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string, options: SqliteFileOptions) {
    if (path !== ":memory:") makeDirectorySync(dirname(path));
    this.db = new DatabaseSync(path);
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec(`PRAGMA synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
    this.db.exec("PRAGMA foreign_keys = ON");
    this.db.exec("PRAGMA busy_timeout = 5000");
    const version = Number(
      (this.db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
    );
    if (version > options.schemaVersion) {
      throw new Error(
        `${options.name} database schema ${version} is newer than this Reestr understands (${options.schemaVersion})`,
      );
    }
    this.transaction(() => {
      // A file of an older version first gets the changes since (where adding tables is not
      // enough: the schema's CREATE … IF NOT EXISTS adds those); a new file (0) the latest schema.
      if (version > 0) {
        for (let from = version; from < options.schemaVersion; from++) {
          const migration = options.migrations?.[from - 1];
          if (migration) this.db.exec(migration);
        }
      }
      this.db.exec(options.schema);
      this.db.exec(`PRAGMA user_version = ${options.schemaVersion}`);
    });
  }

  /** A prepared statement, cached: hot paths skip the SQL parser. */
  sql(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  transaction<T>(work: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Runs `work` in a transaction that is always rolled back: a dry run of real writes. */
  rolledBack<T>(work: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      return work();
    } finally {
      this.db.exec("ROLLBACK");
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
