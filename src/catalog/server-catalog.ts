/**
 * The catalogue as `reestr serve` runs it: Reestr's own registry ("local") beside the registries
 * of the config's `catalog` section and those the watcher scans. Who may see and delete what is
 * the access controller's business (src/catalog/api.ts asks it).
 */
import { resolve } from "node:path";
import type { Registry } from "../registry/registry.ts";
import type { Logger } from "../util/logger.ts";
import type { MetricsRegistry } from "../util/prometheus.ts";
import type { Watcher } from "../watcher/watcher.ts";
import {
  type CatalogSection,
  CatalogSectionSchema,
  loadRegistriesFile,
  parseRegistries,
  type RegistryDefinition,
} from "./registries-config.ts";
import { type CatalogSetup, setupCatalog } from "./setup.ts";

export interface ServerCatalogOptions {
  /** The config's `catalog` section (default: no remote registries, memory cache). */
  section?: CatalogSection;
  /** The config's shared `redis.url`: the cache's when the section names no `redisUrl`. */
  redisUrl?: string;
  registry: Registry;
  /** How the local registry asks for credentials (shown in the registry's summary). */
  authMode: "none" | "basic" | "bearer";
  watcher?: Watcher;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** The server's /metrics registry: cache hit rate and registry health are exported there. */
  metrics?: MetricsRegistry;
}

export async function createServerCatalog(options: ServerCatalogOptions): Promise<CatalogSetup> {
  const section = options.section ?? CatalogSectionSchema.parse({});
  let registries: RegistryDefinition[] = [];
  let cache = section.cache;
  if (section.registriesFile) {
    const file = await loadRegistriesFile(resolve(section.registriesFile));
    registries = file.registries;
    if (file.cache)
      cache = { ...file.cache, ...(section.cache.redisUrl ? { redisUrl: section.cache.redisUrl } : {}) };
  } else if (section.registries !== undefined) {
    registries = parseRegistries(section.registries);
  }
  // The shared connection, for a cache that names none of its own.
  if (!cache.redisUrl && options.redisUrl) cache = { ...cache, redisUrl: options.redisUrl };
  const setup = await setupCatalog({
    registries,
    local: {
      registry: options.registry,
      authMode: options.authMode,
    },
    watcher: options.watcher ? { entries: options.watcher.entries, store: options.watcher.store } : undefined,
    cache,
    probeTimeoutMs: section.probeTimeout,
    env: options.env,
    logger: options.logger,
  });
  if (options.metrics) {
    const stats = setup.catalog.cache.stats;
    const m = options.metrics;
    m.gauge("reestr_catalog_cache_hits", "Catalogue cache reads answered fresh", () => stats.hits);
    m.gauge(
      "reestr_catalog_cache_stale_hits",
      "Catalogue cache reads answered stale (refreshed in the background)",
      () => stats.staleHits,
    );
    m.gauge(
      "reestr_catalog_cache_misses",
      "Catalogue cache reads that went to the registry",
      () => stats.misses,
    );
    m.gauge(
      "reestr_catalog_cache_errors",
      "Catalogue cache operations that failed (served directly)",
      () => stats.errors,
    );
    m.gauge(
      "reestr_catalog_registries_ok",
      "Catalogue registries whose last probe succeeded",
      async () => (await setup.catalog.listRegistries()).filter((r) => r.status.state === "ok").length,
    );
  }
  return setup;
}
