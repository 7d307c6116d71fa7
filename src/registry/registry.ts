import type { Hash } from "node:crypto";
import { randomUUID } from "node:crypto";
import { type HealthCheck, runCheck } from "../http/module.ts";
import {
  createDigester,
  type Digest,
  type DigestAlgorithm,
  digestFromHash,
  parseDigest,
} from "../oci/digest.ts";
import { RegistryError } from "../oci/errors.ts";
import { type Descriptor, type ParsedManifest, parseManifest, referrersTagFor } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { assertRepositoryName, isValidRepositoryName, parseManifestReference } from "../oci/reference.ts";
import { chunksOf } from "../util/chunks.ts";
import { KeyedMutex } from "../util/keyed-mutex.ts";
import { LruCache } from "../util/lru-cache.ts";
import type { MetadataStore, Page, ReferrerDescriptor, StoredManifest } from "./metadata/metadata-store.ts";
import type {
  ManifestEntry,
  RegistryIndex,
  RepositorySummaryRecord,
  StorageStats,
  TagRecord,
} from "./metadata/registry-index.ts";
import type { BlobStore, ByteRange } from "./storage/blob-store.ts";
import { UploadNotFound } from "./storage/errors.ts";

export interface RegistryOptions {
  blobs: BlobStore;
  metadata: MetadataStore;
  /** The catalogue's read models of `metadata`'s data (for SQLite: the same object). */
  index: RegistryIndex;
  /** DELETE of manifests, tags and blobs; when off those answer UNSUPPORTED. */
  deleteEnabled?: boolean;
  /** Uploads untouched for this long are removed by expireUploads(). */
  uploadTtlMs?: number;
  /** Bytes of manifest content kept in memory (manifests are immutable by digest). */
  manifestCacheBytes?: number;
}

export interface BlobContent {
  size: number;
  /** Set when the digest names a manifest of the repository rather than a blob (served as a blob, as Distribution does). */
  manifest?: StoredManifest;
  open(range?: ByteRange): Promise<AsyncIterable<Uint8Array>>;
}

export interface ContentRange {
  start: number;
  end: number;
}

export interface PutManifestResult {
  digest: Digest;
  subject?: Digest;
}

export interface ReferrersResult {
  index: { schemaVersion: 2; mediaType: string; manifests: ReferrerDescriptor[] };
  filtered: boolean;
}

/** A running hash of an upload, kept in memory so chunks are never read back. */
interface UploadHashState {
  hash: Hash;
  size: number;
}

const DEFAULT_UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;

/** Layers that live elsewhere (`urls`) need not be in the registry, as in Distribution. */
function isNonDistributable(descriptor: Descriptor): boolean {
  return (
    descriptor.mediaType.includes(".nondistributable.") ||
    descriptor.mediaType === "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
  );
}

/**
 * The registry's behaviour, independent of HTTP: uploads, blobs, manifests, tags and
 * referrers over a BlobStore and a MetadataStore, and the catalogue's figures from a
 * RegistryIndex. Every failure is a RegistryError carrying the spec's code. The stores stay
 * private: what outside code needs (health, stats, catalogue reads) is a method here.
 */
export class Registry {
  readonly #blobs: BlobStore;
  readonly #metadata: MetadataStore;
  readonly #index: RegistryIndex;
  readonly deleteEnabled: boolean;
  readonly #uploadTtlMs: number;
  readonly #uploadHashes = new Map<string, UploadHashState>();
  /** One operation at a time per upload id, and per blob digest (commit versus delete). */
  readonly #locks = new KeyedMutex();
  /** `<repository>@<digest>` → manifest: the hot path of every pull reads from here. */
  readonly #manifests: LruCache<string, StoredManifest>;
  /**
   * Sorted tags per repository, so paging through 5,000 tags is a slice, not a query. Kept per
   * process and dropped on every tag change made through this process: a MetadataStore shared
   * by several replicas will need shared invalidation (or no cache) before it can use this.
   */
  readonly #tagLists = new LruCache<string, string[]>(1_000_000, (tags) => tags.length + 1);
  #tagGeneration = 0;

