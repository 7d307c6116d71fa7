import type { Digest } from "../../oci/digest.ts";
import type {
  ManifestRecord,
  ManifestReference,
  ManifestReferences,
  MetadataStore,
  Page,
  PullBatch,
  ReferenceProblem,
  ReferrerDescriptor,
  RequiredReferences,
  StoredManifest,
  SweepOptions,
  SweepResult,
  UploadSession,
} from "./metadata-store.ts";
import {
  type PostgresConnectionOptions,
  PostgresDatabase,
  type Query,
  storeError,
  type TransactionMode,
} from "./postgres-database.ts";
import { type MigrationOutcome, migrate } from "./postgres-schema.ts";
import type {
  ManifestEntry,
  RegistryIndex,
  RepositorySummaryRecord,
  StorageStats,
  TagRecord,
} from "./registry-index.ts";

export type PostgresOptions = PostgresConnectionOptions;

type Row = Record<string, unknown>;

/** How long check() waits for `SELECT 1` before /readyz calls the database unhealthy. */
const CHECK_TIMEOUT_MS = 2000;

/** Blob rows examined per transaction of a sweep. */
const SWEEP_PAGE = 2000;

/**
 * Metadata in PostgreSQL, for several Reestr replicas sharing one database; the same tables and
 * the same answers as SqliteMetadataStore (both run the MetadataStore and RegistryIndex contract
 * suites). The schema and its migrations are in ./postgres-schema.ts.
 *
 * Why every write transaction is SERIALIZABLE
 * -------------------------------------------
 * Garbage collection's safety (../lifecycle/gc.ts) rests on the store serialising a manifest PUT
 * (which checks its references, then inserts the manifest and its references) and a sweep (whose
 * DELETEs keep a row only when something references it), so that the two can never both commit
 * having missed each other. SQLite has one writer at a time. PostgreSQL at READ COMMITTED does
 * not give that: a sweep's `DELETE … WHERE NOT EXISTS (reference)` reads the references as of its
 * statement's start, so a PUT that checked the link and inserted its reference meanwhile is not
 * seen, and both commit — a manifest acknowledged with a blob then deleted. Row locks can close
 * that, but only with care everywhere: the writer must lock (FOR SHARE) every row the sweep's
 * conditions protect (links, blob rows, untagged manifests it tags, children it lists), and the
 * sweep must lock its candidates first and re-check them in a second statement, because a row
 * that was only locked, not changed, is not re-evaluated after the wait. Every new write path
 * would have to follow that protocol by hand.
 *
 * SERIALIZABLE (serializable snapshot isolation) gives SQLite's guarantee as stated: the
 * committed transactions have the effect of some serial order, or PostgreSQL aborts one with
 * SQLSTATE 40001. So each write runs SERIALIZABLE, and a transaction aborted that way is run
 * again from the start inside the store (PostgresDatabase.transaction, up to 30 attempts): the
 * caller sees it succeed or see the other's effect, exactly as one of the two serial orders. The
 * price is an occasional retry when writes touch the same index pages (two layer uploads into a
 * new repository, a push during the sweep of its repository); writes are few next to reads, and
 * reads are single statements (each one consistent snapshot) outside any transaction, so pulls
 * never retry and never hold up a write. test/registry/postgres-metadata-store.test.ts races PUTs
 * against sweeps to check the result.
 *
 * Connection failures surface as StoreUnavailable (503 UNAVAILABLE on the API); the pool
 * reconnects by itself when the database is back.
 */
export class PostgresMetadataStore implements MetadataStore, RegistryIndex {
  readonly #db: PostgresDatabase;
  readonly #query: Query;
  /** What opening did to the schema (tests check that concurrent opens apply migrations once). */
  readonly migrations: MigrationOutcome;

  private constructor(db: PostgresDatabase, migrations: MigrationOutcome) {
    this.#db = db;
    this.#query = db.query;
    this.migrations = migrations;
  }

