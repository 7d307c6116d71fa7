/**
 * The catalogue's registries and what their probes found. Probes run in parallel, each bounded
 * by its source's timeout, so a failing registry never holds up the others; registries that
 * failed are probed again every `reprobeFailedMs` (one that comes back recovers without a
 * resync) and all of them every `reprobeMs`.
 */
import type { Logger } from "../../util/logger.ts";
import type { RegistrySummary } from "../api-schemas.ts";
import { CatalogError, type CatalogSource, type ProbeResult } from "../source.ts";

export interface CatalogRegistry {
  source: CatalogSource;
  displayName: string;
  description?: string;
}

/** One registry as the catalogue knows it: its source and what its last probe found. */
export interface RegistryEntry extends CatalogRegistry {
  probe: ProbeResult | undefined;
  lastSync: string | null;
  probing: Promise<void> | undefined;
}

/** Counts and bytes shown on a registry's card; null where unknown (not computed yet). */
export interface RegistryFigures {
  counts: { repositories: number | null; tags: number | null };
  storageBytes: number | null;
}

export interface RegistryDirectoryOptions {
  registries: CatalogRegistry[];
  logger?: Logger;
  now: () => number;
  reprobeFailedMs: number;
  reprobeMs: number;
  /** Called after each probe that found the registry usable. */
  onUsable?: (id: string) => void;
}

const NO_CAPABILITIES = { catalog: false, referrers: false, delete: false };

export class RegistryDirectory {
  readonly #entries = new Map<string, RegistryEntry>();
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #reprobe: { failed: number; all: number };
  readonly #onUsable: ((id: string) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RegistryDirectoryOptions) {
    for (const registry of options.registries) {
      if (this.#entries.has(registry.source.id))
        throw new Error(`duplicate registry id ${registry.source.id}`);
      this.#entries.set(registry.source.id, {
        ...registry,
        probe: undefined,
        lastSync: null,
        probing: undefined,
      });
    }
    this.#logger = options.logger;
    this.#now = options.now;
    this.#reprobe = { failed: options.reprobeFailedMs, all: options.reprobeMs };
    this.#onUsable = options.onUsable;
  }

  get ids(): string[] {
    return [...this.#entries.keys()];
  }

  get entries(): RegistryEntry[] {
    return [...this.#entries.values()];
  }

  find(id: string): RegistryEntry | undefined {
    return this.#entries.get(id);
  }

  /** The registry `id`; NOT_FOUND when there is none. */
  get(id: string): RegistryEntry {
    const entry = this.#entries.get(id);
    if (!entry) throw new CatalogError("NOT_FOUND", `no registry with id "${id.slice(0, 100)}"`);
    return entry;
  }

  /** The registry `id`, when usable: one that failed its probe answers with its own error rather than a slow timeout. */
  usable(id: string): RegistryEntry {
    const entry = this.get(id);
    const probe = entry.probe;
    if (!probe || probe.state === "ok" || probe.state === "unknown") return entry;
    if (probe.state === "auth_failed") {
      throw new CatalogError("UPSTREAM_AUTH_FAILED", `${id}: ${probe.message ?? "authentication failed"}`);
    }
    throw new CatalogError("UPSTREAM_UNREACHABLE", `${id}: ${probe.message ?? "unreachable"}`);
  }

  /** Drops a registry (one that turned out to be this server itself); false when unknown. */
  async remove(id: string): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#entries.delete(id);
    await entry.source.close().catch(() => {});
    return true;
  }

  /** Probes every registry; resolves when all have answered or timed out, then keeps re-probing. */
  async start(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.probe(id)));
    if (this.#closed || this.#timer) return;
    let last = this.#now();
    this.#timer = setInterval(() => {
      const all = this.#now() - last >= this.#reprobe.all;
      if (all) last = this.#now();
      for (const [id, entry] of this.#entries) {
        if (all || (entry.probe && entry.probe.state !== "ok")) void this.probe(id);
      }
    }, this.#reprobe.failed);
    this.#timer.unref();
  }

  /** Probes `id` (joining a probe already running); never rejects. */
  probe(id: string): Promise<void> {
    const entry = this.get(id);
    entry.probing ??= (async () => {
      try {
        entry.probe = await entry.source.probe();
      } catch (error) {
        entry.probe = {
          state: "unknown",
          authMode: "unknown",
          message: (error as Error).message,
          capabilities: { ...NO_CAPABILITIES },
          missingOperations: [],
          hint: null,
        };
      }
      entry.lastSync = new Date(this.#now()).toISOString();
      const probe = entry.probe;
      this.#logger?.[probe.state === "ok" ? "info" : "warn"]("catalogue registry probed", {
        registry: id,
        state: probe.state,
        authMode: probe.authMode,
        message: probe.message ?? undefined,
        missingOperations: probe.missingOperations.length ? probe.missingOperations : undefined,
      });
      entry.probing = undefined;
      if (probe.state === "ok") this.#onUsable?.(id);
    })();
    return entry.probing;
  }

  /** The registry's card: who it is, what its probe found, and the figures given. */
  summary(id: string, figures: RegistryFigures): RegistrySummary {
    const { source, probe, ...entry } = this.get(id);
    return {
      id,
      displayName: entry.displayName,
      description: entry.description ?? null,
      baseUrl: source.baseUrl,
      local: source.local,
      status: {
        state: probe?.state ?? "unknown",
        authMode: probe?.authMode ?? "unknown",
        message: probe?.message ?? (probe ? null : "not probed yet"),
        lastSync: entry.lastSync,
        capabilities: probe?.capabilities ?? { ...NO_CAPABILITIES },
        missingOperations: probe?.missingOperations ?? [],
        hint: probe?.hint ?? null,
      },
      counts: figures.counts,
      storageBytes: figures.storageBytes,
    };
  }

  /** Stops re-probing and closes every source. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.all(this.entries.map((entry) => entry.source.close().catch(() => {})));
  }
}
