/**
 * The data directory and the metadata schema, in one place.
 *
 * Everything Reestr writes lives under one directory, `dataDir` (config `dataDir`, REESTR_DATA,
 * `--data`; default ./data). The registry's own paths are built by the functions below, which
 * FsBlobStore and the server call, so this description and the code cannot drift; the names
 * other modules own are listed in DATA_DIR_FILES and checked against those modules by
 * test/registry/layout.test.ts.
 *
 * The layout under dataDir is as follows:
 *
 *	<dataDir>/
 *		-> blobs/                         committed blobs, immutable (FsBlobStore)
 *			-> <algorithm>/                 sha256 | sha512
 *				-> <first two hex digits>/    fan-out: 256 directories per algorithm
 *					-> <hex digest>             the blob's bytes and nothing else
 *		-> uploads/                       uploads in progress (FsBlobStore)
 *			-> <uuid>                       the bytes received so far; renamed into blobs/ on commit
 *		-> quarantine/                    blobs whose bytes no longer match their digest, moved out of
 *		                                  blobs/ by a scrub so they are never served (FsBlobStore;
 *		                                  created by the first one; safe to inspect and delete)
 *			-> <algorithm>/<hex digest>     the corrupt bytes as found
 *		-> reestr.lock                    who serves this directory: {pid, host, startedAt, …}, created
 *		                                  with O_EXCL at start, removed on stop; a second `reestr serve`
 *		                                  is refused while its process lives (src/util/data-dir-lock.ts)
 *		-> metadata.sqlite                repositories, manifests, tags, blob links, upload sessions
 *		                                  (SqliteMetadataStore; schema below); absent with
 *		                                  metadata.postgres (metadata/postgres-schema.ts)
 *		-> watch.sqlite                   the watcher's scan results (src/watcher/store.ts);
 *		                                  `watch.dataDir` puts it elsewhere
 *		-> users.sqlite                   embedded users, with auth.embeddedUsers (src/auth/user-store.ts)
 *		-> auth.sqlite                    web sessions and personal access tokens, whenever auth is
 *		                                  configured (src/auth/web-sessions.ts)
 *		-> auth/
 *			-> token-signing-key.pem        token auth's ES256 key, generated (0600) unless
 *			                                auth.token.signingKey names one (src/auth/token-keys.ts)
 *		-> tls/                           the automatic local CA and server certificate, with
 *		                                  tls.enabled and no tls.cert (src/tls/files.ts)
 *			-> ca.crt, ca.key
 *			-> server.crt, server.key
 *		-> htpasswd                       written by `reestr user` when neither --htpasswd nor
 *		                                  REESTR_HTPASSWD names a file (src/cli/user.ts)
 *		-> notifications.sqlite           the webhook delivery queue and log, with notifications
 *		                                  endpoints configured (src/registry/events/notifier.ts)
 *		-> <audit.file>                   the audit log, only when audit.file is set; a relative path
 *		                                  resolves here (src/registry/http/audit.ts)
 *
 * Beside each *.sqlite file SQLite keeps its `-wal` and `-shm` files (WAL mode). Writes that
 * must be atomic go through a temporary name in the same directory and a rename: uploads/<uuid>
 * for blobs, `.<name>.<random>.tmp` for tls/ files, `<name>.<random>.tmp` for the signing key
 * and htpasswd. A crash can leave such a temporary file behind; uploads/ is swept by upload
 * expiry, the others are harmless.
 *
 * Path specs built here:
 *
 *	blobPath:        <dataDir>/blobs/<algorithm>/<first two hex digits>/<hex digest>
 *	uploadPath:      <dataDir>/uploads/<uuid>
 *	quarantinePath:  <dataDir>/quarantine/<algorithm>/<hex digest>
 *	metadataPath:    <dataDir>/metadata.sqlite
 *
 * Digests are parsed and upload ids checked before they become path segments, so no caller
 * input can name a path outside dataDir.
 *
 * With `storage.s3`, blobs/, uploads/ and quarantine/ are keys in a bucket instead, documented in
 * ./storage/s3-layout.ts; everything else stays here.
 */
import { join } from "node:path";
import { type Digest, parseDigest } from "../oci/digest.ts";
import { assertUploadId } from "./storage/blob-store.ts";

/** Names of the files and folders directly under dataDir, whoever writes them. */
export const DATA_DIR_FILES = {
  blobs: "blobs",
  uploads: "uploads",
  quarantine: "quarantine",
  lock: "reestr.lock",
  metadata: "metadata.sqlite",
  watch: "watch.sqlite",
  users: "users.sqlite",
  auth: "auth.sqlite",
  tokenSigningKey: join("auth", "token-signing-key.pem"),
  tls: "tls",
  htpasswd: "htpasswd",
  notifications: "notifications.sqlite",
} as const;