  /** Connects, brings the schema up to date, and returns the store; throws if either fails. */
  static async open(options: PostgresOptions): Promise<PostgresMetadataStore> {
    const db = new PostgresDatabase(options);
    try {
      const outcome = await migrate((work) => db.transaction("migration", work));
      return new PostgresMetadataStore(db, outcome);
    } catch (error) {
      await db.close();
      throw storeError(error);
    }
  }

  #write<T>(work: (query: Query) => Promise<T>, mode: TransactionMode = "write"): Promise<T> {
    return this.#db.transaction(mode, work);
  }

  async #names(text: string, values: unknown[], column = "name"): Promise<string[]> {
    const { rows } = await this.#query(text, values);
    return rows.map((row) => row[column] as string);
  }

  async listRepositories(page: Page, options: { all?: boolean } = {}): Promise<string[]> {
    if (options.all) {
      return this.#names("SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2", [
        page.last ?? "",
        page.limit,
      ]);
    }
    // Only repositories holding a manifest (see SqliteMetadataStore.listRepositories).
    return this.#names(
      `SELECT name FROM repositories r WHERE name > $1
         AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository = r.name) ORDER BY name LIMIT $2`,
      [page.last ?? "", page.limit],
    );
  }

  async repositoryExists(repository: string): Promise<boolean> {
    const { rowCount } = await this.#query("SELECT 1 FROM repositories WHERE name = $1", [repository]);
    return rowCount > 0;
  }

  async linkBlob(repository: string, digest: Digest, size: number, finishedUpload?: string): Promise<void> {
    const now = Date.now();
    await this.#write(async (query) => {
      if (finishedUpload !== undefined) await query("DELETE FROM uploads WHERE id = $1", [finishedUpload]);
      await ensureRepository(query, repository, now);
      await query(
        "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING",
        [digest, size, now],
      );
      await link(query, repository, digest, now);
    });
  }

  async mountBlob(repository: string, from: string, digest: Digest): Promise<number | undefined> {
    const now = Date.now();
    return this.#write(async (query) => {
      const size = await linkedSize(query, from, digest);
      if (size === undefined) return undefined;
      await ensureRepository(query, repository, now);
      await link(query, repository, digest, now);
      return size;
    });
  }

  linkedBlobSize(repository: string, digest: Digest): Promise<number | undefined> {
    return linkedSize(this.#query, repository, digest);
  }

  async blobSize(digest: Digest): Promise<number | undefined> {
    const { rows } = await this.#query("SELECT size FROM blobs WHERE digest = $1", [digest]);
    return rows[0]?.size as number | undefined;
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.#write(async (query) => {
      const { rowCount } = await query("DELETE FROM repository_blobs WHERE repository = $1 AND digest = $2", [
        repository,
        digest,
      ]);
      return rowCount > 0;
    });
  }

  async repositoriesWithBlob(digest: Digest, page: Page): Promise<string[]> {
    return this.#names(
      `SELECT repository FROM repository_blobs WHERE digest = $1 AND repository > $2
       ORDER BY repository LIMIT $3`,
      [digest, page.last ?? "", page.limit],
      "repository",
    );
  }

  async putManifest(
    repository: string,
    manifest: ManifestRecord,
    tags?: string | readonly string[],
    required?: RequiredReferences,
  ): Promise<ReferenceProblem | undefined> {
    const now = Date.now();
    const tagList = [...new Set(typeof tags === "string" ? [tags] : (tags ?? []))];
    const content = Buffer.from(
      manifest.content.buffer,
      manifest.content.byteOffset,
      manifest.content.byteLength,
    );
    return this.#write(async (query) => {
      const problem = required && (await referenceProblem(query, repository, required));
      if (problem) return problem;
      await ensureRepository(query, repository, now);
      await query(
        `INSERT INTO manifests (repository, digest, media_type, content, size, subject, artifact_type, annotations, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (repository, digest) DO NOTHING`,
        [
          repository,
          manifest.digest,
          manifest.mediaType,
          content,
          content.byteLength,
          manifest.subject ?? null,
          manifest.artifactType ?? null,
          manifest.annotations ? JSON.stringify(manifest.annotations) : null,
          now,
        ],
      );
      const references = [
        ...manifest.blobs.map((digest) => [digest, "blob"] as const),
        ...manifest.children.map((digest) => [digest, "manifest"] as const),
      ];
      if (references.length > 0) {
        // DO NOTHING also absorbs a digest listed twice (the first kind wins, as in SQLite).
        await query(
          `INSERT INTO manifest_references (repository, manifest, digest, kind)
           SELECT $1, $2, r.digest, r.kind FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS r(digest, kind, n)
           ORDER BY r.n
           ON CONFLICT (repository, manifest, digest) DO NOTHING`,
          [
            repository,
            manifest.digest,
            references.map(([digest]) => digest),
            references.map(([, kind]) => kind),
          ],
        );
      }
      if (tagList.length > 0) {
        await query(
          `INSERT INTO tags (repository, tag, digest, updated_at)
           SELECT $1, t.tag, $2, $3 FROM unnest($4::text[]) AS t(tag)
           ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
          [repository, manifest.digest, now, tagList],
        );
      }
      return undefined;
    });
  }

  async getManifestByTag(repository: string, tag: string): Promise<StoredManifest | undefined> {
    const { rows } = await this.#query(
      `SELECT m.digest, m.media_type, m.content FROM tags t
       JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest
       WHERE t.repository = $1 AND t.tag = $2`,
      [repository, tag],
    );
    return rows[0] && toStoredManifest(rows[0]);
  }

  async resolveTag(repository: string, tag: string): Promise<Digest | undefined> {
    const { rows } = await this.#query("SELECT digest FROM tags WHERE repository = $1 AND tag = $2", [
      repository,
      tag,
    ]);
    return rows[0]?.digest as Digest | undefined;
  }

  async getManifestByDigest(repository: string, digest: Digest): Promise<StoredManifest | undefined> {
    const { rows } = await this.#query(
      "SELECT digest, media_type, content FROM manifests WHERE repository = $1 AND digest = $2",
      [repository, digest],
    );
    return rows[0] && toStoredManifest(rows[0]);
  }

  async deleteManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.#write(async (query) => {
      const removed = await query("DELETE FROM manifests WHERE repository = $1 AND digest = $2", [
        repository,
        digest,
      ]);
      if (removed.rowCount === 0) return false;
      await query(
        "DELETE FROM tag_pulls WHERE repository = $1 AND tag IN (SELECT tag FROM tags WHERE repository = $1 AND digest = $2)",
        [repository, digest],
      );
      await query("DELETE FROM tags WHERE repository = $1 AND digest = $2", [repository, digest]);
      await query("DELETE FROM manifest_pulls WHERE repository = $1 AND digest = $2", [repository, digest]);
      await query("DELETE FROM manifest_references WHERE repository = $1 AND manifest = $2", [
        repository,
        digest,
      ]);
      return true;
    });
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.#write(async (query) => {
      const removed = await query("DELETE FROM tags WHERE repository = $1 AND tag = $2", [repository, tag]);
      await query("DELETE FROM tag_pulls WHERE repository = $1 AND tag = $2", [repository, tag]);
      return removed.rowCount > 0;
    });
  }

  async listTags(repository: string, page: Page): Promise<string[] | undefined> {
    if (!(await this.repositoryExists(repository))) return undefined;
    return this.#names(
      "SELECT tag FROM tags WHERE repository = $1 AND tag > $2 ORDER BY tag LIMIT $3",
      [repository, page.last ?? "", page.limit],
      "tag",
    );
  }

  async listReferrers(repository: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    const { rows } = await this.#query(
      `SELECT digest, media_type, size, artifact_type, annotations FROM manifests
       WHERE repository = $1 AND subject = $2 ORDER BY created_at, digest`,
      [repository, subject],
    );
    return rows.map((row) => {
      const descriptor: ReferrerDescriptor = {
        mediaType: row.media_type as string,
        digest: row.digest as Digest,
        size: row.size as number,
      };
      if (row.artifact_type) descriptor.artifactType = row.artifact_type as string;
      if (row.annotations) descriptor.annotations = JSON.parse(row.annotations as string);
      return descriptor;
    });
  }

  // ---- garbage collection's sweep (the protocol is described in ../lifecycle/gc.ts) ------

  async sweep(options: SweepOptions): Promise<SweepResult> {
    const names = await this.#names("SELECT name FROM repositories ORDER BY name", []);
    if (options.dryRun) {
      // One snapshot, rolled back: the decisions are those a real run would make right now.
      return this.#write(async (query) => {
        const result = emptySweep();
        for (const name of names) await sweepRepository(query, name, options, result);
        for (let after: string | undefined = ""; after !== undefined; )
          after = await sweepBlobPage(query, after, options, result);
        return result;
      }, "snapshot");
    }
    // One short transaction per repository and per page of blobs, each with its own result, so
    // a transaction run again (a serialisation failure) does not count its removals twice.
    const result = emptySweep();
    for (const name of names) {
      addSweep(
        result,
        await this.#write(async (query) => {
          const part = emptySweep();
          await sweepRepository(query, name, options, part);
          return part;
        }),
      );
    }
    for (let after: string | undefined = ""; after !== undefined; ) {
      const from: string = after;
      const page = await this.#write(async (query) => {
        const part = emptySweep();
        return { part, last: await sweepBlobPage(query, from, options, part) };
      });
      addSweep(result, page.part);
      after = page.last;
    }
    return result;
  }

  async storageUsage(repositories: string[]): Promise<number> {
    if (repositories.length === 0) return 0;
    // UNION keeps each (digest, size) once across the repositories (see SqliteMetadataStore).
    const { rows } = await this.#query(
      `WITH names(name) AS (SELECT DISTINCT unnest($1::text[]))
       SELECT COALESCE(SUM(size), 0) AS bytes FROM (
         SELECT b.digest, b.size FROM blobs b
           WHERE b.digest IN (SELECT rb.digest FROM names n JOIN repository_blobs rb ON rb.repository = n.name)
         UNION
         SELECT m.digest, m.size FROM names n JOIN manifests m ON m.repository = n.name) held`,
      [repositories],
    );
    return (rows[0]?.bytes as number | undefined) ?? 0;
  }

  async repositoriesHolding(digest: Digest): Promise<string[]> {
    return this.#names(
      `SELECT repository FROM repository_blobs WHERE digest = $1
       UNION SELECT repository FROM manifests WHERE digest = $1 ORDER BY repository`,
      [digest],
      "repository",
    );
  }

  async *manifestReferences(options: { pageSize?: number } = {}): AsyncIterable<ManifestReferences> {
    const pageSize = Math.max(1, options.pageSize ?? 500);
    let after: [string, string] = ["", ""];
    for (;;) {
      // Keyset paging over manifests' primary key; a page's references in one more query.
      const { rows: page } = await this.#query(
        `SELECT repository, digest FROM manifests WHERE (repository, digest) > ($1, $2)
         ORDER BY repository, digest LIMIT $3`,
        [...after, pageSize],
      );
      if (page.length === 0) return;
      const { rows: references } = await this.#query(
        `SELECT p.repository, p.manifest, r.digest, r.kind,
           CASE r.kind
             WHEN 'blob' THEN EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository = r.repository AND b.digest = r.digest)
             ELSE EXISTS (SELECT 1 FROM manifests m WHERE m.repository = r.repository AND m.digest = r.digest)
           END AS present
         FROM unnest($1::text[], $2::text[]) AS p(repository, manifest)
         JOIN manifest_references r ON r.repository = p.repository AND r.manifest = p.manifest
         ORDER BY r.kind, r.digest`,
        [page.map((row) => row.repository), page.map((row) => row.digest)],
      );
      const byManifest = new Map<string, ManifestReference[]>();
      for (const ref of references) {
        const key = `${ref.repository}@${ref.manifest}`;
        const list = byManifest.get(key) ?? [];
        byManifest.set(key, list);
        list.push({
          digest: ref.digest as Digest,
          kind: ref.kind as "blob" | "manifest",
          present: ref.present as boolean,
        });
      }
      for (const row of page) {
        const repository = row.repository as string;
        const digest = row.digest as Digest;
        yield { repository, digest, references: byManifest.get(`${repository}@${digest}`) ?? [] };
      }
      if (page.length < pageSize) return;
      const last = page.at(-1)!;
      after = [last.repository as string, last.digest as string];
    }
  }

  async recordPulls(batch: PullBatch): Promise<void> {
    if (batch.manifests.length === 0 && batch.tags.length === 0) return;
    await this.#write(async (query) => {
      // The join finds no row for a manifest or tag deleted since the pull: nothing is added.
      // GROUP BY: one row per key, as ON CONFLICT DO UPDATE may touch a row only once per statement.
      if (batch.manifests.length > 0) {
        await query(
          `INSERT INTO manifest_pulls (repository, digest, pulls, last_pulled_at)
           SELECT m.repository, m.digest, SUM(e.pulls), MAX(e.last_pulled_at)
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS e(repository, digest, pulls, last_pulled_at)
           JOIN manifests m ON m.repository = e.repository AND m.digest = e.digest
           GROUP BY m.repository, m.digest
           ON CONFLICT (repository, digest) DO UPDATE SET pulls = manifest_pulls.pulls + excluded.pulls,
             last_pulled_at = GREATEST(manifest_pulls.last_pulled_at, excluded.last_pulled_at)`,
          [
            batch.manifests.map((entry) => entry.repository),
            batch.manifests.map((entry) => entry.digest),
            batch.manifests.map((entry) => entry.pulls),
            batch.manifests.map((entry) => entry.lastPulledAt),
          ],
        );
      }
      if (batch.tags.length > 0) {
        await query(
          `INSERT INTO tag_pulls (repository, tag, last_pulled_at)
           SELECT t.repository, t.tag, MAX(e.last_pulled_at)
           FROM unnest($1::text[], $2::text[], $3::bigint[]) AS e(repository, tag, last_pulled_at)
           JOIN tags t ON t.repository = e.repository AND t.tag = e.tag
           GROUP BY t.repository, t.tag
           ON CONFLICT (repository, tag) DO UPDATE SET
             last_pulled_at = GREATEST(tag_pulls.last_pulled_at, excluded.last_pulled_at)`,
          [
            batch.tags.map((entry) => entry.repository),
            batch.tags.map((entry) => entry.tag),
            batch.tags.map((entry) => entry.lastPulledAt),
          ],
        );
      }
    });
  }

  async createUpload(session: UploadSession): Promise<void> {
    await this.#write((query) =>
      query("INSERT INTO uploads (id, repository, created_at) VALUES ($1, $2, $3)", [
        session.id,
        session.repository,
        session.createdAt,
      ]),
    );
  }

  async getUpload(id: string): Promise<UploadSession | undefined> {
    const { rows } = await this.#query("SELECT id, repository, created_at FROM uploads WHERE id = $1", [id]);
    return rows[0] && toUploadSession(rows[0]);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.#write((query) => query("DELETE FROM uploads WHERE id = $1", [id]));
  }

  async listUploads(): Promise<UploadSession[]> {
    const { rows } = await this.#query(
      "SELECT id, repository, created_at FROM uploads ORDER BY created_at, id",
    );
    return rows.map(toUploadSession);
  }

  async check(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the metadata database did not answer within ${CHECK_TIMEOUT_MS} ms`)),
        CHECK_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.#query("SELECT 1"), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  // ---- RegistryIndex: the catalogue's read models over the same database -----------------

  async stats(): Promise<StorageStats> {
    const { rows } = await this.#query(
      `SELECT (SELECT COUNT(DISTINCT repository) FROM manifests) AS repositories,
         (SELECT COUNT(*) FROM manifests) AS manifests,
         (SELECT COUNT(*) FROM tags) AS tags,
         (SELECT COUNT(*) FROM blobs) AS blobs,
         (SELECT COALESCE(SUM(size), 0) FROM blobs) AS blob_bytes,
         (SELECT MAX(last_pulled_at) FROM manifest_pulls) AS last_pulled_at`,
    );
    const row = rows[0]!;
    const stats: StorageStats = {
      repositories: row.repositories as number,
      manifests: row.manifests as number,
      tags: row.tags as number,
      blobs: row.blobs as number,
      blobBytes: row.blob_bytes as number,
    };
    if (row.last_pulled_at !== null && (row.last_pulled_at as number) > 0) {
      stats.lastPulledAt = row.last_pulled_at as number;
    }
    return stats;
  }

  async repositorySummaries(): Promise<RepositorySummaryRecord[]> {
    const { rows } = await this.#query(
      `SELECT r.name,
         (SELECT COUNT(*) FROM tags t WHERE t.repository = r.name) AS tags,
         (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
           WHERE rb.repository = r.name) AS bytes,
         (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
           WHERE rb.repository = r.name
             AND EXISTS (SELECT 1 FROM repository_blobs o WHERE o.digest = rb.digest AND o.repository <> rb.repository)) AS shared,
         GREATEST(COALESCE((SELECT MAX(updated_at) FROM tags t WHERE t.repository = r.name), 0),
                  COALESCE((SELECT MAX(created_at) FROM manifests m WHERE m.repository = r.name), 0)) AS updated,
         (EXISTS (SELECT 1 FROM manifests m WHERE m.repository = r.name AND m.subject IS NOT NULL
                   AND (m.artifact_type LIKE '%signature%' OR m.artifact_type LIKE '%cosign%sig%'))
          OR EXISTS (SELECT 1 FROM tags t WHERE t.repository = r.name AND t.tag >= 'sha256-' AND t.tag < 'sha256.'
                   AND t.tag LIKE 'sha256-%.sig')) AS signed,
         (SELECT COALESCE(SUM(p.pulls), 0) FROM manifest_pulls p WHERE p.repository = r.name) AS pulls,
         (SELECT MAX(p.last_pulled_at) FROM manifest_pulls p WHERE p.repository = r.name) AS pulled
       FROM repositories r WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.repository = r.name)
       ORDER BY r.name`,
    );
    return rows.map((row) => {
      const record: RepositorySummaryRecord = {
        name: row.name as string,
        tags: row.tags as number,
        bytes: row.bytes as number,
        sharedBytes: row.shared as number,
        signed: row.signed as boolean,
        pulls: row.pulls as number,
      };
      if ((row.updated as number) > 0) record.updatedAt = row.updated as number;
      if (row.pulled !== null) record.lastPulledAt = row.pulled as number;
      return record;
    });
  }

  async listTagRecords(repository: string): Promise<TagRecord[] | undefined> {
    if (!(await this.repositoryExists(repository))) return undefined;
    const { rows } = await this.#query(
      `SELECT t.tag, t.digest, m.media_type, t.updated_at, COALESCE(p.pulls, 0) AS pulls,
         NULLIF(GREATEST(COALESCE(p.last_pulled_at, 0), COALESCE(tp.last_pulled_at, 0)), 0) AS pulled
       FROM tags t
       JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest
       LEFT JOIN manifest_pulls p ON p.repository = t.repository AND p.digest = t.digest
       LEFT JOIN tag_pulls tp ON tp.repository = t.repository AND tp.tag = t.tag
       WHERE t.repository = $1 ORDER BY t.tag`,
      [repository],
    );
    return rows.map((row) => {
      const record: TagRecord = {
        tag: row.tag as string,
        digest: row.digest as Digest,
        mediaType: row.media_type as string,
        updatedAt: row.updated_at as number,
        pulls: row.pulls as number,
      };
      if (row.pulled !== null) record.lastPulledAt = row.pulled as number;
      return record;
    });
  }

  async listManifestEntries(repository: string): Promise<ManifestEntry[] | undefined> {
    if (!(await this.repositoryExists(repository))) return undefined;
    const { rows } = await this.#query(
      `SELECT m.digest, m.media_type, m.created_at, m.subject,
         ARRAY(SELECT r.digest FROM manifest_references r
           WHERE r.repository = m.repository AND r.manifest = m.digest AND r.kind = 'manifest'
           ORDER BY r.digest) AS children,
         COALESCE(p.pulls, 0) AS pulls, p.last_pulled_at AS pulled
       FROM manifests m
       LEFT JOIN manifest_pulls p ON p.repository = m.repository AND p.digest = m.digest
       WHERE m.repository = $1 ORDER BY m.digest`,
      [repository],
    );
    return rows.map((row) => {
      const entry: ManifestEntry = {
        digest: row.digest as Digest,
        mediaType: row.media_type as string,
        pushedAt: row.created_at as number,
        children: row.children as Digest[],
        pulls: row.pulls as number,
      };
      if (row.subject !== null) entry.subject = row.subject as Digest;
      if (row.pulled !== null) entry.lastPulledAt = row.pulled as number;
      return entry;
    });
  }
}

