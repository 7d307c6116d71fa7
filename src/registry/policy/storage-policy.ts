/**
 * What the registry core asks before it stores or deletes anything: quotas (./quotas.ts) and
 * immutable tags (./immutable-tags.ts), behind the few calls Registry makes. Each guard takes the
 * write itself as a function and runs it only when allowed, under the locks that keep the check
 * and the write together (per tag, per manifest digest, per quota scope; always taken in that
 * order). Without rules every guard just runs the write.
 */
import type { Digest } from "../../oci/digest.ts";
import { KeyedMutex } from "../../util/keyed-mutex.ts";
import type { MetadataStore } from "../metadata/metadata-store.ts";
import type { RegistryIndex } from "../metadata/registry-index.ts";
import { ImmutableTags, immutableTagRefusal } from "./immutable-tags.ts";
import type { ImmutableTagRule, QuotaRule } from "./policy-config.ts";
import { Quotas, type QuotaUsage } from "./quotas.ts";

export type { QuotaUsage } from "./quotas.ts";

export interface StoragePolicyRules {
  quotas?: readonly QuotaRule[];
  immutableTags?: readonly ImmutableTagRule[];
}

export class StoragePolicy {
  readonly #quotas: Quotas;
  readonly #immutable: ImmutableTags;
  readonly #metadata: MetadataStore;
  readonly #index: RegistryIndex;
  readonly #locks = new KeyedMutex();

  constructor(rules: StoragePolicyRules, metadata: MetadataStore, index: RegistryIndex) {
    this.#quotas = new Quotas(rules.quotas ?? [], metadata);
    this.#immutable = new ImmutableTags(rules.immutableTags ?? []);
    this.#metadata = metadata;
    this.#index = index;
  }

  /** Links a blob (upload commit or mount) through `store`, within the repository's quotas. */
  admitBlob(repository: string, digest: Digest, size: number, store: () => Promise<void>): Promise<void> {
    return this.#quotas.admit(repository, digest, size, store);
  }

  /** Refuses an upload early when its `bytes` alone would take a quota over (see Quotas.assertRoom). */
  assertRoom(repository: string, bytes: number, digest?: Digest): Promise<void> {
    return this.#quotas.assertRoom(repository, bytes, digest);
  }

  /**
   * Stores a manifest through `store`: refused when `tag` is immutable and points at another
   * manifest, or when the manifest's bytes would take a quota over.
   */
  async admitManifest(
    repository: string,
    manifest: { digest: Digest; size: number },
    tags: readonly string[],
    store: () => Promise<void>,
  ): Promise<void> {
    const admit = () =>
      this.#locks.run(manifestKey(repository, manifest.digest), () =>
        this.#quotas.admit(repository, manifest.digest, manifest.size, store),
      );
    // Each immutable tag among them under its own lock (taken in a fixed order, so two pushes
    // naming the same tags cannot deadlock), checked before anything is stored.
    const guarded = [...new Set(tags)]
      .map((tag) => ({ tag, rule: this.#immutable.ruleFor(repository, tag) }))
      .filter(
        (entry): entry is { tag: string; rule: NonNullable<typeof entry.rule> } => entry.rule !== undefined,
      )
      .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
    const under = (index: number): Promise<void> => {
      const entry = guarded[index];
      if (!entry) return admit();
      return this.#locks.run(tagKey(repository, entry.tag), async () => {
        const current = await this.#metadata.resolveTag(repository, entry.tag);
        if (current !== undefined && current !== manifest.digest) {
          throw immutableTagRefusal(repository, entry.tag, entry.rule, "overwritten");
        }
        await under(index + 1);
      });
    };
    await under(0);
  }

  async guardDelete(
    repository: string,
    reference: { tag: string } | { digest: Digest },
    remove: () => Promise<boolean>,
  ): Promise<boolean> {
    const removed = await this.#guardDelete(repository, reference, remove);
    if (removed && "digest" in reference) this.contentRemoved(repository);
    return removed;
  }

  /**
   * Content of `repository` (without one: of any repository) was removed (a blob unlinked, a
   * manifest deleted, a garbage-collection run): its quotas' usage is measured again when next needed. Whatever removes content outside Registry's delete
   * methods (garbage collection) calls this too, or the quotas show usage too high until they
   * next refuse.
   */
  contentRemoved(repository?: string): void {
    this.#quotas.forget(repository);
  }

  async #guardDelete(
    repository: string,
    reference: { tag: string } | { digest: Digest },
    remove: () => Promise<boolean>,
  ): Promise<boolean> {
    if (!this.#immutable.covers(repository)) return remove();
    if ("tag" in reference) {
      const { tag } = reference;
      const rule = this.#immutable.ruleFor(repository, tag);
      if (!rule) return remove();
      return this.#locks.run(tagKey(repository, tag), async () => {
        // An unknown tag is the caller's MANIFEST_UNKNOWN, not a refusal.
        if ((await this.#metadata.resolveTag(repository, tag)) === undefined) return false;
        throw immutableTagRefusal(repository, tag, rule, "deleted");
      });
    }
    const { digest } = reference;
    return this.#locks.run(manifestKey(repository, digest), async () => {
      for (const record of (await this.#index.listTagRecords(repository)) ?? []) {
        if (record.digest !== digest) continue;
        const rule = this.#immutable.ruleFor(repository, record.tag);
        if (rule) throw immutableTagRefusal(repository, record.tag, rule, "deleted with its manifest");
      }
      return remove();
    });
  }

  /** Every quota with its usage, measured now. */
  quotaUsage(): Promise<QuotaUsage[]> {
    return this.#quotas.usage();
  }
}

function tagKey(repository: string, tag: string): string {
  return `tag:${repository}:${tag}`;
}

function manifestKey(repository: string, digest: Digest): string {
  return `manifest:${repository}@${digest}`;
}
