/**
 * Online garbage collection: mark and sweep over the metadata while the registry keeps serving.
 *
 * What is garbage
 * ---------------
 * - A **blob** whose row no repository links and no manifest of any repository references
 *   (as config, layer, or any other descriptor of `blobs`), committed before the grace period.
 * - A **blob link** (the right of one repository to read a blob) that no manifest of that
 *   repository references, made before the grace period. A blob DELETE on the API removes only
 *   such a link; the bytes go here, and never while a manifest references them.
 * - With `untagged`, a **manifest** pushed before the grace period that no tag points at, that no
 *   index of its repository lists, and whose subject (if it is a referrer) is gone. Removing one
 *   frees what it held: an index's children, a subject's referrers (signatures, SBOMs), as
 *   Distribution's `--delete-untagged` does.
 * - A **repository** with no manifest, no blob link and no upload left.
 * - **Stray files**: bytes in the blob store with no blob row (a crash between a sweep's
 *   transaction and its unlink, or between an upload's rename and its link), and expired uploads.
 *
 * The grace period (default 1 h) keeps what a push in flight has produced but not yet used: a
 * client uploads layers, then children of an index, then the index, each unreferenced until the
 * next arrives.
 *
 * Why it is safe under concurrent pushes (the protocol)
 * -----------------------------------------------------
 * 1. **Marking happens inside the deleting transaction.** MetadataStore.sweep removes each row
 *    with a statement whose condition *is* the mark ("no reference exists", "no link exists"),
 *    evaluated in the transaction that deletes it. There is no list computed earlier that could
 *    be stale by the time it is acted on.
 * 2. **A manifest PUT checks its references inside its own write.** MetadataStore.putManifest
 *    verifies, in the transaction that inserts the manifest and its references, that every
 *    required blob is linked into the repository (and every child manifest is present). The store
 *    serialises the two transactions, so exactly one of these holds:
 *    - the PUT committed first: its references exist, the sweep's conditions see them, the blobs
 *      and links stay;
 *    - the sweep committed first: the link is gone, the PUT finds it missing and answers
 *      MANIFEST_BLOB_UNKNOWN. A manifest is never acknowledged with a blob that is then deleted.
 *    A mount (`mountBlob`) checks and links in one transaction the same way.
 * 3. **Bytes go last, under the blob's lock, only if the row is still gone.** After the sweep's
 *    transaction removed a blob row, the bytes are unlinked under the registry's per-digest lock,
 *    after checking again that no row exists. An upload of the same digest commits (rename, then
 *    row) under that same lock, so it either finishes first (the row is back: the bytes stay) or
 *    starts after the unlink (it finds no row and writes the bytes again).
 * 4. **Crash safety.** Rows are removed in transactions; bytes only after their row is gone. A
 *    kill -9 at any point leaves, at worst, files without rows, which the next run's stray pass
 *    removes. Nothing referenced is ever lost, and a restarted run finishes the job.
 *
 * The per-digest lock is the registry's Coordination (../coordination.ts): the process's own
 * KeyedMutex for one process, a Redis lock for replicas sharing a blob store (redis.url), and
 * then GC runs on one replica at a time (the `gc` leader lock, Registry.collectGarbage).
 */
import type { Digest } from "../../oci/digest.ts";
import { forEachLimit } from "../../util/concurrency.ts";
import type { MetadataStore, SweepResult } from "../metadata/metadata-store.ts";
import type { BlobStore } from "../storage/blob-store.ts";

/** Blob files unlinked at once (they are small requests to the file system's thread pool). */
const DELETES_IN_FLIGHT = 16;

export interface GcOptions {
  /** Nothing committed, linked or pushed more recently than this is touched. */
  gracePeriodMs: number;
  /** Also remove manifests no tag, index or live subject holds. */
  untagged: boolean;
  /** Report what would go and change nothing. */
  dryRun: boolean;
  /** Called as the run moves through its phases (for progress in logs and the API). */
  onPhase?: (phase: GcPhase) => void;
  /** Stops the run between two steps (at shutdown); every step is safe to stop after. */
  signal?: AbortSignal;
}

