/**
 * `CatalogSource`: what the catalogue needs of one registry. Two implementations:
 * LocalRegistrySource (Reestr's own Registry core, read directly: no HTTP, SQL aggregates for
 * 10,000 repositories) and RemoteRegistrySource (any OCI registry through the project's
 * RegistryClient, only at its configured base URL).
 *
 * Sources return raw facts (names, digests, manifest bytes); the catalogue's services
 * (./services/, behind catalog.ts) turn them into the API's shapes, cache, filter, sort and page.
 * What every implementation must do is the contract suite test/contract/catalog-source.contract.ts.
 */

import { HttpError } from "../http/errors.ts";
import type { ApiErrorCode, RegistryCapabilities } from "./api-schemas.ts";

export interface RepositoryInfo {
  name: string;
  tagCount?: number;
  sizeBytes?: number;
  sharedBytes?: number;
  /** Epoch ms. */
  updatedAt?: number;
  signed?: boolean;
  /** Manifest pulls (GETs) counted by the registry; unknown for registries that do not tell. */
  pulls?: number;
  /** Epoch ms of the latest pull. */
  lastPulledAt?: number;
}

export interface TagInfo {
  tag: string;
  /** Known without fetching the manifest (local registry). */
  digest?: string;
  mediaType?: string;
  /** Epoch ms. */
  updatedAt?: number;
  /** Pulls of the tag's manifest (local registry). */
  pulls?: number;
  /** Epoch ms of the latest pull of the tag or its manifest (local registry). */
  lastPulledAt?: number;
}

export interface ManifestContent {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ReferrerInfo {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ProbeResult {
  state: "ok" | "auth_failed" | "unreachable" | "unknown";
  authMode: "none" | "basic" | "bearer" | "unknown";
  message: string | null;
  capabilities: RegistryCapabilities;
  missingOperations: string[];
  hint: string | null;
}

export interface SourceCounts {
  repositories: number | null;
  tags: number | null;
  storageBytes: number | null;
}

export interface StorageReport {
  totalBytes: number;
  repositories: { name: string; bytes: number; sharedBytes: number; tagCount: number }[];
}

export interface CatalogSource {
  readonly id: string;
  readonly local: boolean;
  /** Where the registry is (shown; never taken from a request). */
  readonly baseUrl: string;
  /** host[:port][/path] for pull commands. */
  readonly pullHost: string;
  /** Plain-HTTP registry (ctr needs --plain-http). */
  readonly plainHttp: boolean;
  probe(): Promise<ProbeResult>;
  listRepositories(): Promise<RepositoryInfo[]>;
  /** Throws CatalogError NOT_FOUND for an unknown repository. */
  listTags(repository: string): Promise<TagInfo[]>;
  /** The current digest of each tag (for sources whose cached tag lists may lag a tag move). */
  resolveTags?(repository: string, tags: string[]): Promise<Map<string, string>>;
  getManifest(repository: string, reference: string): Promise<ManifestContent>;
  /** A small blob (an image config, a README) read whole; refuses more than `maxBytes`. */
  getBlob(repository: string, digest: string, maxBytes: number): Promise<Buffer>;
  /** [] when the registry has no referrers API. */
  listReferrers(repository: string, digest: string): Promise<ReferrerInfo[]>;
  /**
   * A token that changes whenever the content changes (cheap to get), for sources that can tell:
   * cached data is keyed by it. Absent: cached data lives for the ttl.
   */
  version?(): Promise<string>;
  /** Cheap counts for the registries view (no walk of the registry). */
  counts(): Promise<SourceCounts>;
  /** Storage accounting when the source can do it itself (the local registry); else the catalogue walks. */
  storage?(): Promise<StorageReport>;
  deleteTag?(repository: string, tag: string): Promise<void>;
  deleteManifest?(repository: string, digest: string): Promise<void>;
  close(): Promise<void>;
}

const STATUS_OF = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INTERNAL: 500,
  UPSTREAM_AUTH_FAILED: 502,
  UPSTREAM_UNREACHABLE: 504,
} as const satisfies Partial<Record<ApiErrorCode, number>>;

/** The codes the catalogue answers with itself (the pipeline has a few more, src/http/errors.ts). */
export type CatalogErrorCode = keyof typeof STATUS_OF;

/** An API failure of the catalogue: an HttpError whose status follows from the code. */
export class CatalogError extends HttpError {
  declare readonly code: CatalogErrorCode;

  constructor(code: CatalogErrorCode, message: string, headers: Record<string, string> = {}) {
    super(STATUS_OF[code], code, message, { headers });
    this.name = "CatalogError";
  }
}

/** Where a source's data lives in the cache: every key of registry `id` starts with this. */
export function registryKeyPrefix(id: string): string {
  return `r:${id}:`;
}
