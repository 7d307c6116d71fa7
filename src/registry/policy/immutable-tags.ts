/**
 * Immutable tags: rules of a repository glob and a tag pattern. A tag a rule covers may be
 * pushed once; pushing it again with other content, deleting it, or deleting the manifest it
 * points at (which would take the tag with it) is refused with DENIED naming the rule. Pushing
 * the same manifest under it again is allowed (clients retry pushes), and so is every tag no rule
 * covers. The first matching rule is the one named.
 */
import { RegistryError } from "../../oci/errors.ts";
import { compileRepositoryGlob } from "../../util/repository-glob.ts";
import type { ImmutableTagRule } from "./policy-config.ts";

export interface MatchedRule {
  /** Where the rule is in the configuration: `immutableTags[0]`. */
  name: string;
  rule: ImmutableTagRule;
}

interface CompiledRule extends MatchedRule {
  repositories: RegExp;
  tags: RegExp;
}

export class ImmutableTags {
  readonly #rules: CompiledRule[];

  constructor(rules: readonly ImmutableTagRule[]) {
    this.#rules = rules.map((rule, index) => ({
      name: `immutableTags[${index}]`,
      rule,
      repositories: compileRepositoryGlob(rule.repositories),
      tags: new RegExp(rule.tags),
    }));
  }

  /** Whether any rule covers tags of this repository (when none does, nothing needs looking up). */
  covers(repository: string): boolean {
    return this.#rules.some((rule) => rule.repositories.test(repository));
  }

  /** The first rule making this tag of this repository immutable. */
  ruleFor(repository: string, tag: string): MatchedRule | undefined {
    return this.#rules.find((rule) => rule.repositories.test(repository) && rule.tags.test(tag));
  }
}

/** DENIED for a change to an immutable tag, naming the tag and the rule. */
export function immutableTagRefusal(
  repository: string,
  tag: string,
  matched: MatchedRule,
  change: "overwritten" | "deleted" | "deleted with its manifest",
): RegistryError {
  const { name, rule } = matched;
  return new RegistryError(
    "DENIED",
    `tag ${tag} of ${repository} is immutable (rule ${name}: ${rule.repositories} ${rule.tags}) and cannot be ${change}`,
    { repository, tag, rule: name, repositories: rule.repositories, tags: rule.tags },
  );
}
