/**
 * Copies one registry into another through the BlobStore and MetadataStore seams, so any pair of
 * backends works (an embedded data dir — FsBlobStore + SQLite — to S3 + PostgreSQL, or to another
 * data dir). Used by `reestr migrate` (src/cli/migrate.ts).
 *
 * Order, so that the target's own checks pass and a crash leaves nothing half-true:
 *   1. blobs: each streamed into a target upload and re-hashed on the way; committed only when the
 *      bytes hash to the digest (a mismatch stops the run naming the blob: a wrong blob is never
 *      written), then linked into every source repository that links it;
 *   2. manifests, per repository, children before the indexes that list them, each stored with its
 *      tags through putManifest with the same reference check a push gets;
 *   3. pull statistics, topped up to the source's counts.
 * Resumable: a blob the target already stores with the right size is not copied again, a link or
 * manifest already there is not written again, and pulls are added only up to the source's count,
 * so a rerun after any interruption (kill -9 included) converges on the source.
 *
 * What is not copied: upload sessions in progress (clients restart them), blob files no metadata
 * row knows (garbage), and the dates (push, tag and link times are those of the migration).
 */
import { randomUUID } from "node:crypto";
import type { Digest } from "../oci/digest.ts";
import { createDigester, digestFromHash, parseDigest } from "../oci/digest.ts";
import { parseManifest } from "../oci/manifest.ts";
import { forEachLimit } from "../util/concurrency.ts";
import type { ManifestRecord, MetadataStore, PullBatch } from "./metadata/metadata-store.ts";
import type { ManifestEntry, RegistryIndex } from "./metadata/registry-index.ts";
import { requiredReferences } from "./registry.ts";
import type { BlobStore } from "./storage/blob-store.ts";

export interface MigrationEnd {
  blobs: BlobStore;
  metadata: MetadataStore & RegistryIndex;
}

export interface MigrationOptions {
  /** Work out what would be copied; write nothing. */
  dryRun?: boolean;
  /** Skip the target's reference check (a target configured with storage.allowSparseManifests). */
  allowSparseManifests?: boolean;
  /** Blobs copied at once (default 4). */
  concurrency?: number;
  onProgress?: (progress: MigrationProgress) => void;
}

export interface MigrationProgress {
  phase: "plan" | "blobs" | "manifests" | "pulls" | "done";
  blobsDone: number;
  blobsTotal: number;
  /** Bytes of blobs done (copied or found present). */
  bytesDone: number;
  bytesTotal: number;
  manifestsDone: number;
  manifestsTotal: number;
}

export interface MigrationResult {
  dryRun: boolean;
  repositories: number;
  blobs: { total: number; copied: number; present: number; bytesCopied: number; bytesTotal: number };
  /** Blob links made in the target (a link already there is not counted). */
  links: number;
  manifests: { total: number; written: number; present: number };
  tags: number;
  pulls: number;
  /** Blob files in the source no metadata row knows: garbage, not copied. */
  orphanBlobs: number;
  durationMs: number;
}

/** The migration cannot go on: the message names the blob or manifest, and nothing wrong was written. */
export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MigrationError";
  }
}

const PAGE = 1000;
const DEFAULT_CONCURRENCY = 4;

interface PlannedBlob {
  digest: Digest;
  size: number;
  repositories: string[];
}

interface RepositoryPlan {
  name: string;
  /** Children before their indexes. */
  manifests: ManifestEntry[];
  tags: Map<Digest, string[]>;
}

