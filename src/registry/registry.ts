import type { Hash } from "node:crypto";
import { randomUUID } from "node:crypto";
import { type HealthCheck, runCheck } from "../http/module.ts";
import {
  createDigester,
  type Digest,
  type DigestAlgorithm,
  digestFromHash,
  parseDigest,
  parseDigestAlgorithm,
} from "../oci/digest.ts";
import { RegistryError } from "../oci/errors.ts";
import { isNonDistributable, type ParsedManifest, parseManifest, referrersTagFor } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import {
  assertRepositoryName,
  isValidRepositoryName,
  isValidTag,
  lookupManifestReference,
  parseManifestReference,
} from "../oci/reference.ts";
import { chunksOf } from "../util/chunks.ts";
import { LruCache } from "../util/lru-cache.ts";
import { type Coordination, type Invalidation, LocalCoordination } from "./coordination.ts";
import { collectGarbage, type GcOptions, type GcResult } from "./lifecycle/gc.ts";
import { type ScrubOptions, type ScrubResult, scrub } from "./lifecycle/scrub.ts";
import type {
  MetadataStore,
  Page,
  ReferenceProblem,
  ReferrerDescriptor,
  RequiredReferences,
  StoredManifest,
} from "./metadata/metadata-store.ts";
import type {
  ManifestEntry,
  RegistryIndex,
  RepositorySummaryRecord,
  StorageStats,
  TagRecord,
} from "./metadata/registry-index.ts";
import { type QuotaUsage, StoragePolicy, type StoragePolicyRules } from "./policy/storage-policy.ts";
import type { BlobStore, ByteRange } from "./storage/blob-store.ts";
import { BlobNotFound, UploadNotFound } from "./storage/errors.ts";
import {
  describeFull,
  discardBody,
  isOutOfSpace,
  type ReserveSetting,
  type SpaceStatus,
  StorageSpace,
} from "./storage-space.ts";

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
  /** Quotas and immutable tags (src/registry/policy/). */
  policy?: StoragePolicyRules;
  /**
   * Accept manifests whose blobs or child manifests are not (yet) in the repository: mirrors and
   * pull-through caches push a manifest before, or without, its content. Off by default.
   */
  allowSparseManifests?: boolean;
  /**
   * Free space pushes leave on the blob store's disk, for metadata and deletes (./storage-space.ts);
   * default 16 MiB. Only for stores that report their space (`BlobStore.space`).
   */
  reserve?: ReserveSetting;
  /**
   * Locks and cache invalidation shared with other replicas (RedisCoordination); default: this
   * process alone (LocalCoordination).
   */
  coordination?: Coordination;
}

export interface BlobContent {
  size: number;
  /** Set when the digest names a manifest of the repository rather than a blob (served as a blob, as Distribution does). */
  manifest?: StoredManifest;
  open(range?: ByteRange): Promise<AsyncIterable<Uint8Array>>;
  /**
   * Where the client may fetch the bytes itself (a presigned S3 URL), for a store that offers
   * it; undefined: serve them with `open`. BLOB_UNKNOWN when the bytes are gone (quarantined).
   */
  redirect?(): Promise<string | undefined>;
}

export interface ContentRange {
  start: number;
  end: number;
}

export interface PutManifestOptions {
  /** Tags to point at a manifest pushed by digest (`?tag=`), set in the same transaction. */
  tags?: readonly string[];
  /** The algorithm of a manifest pushed by tag (`?digest-algorithm=`); sha256 when absent. */
  digestAlgorithm?: string;
  /**
   * Skip the check that the manifest's blobs and children are in the repository, for this write
   * only: a pull-through cache stores a manifest before its content (src/proxy/).
   */
  sparse?: boolean;
}

export interface PutManifestResult {
  digest: Digest;
  subject?: Digest;
  /** The tags now pointing at the manifest: the one pushed by, or those of `?tag=`. */
  tags: string[];
}

