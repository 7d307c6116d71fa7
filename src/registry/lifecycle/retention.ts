/**
 * Retention: the registry deletes tags and manifests its policies (./retention-config.ts) do not
 * keep, on a schedule or when asked, and says per repository what goes, what stays and why.
 * Deleting only unlinks metadata; garbage collection then frees the blobs nothing references.
 *
 * Which policy: each repository is governed by the first policy (in configuration order) one of
 * whose `repositories` globs matches its name; repositories no policy matches are left alone.
 *
 * Tags, in this order (the first rule that decides gives the reason):
 * 1. Accessory tags — `sha256-<hex>` and `sha256-<hex>.<suffix>` (cosign signatures and
 *    attestations, the referrers tag schema) — belong to the manifest they name: they go when
 *    that manifest is deleted by this run and stay otherwise. No rule below sees them.
 * 2. A policy with no tag rule (keepLast, keepPushedWithin, keepPulledWithin, keepTags,
 *    deleteTags) keeps every tag.
 * 3. `protectedTags`: a tag matching one is kept.
 * 4. `deleteTags`: when given, a tag matching none of them is kept; the rest are the candidates.
 *    Without deleteTags every remaining tag is a candidate.
 * 5. A candidate is kept when any keep rule keeps it:
 *    - `keepTags`: it matches one of the patterns;
 *    - `keepLast: N`: it is among the N first candidates ranked by `sortBy` — `pushed`: by the
 *      time the tag was last set, newest first; `semver`: by semantic version (semver.org, with an
 *      optional `v`), highest first, equal versions newest first. Under `semver` a tag that is no
 *      semantic version (`latest`, `main`) is not ranked: keepLast does not keep it, and other
 *      rules decide;
 *    - `keepPushedWithin`: the tag was set within that long;
 *    - `keepPulledWithin`: the tag, or the manifest it points at (by digest), was pulled within
 *      that long (src/registry/pull-stats.ts).
 * 6. Any other candidate is deleted; its reason names every rule it failed.
 * Patterns are JavaScript regular expressions matched anywhere in the tag unless anchored
 * (`^latest$`). Ages are measured from the start of the run.
 *
 * Manifests are deleted (by digest) when nothing keeps them:
 * - a manifest whose every tag goes in this run, or
 * - with `deleteUntaggedAfter`, a manifest that had no tag and was pushed longer ago than that, or
 * - a manifest without tags that only a deleted index lists, or whose subject is deleted;
 * unless a manifest that stays lists it (an index's platform manifests), it refers to a subject
 * that stays (signatures, SBOMs of a kept image), an accessory tag that stays points at it, or
 * it was pulled within `keepPulledWithin`.
 *
 * A dry run computes the plan; a real run computes the same plan and carries it out: each tag
 * deleted (only while it still points at the planned digest), then each manifest (only while no
 * tag points at it and no manifest outside the plan lists it), each deletion logged and written
 * to the audit log.
 */
import { randomUUID } from "node:crypto";
import type { Digest } from "../../oci/digest.ts";
import { type CronClock, type CronJob, parseCron, SYSTEM_CLOCK, startCronJob } from "../../util/cron.ts";
import { formatDuration } from "../../util/duration.ts";
import type { Logger } from "../../util/logger.ts";
import { compileRepositoryGlob } from "../../util/repository-glob.ts";
import { compareSemVer, parseSemVer, type SemVer } from "../../util/semver.ts";
import type { AuditEvent } from "../http/audit.ts";
import type { ManifestEntry, TagRecord } from "../metadata/registry-index.ts";
import type { Registry } from "../registry.ts";
import type { RetentionConfig, RetentionPolicy } from "./retention-config.ts";

export type RetentionAction = "keep" | "delete";

/** What happened to a planned deletion in a real run. */
export type RetentionOutcome = "deleted" | "skipped" | "failed";

export interface TagDecision {
  tag: string;
  digest: Digest;
  action: RetentionAction;
  reason: string;
  /** Real runs, deletions only. */
  outcome?: RetentionOutcome;
  /** Why a deletion was skipped or failed. */
  error?: string;
}