// ---- statements shared by several methods --------------------------------------------------

function ensureRepository(query: Query, repository: string, now: number): Promise<unknown> {
  return query("INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [
    repository,
    now,
  ]);
}

function link(query: Query, repository: string, digest: Digest, now: number): Promise<unknown> {
  return query(
    `INSERT INTO repository_blobs (repository, digest, linked_at) VALUES ($1, $2, $3)
     ON CONFLICT (repository, digest) DO UPDATE SET linked_at = excluded.linked_at`,
    [repository, digest, now],
  );
}

async function linkedSize(query: Query, repository: string, digest: Digest): Promise<number | undefined> {
  const { rows } = await query(
    `SELECT b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest
     WHERE r.repository = $1 AND r.digest = $2`,
    [repository, digest],
  );
  return rows[0]?.size as number | undefined;
}

/** The first required reference that is not in the repository with its stated size (two queries). */
async function referenceProblem(
  query: Query,
  repository: string,
  required: RequiredReferences,
): Promise<ReferenceProblem | undefined> {
  const sizes = async (text: string, list: { digest: Digest }[]) => {
    if (list.length === 0) return new Map<string, number>();
    const { rows } = await query(text, [repository, list.map((item) => item.digest)]);
    return new Map(rows.map((row) => [row.digest as string, row.size as number]));
  };
  const checks = [
    {
      kind: "blob" as const,
      list: required.blobs,
      stored: await sizes(
        `SELECT r.digest, b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest
         WHERE r.repository = $1 AND r.digest = ANY($2::text[])`,
        required.blobs,
      ),
    },
    {
      kind: "manifest" as const,
      list: required.manifests,
      stored: await sizes(
        "SELECT digest, size FROM manifests WHERE repository = $1 AND digest = ANY($2::text[])",
        required.manifests,
      ),
    },
  ];
  for (const { kind, list, stored } of checks) {
    for (const { digest, size } of list) {
      const actual = stored.get(digest);
      if (actual === undefined) return { kind, digest, problem: "missing" };
      if (actual !== size) return { kind, digest, problem: "size", stated: size, stored: actual };
    }
  }
  return undefined;
}

