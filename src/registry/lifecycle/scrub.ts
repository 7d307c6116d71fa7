/**
 * The scrub: an integrity check of everything the registry stores, while it keeps serving.
 *
 * 1. **Blobs.** Every committed blob (`BlobStore.list()`) is read back and re-hashed with its
 *    digest's algorithm, one blob at a time (optionally at most `rateBytesPerSecond`), so pulls
 *    keep their share of the disk. A blob whose bytes do not hash to its name is **quarantined**
 *    (`BlobStore.quarantine`: moved out of blobs/, kept aside for inspection) and so is never
 *    served again with a wrong digest: GET and HEAD answer BLOB_UNKNOWN, a client pushing the
 *    image again uploads it, and the commit stores the right bytes (the metadata rows stay, so
 *    pushing heals it). The mismatch is confirmed by a second read under the blob's lock before
 *    anything moves: a blob committed again meanwhile is never quarantined by mistake.
 * 2. **Manifests.** Every manifest's references (`MetadataStore.manifestReferences()`, paged)
 *    are checked: each blob linked into the repository and its bytes in the store (and not just
 *    quarantined), each child manifest of an index present. What is missing is reported; nothing
 *    is changed (the fix is pushing again, or deleting the manifest).
 *
 * A blob that cannot be read at all (an I/O error) is reported as unreadable, not quarantined:
 * that may pass. Lists in the result are cut at RESULT_LIMIT entries; the counts are whole.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  createDigester,
  type Digest,
  type DigestAlgorithm,
  digestFromHash,
  parseDigest,
} from "../../oci/digest.ts";
import { isNonDistributable, parseManifest } from "../../oci/manifest.ts";
import { blobReadBuffers } from "../../util/buffer-pool.ts";
import type { ManifestReference, MetadataStore } from "../metadata/metadata-store.ts";
import type { BlobStore } from "../storage/blob-store.ts";
import { BlobNotFound } from "../storage/errors.ts";

/** What a scrub works on: the registry's stores and its per-digest lock. */
export interface ScrubStores {
  blobs: BlobStore;
  metadata: MetadataStore;
  withBlobLock<T>(digest: Digest, work: () => Promise<T>): Promise<T>;
}

export interface ScrubOptions {
  /** Most bytes read per second; default: as fast as one blob at a time goes. */
  rateBytesPerSecond?: number;
  /** Called as the scrub goes (after each blob, every 100 manifests). */
  onProgress?: (progress: ScrubProgress) => void;
  /** Called for each blob found corrupt, as it is found. */
  onCorrupt?: (blob: CorruptBlob) => void;
  /** Stops the scrub (server shutdown); it rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface ScrubProgress {
  phase: "blobs" | "manifests";
  blobsChecked: number;
  bytesChecked: number;
  manifestsChecked: number;
  corrupt: number;
  missing: number;
}

export interface CorruptBlob {
  digest: Digest;
  /** What the bytes hash to. */
  actual: Digest;
  size: number;
  /** Moved out of blobs/ (false when it was gone or committed again before it could be). */
  quarantined: boolean;
}

export interface MissingReference {
  repository: string;
  /** The manifest that names it. */
  manifest: Digest;
  digest: Digest;
  kind: "blob" | "manifest";
  /**
   * `not linked`: the blob is not linked into the repository; `no bytes`: linked, but the store
   * has no bytes for it (deleted, lost, or quarantined as corrupt); `not in repository`: a child
   * manifest the repository does not hold.
   */
  problem: "not linked" | "no bytes" | "not in repository";
}

export interface UnreadableBlob {
  digest: Digest;
  error: string;
}

export interface ScrubResult {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  blobsChecked: number;
  bytesChecked: number;
  manifestsChecked: number;
  corrupt: CorruptBlob[];
  missing: MissingReference[];
  unreadable: UnreadableBlob[];
  /** Whole counts (the lists stop at RESULT_LIMIT). */
  counts: { corrupt: number; missing: number; unreadable: number };
  truncated: boolean;
}

/** Entries kept per list of a result: a badly broken store must not make an unbounded answer. */
export const RESULT_LIMIT = 1000;