/** A manifest deleted by digest (manifests that stay are not listed). */
export interface ManifestDecision {
  digest: Digest;
  action: "delete";
  reason: string;
  outcome?: RetentionOutcome;
  error?: string;
}

export interface RepositoryPlan {
  repository: string;
  policy: string;
  /** Every tag, by name. */
  tags: TagDecision[];
  /** The manifests deleted, in the order a run deletes them (indexes before what they list). */
  manifests: ManifestDecision[];
}

export interface RetentionSummary {
  repositories: number;
  tagsKept: number;
  tagsDeleted: number;
  manifestsDeleted: number;
  /** Planned deletions a real run skipped (changed meanwhile) or that failed. */
  skipped: number;
  failed: number;
}

export interface RetentionRun {
  id: string;
  dryRun: boolean;
  trigger: "api" | "schedule";
  /** Who asked (API runs), when known. */
  user: string | null;
  /** The policies applied. */
  policies: string[];
  startedAt: string;
  finishedAt: string;
  summary: RetentionSummary;
}

export interface RetentionResult extends RetentionRun {
  repositories: RepositoryPlan[];
}

// ---- the plan of one repository (pure) ----------------------------------------------------

const ACCESSORY_TAG = /^sha256-([0-9a-f]{64})(?:\..+)?$/;

export interface CompiledPolicy {
  policy: RetentionPolicy;
  repositories: RegExp[];
  keepTags: RegExp[];
  deleteTags: RegExp[];
  protectedTags: RegExp[];
  /** Any of keepLast, keepPushedWithin, keepPulledWithin, keepTags, deleteTags. */
  hasTagRules: boolean;
}

/** A policy with its globs and patterns compiled, for planRepository. */
export function compilePolicy(policy: RetentionPolicy): CompiledPolicy {
  const patterns = (sources: string[]) => sources.map((source) => new RegExp(source));
  return {
    policy,
    repositories: policy.repositories.map(compileRepositoryGlob),
    keepTags: patterns(policy.keepTags),
    deleteTags: patterns(policy.deleteTags),
    protectedTags: patterns(policy.protectedTags),
    hasTagRules:
      policy.keepLast !== undefined ||
      policy.keepPushedWithin !== undefined ||
      policy.keepPulledWithin !== undefined ||
      policy.keepTags.length > 0 ||
      policy.deleteTags.length > 0,
  };
}

/** "40d", "3h", "12m", "5s": the largest whole unit of an age. */
export function formatAge(ms: number): string {
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
  ];
  for (const [unit, size] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return `${Math.max(0, Math.floor(ms / 1000))}s`;
}

const shortDigest = (digest: string) => digest.slice(0, 19);
const pattern = (re: RegExp) => `/${re.source}/`;

function byName<T extends { tag: string }>(a: T, b: T): number {
  return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
}

/** The candidates keepLast keeps, and why the others are not ranked or not kept. */
function rank(
  policy: RetentionPolicy,
  candidates: TagRecord[],
): { kept: Set<string>; unranked: Set<string>; what: string } {
  const n = policy.keepLast ?? 0;
  if (policy.sortBy === "semver") {
    const versions = candidates
      .map((tag) => ({ tag, version: parseSemVer(tag.tag) }))
      .filter((entry): entry is { tag: TagRecord; version: SemVer } => entry.version !== undefined)
      .sort(
        (a, b) =>
          compareSemVer(b.version, a.version) || b.tag.updatedAt - a.tag.updatedAt || byName(a.tag, b.tag),
      );
    const ranked = new Set(versions.map((entry) => entry.tag.tag));
    return {
      kept: new Set(versions.slice(0, n).map((entry) => entry.tag.tag)),
      unranked: new Set(candidates.filter((tag) => !ranked.has(tag.tag)).map((tag) => tag.tag)),
      what: `${n} highest versions`,
    };
  }
  const newest = [...candidates].sort((a, b) => b.updatedAt - a.updatedAt || byName(a, b));
  return {
    kept: new Set(newest.slice(0, n).map((tag) => tag.tag)),
    unranked: new Set(),
    what: `${n} newest`,
  };
}