export interface ReferrersResult {
  index: { schemaVersion: 2; mediaType: string; manifests: ReferrerDescriptor[] };
  filtered: boolean;
}

/** A running hash of an upload, kept in memory so chunks are never read back. */
interface UploadHashState {
  algorithm: DigestAlgorithm;
  hash: Hash;
  size: number;
}

/** A GC run refused because another replica (`holder`, `<host>:<pid>`) is collecting. */
export class GcElsewhere extends Error {
  readonly holder: string;

  constructor(holder: string) {
    super(`garbage collection is already running on replica ${holder}`);
    this.name = "GcElsewhere";
    this.holder = holder;
  }
}

const DEFAULT_UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a crashed replica's lock outlives it (held locks are renewed, so work may take longer). */
const LOCK_TTL_MS = 30_000;

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
  readonly #allowSparseManifests: boolean;
  readonly #uploadTtlMs: number;
  readonly #uploadHashes = new Map<string, UploadHashState>();
  /**
   * One operation at a time per upload id, and per blob digest (commit versus delete versus a
   * GC's unlink), across replicas when the coordination is shared; and the caches' invalidations.
   */
  readonly #coordination: Coordination;
  /** `<repository>@<digest>` → manifest: the hot path of every pull reads from here. */
  readonly #manifests: LruCache<string, StoredManifest>;
  /**
   * Sorted tags per repository, so paging through 5,000 tags is a slice, not a query. Kept per
   * process, dropped on every tag change (by this replica, or another's published invalidation),
   * and not used at all while invalidations cannot be received (#cachesTrusted).
   */
  readonly #tagLists = new LruCache<string, string[]>(1_000_000, (tags) => tags.length + 1);
  #tagGeneration = 0;
  /** Bumped when garbage collection removes manifests: a read begun before must not be cached. */
  #manifestGeneration = 0;
  /** Quotas and immutable tags: every write that adds or removes content asks it first. */
  readonly #policy: StoragePolicy;
  /** The full-disk guard, for a blob store that reports its free space. */
  readonly #space: StorageSpace | undefined;

  constructor(options: RegistryOptions) {
    this.#manifests = new LruCache(
      options.manifestCacheBytes ?? 32 * 1024 * 1024,
      (m) => m.content.byteLength + 200,
    );
    this.#coordination = options.coordination ?? new LocalCoordination();
    this.#coordination.listen({
      invalidate: (message) => this.#invalidated(message),
      reset: () => {
        this.#tagGeneration++;
        this.#manifestGeneration++;
        this.#tagLists.clear();
        this.#manifests.clear();
      },
    });
    this.#blobs = options.blobs;
    this.#metadata = options.metadata;
    this.#index = options.index;
    this.deleteEnabled = options.deleteEnabled ?? true;
    this.#allowSparseManifests = options.allowSparseManifests ?? false;
    this.#uploadTtlMs = options.uploadTtlMs ?? DEFAULT_UPLOAD_TTL_MS;
    this.#policy = new StoragePolicy(options.policy ?? {}, options.metadata, options.index);
    const blobs = options.blobs;
    this.#space = blobs.space
      ? new StorageSpace({ probe: () => blobs.space!(), reserve: options.reserve })
      : undefined;
  }

  // ---- blobs -------------------------------------------------------------------------

  /**
   * A blob of the repository. With `confirmStored` (a HEAD, which reads no bytes) the store is
   * asked too, so a blob whose bytes were quarantined by a scrub is unknown, and a client pushes
   * it again; a GET learns the same when it opens the bytes.
   */
  async getBlob(
    repository: string,
    digestText: string,
    options: { confirmStored?: boolean } = {},
  ): Promise<BlobContent> {
    assertRepositoryName(repository);
    const digest = parseDigest(digestText).digest;
    const size = await this.#metadata.linkedBlobSize(repository, digest);
    const unknownBlob = () => new RegistryError("BLOB_UNKNOWN", undefined, { digest });
    if (size !== undefined && (!options.confirmStored || (await this.#blobs.stat(digest)) !== undefined)) {
      const blobs = this.#blobs;
      return {
        size,
        open: async (range) => {
          try {
            return await blobs.read(digest, range);
          } catch (error) {
            throw error instanceof BlobNotFound ? unknownBlob() : error;
          }
        },
        // Checked first, as a read would find out: a quarantined blob is unknown, not a broken URL.
        redirect: blobs.redirectUrl
          ? async () => {
              if ((await blobs.stat(digest)) === undefined) throw unknownBlob();
              return blobs.redirectUrl!(digest);
            }
          : undefined,
      };
    }
    const manifest = await this.#metadata.getManifestByDigest(repository, digest);
    if (manifest) {
      const content = Buffer.from(manifest.content);
      return {
        size: content.byteLength,
        manifest,
        open: async (range) => chunksOf(range ? content.subarray(range.start, range.end + 1) : content),
      };
    }
    throw await this.#unknown(repository, unknownBlob());
  }

  /**
   * Unlinks a blob from the repository (a pull of it there is then BLOB_UNKNOWN). The bytes
   * stay: garbage collection removes them once no repository links and no manifest references
   * them, so deleting a layer of a tagged image never destroys what another repository (or a
   * re-push of the layer) needs.
   */
  async deleteBlob(repository: string, digestText: string): Promise<void> {
    assertRepositoryName(repository);
    this.#assertDeleteEnabled();
    const digest = parseDigest(digestText).digest;
    const unlinked = await this.#blobLock(digest, () => this.#metadata.unlinkBlob(repository, digest));
    if (!unlinked)
      throw await this.#unknown(repository, new RegistryError("BLOB_UNKNOWN", undefined, { digest }));
    this.#policy.contentRemoved(repository);
  }

  /** Links a blob of another repository into this one; undefined when `from` cannot provide it. */
  async mountBlob(
    repository: string,
    from: string,
    digestText: string,
  ): Promise<{ digest: Digest; size: number } | undefined> {
    assertRepositoryName(repository);
    const digest = parseDigest(digestText).digest;
    if (!isValidRepositoryName(from)) return undefined;
    // The size for the quota first; then checked again and linked in one transaction under the
    // blob's lock, so a sweep cannot remove the blob between the check and the link (lifecycle/gc.ts).
    const size = await this.#metadata.linkedBlobSize(from, digest);
    // Bytes quarantined by a scrub cannot be mounted: the client uploads them instead.
    if (size === undefined || (await this.#blobs.stat(digest)) === undefined) return undefined;
    let mounted = false;
    await this.#writing(0, () =>
      this.#blobLock(digest, () =>
        this.#policy.admitBlob(repository, digest, size, async () => {
          mounted = (await this.#metadata.mountBlob(repository, from, digest)) !== undefined;
        }),
      ),
    );
    return mounted ? { digest, size } : undefined;
  }

  /**
   * Repositories that link a blob, in lexical order: the candidates of a mount that names no
   * `from`. Callers must filter them by what the caller may pull before using one.
   */
  async repositoriesWithBlob(digestText: string, page: Page): Promise<string[]> {
    return this.#metadata.repositoriesWithBlob(parseDigest(digestText).digest, page);
  }

  // ---- uploads -----------------------------------------------------------------------

  /** A new upload session; `digestAlgorithm` (`?digest-algorithm=`) is what its running hash uses. */
  async startUpload(repository: string, digestAlgorithm?: string): Promise<string> {
    assertRepositoryName(repository);
    const algorithm = digestAlgorithm === undefined ? "sha256" : parseDigestAlgorithm(digestAlgorithm);
    const id = randomUUID();
    await this.#writing(0, async () => {
      await this.#metadata.createUpload({ id, repository, createdAt: Date.now() });
      await this.#blobs.createUpload(id);
    });
    this.#uploadHashes.set(id, { algorithm, hash: createDigester(algorithm), size: 0 });
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
      await this.#assertChunkFits(repository, id, range, contentLength);
      if (contentLength !== undefined) {
        const size = await this.#uploadSize(id);
        await this.#policy.assertRoom(repository, size + contentLength).catch(this.#discardOnRefusal(id));
      }
      await this.#writing(contentLength ?? 0, () => this.#append(id, body), body);
      return (await this.#blobs.uploadSize(id)) ?? 0;
    });
  }

  /**
   * A chunk with a Content-Range must start where the upload ends: else 416 with the current
   * Range, the upload untouched (the spec's answer to an out-of-order chunk, PATCH or final PUT).
   */
  async #assertChunkFits(
    repository: string,
    id: string,
    range: ContentRange | undefined,
    contentLength: number | undefined,
  ): Promise<void> {
    if (!range) return;
    const size = await this.#uploadSize(id);
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

  /**
   * Finishes an upload: appends a final body (a chunk like any other when it has a Content-Range),
   * verifies the digest, commits the blob.
   */
  async completeUpload(
    repository: string,
    id: string,
    digestText: string | undefined,
    body?: AsyncIterable<Uint8Array>,
    range?: ContentRange,
    contentLength?: number,
  ): Promise<{ digest: Digest; size: number }> {
    return this.#inUpload(repository, id, async () => {
      if (!digestText) throw new RegistryError("DIGEST_INVALID", "the digest query parameter is required");
      const expected = parseDigest(digestText);
      await this.#assertChunkFits(repository, id, range, contentLength);
      // Without a body the bytes are all here: committing them needs no room to speak of, so it
      // is not refused on a full disk (what was uploaded is not wasted).
      return this.#writing(
        body ? (contentLength ?? 0) : undefined,
        async () => {
          if (body) await this.#append(id, body);
          const actual = await this.#uploadDigest(id, expected.algorithm);
          if (actual.digest !== expected.digest) {
            await this.#discardUpload(id);
            throw digestMismatch("upload", actual.digest, expected.digest);
          }
          await this.#commit(repository, id, expected.digest, actual.size).catch(this.#discardOnRefusal(id));
          return { digest: expected.digest, size: actual.size };
        },
        body,
      );
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
    contentLength?: number,
  ): Promise<{ digest: Digest; size: number }> {
    assertRepositoryName(repository);
    const expected = parseDigest(digestText);
    // Refused before a byte is stored when the announced length alone would exceed a quota.
    if (contentLength !== undefined)
      await this.#policy.assertRoom(repository, contentLength, expected.digest);
    const id = randomUUID();
    return this.#writing(
      contentLength ?? 0,
      async () => {
        await this.#blobs.createUpload(id);
        try {
          const hash = createDigester(expected.algorithm);
          const size = await this.#blobs.appendUpload(id, this.#guarded(body), (chunk) => hash.update(chunk));
          const actual = digestFromHash(expected.algorithm, hash);
          if (actual !== expected.digest) throw digestMismatch("upload", actual, expected.digest);
          await this.#commit(repository, id, expected.digest, size);
          return { digest: expected.digest, size };
        } catch (error) {
          await this.#blobs.deleteUpload(id).catch(() => {});
          throw error;
        }
      },
      body,
    );
  }

  async cancelUpload(repository: string, id: string): Promise<void> {
    await this.#inUpload(repository, id, () => this.#discardUpload(id));
  }

  /** Removes uploads untouched for longer than the TTL (with `dryRun`, only counts them); how many. */
  async expireUploads(now = Date.now(), dryRun = false): Promise<number> {
    const cutoff = now - this.#uploadTtlMs;
    let removed = 0;
    const stored = new Map((await this.#blobs.listUploads()).map((u) => [u.id, u]));
    for (const session of await this.#metadata.listUploads()) {
      const upload = stored.get(session.id);
      stored.delete(session.id);
      const lastActivity = upload ? upload.modifiedAt.getTime() : session.createdAt;
      if (lastActivity < cutoff) {
        if (!dryRun) await this.#uploadLock(session.id, () => this.#discardUpload(session.id));
        removed++;
      }
    }
    // Bytes without a session (a crash between the two creates) are never reachable.
    for (const upload of stored.values()) {
      if (upload.modifiedAt.getTime() < cutoff) {
        if (!dryRun) await this.#blobs.deleteUpload(upload.id);
        removed++;
      }
    }
    return removed;
  }

  /** Runs `work` under the upload's lock, once the upload is known to belong to `repository`. */
  async #inUpload<T>(repository: string, id: string, work: () => Promise<T>): Promise<T> {
    assertRepositoryName(repository);
    return this.#uploadLock(id, async () => {
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
      const written = await this.#blobs.appendUpload(
        id,
        this.#guarded(body),
        state ? (chunk) => state.hash.update(chunk) : undefined,
      );
      if (state) state.size += written;
    } catch (error) {
      // The hash may now disagree with the bytes kept: rebuild it from storage when next needed.
      this.#uploadHashes.delete(id);
      if (error instanceof UploadNotFound) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", undefined, { id });
      if (isOutOfSpace(error) || isStorageFull(error)) {
        // The disk is full: the bytes of this upload are what a delete would have to free, and
        // the client starts the push over anyway. Never half-committed: the session goes too.
        await this.#discardUpload(id).catch(() => {});
      }
      throw error;
    }
  }

  /** An upload body, stopped with STORAGE_FULL before it would fill the reserve. */
  #guarded(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    return this.#space ? this.#space.guard(body) : body;
  }

  /**
   * Runs a write: refused with STORAGE_FULL up front when the disk is down to its reserve (less
   * `incoming` bytes announced; undefined: not refused up front), and any ENOSPC or SQLITE_FULL
   * on the way becomes STORAGE_FULL too, never a 500. A refused request's `body` is read and
   * dropped first, so the client gets to read the answer (discardBody).
   */
  async #writing<T>(
    incoming: number | undefined,
    work: () => Promise<T>,
    body?: AsyncIterable<Uint8Array>,
  ): Promise<T> {
    if (incoming !== undefined && this.#space) {
      try {
        await this.#space.assertRoom(incoming);
      } catch (error) {
        if (body) await discardBody(body).catch(() => {});
        throw error;
      }
    }
    try {
      return await work();
    } catch (error) {
      if (!isOutOfSpace(error)) throw error;
      throw this.#space ? await this.#space.fullError() : new RegistryError("STORAGE_FULL");
    }
  }

  /**
   * The upload's digest: from the running hash when it covers every byte stored, else by reading
   * the upload back. A hash covers less when another replica sharing the store took some of the
   * chunks (the sizes then differ: this process only counts the bytes it hashed).
   */
  async #uploadDigest(id: string, algorithm: DigestAlgorithm): Promise<{ digest: Digest; size: number }> {
    const state = this.#uploadHashes.get(id);
    this.#uploadHashes.delete(id);
    if (state && state.algorithm === algorithm) {
      const size = (await this.#blobs.uploadSize(id)) ?? 0;
      if (size === state.size) return { digest: digestFromHash(algorithm, state.hash), size };
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
    await this.#blobLock(digest, () =>
      // Within the quotas or not at all: a refused blob never reaches blobs/ (its upload is discarded).
      this.#policy.admitBlob(repository, digest, size, async () => {
        const known = await this.#metadata.blobSize(digest);
        if (known !== undefined && (await this.#blobs.stat(digest)) !== undefined) {
          await this.#blobs.deleteUpload(id); // content-addressed: the bytes are already stored
        } else {
          await this.#blobs.commitUpload(id, digest);
        }
        await this.#metadata.linkBlob(repository, digest, size, id);
      }),
    );
  }

  /** A policy refusal ends the upload: its bytes are discarded, so nothing is left half-written. */
  #discardOnRefusal(id: string): (error: unknown) => Promise<never> {
    return async (error) => {
      if (error instanceof RegistryError && error.code === "DENIED") await this.#discardUpload(id);
      throw error;
    };
  }

  async #discardUpload(id: string): Promise<void> {
    this.#uploadHashes.delete(id);
    await this.#blobs.deleteUpload(id);
    await this.#metadata.deleteUpload(id);
    this.#space?.invalidate();
  }

  // ---- manifests ---------------------------------------------------------------------

  async getManifest(repository: string, reference: string): Promise<StoredManifest> {
    assertRepositoryName(repository);
    const ref = lookupManifestReference(reference);
    const digest =
      ref === undefined
        ? undefined
        : ref.tag !== undefined
          ? await this.#metadata.resolveTag(repository, ref.tag)
          : ref.digest;
    if (digest !== undefined) {
      const key = `${repository}@${digest}`;
      const trusted = await this.#coordination.cachesTrusted();
      const cached = trusted ? this.#manifests.get(key) : undefined;
      if (cached) return cached;
      const generation = this.#manifestGeneration;
      const manifest = await this.#metadata.getManifestByDigest(repository, digest);
      if (manifest) {
        if (trusted && generation === this.#manifestGeneration) this.#manifests.set(key, manifest);
        return manifest;
      }
    }
    throw await this.#unknown(repository, new RegistryError("MANIFEST_UNKNOWN", undefined, { reference }));
  }

  /**
   * Stores a manifest pushed by tag or by digest. By tag, `digestAlgorithm` picks the digest it
   * is stored under (sha256 by default); by digest, the digest's own algorithm does, and `tags`
   * are pointed at it in the same transaction (the spec's `?tag=` parameters).
   */
  async putManifest(
    repository: string,
    reference: string,
    body: Uint8Array,
    contentType: string | undefined,
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    assertRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const algorithm = manifestAlgorithm(ref.digest, options.digestAlgorithm);
    const tags = manifestTags(ref.tag, options.tags);
    const digest = digestFromHash(algorithm, createDigester(algorithm).update(body));
    if (ref.digest && ref.digest !== digest) throw digestMismatch("manifest", digest, ref.digest);
    const parsed = parseManifest(body, contentType);
    await this.#writing(body.byteLength, () =>
      this.#policy.admitManifest(repository, { digest, size: body.byteLength }, tags, async () => {
        const problem = await this.#metadata.putManifest(
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
          tags,
          // Sparse manifests (mirrors, pull-through caches) skip the reference check entirely.
          this.#allowSparseManifests || options.sparse ? undefined : requiredReferences(parsed),
        );
        // Thrown inside: a refused write adds nothing to the quotas' figures.
        if (problem) throw referenceError(repository, problem);
      }),
    );
    if (tags.length > 0) await this.#tagsChanged(repository);
    return { digest, subject: parsed.subject?.digest, tags };
  }

  /** DELETE by digest removes the manifest (and its tags); DELETE by tag removes only the tag. */
  async deleteManifest(repository: string, reference: string): Promise<void> {
    assertRepositoryName(repository);
    this.#assertDeleteEnabled();
    const ref = lookupManifestReference(reference);
    const deleted =
      ref === undefined
        ? false
        : ref.tag !== undefined
          ? await this.#policy.guardDelete(repository, { tag: ref.tag }, () =>
              this.#metadata.deleteTag(repository, ref.tag!),
            )
          : await this.#policy.guardDelete(repository, { digest: ref.digest }, () =>
              this.#metadata.deleteManifest(repository, ref.digest),
            );
    if (ref?.digest) await this.#manifestRemoved(repository, ref.digest);
    await this.#tagsChanged(repository);
    if (!deleted)
      throw await this.#unknown(repository, new RegistryError("MANIFEST_UNKNOWN", undefined, { reference }));
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    assertRepositoryName(repository);
    const trusted = await this.#coordination.cachesTrusted();
    let all = trusted ? this.#tagLists.get(repository) : undefined;
    if (!all) {
      const generation = this.#tagGeneration;
      const tags = await this.#metadata.listTags(repository, { limit: Number.MAX_SAFE_INTEGER });
      if (tags === undefined) throw new RegistryError("NAME_UNKNOWN", undefined, { name: repository });
      all = tags;
      // A tag changed while we read: the list may be stale, so serve it but do not keep it.
      if (trusted && generation === this.#tagGeneration) this.#tagLists.set(repository, all);
    }
    const from = page.last === undefined ? 0 : firstAfter(all, page.last);
    return all.slice(from, from + page.limit);
  }

  /**
   * Drops the repository's tag list here, then tells the other replicas (awaited, so a client
   * told "done" finds the change on any replica it asks next).
   */
  async #tagsChanged(repository: string): Promise<void> {
    this.#invalidated(`tags:${repository}`);
    await this.#publish(`tags:${repository}`);
  }

  async #manifestRemoved(repository: string, digest: Digest): Promise<void> {
    this.#invalidated(`manifest:${repository}@${digest}`);
    await this.#publish(`manifest:${repository}@${digest}`);
  }

  /**
   * A change already committed is not undone because Redis is unreachable: the other replicas
   * then do not trust their caches either (they lost their subscription), and reset them on
   * reconnecting.
   */
  async #publish(message: Invalidation): Promise<void> {
    await this.#coordination.publish(message).catch(() => {});
  }

  /** What an invalidation (ours or another replica's) names is dropped; reads in flight are not cached. */
  #invalidated(message: Invalidation): void {
    if (message.startsWith("tags:")) {
      this.#tagGeneration++;
      this.#tagLists.delete(message.slice("tags:".length));
    } else if (message.startsWith("manifest:")) {
      this.#manifestGeneration++;
      this.#manifests.delete(message.slice("manifest:".length));
    }
  }

  /** The per-digest lock of lifecycle/gc.ts's protocol; 30 s TTL, renewed while held. */
  #blobLock<T>(digest: Digest, work: () => Promise<T>): Promise<T> {
    return this.#coordination.lock(`blob:${digest}`, LOCK_TTL_MS, work);
  }

  #uploadLock<T>(id: string, work: () => Promise<T>): Promise<T> {
    return this.#coordination.lock(`upload:${id}`, LOCK_TTL_MS, work);
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

  // ---- garbage collection --------------------------------------------------------------

  /**
   * One garbage-collection run over this registry's stores (the protocol is in lifecycle/gc.ts).
   * Under the `gc` leader lock: with replicas sharing the stores, only one collects at a time, and
   * a run started while another replica's is in progress fails at once with GcElsewhere.
   */
  async collectGarbage(options: GcOptions): Promise<GcResult> {
    const outcome = await this.#coordination.tryLock("gc", LOCK_TTL_MS, () =>
      collectGarbage(
        {
          blobs: this.#blobs,
          metadata: this.#metadata,
          locks: { run: (key, work) => this.#coordination.lock(key, LOCK_TTL_MS, work) },
          expireUploads: (dryRun) => this.expireUploads(Date.now(), dryRun),
          forget: (manifests, repositories) => {
            this.#manifestGeneration++;
            this.#policy.contentRemoved();
            this.#space?.invalidate();
            for (const { repository, digest } of manifests) void this.#manifestRemoved(repository, digest);
            for (const repository of repositories) void this.#tagsChanged(repository);
          },
        },
        options,
      ),
    );
    if ("holder" in outcome) throw new GcElsewhere(outcome.holder);
    return outcome.value;
  }

  // ---- health and the catalogue's reads ----------------------------------------------

  /** Probes each store (what /readyz reports): never throws, an unreachable store is unhealthy. */
  async health(): Promise<HealthCheck[]> {
    const space = this.#space;
    return Promise.all([
      runCheck("storage", () => this.#blobs.check()),
      runCheck("metadata", () => this.#metadata.check()),
      ...(space
        ? [
            runCheck("disk", async () => {
              const status = await space.status(true);
              if (status.full) throw new Error(describeFull(status));
            }),
          ]
        : []),
    ]);
  }

  /** Free space against the reserve; undefined for a blob store that does not report its space. */
  async space(): Promise<SpaceStatus | undefined> {
    return this.#space?.status();
  }

  /**
   * Re-hashes every stored blob and checks every manifest's references (./lifecycle/scrub.ts);
   * corrupt blobs are quarantined so they are never served. One blob at a time.
   */
  async scrub(options: ScrubOptions = {}): Promise<ScrubResult> {
    return scrub(
      {
        blobs: this.#blobs,
        metadata: this.#metadata,
        // Under the blob's lock, as a commit or delete of the same digest runs.
        withBlobLock: (digest, work) => this.#blobLock(digest, work),
      },
      options,
    );
  }

  async stats(): Promise<StorageStats> {
    return this.#index.stats();
  }

  /** Every configured quota with the bytes its repositories hold (see src/registry/policy/quotas.ts). */
  async quotaUsage(): Promise<QuotaUsage[]> {
    return this.#policy.quotaUsage();
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

/**
 * What a manifest needs in its repository: its blobs (except non-distributable layers, which
 * live elsewhere) and an index's children, each of the size its descriptor states.
 */
export function requiredReferences(parsed: ParsedManifest): RequiredReferences {
  return {
    blobs: parsed.blobs.filter((b) => !isNonDistributable(b)).map(({ digest, size }) => ({ digest, size })),
    manifests: parsed.children.map(({ digest, size }) => ({ digest, size })),
  };
}

/** MANIFEST_BLOB_UNKNOWN for a reference not in the repository; MANIFEST_INVALID for a wrong size. */
function referenceError(repository: string, problem: ReferenceProblem): RegistryError {
  const { kind, digest } = problem;
  if (problem.problem === "missing") {
    return new RegistryError(
      "MANIFEST_BLOB_UNKNOWN",
      `${kind} ${digest} is not in repository ${repository}`,
      {
        digest,
      },
    );
  }
  return new RegistryError(
    "MANIFEST_INVALID",
    `size mismatch: the descriptor of ${kind} ${digest} states ${problem.stated} bytes, the stored ${kind} has ${problem.stored}`,
    { digest, size: problem.stated, stored: problem.stored },
  );
}

/** The algorithm a manifest is stored under: its digest's when pushed by digest, else `?digest-algorithm=`'s. */
function manifestAlgorithm(digest: Digest | undefined, requested: string | undefined): DigestAlgorithm {
  const named = requested === undefined ? undefined : parseDigestAlgorithm(requested);
  if (digest === undefined) return named ?? "sha256";
  const { algorithm } = parseDigest(digest);
  if (named !== undefined && named !== algorithm) {
    throw new RegistryError(
      "DIGEST_INVALID",
      `digest-algorithm ${named} does not match the digest ${digest} the manifest is pushed by`,
    );
  }
  return algorithm;
}

/** Tag query parameters go with a push by digest only; each must be a valid tag. Deduplicated, in order. */
function manifestTags(pushedBy: string | undefined, extra: readonly string[] | undefined): string[] {
  if (!extra || extra.length === 0) return pushedBy === undefined ? [] : [pushedBy];
  if (pushedBy !== undefined) {
    throw new RegistryError("MANIFEST_INVALID", "tag query parameters go with a push by digest only", {
      tag: pushedBy,
    });
  }
  for (const tag of extra) {
    if (!isValidTag(tag)) throw new RegistryError("MANIFEST_INVALID", `invalid tag "${tag.slice(0, 200)}"`);
  }
  return [...new Set(extra)];
}

/** A RegistryError already saying the storage is full (from the reserve check or the guard). */
function isStorageFull(error: unknown): boolean {
  return error instanceof RegistryError && error.code === "STORAGE_FULL";
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