export async function scrub(stores: ScrubStores, options: ScrubOptions = {}): Promise<ScrubResult> {
  const { blobs, metadata } = stores;
  const started = Date.now();
  const result: ScrubResult = {
    startedAt: new Date(started).toISOString(),
    finishedAt: "",
    durationMs: 0,
    blobsChecked: 0,
    bytesChecked: 0,
    manifestsChecked: 0,
    corrupt: [],
    missing: [],
    unreadable: [],
    counts: { corrupt: 0, missing: 0, unreadable: 0 },
    truncated: false,
  };
  const keep = <T>(list: T[], entry: T, count: keyof ScrubResult["counts"]) => {
    result.counts[count]++;
    if (list.length < RESULT_LIMIT) list.push(entry);
    else result.truncated = true;
  };
  let phase: ScrubProgress["phase"] = "blobs";
  const progress = () =>
    options.onProgress?.({
      phase,
      blobsChecked: result.blobsChecked,
      bytesChecked: result.bytesChecked,
      manifestsChecked: result.manifestsChecked,
      corrupt: result.counts.corrupt,
      missing: result.counts.missing,
    });
  const throttle = new Throttle(options.rateBytesPerSecond, options.signal);

  // 1. Every blob, re-hashed. What is sound is remembered for the manifests' byte check (a
  // digest each: about 100 bytes per blob, 10 MB for 100,000 blobs) instead of a stat per reference.
  const sound = new Set<string>();
  for await (const digest of blobs.list()) {
    options.signal?.throwIfAborted();
    let algorithm: DigestAlgorithm;
    try {
      algorithm = parseDigest(digest).algorithm;
    } catch {
      continue; // not a blob's name (a stray file under blobs/): nothing to check it against
    }
    let hashed: Hashed | undefined;
    try {
      hashed = await hashBlob(blobs, digest, algorithm, throttle);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      keep(result.unreadable, { digest, error: (error as Error).message }, "unreadable");
      continue;
    }
    result.blobsChecked++;
    if (!hashed) continue; // deleted while we listed
    result.bytesChecked += hashed.size;
    if (hashed.actual === digest) {
      sound.add(digest);
    } else {
      const found = await stores.withBlobLock(digest, async () => {
        // Read again under the lock: only bytes still wrong are moved.
        const again = await hashBlob(blobs, digest, algorithm, throttle).catch(() => undefined);
        if (!again || again.actual === digest) return again;
        return { ...again, quarantined: await blobs.quarantine(digest) };
      });
      if (found && found.actual !== digest) {
        const entry: CorruptBlob = {
          digest,
          actual: found.actual,
          size: found.size,
          quarantined: "quarantined" in found && found.quarantined,
        };
        keep(result.corrupt, entry, "corrupt");
        options.onCorrupt?.(entry);
      } else if (found) {
        sound.add(digest);
      }
    }
    progress();
  }

  // 2. Every manifest's references.
  phase = "manifests";
  for await (const entry of metadata.manifestReferences()) {
    options.signal?.throwIfAborted();
    result.manifestsChecked++;
    const problems: { reference: ManifestReference; problem: MissingReference["problem"] }[] = [];
    for (const reference of entry.references) {
      if (reference.kind === "manifest") {
        if (!reference.present) problems.push({ reference, problem: "not in repository" });
      } else if (!reference.present) {
        problems.push({ reference, problem: "not linked" });
      } else if (!sound.has(reference.digest) && (await blobs.stat(reference.digest)) === undefined) {
        // Not seen sound in the walk (a blob committed since is: stat says so) and not stored now.
        problems.push({ reference, problem: "no bytes" });
      }
    }
    if (problems.length > 0) {
      const external = await nonDistributable(metadata, entry.repository, entry.digest);
      for (const { reference, problem } of problems) {
        if (reference.kind === "blob" && external.has(reference.digest)) continue;
        keep(
          result.missing,
          {
            repository: entry.repository,
            manifest: entry.digest,
            digest: reference.digest,
            kind: reference.kind,
            problem,
          },
          "missing",
        );
      }
    }
    if (result.manifestsChecked % 100 === 0) progress();
  }
  progress();

  const finished = Date.now();
  result.finishedAt = new Date(finished).toISOString();
  result.durationMs = finished - started;
  return result;
}

interface Hashed {
  actual: Digest;
  size: number;
}

/** The blob's bytes hashed, streaming; undefined when it is no longer stored. */
async function hashBlob(
  blobs: BlobStore,
  digest: Digest,
  algorithm: DigestAlgorithm,
  throttle: Throttle,
): Promise<Hashed | undefined> {
  let chunks: AsyncIterable<Uint8Array>;
  try {
    chunks = await blobs.read(digest);
  } catch (error) {
    if (error instanceof BlobNotFound) return undefined;
    throw error;
  }
  const hash = createDigester(algorithm);
  let size = 0;
  for await (const chunk of chunks) {
    hash.update(chunk);
    size += chunk.byteLength;
    // hash.update copied what it needed: the read buffer can serve the next read.
    blobReadBuffers.release(chunk);
    await throttle.took(chunk.byteLength);
  }
  return { actual: digestFromHash(algorithm, hash), size };
}

/** Digests of the manifest's layers that may live elsewhere (only read when something is missing). */
async function nonDistributable(
  metadata: MetadataStore,
  repository: string,
  digest: Digest,
): Promise<Set<string>> {
  const stored = await metadata.getManifestByDigest(repository, digest);
  if (!stored) return new Set();
  try {
    const parsed = parseManifest(stored.content, stored.mediaType);
    return new Set(parsed.blobs.filter(isNonDistributable).map((b) => b.digest));
  } catch {
    return new Set();
  }
}

/** Keeps reading at or below a rate: sleeps when ahead of it. */
class Throttle {
  readonly #rate: number | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #started = performance.now();
  #bytes = 0;

  constructor(rateBytesPerSecond: number | undefined, signal: AbortSignal | undefined) {
    this.#rate = rateBytesPerSecond && rateBytesPerSecond > 0 ? rateBytesPerSecond : undefined;
    this.#signal = signal;
  }

  async took(bytes: number): Promise<void> {
    if (!this.#rate) return;
    this.#bytes += bytes;
    const due = (this.#bytes / this.#rate) * 1000;
    const ahead = due - (performance.now() - this.#started);
    if (ahead > 1) await sleep(ahead, undefined, { signal: this.#signal });
  }
}