/** Keep or delete, and why, for every tag that is not an accessory tag. */
function decideTags(compiled: CompiledPolicy, tags: TagRecord[], now: number): Map<string, TagDecision> {
  const { policy } = compiled;
  const decisions = new Map<string, TagDecision>();
  const decide = (tag: TagRecord, action: RetentionAction, reason: string) =>
    decisions.set(tag.tag, { tag: tag.tag, digest: tag.digest, action, reason });
  if (!compiled.hasTagRules) {
    for (const tag of tags) decide(tag, "keep", `policy "${policy.name}" has no tag rules`);
    return decisions;
  }
  const candidates: TagRecord[] = [];
  for (const tag of tags) {
    const protectedBy = compiled.protectedTags.find((re) => re.test(tag.tag));
    const deleteBy = compiled.deleteTags.find((re) => re.test(tag.tag));
    if (protectedBy) decide(tag, "keep", `protected by ${pattern(protectedBy)}`);
    else if (compiled.deleteTags.length > 0 && !deleteBy)
      decide(tag, "keep", "matches no deleteTags pattern");
    else candidates.push(tag);
  }
  const ranking = policy.keepLast !== undefined ? rank(policy, candidates) : undefined;
  for (const tag of candidates) {
    const failed: string[] = [];
    const deleteBy = compiled.deleteTags.find((re) => re.test(tag.tag));
    if (deleteBy) failed.push(`matches deleteTags ${pattern(deleteBy)}`);
    const keepBy = compiled.keepTags.find((re) => re.test(tag.tag));
    if (keepBy) {
      decide(tag, "keep", `matches keepTags ${pattern(keepBy)}`);
      continue;
    }
    if (compiled.keepTags.length > 0) failed.push("matches no keepTags pattern");
    if (ranking) {
      if (ranking.kept.has(tag.tag)) {
        decide(tag, "keep", `among the ${ranking.what}`);
        continue;
      }
      failed.push(
        ranking.unranked.has(tag.tag)
          ? "not a semantic version (keepLast ranks versions)"
          : `not among the ${ranking.what}`,
      );
    }
    if (policy.keepPushedWithin !== undefined) {
      const age = now - tag.updatedAt;
      const window = formatDuration(policy.keepPushedWithin);
      if (age <= policy.keepPushedWithin) {
        decide(tag, "keep", `pushed ${formatAge(age)} ago (within ${window})`);
        continue;
      }
      failed.push(`pushed ${formatAge(age)} ago (more than ${window})`);
    }
    if (policy.keepPulledWithin !== undefined) {
      const window = formatDuration(policy.keepPulledWithin);
      if (tag.lastPulledAt === undefined) {
        failed.push(`never pulled (keepPulledWithin ${window})`);
      } else {
        const age = now - tag.lastPulledAt;
        if (age <= policy.keepPulledWithin) {
          decide(tag, "keep", `pulled ${formatAge(age)} ago (within ${window})`);
          continue;
        }
        failed.push(`last pulled ${formatAge(age)} ago (more than ${window})`);
      }
    }
    decide(tag, "delete", failed.join("; "));
  }
  return decisions;
}

/**
 * The plan of one repository under its policy at time `now`: every tag with its action and
 * reason, and the manifests that go. Pure: the same records and time give the same plan.
 */