export function blobsDir(dataDir: string): string {
  return join(dataDir, DATA_DIR_FILES.blobs);
}

export function uploadsDir(dataDir: string): string {
  return join(dataDir, DATA_DIR_FILES.uploads);
}

/** Where a committed blob lives. Throws for anything that is not a well-formed digest. */
export function blobPath(dataDir: string, digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return join(blobsDir(dataDir), algorithm, hex.slice(0, 2), hex);
}

/** The digest a file under blobs/ holds, from its `<algorithm>` folder and its name. */
export function digestOfBlobFile(algorithm: string, name: string): Digest {
  return `${algorithm}:${name}` as Digest;
}

/** Where a corrupt blob is moved by a scrub. Throws for anything that is not a well-formed digest. */
export function quarantinePath(dataDir: string, digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return join(dataDir, DATA_DIR_FILES.quarantine, algorithm, hex);
}

/** Where an upload in progress lives. Throws for anything that is not an upload id (a UUID). */
export function uploadPath(dataDir: string, id: string): string {
  return join(uploadsDir(dataDir), assertUploadId(id));
}

export function metadataPath(dataDir: string): string {
  return join(dataDir, DATA_DIR_FILES.metadata);
}

/** Bumped with every change to METADATA_SCHEMA; SqliteFile refuses a database from a newer one. */
export const METADATA_SCHEMA_VERSION = 2;

/**
 * Changes to existing tables, by the version they upgrade from (see SqliteFile's `migrations`):
 * version 2 records when each blob link was last made, which garbage collection's grace period
 * needs (links that existed before the upgrade count as made at the upgrade: the safe side).
 */
export const METADATA_MIGRATIONS: readonly string[] = [
  `ALTER TABLE repository_blobs ADD COLUMN linked_at INTEGER NOT NULL DEFAULT 0;
   UPDATE repository_blobs SET linked_at = CAST(unixepoch('subsec') * 1000 AS INTEGER);`,
];

/**
 * The schema of metadata.sqlite (applied on every open; `IF NOT EXISTS` makes that a no-op on
 * an existing file). Times are epoch milliseconds; digests are `<algorithm>:<hex>` text.
 *
 *	repositories        every repository pushed to (a blob link or a manifest) and not yet
 *	                    emptied by garbage collection; listed (/v2/_catalog, the catalogue)
 *	                    only while it holds a manifest
 *	blobs               each distinct committed blob, once, with its size and commit time
 *	repository_blobs    which repository may read which blob (the link a pull or mount checks),
 *	                    and when it was last linked; a DELETE of the blob removes only the link,
 *	                    garbage collection (lifecycle/gc.ts) removes unreferenced links, rows and bytes
 *	manifests           each manifest per repository, with its exact bytes; `subject`,
 *	                    `artifact_type` and `annotations` (JSON) serve the referrers API
 *	manifest_references the blobs and child manifests a manifest names, per repository (what
 *	                    garbage collection marks from)
 *	tags                tag → manifest digest per repository, with the time it was last set
 *	uploads             upload sessions: which repository an upload id belongs to, since when
 *	                    (the bytes are in uploads/<id>)
 *
 * manifests_by_digest finds the repositories holding a manifest digest (quotas count each digest
 * once per scope: src/registry/policy/quotas.ts).
 *	manifest_pulls      pull statistics per manifest: how many GETs served it (by tag or by
 *	                    digest) and when the last one was; written in batches (../pull-stats.ts),
 *	                    removed with the manifest
 *	tag_pulls           when each tag was last pulled by its name; removed with the tag
 */
export const METADATA_SCHEMA = `
CREATE TABLE IF NOT EXISTS repositories (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repository_blobs (
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  linked_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repository_blobs_by_digest ON repository_blobs (digest);
CREATE TABLE IF NOT EXISTS manifests (
  id INTEGER PRIMARY KEY,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  content BLOB NOT NULL,
  size INTEGER NOT NULL,
  subject TEXT,
  artifact_type TEXT,
  annotations TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (repository, digest)
);
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS manifest_references (
  repository TEXT NOT NULL,
  manifest TEXT NOT NULL,
  digest TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (repository, manifest, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_references_by_digest ON manifest_references (digest, repository);
CREATE TABLE IF NOT EXISTS tags (
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repository, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository, digest);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_by_digest ON manifests (digest);
-- Pull statistics (src/registry/pull-stats.ts): rows only for manifests and tags that exist.
CREATE TABLE IF NOT EXISTS manifest_pulls (
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  pulls INTEGER NOT NULL,
  last_pulled_at INTEGER NOT NULL,
  PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_pulls_by_time ON manifest_pulls (last_pulled_at);
CREATE TABLE IF NOT EXISTS tag_pulls (
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  last_pulled_at INTEGER NOT NULL,
  PRIMARY KEY (repository, tag)
) WITHOUT ROWID;
`;