export async function migrateRegistry(
  source: MigrationEnd,
  target: MigrationEnd,
  options: MigrationOptions = {},
): Promise<MigrationResult> {
  const started = Date.now();
  const dryRun = options.dryRun ?? false;
  const repositories = await allRepositories(source.metadata);
  const { blobs, orphans } = await planBlobs(source, repositories);
  const plans: RepositoryPlan[] = [];
  for (const name of repositories) plans.push(await planRepository(source.metadata, name));
  const progress: MigrationProgress = {
    phase: "plan",
    blobsDone: 0,
    blobsTotal: blobs.length,
    bytesDone: 0,
    bytesTotal: blobs.reduce((sum, b) => sum + b.size, 0),
    manifestsDone: 0,
    manifestsTotal: plans.reduce((sum, p) => sum + p.manifests.length, 0),
  };
  const report = (phase: MigrationProgress["phase"]) => {
    progress.phase = phase;
    options.onProgress?.({ ...progress });
  };
  const result: MigrationResult = {
    dryRun,
    repositories: repositories.length,
    blobs: { total: blobs.length, copied: 0, present: 0, bytesCopied: 0, bytesTotal: progress.bytesTotal },
    links: 0,
    manifests: { total: progress.manifestsTotal, written: 0, present: 0 },
    tags: 0,
    pulls: 0,
    orphanBlobs: orphans,
    durationMs: 0,
  };
  report("plan");

  report("blobs");
  // Several at once: object storage answers each request after a round trip, so one blob at a
  // time would leave the link mostly idle.
  await forEachLimit(blobs, options.concurrency ?? DEFAULT_CONCURRENCY, async (blob) => {
    const stored = await target.blobs.stat(blob.digest);
    if (stored?.size === blob.size) result.blobs.present++;
    else {
      if (!dryRun) await copyBlob(source.blobs, target.blobs, blob);
      result.blobs.copied++;
      result.blobs.bytesCopied += blob.size;
    }
    for (const repository of blob.repositories) {
      if ((await target.metadata.linkedBlobSize(repository, blob.digest)) === blob.size) continue;
      if (!dryRun) await target.metadata.linkBlob(repository, blob.digest, blob.size);
      result.links++;
    }
    progress.blobsDone++;
    progress.bytesDone += blob.size;
    report("blobs");
  });

  report("manifests");
  const pulls: PullBatch = { manifests: [], tags: [] };
  for (const plan of plans) {
    const present = new Map(
      ((await target.metadata.listManifestEntries(plan.name)) ?? []).map((e) => [e.digest, e]),
    );
    for (const entry of plan.manifests) {
      const tags = plan.tags.get(entry.digest) ?? [];
      result.tags += tags.length;
      const there = present.get(entry.digest);
      const tagsThere = await Promise.all(tags.map((t) => target.metadata.resolveTag(plan.name, t)));
      if (there && tagsThere.every((d) => d === entry.digest)) result.manifests.present++;
      else {
        if (!dryRun) await copyManifest(source.metadata, target.metadata, plan.name, entry, tags, options);
        result.manifests.written++;
      }
      // Topped up, not added: a rerun after a crash between the two writes counts each pull once.
      const missing = entry.pulls - (there?.pulls ?? 0);
      if (missing > 0 && entry.lastPulledAt !== undefined) {
        pulls.manifests.push({
          repository: plan.name,
          digest: entry.digest,
          pulls: missing,
          lastPulledAt: entry.lastPulledAt,
        });
        result.pulls += missing;
      }
      progress.manifestsDone++;
      report("manifests");
    }
    for (const record of (await source.metadata.listTagRecords(plan.name)) ?? []) {
      if (record.lastPulledAt !== undefined)
        pulls.tags.push({ repository: plan.name, tag: record.tag, lastPulledAt: record.lastPulledAt });
    }
  }

  report("pulls");
  if (!dryRun && (pulls.manifests.length > 0 || pulls.tags.length > 0))
    await target.metadata.recordPulls(pulls);
  result.durationMs = Date.now() - started;
  report("done");
  return result;
}

async function allRepositories(metadata: MetadataStore): Promise<string[]> {
  const names: string[] = [];
  for (let last: string | undefined; ; ) {
    const page = await metadata.listRepositories({ last, limit: PAGE }, { all: true });
    names.push(...page);
    if (page.length < PAGE) return names;
    last = page.at(-1);
  }
}

/**
 * Every blob the source stores and knows, with the repositories linking it. Enumerated from the
 * blob store so each is read once however many repositories share it.
 */
async function planBlobs(
  source: MigrationEnd,
  repositories: string[],
): Promise<{ blobs: PlannedBlob[]; orphans: number }> {
  const blobs: PlannedBlob[] = [];
  let orphans = 0;
  const known = new Set(repositories);
  for await (const digest of source.blobs.list()) {
    const size = await source.metadata.blobSize(digest);
    if (size === undefined) {
      orphans++;
      continue;
    }
    const linking: string[] = [];
    // repositoriesHolding also names repositories holding the digest as a manifest: keep links only.
    for (const repository of await source.metadata.repositoriesHolding(digest)) {
      if (known.has(repository) && (await source.metadata.linkedBlobSize(repository, digest)) !== undefined)
        linking.push(repository);
    }
    blobs.push({ digest, size, repositories: linking });
  }
  return { blobs, orphans };
}