export function planRepository(
  repository: string,
  compiled: CompiledPolicy,
  tags: TagRecord[],
  manifests: ManifestEntry[],
  now: number,
): RepositoryPlan {
  const { policy } = compiled;
  const accessoryOf = (tag: string) => {
    const match = ACCESSORY_TAG.exec(tag);
    return match ? (`sha256:${match[1]}` as Digest) : undefined;
  };
  const regular = tags.filter((tag) => accessoryOf(tag.tag) === undefined);
  const accessories = tags.filter((tag) => accessoryOf(tag.tag) !== undefined);
  const decisions = decideTags(compiled, regular, now);

  const byDigest = new Map(manifests.map((m) => [m.digest, m]));
  const tagsOf = new Map<Digest, TagRecord[]>();
  for (const tag of tags) tagsOf.set(tag.digest, [...(tagsOf.get(tag.digest) ?? []), tag]);
  const parentsOf = new Map<Digest, Digest[]>();
  for (const m of manifests) {
    for (const child of m.children) parentsOf.set(child, [...(parentsOf.get(child) ?? []), m.digest]);
  }
  const pulledWithin = (m: ManifestEntry) =>
    policy.keepPulledWithin !== undefined &&
    m.lastPulledAt !== undefined &&
    now - m.lastPulledAt <= policy.keepPulledWithin;

  // Grow the deleted set until nothing more goes: each pass may free what a deletion left unneeded.
  const deleted = new Map<Digest, string>();
  const tagStays = (tag: TagRecord) => {
    const subject = accessoryOf(tag.tag);
    if (subject !== undefined) return !deleted.has(subject);
    return decisions.get(tag.tag)?.action === "keep";
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const m of manifests) {
      if (deleted.has(m.digest) || pulledWithin(m)) continue;
      const own = tagsOf.get(m.digest) ?? [];
      if (own.some(tagStays)) continue;
      const parents = parentsOf.get(m.digest) ?? [];
      if (parents.some((parent) => !deleted.has(parent))) continue;
      if (m.subject !== undefined && byDigest.has(m.subject) && !deleted.has(m.subject)) continue;
      let reason: string | undefined;
      if (own.length > 0) {
        reason = `its tags are deleted (${own.map((tag) => tag.tag).join(", ")})`;
      } else if (parents.length > 0) {
        reason = `listed only by deleted ${parents.map(shortDigest).join(", ")}`;
      } else if (m.subject !== undefined && deleted.has(m.subject)) {
        reason = `refers to deleted ${shortDigest(m.subject)}`;
      } else if (policy.deleteUntaggedAfter !== undefined && now - m.pushedAt > policy.deleteUntaggedAfter) {
        reason = `untagged, pushed ${formatAge(now - m.pushedAt)} ago (more than ${formatDuration(policy.deleteUntaggedAfter)})`;
      }
      if (reason !== undefined) {
        deleted.set(m.digest, reason);
        changed = true;
      }
    }
  }

  for (const tag of accessories) {
    const subject = accessoryOf(tag.tag)!;
    const goes = deleted.has(subject);
    decisions.set(tag.tag, {
      tag: tag.tag,
      digest: tag.digest,
      action: goes ? "delete" : "keep",
      reason: goes
        ? `attached to ${shortDigest(subject)}, which is deleted`
        : `attached to ${shortDigest(subject)}, which stays`,
    });
  }
  return {
    repository,
    policy: policy.name,
    tags: [...decisions.values()].sort(byName),
    manifests: deletionOrder(deleted, byDigest).map((digest) => ({
      digest,
      action: "delete",
      reason: deleted.get(digest)!,
    })),
  };
}

/** Deleted manifests, each before the manifests it lists and before its subject. */
function deletionOrder(deleted: Map<Digest, string>, byDigest: Map<Digest, ManifestEntry>): Digest[] {
  const order: Digest[] = [];
  const placed = new Set<Digest>();
  const pending = [...deleted.keys()].sort();
  // A manifest can be placed once every deleted manifest naming it (as child or subject) is.
  const namers = new Map<Digest, Digest[]>();
  for (const digest of pending) {
    const m = byDigest.get(digest)!;
    for (const named of [...m.children, ...(m.subject ? [m.subject] : [])]) {
      if (deleted.has(named)) namers.set(named, [...(namers.get(named) ?? []), digest]);
    }
  }
  while (order.length < pending.length) {
    const before = order.length;
    for (const digest of pending) {
      if (placed.has(digest)) continue;
      if ((namers.get(digest) ?? []).every((namer) => placed.has(namer))) {
        order.push(digest);
        placed.add(digest);
      }
    }
    // Content addressing rules out cycles; should one appear, the rest go in digest order.
    if (order.length === before) for (const digest of pending) if (!placed.has(digest)) order.push(digest);
  }
  return order;
}

// ---- runs -------------------------------------------------------------------------------

export interface RetentionOptions {
  registry: Registry;
  config: RetentionConfig;
  logger: Logger;
  /** Every deletion of a real run, when the audit log is on. */
  audit?: { write(event: AuditEvent): void };
  /** Time of the plans and of the schedule (tests move a fake one). */
  clock?: CronClock;
}

