import type { Digest } from "../../oci/digest.ts";

/** Registry-wide counts (/api/status, the catalogue's totals). */
export interface StorageStats {
  repositories: number;
  manifests: number;
  tags: number;
  blobs: number;
  /** Bytes of distinct blobs, each counted once however many repositories link it. */
  blobBytes: number;
  /** Epoch ms of the latest recorded pull anywhere; absent before the first. */
  lastPulledAt?: number;
}

/** One repository as the catalogue lists it (see RegistryIndex.repositorySummaries). */
export interface RepositorySummaryRecord {
  name: string;
  tags: number;
  /** Bytes of the distinct blobs linked into the repository. */
  bytes: number;
  /** Of those, bytes of blobs also linked into another repository. */
  sharedBytes: number;
  /** Epoch ms of the latest manifest push or tag change; undefined for a repository with neither. */
  updatedAt?: number;
  /**
   * A signature among the repository's manifests or tags: a referrer (a manifest with a subject)
   * whose artifact type names a signature (contains `signature`, or `cosign` … `sig`), or a tag
   * in cosign's tag scheme (`sha256-<hex>.sig`).
   */
  signed: boolean;
  /** Pulls of the repository's manifests (those still there). */
  pulls: number;
  /** Epoch ms of the latest pull of any of its manifests; undefined when never pulled. */
  lastPulledAt?: number;
}

/** A tag with what it points at (see RegistryIndex.listTagRecords). */
export interface TagRecord {
  tag: string;
  digest: Digest;
  /** The media type of the manifest the tag points at. */
  mediaType: string;
  /** Epoch ms when the tag was last set. */
  updatedAt: number;
  /** Pulls of the manifest the tag points at, by any tag or by digest. */
  pulls: number;
  /**
   * Epoch ms of the latest pull of this tag by name or of its manifest by digest (clients such as
   * containerd resolve a tag with HEAD and GET by digest); undefined when neither was pulled.
   */
  lastPulledAt?: number;
}

/** A manifest with what retention decides on (see RegistryIndex.listManifestEntries). */
export interface ManifestEntry {
  digest: Digest;
  mediaType: string;
  /** Epoch ms when the manifest was first stored. */
  pushedAt: number;
  /** The manifest it refers to (a signature, an SBOM), when it has one. */
  subject?: Digest;
  /** Manifests an index lists. */
  children: Digest[];
  pulls: number;
  /** Epoch ms of the latest pull by digest or through a tag; undefined when never pulled. */
  lastPulledAt?: number;
}

/**
 * The catalogue's read models of the registry: counts, one summary per repository, and tags
 * with what they point at. Read-only, and derived entirely from what the MetadataStore holds:
 * a backend computes these from the same database (SqliteMetadataStore implements both
 * interfaces over one file), so a write through the MetadataStore is visible here as soon as
 * it resolved. The figures are exact, not estimates: the local catalogue source uses `stats()`
 * as the version of its cache, so every added or removed repository, manifest, tag or blob
 * must change it, and so must a pull recorded later than the latest so far (`lastPulledAt`).
 *
 * Kept apart from MetadataStore so the data model a backend must get right for /v2 stays small,
 * and these queries can be shaped for reporting (aggregates, summary tables) on their own.
 * It has no lifecycle of its own: whoever opened the underlying store closes it. Every
 * implementation runs test/contract/registry-index.contract.ts.
 */
export interface RegistryIndex {
  stats(): Promise<StorageStats>;
  /** Every repository, by name (one query's worth of work for 10,000 repositories). */
  repositorySummaries(): Promise<RepositorySummaryRecord[]>;
  /** Every tag of a repository, by tag; undefined for a repository that does not exist. */
  listTagRecords(repository: string): Promise<TagRecord[] | undefined>;
  /** Every manifest of a repository, tagged or not, by digest; undefined for an unknown repository. */
  listManifestEntries(repository: string): Promise<ManifestEntry[] | undefined>;
}
