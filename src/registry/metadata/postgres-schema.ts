/**
 * The PostgreSQL schema of the metadata store, as an ordered list of versioned migrations.
 *
 * The tables are those of metadata.sqlite (src/registry/layout.ts describes what each holds),
 * with PostgreSQL's types: BYTEA for manifest bytes, BIGINT for sizes (beyond 4 GiB) and epoch-ms
 * times. Names, tags and digests are `COLLATE "C"`: the API's lexical order (`last`/`n` paging of
 * the catalog and tags lists) is byte order, as in SQLite and JavaScript, whatever locale the
 * database was created with.
 *
 * Applied migrations are rows of `schema_migrations (version, applied_at)`. Each pending one runs
 * in its own transaction holding a transaction-level advisory lock, so replicas starting at once
 * apply each exactly once (the others wait, then find it applied). A database a newer Reestr has
 * migrated is refused: this one would not know what its tables mean. A migration is never edited
 * once released; a change is a new entry at the end.
 */
import type { Query } from "./postgres-database.ts";

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "the metadata tables of schema version 2 of metadata.sqlite",
    sql: `
CREATE TABLE repositories (
  name TEXT COLLATE "C" PRIMARY KEY,
  created_at BIGINT NOT NULL
);
CREATE TABLE blobs (
  digest TEXT COLLATE "C" PRIMARY KEY,
  size BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE repository_blobs (
  repository TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  linked_at BIGINT NOT NULL,
  PRIMARY KEY (repository, digest)
);
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);
CREATE TABLE manifests (
  repository TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  media_type TEXT NOT NULL,
  content BYTEA NOT NULL,
  size BIGINT NOT NULL,
  subject TEXT COLLATE "C",
  artifact_type TEXT,
  annotations TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;
CREATE INDEX manifests_by_digest ON manifests (digest);
CREATE TABLE manifest_references (
  repository TEXT COLLATE "C" NOT NULL,
  manifest TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (repository, manifest, digest)
);
CREATE INDEX manifest_references_by_digest ON manifest_references (digest, repository);
CREATE TABLE tags (
  repository TEXT COLLATE "C" NOT NULL,
  tag TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (repository, tag)
);
CREATE INDEX tags_by_digest ON tags (repository, digest);
CREATE TABLE uploads (
  id TEXT COLLATE "C" PRIMARY KEY,
  repository TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL
);
-- The sweep asks whether a repository has uploads: an index keeps that (and its SERIALIZABLE
-- read) to the repository's own entries instead of the whole table.
CREATE INDEX uploads_by_repository ON uploads (repository);
CREATE TABLE manifest_pulls (
  repository TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  pulls BIGINT NOT NULL,
  last_pulled_at BIGINT NOT NULL,
  PRIMARY KEY (repository, digest)
);
CREATE INDEX manifest_pulls_by_time ON manifest_pulls (last_pulled_at);
CREATE TABLE tag_pulls (
  repository TEXT COLLATE "C" NOT NULL,
  tag TEXT COLLATE "C" NOT NULL,
  last_pulled_at BIGINT NOT NULL,
  PRIMARY KEY (repository, tag)
);
`,
  },
];

/** The advisory lock migrations take (any constant; this one spells "reestr"). */
const MIGRATION_LOCK = 0x72_65_65_73_74_72;

/** What migrate() did: the versions it applied, and the version the database is at. */
export interface MigrationOutcome {
  applied: number[];
  version: number;
}

/**
 * Brings the database to the latest version, each pending migration in its own transaction
 * (`transaction` runs one, committed, at READ COMMITTED: the statements after the lock must see
 * what the previous holder committed). Throws, changing nothing, for a database of a newer version.
 */
export async function migrate(
  transaction: <T>(work: (query: Query) => Promise<T>) => Promise<T>,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<MigrationOutcome> {
  const latest = migrations.at(-1)?.version ?? 0;
  const applied: number[] = [];
  // Each turn applies one migration or finds none left: at most migrations.length + 1 turns.
  for (let turn = 0; turn <= migrations.length; turn++) {
    const step = await transaction(async (query) => {
      // First, before anything else: the lock also covers creating schema_migrations itself
      // (two concurrent CREATE TABLE IF NOT EXISTS may both try, and one fail).
      await query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
      );
      const { rows } = await query<{ version: number | null }>(
        "SELECT MAX(version) AS version FROM schema_migrations",
      );
      const current = rows[0]?.version ?? 0;
      if (current > latest) {
        throw new Error(
          `metadata database schema ${current} is newer than this Reestr understands (${latest}): ` +
            "upgrade Reestr, or point it at another database",
        );
      }
      const next = migrations.find((migration) => migration.version > current);
      if (!next) return { version: current, applied: undefined };
      await query(next.sql);
      await query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
        next.version,
        Date.now(),
      ]);
      return { version: next.version, applied: next.version };
    });
    if (step.applied === undefined) return { applied, version: step.version };
    applied.push(step.applied);
  }
  throw new Error("metadata database migrations did not finish");
}