export interface RunOptions {
  dryRun: boolean;
  trigger: "api" | "schedule";
  user?: string | null;
  /** Who asked, for the audit log (an IP address; "scheduler" for scheduled runs). */
  client?: string;
  requestId?: string;
  /** Only these policies (by name); default all. */
  policies?: string[];
}

const CATALOG_PAGE = 1000;

export class Retention {
  readonly config: RetentionConfig;
  readonly #registry: Registry;
  readonly #logger: Logger;
  readonly #audit: RetentionOptions["audit"];
  readonly #clock: CronClock;
  readonly #compiled: CompiledPolicy[];
  readonly #jobs: CronJob[] = [];
  /** Runs one after another: a scheduled run and an API run never interleave. */
  #queue: Promise<unknown> = Promise.resolve();
  #lastRun: RetentionRun | undefined;
  #closed = false;

  constructor(options: RetentionOptions) {
    this.config = options.config;
    this.#registry = options.registry;
    this.#logger = options.logger;
    this.#audit = options.audit;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#compiled = options.config.policies.map(compilePolicy);
  }

  get lastRun(): RetentionRun | undefined {
    return this.#lastRun;
  }

  /** The earliest next scheduled run (epoch ms), when scheduled. */
  get nextRun(): number | undefined {
    const times = this.#jobs.map((job) => job.nextRun).filter((t): t is number => t !== undefined);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /**
   * Starts the schedules: one cron job per distinct schedule, each running the policies that
   * use it. Without policies, or with `scheduled: false`, nothing is scheduled.
   */
  start(): void {
    if (!this.config.scheduled || this.#jobs.length > 0) return;
    const bySchedule = new Map<string, string[]>();
    for (const policy of this.config.policies) {
      const schedule = policy.schedule ?? this.config.schedule;
      bySchedule.set(schedule, [...(bySchedule.get(schedule) ?? []), policy.name]);
    }
    for (const [expression, policies] of bySchedule) {
      const job = startCronJob(
        parseCron(expression, "retention.schedule"),
        async () => {
          await this.run({ dryRun: false, trigger: "schedule", client: "scheduler", policies });
        },
        {
          clock: this.#clock,
          onError: (error) => this.#logger.error("scheduled retention run failed", { err: error, policies }),
        },
      );
      this.#jobs.push(job);
    }
  }

  /** Plans (dry run) or plans and carries out (real run) the policies, one run at a time. */
  run(options: RunOptions): Promise<RetentionResult> {
    const result = this.#queue.then(() => this.#run(options));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #run(options: RunOptions): Promise<RetentionResult> {
    if (this.#closed) throw new Error("retention is closed");
    const chosen = options.policies
      ? this.#compiled.filter((c) => options.policies!.includes(c.policy.name))
      : this.#compiled;
    const id = randomUUID();
    const now = this.#clock.now();
    const startedAt = new Date(now).toISOString();
    const repositories: RepositoryPlan[] = [];
    for await (const repository of this.#repositories()) {
      const compiled = this.#compiled.find((c) => c.repositories.some((re) => re.test(repository)));
      // The first matching policy governs; when it is not among those run, the repository waits.
      if (!compiled || !chosen.includes(compiled)) continue;
      const [tags, manifests] = await Promise.all([
        this.#registry.listTagRecords(repository),
        this.#registry.listManifestEntries(repository),
      ]);
      // Deleted meanwhile, or holding only blobs: nothing to decide.
      if (!tags || !manifests || manifests.length === 0) continue;
      const plan = planRepository(repository, compiled, tags, manifests, now);
      if (!options.dryRun) await this.#carryOut(plan, { ...options, runId: id });
      repositories.push(plan);
    }
    const run: RetentionRun = {
      id,
      dryRun: options.dryRun,
      trigger: options.trigger,
      user: options.user ?? null,
      policies: chosen.map((c) => c.policy.name),
      startedAt,
      finishedAt: new Date(this.#clock.now()).toISOString(),
      summary: summarize(repositories),
    };
    this.#lastRun = run;
    this.#logger.info(options.dryRun ? "retention dry run" : "retention run", { ...run });
    return { ...run, repositories };
  }

  async *#repositories(): AsyncGenerator<string> {
    let last: string | undefined;
    for (;;) {
      const page = await this.#registry.catalog({ last, limit: CATALOG_PAGE });
      yield* page;
      if (page.length < CATALOG_PAGE) return;
      last = page.at(-1);
    }
  }

  async #carryOut(plan: RepositoryPlan, options: RunOptions & { runId: string }): Promise<void> {
    const { repository } = plan;
    for (const decision of plan.tags) {
      if (decision.action !== "delete") continue;
      await this.#attempt(decision, plan, options, async () => {
        // Pushed again since the plan was made: the new image is not what the plan judged.
        const current = await this.#registry.resolveTag(repository, decision.tag);
        if (current !== decision.digest)
          return current === undefined ? "already gone" : "moved to another manifest";
        await this.#registry.deleteManifest(repository, decision.tag);
        return undefined;
      });
    }
    if (plan.manifests.length === 0) return;
    // What the repository holds now, after the tag deletions: a manifest tagged or listed anew stays.
    const [tags, manifests] = await Promise.all([
      this.#registry.listTagRecords(repository),
      this.#registry.listManifestEntries(repository),
    ]);
    const planned = new Set(plan.manifests.map((m) => m.digest));
    const tagged = new Set(tags?.map((tag) => tag.digest));
    const listed = new Set(manifests?.filter((m) => !planned.has(m.digest)).flatMap((m) => m.children));
    for (const decision of plan.manifests) {
      await this.#attempt(decision, plan, options, async () => {
        if (tagged.has(decision.digest)) return "tagged again";
        if (listed.has(decision.digest)) return "listed by a manifest pushed since";
        await this.#registry.deleteManifest(repository, decision.digest);
        return undefined;
      });
    }
  }

  /** Runs one deletion: records its outcome on the decision, logs it and audits it. */
  async #attempt(
    decision: TagDecision | ManifestDecision,
    plan: RepositoryPlan,
    options: RunOptions & { runId: string },
    remove: () => Promise<string | undefined>,
  ): Promise<void> {
    const reference = "tag" in decision ? decision.tag : decision.digest;
    const fields = { repository: plan.repository, reference, digest: decision.digest, policy: plan.policy };
    try {
      const skipped = await remove();
      if (skipped !== undefined) {
        decision.outcome = "skipped";
        decision.error = skipped;
        this.#logger.info("retention skipped a deletion", { ...fields, why: skipped });
        return;
      }
      decision.outcome = "deleted";
      this.#logger.info("retention deleted", { ...fields, reason: decision.reason });
      this.#audit?.write({
        time: new Date(this.#clock.now()).toISOString(),
        action: "retention",
        outcome: "success",
        user: options.user ?? null,
        repository: plan.repository,
        reference,
        digest: decision.digest,
        client: options.client ?? "",
        status: 202,
        requestId: options.requestId ?? options.runId,
        policy: plan.policy,
        reason: decision.reason,
      });
    } catch (error) {
      decision.outcome = "failed";
      decision.error = (error as Error).message;
      this.#logger.error("retention deletion failed", { ...fields, err: error });
    }
  }

  /** Stops the schedules and waits for a run in progress. */
  async close(): Promise<void> {
    for (const job of this.#jobs.splice(0)) job.stop();
    await this.#queue;
    this.#closed = true;
  }
}

function summarize(plans: RepositoryPlan[]): RetentionSummary {
  const summary: RetentionSummary = {
    repositories: plans.length,
    tagsKept: 0,
    tagsDeleted: 0,
    manifestsDeleted: 0,
    skipped: 0,
    failed: 0,
  };
  for (const plan of plans) {
    for (const decision of [...plan.tags, ...plan.manifests]) {
      if (decision.outcome === "skipped") summary.skipped++;
      else if (decision.outcome === "failed") summary.failed++;
    }
    for (const tag of plan.tags) {
      if (tag.action === "keep") summary.tagsKept++;
      else if (tag.outcome === undefined || tag.outcome === "deleted") summary.tagsDeleted++;
    }
    for (const m of plan.manifests)
      if (m.outcome === undefined || m.outcome === "deleted") summary.manifestsDeleted++;
  }
  return summary;
}