export type GcPhase = "sweeping metadata" | "deleting blobs" | "sweeping stray files" | "expiring uploads";

/** What one run removed (or, in a dry run, would remove). */
export interface GcResult {
  manifests: { repository: string; digest: Digest; size: number }[];
  links: number;
  /** Blobs whose bytes were deleted (dry run: would be). */
  blobs: { digest: Digest; size: number }[];
  /** Bytes of those blobs. */
  blobBytes: number;
  repositories: string[];
  /** Files in the blob store no blob row accounts for. */
  strayFiles: { digest: Digest; size: number }[];
  strayBytes: number;
  uploadsExpired: number;
}

/** The parts of the registry a run works on (Registry.collectGarbage hands them in). */
export interface GcTarget {
  blobs: BlobStore;
  metadata: MetadataStore;
  /** The registry's per-digest locks (`blob:<digest>`), shared with upload commits. */
  locks: { run<T>(key: string, work: () => Promise<T>): Promise<T> };
  expireUploads(dryRun: boolean): Promise<number>;
  /** Drops the registry's caches of removed manifests and repositories. */
  forget(manifests: SweepResult["manifests"], repositories: string[]): void;
}

export async function collectGarbage(target: GcTarget, options: GcOptions): Promise<GcResult> {
  const { blobs, metadata, locks } = target;
  const { dryRun } = options;
  options.signal?.throwIfAborted();
  options.onPhase?.("sweeping metadata");
  const swept = await metadata.sweep({
    before: Date.now() - options.gracePeriodMs,
    untagged: options.untagged,
    dryRun,
  });
  if (!dryRun) target.forget(swept.manifests, swept.repositories);

  options.onPhase?.("deleting blobs");
  const deleted: GcResult["blobs"] = [];
  // Several unlinks in flight: each waits on the file system (libuv's pool), and under a pull
  // load one at a time would wait a turn of the event loop each.
  await forEachLimit(swept.blobs, DELETES_IN_FLIGHT, async (blob) => {
    options.signal?.throwIfAborted();
    if (dryRun) {
      deleted.push(blob);
      return;
    }
    const gone = await locks.run(`blob:${blob.digest}`, async () => {
      if ((await metadata.blobSize(blob.digest)) !== undefined) return false; // pushed again meanwhile
      await blobs.delete(blob.digest);
      return true;
    });
    if (gone) deleted.push(blob);
  });

  options.onPhase?.("sweeping stray files");
  const strays: GcResult["strayFiles"] = [];
  const sweptDigests = new Set(swept.blobs.map((blob) => blob.digest));
  const candidates: Digest[] = [];
  for await (const digest of blobs.list()) {
    options.signal?.throwIfAborted();
    // In a dry run the swept blobs still have their rows and are counted above, not here.
    if (sweptDigests.has(digest) || (await metadata.blobSize(digest)) !== undefined) continue;
    candidates.push(digest);
  }
  await forEachLimit(candidates, DELETES_IN_FLIGHT, async (digest) => {
    options.signal?.throwIfAborted();
    const stray = await locks.run(`blob:${digest}`, async () => {
      if ((await metadata.blobSize(digest)) !== undefined) return undefined; // committed meanwhile
      const size = (await blobs.stat(digest))?.size;
      if (size === undefined) return undefined;
      if (!dryRun) await blobs.delete(digest);
      return { digest, size };
    });
    if (stray) strays.push(stray);
  });

  options.onPhase?.("expiring uploads");
  const uploadsExpired = await target.expireUploads(dryRun);
  return {
    manifests: swept.manifests,
    links: swept.links,
    blobs: deleted,
    blobBytes: sum(deleted),
    repositories: swept.repositories,
    strayFiles: strays,
    strayBytes: sum(strays),
    uploadsExpired,
  };
}

function sum(items: { size: number }[]): number {
  return items.reduce((total, item) => total + item.size, 0);
}
