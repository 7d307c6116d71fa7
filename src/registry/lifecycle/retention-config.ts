/**
 * The `retention` section: which tags and manifests the registry deletes on its own, on a
 * schedule. The rules themselves are applied by ./retention.ts, whose comment defines them.
 *
 *   retention:
 *     schedule: "0 4 * * *"            # 5-field cron, UTC (src/util/cron.ts); default daily 04:00
 *     policies:
 *       - name: team-builds
 *         repositories: ["team/**"]    # repository globs; first matching policy decides
 *         keepLast: 10                 # the 10 newest tags …
 *         sortBy: semver               # … by version (default: by push time, "pushed")
 *         keepPushedWithin: 14d        # tags set within 14 days
 *         keepPulledWithin: 30d        # tags pulled (or whose manifest was pulled) within 30 days
 *         keepTags: ["^v\\d+$"]        # regular expressions
 *         deleteTags: ["^pr-"]         # only these tags are candidates for deletion
 *         protectedTags: ["^latest$"]  # never deleted
 *         deleteUntaggedAfter: 7d      # manifests without tags, pushed longer ago than this
 *         schedule: "30 3 * * *"       # this policy's own schedule (default: the section's)
 *
 * A policy may also be one of the deploy kit's objects, as it renders or builds them
 * (src/deploy/policies.ts): the `RetentionPolicy` (apiVersion policy.reestr.dev/v1alpha1)
 * that `reestr deploy` writes, or the `ImageRetentionPolicy` that `imageRetentionPolicy()`
 * returns. Both load as they are and mean what Harbor does with the same policy (see
 * `fromDeployKit` below).
 */
import { z } from "zod";
import { CronExpression } from "../../util/cron.ts";
import { Duration, formatDuration, PositiveDuration } from "../../util/duration.ts";
import { compileRepositoryGlob } from "../../util/repository-glob.ts";

export const DEFAULT_RETENTION_SCHEDULE = "0 4 * * *";
const DAY_MS = 86_400_000;