function emptySweep(): SweepResult {
  return { manifests: [], links: 0, blobs: [], repositories: [] };
}

function addSweep(total: SweepResult, part: SweepResult): void {
  total.manifests.push(...part.manifests);
  total.links += part.links;
  total.blobs.push(...part.blobs);
  total.repositories.push(...part.repositories);
}

/** The conditions are SqliteMetadataStore's, statement for statement (see its #sweepRepository). */
async function sweepRepository(
  query: Query,
  repository: string,
  { before, untagged }: SweepOptions,
  result: SweepResult,
): Promise<void> {
  if (untagged) {
    // Each pass removes what the previous one freed (an index's children, a subject's
    // referrers); the statement's CTEs see one snapshot, so what this pass removes frees the
    // next pass's candidates, not its own. Manifests form no cycles: nesting bounds the passes.
    for (let pass = 0; pass < 1000; pass++) {
      const { rows } = await query(
        `WITH removed AS (
           DELETE FROM manifests m WHERE m.repository = $1 AND m.created_at < $2
             AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = $1 AND t.digest = m.digest)
             AND NOT EXISTS (SELECT 1 FROM manifest_references r
                             WHERE r.digest = m.digest AND r.repository = $1 AND r.kind = 'manifest')
             AND (m.subject IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository = $1 AND s.digest = m.subject))
           RETURNING m.digest, m.size),
         refs AS (DELETE FROM manifest_references r USING removed WHERE r.repository = $1 AND r.manifest = removed.digest),
         pulls AS (DELETE FROM manifest_pulls p USING removed WHERE p.repository = $1 AND p.digest = removed.digest)
         SELECT digest, size FROM removed ORDER BY digest`,
        [repository, before],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        result.manifests.push({ repository, digest: row.digest as Digest, size: row.size as number });
      }
    }
  }
  const links = await query(
    `DELETE FROM repository_blobs l WHERE l.repository = $1 AND l.linked_at < $2
       AND NOT EXISTS (SELECT 1 FROM manifest_references r
                       WHERE r.digest = l.digest AND r.repository = $1 AND r.kind = 'blob')`,
    [repository, before],
  );
  result.links += links.rowCount;
  const emptied = await query(
    `DELETE FROM repositories WHERE name = $1 AND created_at < $2
       AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository = $1)
       AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE repository = $1)
       AND NOT EXISTS (SELECT 1 FROM uploads WHERE repository = $1)`,
    [repository, before],
  );
  if (emptied.rowCount > 0) result.repositories.push(repository);
}

