/**
 * Storage quotas: the bytes the repositories matching a glob (a scope) may hold together.
 *
 * A scope's usage is every distinct blob linked into any of its repositories plus every distinct
 * manifest stored in any of them, each digest counted once (MetadataStore.storageUsage): a base
 * layer shared by ten repositories of `team-a/**` costs that quota once. Upload sessions in
 * progress do not count; their bytes only become usage when committed, and that commit is what
 * `admit` refuses.
 *
 * Checking: every write that adds a digest to a repository (a blob commit, a mount, a manifest)
 * runs through `admit`, under a lock per scope, so two pushes cannot both take the last bytes.
 * What a write adds is its size unless the scope holds the digest already (then nothing).
 *
 * Measuring a scope reads every link of its repositories (about 250 ms for 10,000 repositories
 * with 120,000 blob links and manifests, during which node:sqlite holds the event loop), so each
 * scope's usage is measured once and then kept in memory: raised by exactly what every admitted
 * write adds, and forgotten (measured again when next needed) after a delete through the
 * registry (`forget`). Content removed behind the registry's back (a store edited by another
 * process) only lowers the true figure, so the kept one is never below it: a write admitted on
 * the kept figure is within the limit, and before refusing the scope is measured again, so a
 * refusal is always on the true figure. Like the registry's tag-list cache this is per process:
 * replicas sharing one MetadataStore would need to measure on every check.
 */
import type { Digest } from "../../oci/digest.ts";
import { RegistryError } from "../../oci/errors.ts";
import { KeyedMutex } from "../../util/keyed-mutex.ts";
import { compileRepositoryGlob } from "../../util/repository-glob.ts";
import { formatBytes } from "../../util/size.ts";
import type { MetadataStore } from "../metadata/metadata-store.ts";
import type { QuotaRule } from "./policy-config.ts";

/** One quota's figures, as the admin API and the metrics show them. */
export interface QuotaUsage {
  /** The scope's glob, which also names the quota. */
  repositories: string;
  limit: number;
  used: number;
}

interface Scope {
  index: number;
  rule: QuotaRule;
  matches: RegExp;
  /** Bytes the scope holds, at least (see the header); undefined until first measured. */
  used?: number;
}

/** Repository names read per page when measuring a scope. */
const NAME_PAGE = 10_000;

export class Quotas {
  readonly #scopes: Scope[];
  readonly #metadata: MetadataStore;
  readonly #locks = new KeyedMutex();

  constructor(rules: readonly QuotaRule[], metadata: MetadataStore) {
    this.#metadata = metadata;
    this.#scopes = rules.map((rule, index) => ({
      index,
      rule,
      matches: compileRepositoryGlob(rule.repositories),
    }));
  }

  /**
   * Runs `store`, which adds `digest` (`size` bytes) to `repository`, unless that would take a
   * quota of the repository over its limit: then DENIED, and `store` is never called.
   */
  async admit(repository: string, digest: Digest, size: number, store: () => Promise<void>): Promise<void> {
    const scopes = this.#scopesOf(repository);
    if (scopes.length === 0) return store();
    await this.#locked(scopes, async () => {
      const added = await this.#added(scopes, digest, size);
      for (const [i, scope] of scopes.entries()) await this.#assertFits(scope, added[i]!);
      await store();
      for (const [i, scope] of scopes.entries()) if (scope.used !== undefined) scope.used += added[i]!;
    });
  }

  /**
   * The early check of an upload, before its bytes are stored: DENIED when `bytes` more would
   * take a quota over its limit. The digest is often not known yet, so the bytes count as new
   * unless `digest` is given and the scope holds it already. Advisory: `admit` decides.
   */
  async assertRoom(repository: string, bytes: number, digest?: Digest): Promise<void> {
    const scopes = this.#scopesOf(repository);
    if (scopes.length === 0 || bytes === 0) return;
    const added = digest ? await this.#added(scopes, digest, bytes) : scopes.map(() => bytes);
    for (const [i, scope] of scopes.entries()) {
      await this.#locks.run(lockKey(scope), () => this.#assertFits(scope, added[i]!));
    }
  }

  /** Every quota with its usage (the kept figure, measured when not known). */
  async usage(): Promise<QuotaUsage[]> {
    const usage: QuotaUsage[] = [];
    for (const scope of this.#scopes) {
      const used = scope.used ?? (await this.#locks.run(lockKey(scope), () => this.#measure(scope)));
      usage.push({ repositories: scope.rule.repositories, limit: scope.rule.limit, used });
    }
    return usage;
  }

  /** Content of `repository` was removed: its scopes are measured again when next needed. */
  forget(repository?: string): void {
    for (const scope of repository === undefined ? this.#scopes : this.#scopesOf(repository))
      scope.used = undefined;
  }

  #scopesOf(repository: string): Scope[] {
    return this.#scopes.filter((scope) => scope.matches.test(repository));
  }

  /** Bytes the digest adds to each scope: nothing where a repository of the scope holds it already. */
  async #added(scopes: Scope[], digest: Digest, size: number): Promise<number[]> {
    if (size === 0) return scopes.map(() => 0);
    const holders = await this.#metadata.repositoriesHolding(digest);
    return scopes.map((scope) => (holders.some((name) => scope.matches.test(name)) ? 0 : size));
  }

  /** Throws DENIED when `added` bytes do not fit; the caller holds the scope's lock. */
  async #assertFits(scope: Scope, added: number): Promise<void> {
    if (added === 0) return;
    const { limit } = scope.rule;
    const kept = scope.used;
    if (kept !== undefined && kept + added <= limit) return;
    // Unknown, or high after deletes this process did not see: refuse only on the true figure.
    const used = await this.#measure(scope);
    if (used + added > limit) throw quotaExceeded(scope.rule, used, added);
  }

  /** Measures the scope's usage from the store and keeps it; the caller holds the scope's lock. */
  async #measure(scope: Scope): Promise<number> {
    const names: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await this.#metadata.listRepositories({ last, limit: NAME_PAGE }, { all: true });
      for (const name of page) if (scope.matches.test(name)) names.push(name);
      if (page.length < NAME_PAGE) break;
      last = page.at(-1);
    }
    scope.used = await this.#metadata.storageUsage(names);
    return scope.used;
  }

  /** Runs `work` holding the locks of every scope, taken in config order so two writers never deadlock. */
  #locked(scopes: Scope[], work: () => Promise<void>): Promise<void> {
    const [first, ...rest] = scopes;
    if (!first) return work();
    return this.#locks.run(lockKey(first), () => this.#locked(rest, work));
  }
}

function lockKey(scope: Scope): string {
  return `quota:${scope.index}`;
}

function quotaExceeded(rule: QuotaRule, used: number, added: number): RegistryError {
  return new RegistryError(
    "DENIED",
    `quota "${rule.repositories}" exceeded: ${formatBytes(used)} used + ${formatBytes(added)} would exceed the limit of ${formatBytes(rule.limit)}`,
    { quota: rule.repositories, used, requested: added, limit: rule.limit },
  );
}