async function planRepository(
  metadata: MetadataStore & RegistryIndex,
  name: string,
): Promise<RepositoryPlan> {
  const entries = (await metadata.listManifestEntries(name)) ?? [];
  const tags = new Map<Digest, string[]>();
  for (const record of (await metadata.listTagRecords(name)) ?? []) {
    const list = tags.get(record.digest) ?? [];
    list.push(record.tag);
    tags.set(record.digest, list);
  }
  return { name, manifests: childrenFirst(entries), tags };
}

/** Manifests ordered so every index comes after the children it lists (depth-first, cycle-safe). */
export function childrenFirst(entries: ManifestEntry[]): ManifestEntry[] {
  const byDigest = new Map(entries.map((e) => [e.digest, e]));
  const ordered: ManifestEntry[] = [];
  const visited = new Set<Digest>();
  const visit = (entry: ManifestEntry) => {
    if (visited.has(entry.digest)) return;
    visited.add(entry.digest);
    for (const child of entry.children) {
      const found = byDigest.get(child);
      if (found) visit(found);
    }
    ordered.push(entry);
  };
  for (const entry of entries) visit(entry);
  return ordered;
}

/** Streams one blob into a target upload, hashing it; commits only when the bytes match the digest. */
async function copyBlob(from: BlobStore, to: BlobStore, blob: PlannedBlob): Promise<void> {
  const algorithm = parseDigest(blob.digest).algorithm;
  const hash = createDigester(algorithm);
  const id = randomUUID();
  await to.createUpload(id);
  try {
    const written = await to.appendUpload(id, await from.read(blob.digest), (chunk) => hash.update(chunk));
    const actual = digestFromHash(algorithm, hash);
    if (actual !== blob.digest || written !== blob.size) {
      throw new MigrationError(
        `source blob ${blob.digest} is corrupt: its ${written} bytes hash to ${actual}` +
          ` (the metadata says ${blob.size} bytes); nothing was written for it. ` +
          "Run `reestr scrub` on the source, or push the affected images again, then rerun the migration",
      );
    }
    await to.commitUpload(id, blob.digest);
  } catch (error) {
    await to.deleteUpload(id).catch(() => {});
    if (error instanceof MigrationError) throw error;
    throw new MigrationError(`copying blob ${blob.digest}: ${(error as Error).message}`, { cause: error });
  }
}

async function copyManifest(
  from: MetadataStore,
  to: MetadataStore,
  repository: string,
  entry: ManifestEntry,
  tags: string[],
  options: MigrationOptions,
): Promise<void> {
  const where = `manifest ${repository}@${entry.digest}`;
  const stored = await from.getManifestByDigest(repository, entry.digest);
  if (!stored) throw new MigrationError(`${where} vanished from the source while migrating`);
  const parsed = parseManifest(stored.content, stored.mediaType);
  const record: ManifestRecord = {
    digest: entry.digest,
    mediaType: stored.mediaType,
    content: stored.content,
    blobs: parsed.blobs.map((b) => b.digest),
    children: parsed.children.map((c) => c.digest),
    subject: parsed.subject?.digest,
    artifactType: parsed.artifactType,
    annotations: parsed.annotations,
  };
  // The check a push gets: the target must hold what the manifest names, of the stated sizes.
  const required = options.allowSparseManifests ? undefined : requiredReferences(parsed);
  const problem = await to.putManifest(repository, record, tags, required);
  if (problem) {
    const why =
      problem.problem === "missing"
        ? `its ${problem.kind} ${problem.digest} is not in the target (missing from the source too?)`
        : `its ${problem.kind} ${problem.digest} is ${problem.stored} bytes in the target, the manifest states ${problem.stated}`;
    throw new MigrationError(
      `${where} cannot be stored: ${why}. Push the image again to the source, or set` +
        " storage.allowSparseManifests in the target configuration to copy the manifest as it is",
    );
  }
}