/** Sweeps the next page of blob rows after `after`; the page's last digest, or undefined at the end. */
async function sweepBlobPage(
  query: Query,
  after: string,
  { before }: SweepOptions,
  result: SweepResult,
): Promise<string | undefined> {
  const { rows: page } = await query(
    "SELECT MAX(digest) AS last FROM (SELECT digest FROM blobs WHERE digest > $1 ORDER BY digest LIMIT $2) p",
    [after, SWEEP_PAGE],
  );
  const last = page[0]?.last as string | null | undefined;
  if (!last) return undefined;
  const { rows } = await query(
    `WITH removed AS (
       DELETE FROM blobs b WHERE b.digest > $1 AND b.digest <= $2 AND b.created_at < $3
         AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest)
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.digest = b.digest)
       RETURNING b.digest, b.size)
     SELECT digest, size FROM removed ORDER BY digest`,
    [after, last, before],
  );
  for (const row of rows) result.blobs.push({ digest: row.digest as Digest, size: row.size as number });
  return last;
}

function toUploadSession(row: Row): UploadSession {
  return { id: row.id as string, repository: row.repository as string, createdAt: row.created_at as number };
}

function toStoredManifest(row: Row): StoredManifest {
  return {
    digest: row.digest as Digest,
    mediaType: row.media_type as string,
    content: row.content as Buffer,
  };
}
