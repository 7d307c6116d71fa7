/**
 * The registry's storage policies as configured: the top-level `quotas` and `immutableTags`
 * sections (README "Quotas and immutable tags").
 *
 * ```yaml
 * quotas:
 *   - repositories: "team-a/**"     # a repository glob: * one segment, ** any depth
 *     limit: 10GiB                  # bytes, or 500MiB, 10GB, 1TiB, …
 * immutableTags:
 *   - repositories: "prod/**"
 *     tags: '^v\d+\.\d+\.\d+$'      # a regular expression (JavaScript syntax; anchor it)
 * ```
 */
import { z } from "zod";
import { RepositoryGlob } from "../../util/repository-glob.ts";
import { ByteSize } from "../../util/size.ts";

export const QuotaRuleSchema = z
  .object({
    /** The scope: every repository this glob matches, each blob counted once across them. */
    repositories: RepositoryGlob,
    /** Most bytes the scope may hold. */
    limit: ByteSize,
  })
  .strict();

const TagPattern = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    try {
      new RegExp(value);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(error as Error).message}` });
    }
  });

export const ImmutableTagRuleSchema = z
  .object({
    /** Repositories the rule covers (a glob). */
    repositories: RepositoryGlob,
    /** Tags the rule makes immutable: a regular expression, matched anywhere unless anchored. */
    tags: TagPattern,
  })
  .strict();

/** One quota per scope: two entries for the same glob would only confuse which one refused. */
export const QuotasSchema = z.array(QuotaRuleSchema).superRefine((rules, ctx) => {
  const seen = new Map<string, number>();
  for (const [index, rule] of rules.entries()) {
    const first = seen.get(rule.repositories);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [index, "repositories"],
        message: `"${rule.repositories}" already has a quota (quotas[${first}])`,
      });
    } else seen.set(rule.repositories, index);
  }
});

export const ImmutableTagsSchema = z.array(ImmutableTagRuleSchema);

export type QuotaRule = z.output<typeof QuotaRuleSchema>;
export type ImmutableTagRule = z.output<typeof ImmutableTagRuleSchema>;
