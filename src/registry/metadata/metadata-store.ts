import type { Digest } from "../../oci/digest.ts";

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  content: Uint8Array;
}

export interface ManifestRecord extends StoredManifest {
  /** Blobs (config, layers) the manifest references: they stay linked while it exists. */
  blobs: Digest[];
  /** Child manifests of an index. */
  children: Digest[];
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** One entry of the referrers API's image index. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Page {
  /** Return names strictly after this one (lexical order). */
  last?: string;
  limit: number;
}

export interface UploadSession {
  id: string;
  repository: string;
  createdAt: number;
}

/**
 * Pull statistics gathered in memory since the last write (src/registry/pull-stats.ts): GETs per
 * manifest, and the latest GET by each tag name. Times are epoch ms.
 */
export interface PullBatch {
  manifests: { repository: string; digest: Digest; pulls: number; lastPulledAt: number }[];
  tags: { repository: string; tag: string; lastPulledAt: number }[];
}

/**
 * What the registry knows besides blob bytes: repositories, tags, manifests, referrers,
 * which repository may read which blob, and upload sessions. Every write is one transaction.
 * Async so a PostgreSQL backend fits the same seam. Every implementation runs
 * test/contract/metadata-store.contract.ts.
 *
 * Only what serving the distribution API needs lives here; the catalogue's counts and listings
 * are a separate read interface, RegistryIndex (./registry-index.ts), over the same data.
 */
export interface MetadataStore {
  /** Repository names in lexical order. */
  listRepositories(page: Page): Promise<string[]>;
  repositoryExists(repository: string): Promise<boolean>;

  /**
   * Records a committed blob and links it into a repository; when `finishedUpload` is given,
   * that upload session is removed in the same transaction.
   */
  linkBlob(repository: string, digest: Digest, size: number, finishedUpload?: string): Promise<void>;
  /** Size of a blob linked into the repository, or undefined. */
  linkedBlobSize(repository: string, digest: Digest): Promise<number | undefined>;
  /** Size of a blob known anywhere in the registry, or undefined. */
  blobSize(digest: Digest): Promise<number | undefined>;
  /**
   * Removes a repository's link to a blob. Returns whether it was linked, and whether the blob
   * is now referenced by no repository at all (the caller may then delete its bytes).
   */
  unlinkBlob(repository: string, digest: Digest): Promise<{ unlinked: boolean; orphaned: boolean }>;

  /** Which of these blobs are not linked into the repository. */
  missingBlobs(repository: string, digests: Digest[]): Promise<Digest[]>;
  /** Which of these manifests are not in the repository. */
  missingManifests(repository: string, digests: Digest[]): Promise<Digest[]>;

  /** Stores a manifest (and points `tag` at it) in one transaction. */
  putManifest(repository: string, manifest: ManifestRecord, tag?: string): Promise<void>;
  getManifestByTag(repository: string, tag: string): Promise<StoredManifest | undefined>;
  /** The digest a tag points at, without reading the manifest. */
  resolveTag(repository: string, tag: string): Promise<Digest | undefined>;
  getManifestByDigest(repository: string, digest: Digest): Promise<StoredManifest | undefined>;
  /** Deletes a manifest, the tags pointing at it and its referrer entry, with their pull statistics. */
  deleteManifest(repository: string, digest: Digest): Promise<boolean>;
  /** Deletes a tag and its pull statistics. */
  deleteTag(repository: string, tag: string): Promise<boolean>;
  /** Tags in lexical order; undefined when the repository does not exist. */
  listTags(repository: string, page: Page): Promise<string[] | undefined>;
  listReferrers(repository: string, subject: Digest): Promise<ReferrerDescriptor[]>;

  /**
   * Adds a batch of pull statistics in one transaction: counts add up, the last pull time is the
   * latest seen. Entries for a manifest or tag that no longer exists are dropped (it was deleted
   * between the pull and the write), so statistics only ever describe what is there. Read back
   * through RegistryIndex (tag records, repository summaries, manifest records).
   */
  recordPulls(batch: PullBatch): Promise<void>;

  createUpload(session: UploadSession): Promise<void>;
  getUpload(id: string): Promise<UploadSession | undefined>;
  deleteUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadSession[]>;

  /** A cheap probe for /readyz: throws when the store cannot be used. */
  check(): Promise<void>;
  close(): Promise<void>;
}