const glob = z.string().superRefine((value, ctx) => {
  try {
    compileRepositoryGlob(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

const tagPattern = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(error as Error).message}` });
  }
});
const patterns = z.array(tagPattern).default([]);

export const RetentionPolicySchema = z
  .object({
    /** Shown in plans, logs and the audit log; default `policy-<n>` (1-based position). */
    name: z.string().min(1).max(100).optional(),
    /** Repository globs (`*` one segment, `**` any depth); default every repository. */
    repositories: z.array(glob).min(1).default(["**"]),
    /** Runs on this cron schedule instead of the section's. */
    schedule: CronExpression.optional(),
    keepLast: z.int().min(1).optional(),
    /** How keepLast ranks tags: by push time (newest first) or by semantic version (highest first). */
    sortBy: z.enum(["pushed", "semver"]).default("pushed"),
    keepPushedWithin: PositiveDuration.optional(),
    keepPulledWithin: PositiveDuration.optional(),
    keepTags: patterns,
    deleteTags: patterns,
    protectedTags: patterns,
    deleteUntaggedAfter: Duration.optional(),
  })
  .strict();

export type RetentionPolicyInput = z.input<typeof RetentionPolicySchema>;
/** A policy with its name settled. */
export type RetentionPolicy = z.output<typeof RetentionPolicySchema> & { name: string };

// ---- the deploy kit's objects --------------------------------------------------------------

const deployMetadata = z.looseObject({ name: z.string().min(1) });

/** What `reestr deploy` renders: Reestr's own policy object (src/deploy/policies.ts, RetentionPolicySpec). */
const RenderedPolicySchema = z.strictObject({
  apiVersion: z.literal("policy.reestr.dev/v1alpha1"),
  kind: z.literal("RetentionPolicy"),
  metadata: deployMetadata,
  spec: z.strictObject({
    schedule: z.string(),
    maxAgeDays: z.int().min(1),
    keep: z.strictObject({ tagged: z.boolean(), latest: z.boolean() }),
    repositories: z.array(z.string()),
  }),
});

/** What `imageRetentionPolicy()` returns (src/deploy/policies.ts, imageRetentionPolicySchema). */
const BuiltPolicySchema = z.strictObject({
  apiVersion: z.literal("deploy.reestr.dev/v1alpha1"),
  kind: z.literal("ImageRetentionPolicy"),
  metadata: deployMetadata,
  spec: z.strictObject({
    name: z.string(),
    retentionDays: z.int().min(1),
    keepTagged: z.boolean(),
    keepLatest: z.boolean(),
    repositories: z.array(z.string()),
    images: z.array(z.string()),
    schedule: z.string(),
    harbor: z.looseObject({}),
  }),
});

/**
 * A deploy kit policy as a Reestr policy, meaning what Harbor's tag retention does with the
 * rules it renders (`harborRetentionPolicy`): keep what was pushed within `maxAgeDays`, keep
 * every tag when `keep.tagged` (only untagged manifests then age out), keep `latest` when
 * `keep.latest`; an empty repository list is every repository.
 */
function fromDeployKit(policy: z.output<typeof RenderedPolicySchema>): RetentionPolicyInput {
  const { spec } = policy;
  const maxAge = formatDuration(spec.maxAgeDays * DAY_MS);
  return {
    name: policy.metadata.name,
    repositories: spec.repositories.length > 0 ? spec.repositories : ["**"],
    schedule: spec.schedule,
    keepPushedWithin: maxAge,
    deleteUntaggedAfter: maxAge,
    ...(spec.keep.tagged ? { keepTags: [".*"] } : {}),
    ...(spec.keep.latest ? { protectedTags: ["^latest$"] } : {}),
  };
}

/**
 * The builder's object as `renderImageRetentionPolicy` renders it. Restated, not imported: the
 * deploy kit stands alone in the layers (test/app/architecture.test.ts); test/registry/
 * retention.test.ts checks that both forms load as the same policy.
 */
function rendered(policy: z.output<typeof BuiltPolicySchema>): z.output<typeof RenderedPolicySchema> {
  const { spec } = policy;
  return {
    apiVersion: "policy.reestr.dev/v1alpha1",
    kind: "RetentionPolicy",
    metadata: policy.metadata,
    spec: {
      schedule: spec.schedule,
      maxAgeDays: spec.retentionDays,
      keep: { tagged: spec.keepTagged, latest: spec.keepLatest },
      repositories: [...new Set([...spec.repositories, ...spec.images])],
    },
  };
}

/** A deploy kit object (told apart by its apiVersion) as a native policy; anything else is left to the native schema. */
const policyEntry = z.preprocess((value, ctx) => {
  if (typeof value !== "object" || value === null || !("apiVersion" in value)) return value;
  const built = (value as { kind?: unknown }).kind === "ImageRetentionPolicy";
  const parsed = built ? BuiltPolicySchema.safeParse(value) : RenderedPolicySchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: "custom", message: `deploy kit policy: ${issue.message}`, path: issue.path });
    }
    return z.NEVER;
  }
  return fromDeployKit(parsed.data.kind === "ImageRetentionPolicy" ? rendered(parsed.data) : parsed.data);
}, RetentionPolicySchema);

export const RetentionSchema = z
  .object({
    /** When the policies run (5-field cron, UTC), unless a policy has its own schedule. */
    schedule: CronExpression.default(DEFAULT_RETENTION_SCHEDULE),
    /** Off: policies run only when asked (API, `reestr retention --run`). */
    scheduled: z.boolean().default(true),
    policies: z.array(policyEntry).default([]),
  })
  .strict()
  .transform((section) => ({
    ...section,
    policies: section.policies.map(
      (policy, i): RetentionPolicy => ({ ...policy, name: policy.name ?? `policy-${i + 1}` }),
    ),
  }))
  .superRefine((section, ctx) => {
    const seen = new Set<string>();
    section.policies.forEach((policy, i) => {
      if (seen.has(policy.name)) {
        ctx.addIssue({
          code: "custom",
          message: `duplicate policy name "${policy.name}"`,
          path: ["policies", i, "name"],
        });
      }
      seen.add(policy.name);
    });
  });

export type RetentionConfig = z.output<typeof RetentionSchema>;