  constructor(options: RegistryOptions) {
    this.#manifests = new LruCache(
      options.manifestCacheBytes ?? 32 * 1024 * 1024,
      (m) => m.content.byteLength + 200,
    );
    this.#blobs = options.blobs;
    this.#metadata = options.metadata;
    this.#index = options.index;
    this.deleteEnabled = options.deleteEnabled ?? true;
    this.#uploadTtlMs = options.uploadTtlMs ?? DEFAULT_UPLOAD_TTL_MS;
  }

  // ---- blobs -------------------------------------------------------------------------

  async getBlob(repository: string, digestText: string): Promise<BlobContent> {
    assertRepositoryName(repository);
    const digest = parseDigest(digestText).digest;
    const size = await this.#metadata.linkedBlobSize(repository, digest);
    if (size !== undefined) return { size, open: (range) => this.#blobs.read(digest, range) };
    const manifest = await this.#metadata.getManifestByDigest(repository, digest);
    if (manifest) {
      const content = Buffer.from(manifest.content);
      return {
        size: content.byteLength,
        manifest,
        open: async (range) => chunksOf(range ? content.subarray(range.start, range.end + 1) : content),
      };
    }
    throw await this.#unknown(repository, new RegistryError("BLOB_UNKNOWN", undefined, { digest }));
  }

  async deleteBlob(repository: string, digestText: string): Promise<void> {
    assertRepositoryName(repository);
    this.#assertDeleteEnabled();
    const digest = parseDigest(digestText).digest;
    await this.#locks.run(`blob:${digest}`, async () => {
      const { unlinked, orphaned } = await this.#metadata.unlinkBlob(repository, digest);
      if (!unlinked)
        throw await this.#unknown(repository, new RegistryError("BLOB_UNKNOWN", undefined, { digest }));
      if (orphaned) await this.#blobs.delete(digest);
    });
  }

  /** Links a blob of another repository into this one; false when `from` cannot provide it. */
  async mountBlob(
    repository: string,
    from: string,
    digestText: string,
  ): Promise<{ digest: Digest; size: number } | undefined> {
    assertRepositoryName(repository);
    const digest = parseDigest(digestText).digest;
    if (!isValidRepositoryName(from)) return undefined;
    const size = await this.#metadata.linkedBlobSize(from, digest);
    if (size === undefined) return undefined;
    await this.#locks.run(`blob:${digest}`, () => this.#metadata.linkBlob(repository, digest, size));
    return { digest, size };
  }

  // ---- uploads -----------------------------------------------------------------------

  async startUpload(repository: string): Promise<string> {
    assertRepositoryName(repository);
    const id = randomUUID();
    await this.#metadata.createUpload({ id, repository, createdAt: Date.now() });
    await this.#blobs.createUpload(id);
    this.#uploadHashes.set(id, { hash: createDigester("sha256"), size: 0 });
    return id;
  }

  /** Bytes received so far by an upload of this repository. */
  async uploadStatus(repository: string, id: string): Promise<number> {
    // Under the upload's lock: a PATCH cut off mid-body may still be writing what it received,
    // and a resuming client must be told the offset after those bytes.
    return this.#inUpload(repository, id, () => this.#uploadSize(id));
  }

  /**
   * Appends a chunk. With a Content-Range the chunk must start where the upload ends
   * (else 416 with the current Range); without one the body is simply appended (streamed upload).
   */
  async appendChunk(
    repository: string,
    id: string,
    body: AsyncIterable<Uint8Array>,
    range?: ContentRange,
    contentLength?: number,
  ): Promise<number> {
    return this.#inUpload(repository, id, async () => {
      const size = await this.#uploadSize(id);
      if (range) {
        if (range.start !== size || range.end < range.start) {
          throw new RegistryError(
            "RANGE_INVALID",
            `chunk starts at ${range.start} but the upload holds ${size} bytes`,
            { expectedStart: size },
            uploadRangeHeaders(repository, id, size),
          );
        }
        if (contentLength !== undefined && contentLength !== range.end - range.start + 1) {
          throw new RegistryError(
            "SIZE_INVALID",
            `Content-Length ${contentLength} does not match Content-Range ${range.start}-${range.end}`,
          );
        }
      }
      await this.#append(id, body);
      return (await this.#blobs.uploadSize(id)) ?? 0;
    });
  }

  /** Finishes an upload: appends a final body, verifies the digest, commits the blob. */
  async completeUpload(
    repository: string,
    id: string,
    digestText: string | undefined,
    body?: AsyncIterable<Uint8Array>,
  ): Promise<{ digest: Digest; size: number }> {
    return this.#inUpload(repository, id, async () => {
      if (!digestText) throw new RegistryError("DIGEST_INVALID", "the digest query parameter is required");
      const expected = parseDigest(digestText);
      if (body) await this.#append(id, body);
      const actual = await this.#uploadDigest(id, expected.algorithm);
      if (actual.digest !== expected.digest) {
        await this.#discardUpload(id);
        throw digestMismatch("upload", actual.digest, expected.digest);
      }
      await this.#commit(repository, id, expected.digest, actual.size);
      return { digest: expected.digest, size: actual.size };
    });
  }

  /**
   * A whole blob in one request (POST with ?digest=). No session is recorded: nothing can
   * resume it, and bytes a crash leaves behind are swept by expireUploads().
   */
  async putBlob(
    repository: string,
    digestText: string,
    body: AsyncIterable<Uint8Array>,
  ): Promise<{ digest: Digest; size: number }> {
    assertRepositoryName(repository);
    const expected = parseDigest(digestText);
    const id = randomUUID();
    await this.#blobs.createUpload(id);
    try {
      const hash = createDigester(expected.algorithm);
      const size = await this.#blobs.appendUpload(id, body, (chunk) => hash.update(chunk));
      const actual = digestFromHash(expected.algorithm, hash);
      if (actual !== expected.digest) throw digestMismatch("upload", actual, expected.digest);
      await this.#commit(repository, id, expected.digest, size);
      return { digest: expected.digest, size };
    } catch (error) {
      await this.#blobs.deleteUpload(id).catch(() => {});
      throw error;
    }
  }

  async cancelUpload(repository: string, id: string): Promise<void> {
    await this.#inUpload(repository, id, () => this.#discardUpload(id));
  }

  /** Removes uploads untouched for longer than the TTL; returns how many went. */
  async expireUploads(now = Date.now()): Promise<number> {
    const cutoff = now - this.#uploadTtlMs;
    let removed = 0;
    const stored = new Map((await this.#blobs.listUploads()).map((u) => [u.id, u]));
    for (const session of await this.#metadata.listUploads()) {
      const upload = stored.get(session.id);
      stored.delete(session.id);
      const lastActivity = upload ? upload.modifiedAt.getTime() : session.createdAt;
      if (lastActivity < cutoff) {
        await this.#locks.run(`upload:${session.id}`, () => this.#discardUpload(session.id));
        removed++;
      }
    }
    // Bytes without a session (a crash between the two creates) are never reachable.
    for (const upload of stored.values()) {
      if (upload.modifiedAt.getTime() < cutoff) {
        await this.#blobs.deleteUpload(upload.id);
        removed++;
      }
    }
    return removed;
  }

  /** Runs `work` under the upload's lock, once the upload is known to belong to `repository`. */
  async #inUpload<T>(repository: string, id: string, work: () => Promise<T>): Promise<T> {
    assertRepositoryName(repository);
    return this.#locks.run(`upload:${id}`, async () => {
      const session = await this.#metadata.getUpload(id);
      if (!session || session.repository !== repository) {
        throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { id });
      }
      return work();
    });
  }

  /** Bytes an upload holds; BLOB_UPLOAD_UNKNOWN when the store has none (a session without bytes). */
  async #uploadSize(id: string): Promise<number> {
    const size = await this.#blobs.uploadSize(id);
    if (size === undefined) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { id });
    return size;
  }

  async #append(id: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const state = this.#uploadHashes.get(id);
    try {
      await this.#blobs.appendUpload(id, body, state ? (chunk) => state.hash.update(chunk) : undefined);
    } catch (error) {
      // The hash may now disagree with the bytes kept: rebuild it from storage when next needed.
      this.#uploadHashes.delete(id);
      if (error instanceof UploadNotFound) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { id });
      throw error;
    }
  }

  /** The upload's digest: from the running hash when we have it, else by reading it back. */
  async #uploadDigest(id: string, algorithm: DigestAlgorithm): Promise<{ digest: Digest; size: number }> {
    const state = this.#uploadHashes.get(id);
    if (state && algorithm === "sha256") {
      this.#uploadHashes.delete(id);
      const size = (await this.#blobs.uploadSize(id)) ?? 0;
      return { digest: digestFromHash(algorithm, state.hash), size };
    }
    const hash = createDigester(algorithm);
    let size = 0;
    for await (const chunk of await this.#blobs.readUpload(id)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
    }
    return { digest: digestFromHash(algorithm, hash), size };
  }

  async #commit(repository: string, id: string, digest: Digest, size: number): Promise<void> {
    await this.#locks.run(`blob:${digest}`, async () => {
      const known = await this.#metadata.blobSize(digest);
      if (known !== undefined && (await this.#blobs.stat(digest)) !== undefined) {
        await this.#blobs.deleteUpload(id); // content-addressed: the bytes are already stored
      } else {
        await this.#blobs.commitUpload(id, digest);
      }
      await this.#metadata.linkBlob(repository, digest, size, id);
    });
  }

  async #discardUpload(id: string): Promise<void> {
    this.#uploadHashes.delete(id);
    await this.#blobs.deleteUpload(id);
    await this.#metadata.deleteUpload(id);
  }

  // ---- manifests ---------------------------------------------------------------------

  async getManifest(repository: string, reference: string): Promise<StoredManifest> {
    assertRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const digest = ref.tag !== undefined ? await this.#metadata.resolveTag(repository, ref.tag) : ref.digest;
    if (digest !== undefined) {
      const key = `${repository}@${digest}`;
      const cached = this.#manifests.get(key);
      if (cached) return cached;
      const manifest = await this.#metadata.getManifestByDigest(repository, digest);
      if (manifest) {
        this.#manifests.set(key, manifest);
        return manifest;
      }
    }
    throw await this.#unknown(repository, new RegistryError("MANIFEST_UNKNOWN", undefined, { reference }));
  }

  async putManifest(
    repository: string,
    reference: string,
    body: Uint8Array,
    contentType: string | undefined,
  ): Promise<PutManifestResult> {
    assertRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const algorithm = ref.digest ? parseDigest(ref.digest).algorithm : "sha256";
    const digest = digestFromHash(algorithm, createDigester(algorithm).update(body));
    if (ref.digest && ref.digest !== digest) throw digestMismatch("manifest", digest, ref.digest);
    const parsed = parseManifest(body, contentType);
    await this.#assertReferencesExist(repository, parsed);
    await this.#metadata.putManifest(
      repository,
      {
        digest,
        mediaType: parsed.mediaType,
        content: body,
        blobs: parsed.blobs.map((b) => b.digest),
        children: parsed.children.map((c) => c.digest),
        subject: parsed.subject?.digest,
        artifactType: parsed.artifactType,
        annotations: parsed.annotations,
      },
      ref.tag,
    );
    if (ref.tag !== undefined) this.#tagsChanged(repository);
    return { digest, subject: parsed.subject?.digest };
  }

  async #assertReferencesExist(repository: string, parsed: ParsedManifest): Promise<void> {
    const notHere = (kind: "blob" | "manifest", digest: Digest) =>
      new RegistryError("MANIFEST_BLOB_UNKNOWN", `${kind} ${digest} is not in repository ${repository}`, {
        digest,
      });
    const blobs = parsed.blobs.filter((b) => !isNonDistributable(b)).map((b) => b.digest);
    const [missingBlob] = await this.#metadata.missingBlobs(repository, blobs);
    if (missingBlob !== undefined) throw notHere("blob", missingBlob);
    const children = parsed.children.map((c) => c.digest);
    const [missingChild] = await this.#metadata.missingManifests(repository, children);
    if (missingChild !== undefined) throw notHere("manifest", missingChild);
  }

  /** DELETE by digest removes the manifest (and its tags); DELETE by tag removes only the tag. */
  async deleteManifest(repository: string, reference: string): Promise<void> {
    assertRepositoryName(repository);
    this.#assertDeleteEnabled();
    const ref = parseManifestReference(reference);
    const deleted =
      ref.tag !== undefined
        ? await this.#metadata.deleteTag(repository, ref.tag)
        : await this.#metadata.deleteManifest(repository, ref.digest);
    if (ref.digest) this.#manifests.delete(`${repository}@${ref.digest}`);
    this.#tagsChanged(repository);
    if (!deleted)
      throw await this.#unknown(repository, new RegistryError("MANIFEST_UNKNOWN", undefined, { reference }));
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    assertRepositoryName(repository);
    let all = this.#tagLists.get(repository);
    if (!all) {
      const generation = this.#tagGeneration;
      const tags = await this.#metadata.listTags(repository, { limit: Number.MAX_SAFE_INTEGER });
      if (tags === undefined) throw new RegistryError("NAME_UNKNOWN", undefined, { name: repository });
      all = tags;
      // A tag changed while we read: the list may be stale, so serve it but do not keep it.
      if (generation === this.#tagGeneration) this.#tagLists.set(repository, all);
    }
    const from = page.last === undefined ? 0 : firstAfter(all, page.last);
    return all.slice(from, from + page.limit);
  }

  #tagsChanged(repository: string): void {
    this.#tagGeneration++;
    this.#tagLists.delete(repository);
  }

  async catalog(page: Page): Promise<string[]> {
    return this.#metadata.listRepositories(page);
  }

  /**
   * Manifests whose subject is `digest`, plus those listed in an index under the referrers
   * tag schema's fallback tag (`sha256-<hex>`), pushed by clients that did not see the API.
   */
  async listReferrers(
    repository: string,
    digestText: string,
    artifactType?: string,
  ): Promise<ReferrersResult> {
    assertRepositoryName(repository);
    const subject = parseDigest(digestText).digest;
    // No 404 here even for an unknown repository: clients read a 404 as "no referrers API"
    // and fall back to the tag schema (distribution-spec v1.1).
    const referrers = await this.#metadata.listReferrers(repository, subject);
    const seen = new Set(referrers.map((r) => r.digest));
    const fallback = await this.#metadata.getManifestByTag(repository, referrersTagFor(subject));
    if (fallback) {
      try {
        const parsed = parseManifest(fallback.content, fallback.mediaType);
        for (const child of parsed.children) {
          if (seen.has(child.digest)) continue;
          seen.add(child.digest);
          const entry: ReferrerDescriptor = {
            mediaType: child.mediaType,
            digest: child.digest,
            size: child.size,
          };
          if (child.artifactType) entry.artifactType = child.artifactType;
          if (child.annotations) entry.annotations = child.annotations;
          referrers.push(entry);
        }
      } catch {
        // A tag that merely looks like a fallback tag but holds something else is ignored.
      }
    }
    const manifests = artifactType ? referrers.filter((r) => r.artifactType === artifactType) : referrers;
    return {
      index: { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests },
      filtered: Boolean(artifactType),
    };
  }

  // ---- health and the catalogue's reads ----------------------------------------------

  /** Probes each store (what /readyz reports): never throws, an unreachable store is unhealthy. */
  async health(): Promise<HealthCheck[]> {
    return Promise.all([
      runCheck("storage", () => this.#blobs.check()),
      runCheck("metadata", () => this.#metadata.check()),
    ]);
  }

  async stats(): Promise<StorageStats> {
    return this.#index.stats();
  }

  /** Upload sessions not yet completed or cancelled (the uploads-in-progress gauge). */
  async uploadsInProgress(): Promise<number> {
    return (await this.#metadata.listUploads()).length;
  }

  /** Every repository with its tag count, bytes and last change, by name. */
  async repositorySummaries(): Promise<RepositorySummaryRecord[]> {
    return this.#index.repositorySummaries();
  }

  /** Every tag of a repository with what it points at, by tag; undefined for an unknown repository. */
  async listTagRecords(repository: string): Promise<TagRecord[] | undefined> {
    return this.#index.listTagRecords(repository);
  }

  /** Every manifest of a repository with its push time, subject, children and pulls; undefined for an unknown repository. */
  async listManifestEntries(repository: string): Promise<ManifestEntry[] | undefined> {
    return this.#index.listManifestEntries(repository);
  }

  /** The digest a tag points at, without reading the manifest; undefined when there is no such tag. */
  async resolveTag(repository: string, tag: string): Promise<Digest | undefined> {
    return this.#metadata.resolveTag(repository, tag);
  }

  // ---- helpers -----------------------------------------------------------------------

  #assertDeleteEnabled(): void {
    if (!this.deleteEnabled) throw new RegistryError("UNSUPPORTED", "deletion is disabled on this registry");
  }

  /** A repository that does not exist at all is NAME_UNKNOWN; otherwise the specific error. */
  async #unknown(repository: string, error: RegistryError): Promise<RegistryError> {
    return (await this.#metadata.repositoryExists(repository))
      ? error
      : new RegistryError("NAME_UNKNOWN", undefined, { name: repository });
  }
}

/** DIGEST_INVALID for content whose digest is not the one the client named. */
function digestMismatch(what: "upload" | "manifest", actual: Digest, expected: Digest): RegistryError {
  return new RegistryError("DIGEST_INVALID", `${what} digest ${actual} does not match ${expected}`, {
    expected,
    actual,
  });
}

/** Index of the first name sorting after `last` in a sorted list (binary search). */
function firstAfter(sorted: string[], last: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= last) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Location, Range and Docker-Upload-UUID headers describing an upload's progress. */
export function uploadRangeHeaders(repository: string, id: string, size: number): Record<string, string> {
  return {
    Location: `/v2/${repository}/blobs/uploads/${id}`,
    Range: `0-${Math.max(size - 1, 0)}`,
    "Docker-Upload-UUID": id,
  };
}
