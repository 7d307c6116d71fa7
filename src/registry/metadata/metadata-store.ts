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

/** What a manifest PUT requires to exist in the repository, checked in the write's transaction. */
export interface RequiredReferences {
  /** Blobs (config, layers, …) with the size the manifest's descriptor states. */
  blobs: { digest: Digest; size: number }[];
  /** Child manifests of an index, with the size the descriptor states. */
  manifests: { digest: Digest; size: number }[];
}

/** Why a manifest PUT was refused: a required reference is absent, or not of the stated size. */
export type ReferenceProblem =
  | { kind: "blob" | "manifest"; digest: Digest; problem: "missing" }
  | { kind: "blob" | "manifest"; digest: Digest; problem: "size"; stated: number; stored: number };

/** What garbage collection may remove (see MetadataStore.sweep). */
export interface SweepOptions {
  /** Epoch ms: nothing committed, linked or pushed at or after this is touched (the grace period). */
  before: number;
  /** Also remove manifests no tag, no index and no live subject holds. */
  untagged: boolean;
  /** Report what would go, change nothing. */
  dryRun: boolean;
}

/** What a sweep removed (or, in a dry run, would remove). */
export interface SweepResult {
  manifests: { repository: string; digest: Digest; size: number }[];
  /** Blob links removed from repositories (no manifest of theirs references the blob). */
  links: number;
  /** Blob rows removed: no repository links them and no manifest references them. Their bytes may go. */
  blobs: { digest: Digest; size: number }[];
  /** Repositories removed: no manifest, no blob link, no upload left. */
  repositories: string[];
}

/** A manifest and what it names, each with whether the repository has it (for a scrub). */
export interface ManifestReferences {
  repository: string;
  /** The manifest's digest. */
  digest: Digest;
  references: ManifestReference[];
}

export interface ManifestReference {
  digest: Digest;
  kind: "blob" | "manifest";
  /** A blob: linked into the repository; a child manifest: stored in the repository. */
  present: boolean;
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
  /**
   * Repository names in lexical order: those holding a manifest (what /v2/_catalog lists), or
   * with `all` every repository known, also those holding only blobs (what quotas count).
   */
  listRepositories(page: Page, options?: { all?: boolean }): Promise<string[]>;
  repositoryExists(repository: string): Promise<boolean>;

  /**
   * Records a committed blob and links it into a repository (a link made again is dated anew);
   * when `finishedUpload` is given, that upload session is removed in the same transaction.
   */
  linkBlob(repository: string, digest: Digest, size: number, finishedUpload?: string): Promise<void>;
  /**
   * Links a blob that `from` links into `repository`, in one transaction; the blob's size, or
   * undefined (and nothing changed) when `from` does not link it.
   */
  mountBlob(repository: string, from: string, digest: Digest): Promise<number | undefined>;
  /** Size of a blob linked into the repository, or undefined. */
  linkedBlobSize(repository: string, digest: Digest): Promise<number | undefined>;
  /** Size of a blob known anywhere in the registry, or undefined. */
  blobSize(digest: Digest): Promise<number | undefined>;
  /**
   * Removes a repository's link to a blob; whether it was linked. The blob's row stays: only
   * garbage collection (sweep) removes blobs, once nothing links or references them.
   */
  unlinkBlob(repository: string, digest: Digest): Promise<boolean>;

  /**
   * Stores a manifest (and points the tags, one or several, at it) in one transaction, after checking in that same
   * transaction that every `required` reference is in the repository with the stated size; the
   * first problem found is returned and nothing is written. Checking inside the write is what
   * makes a PUT safe against a concurrent sweep (see src/registry/lifecycle/gc.ts).
   */
  putManifest(
    repository: string,
    manifest: ManifestRecord,
    tags?: string | readonly string[],
    required?: RequiredReferences,
  ): Promise<ReferenceProblem | undefined>;
  /** Repositories that link this blob, in lexical order (candidates of a mount without `from`). */
  repositoriesWithBlob(digest: Digest, page: Page): Promise<string[]>;
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
   * Every manifest of every repository with its references, in (repository, digest) order.
   * Read in pages of `pageSize` manifests (default 500), so 100,000s of manifests stream in
   * bounded memory and no read stays open across the consumer's awaits.
   */
  manifestReferences(options?: { pageSize?: number }): AsyncIterable<ManifestReferences>;

  /**
   * Garbage collection's sweep of the metadata: removes, in this order, untagged manifests (with
   * `untagged`; repeatedly, as removing an index or a subject frees its children and referrers),
   * blob links no manifest of their repository references, blob rows nothing links or references,
   * and repositories left empty — each only when older than `before`. Every removal re-checks its
   * condition in the transaction that makes it, so a concurrent push either lands first and is
   * seen, or finds its reference gone and is refused. A dry run makes the same decisions on a
   * snapshot and discards them.
   */
  sweep(options: SweepOptions): Promise<SweepResult>;
  /**
   * Bytes these repositories hold together, for quotas: every distinct blob linked into any of
   * them and every distinct manifest stored in any of them, each digest counted once.
   */
  storageUsage(repositories: string[]): Promise<number>;
  /** Repositories that hold this digest, as a linked blob or as a manifest, each once. */
  repositoriesHolding(digest: Digest): Promise<string[]>;

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
