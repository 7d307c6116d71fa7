/**
 * Builds the catalogue from configuration: sources for Reestr's own registry ("local"), the
 * configured remote registries and the remote registries the watcher scans (so every watched
 * image shows up too), the cache (Redis when a URL is given, memory otherwise), and the HTTP API.
 * Probing starts at once in the background: the server does not wait for slow registries.
 */
import type { Registry } from "../registry/registry.ts";
import type { Logger } from "../util/logger.ts";
import { resolveCredentials as resolveWatchCredentials } from "../watcher/credentials.ts";
import type { WatchEntry } from "../watcher/scheduler.ts";
import type { WatchStore } from "../watcher/store.ts";
import { type Cache, MemoryCache } from "./cache.ts";
import { Catalog, type CatalogRegistry } from "./catalog.ts";
import { LocalRegistrySource } from "./local-source.ts";
import {
  type CatalogCacheSettings,
  envPrefix,
  type RegistryDefinition,
  RegistryDefinitionSchema,
  resolveCredentials,
} from "./registries-config.ts";
import { RemoteRegistrySource } from "./remote-source.ts";

export interface CatalogSetupOptions {
  /** Remote registries from the configuration. */
  registries: RegistryDefinition[];
  /** Reestr's own registry, when served by `reestr serve`. */
  local?: { registry: Registry; baseUrl?: string; authMode?: "none" | "basic" | "bearer" };
  watcher?: { entries: readonly WatchEntry[]; store: WatchStore };
  cache?: Partial<CatalogCacheSettings>;
  probeTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Wait for the first probes before returning (tests, `reestr ui --wait`). Default false. */
  waitForProbes?: boolean;
}

export interface CatalogSetup {
  catalog: Catalog;
  local: LocalRegistrySource | undefined;
  close(): Promise<void>;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** The cache the settings ask for: Redis with a URL (REESTR_REDIS_URL wins), memory otherwise. */
export async function createCache(
  settings: Partial<CatalogCacheSettings>,
  env: NodeJS.ProcessEnv,
): Promise<Cache> {
  const url = env.REESTR_REDIS_URL || settings.redisUrl;
  if (url) {
    // ioredis is loaded only for a Redis URL: it adds ~15 MiB to the resident memory of a server.
    const { RedisCache } = await import("./redis-cache.ts");
    return new RedisCache({ url });
  }
  return new MemoryCache({ maxEntries: settings.maxEntries ?? 5000 });
}

/** Remote registries the watcher scans that no configured registry covers, one per origin. */
async function watchedRegistries(
  entries: readonly WatchEntry[],
  covered: string[],
  env: NodeJS.ProcessEnv,
  logger: Logger | undefined,
): Promise<CatalogRegistry[]> {
  const byOrigin = new Map<string, WatchEntry[]>();
  for (const entry of entries) {
    if (covered.some((url) => sameOrigin(url, entry.spec.url))) continue;
    const origin = new URL(entry.spec.url).origin;
    byOrigin.set(origin, [...(byOrigin.get(origin) ?? []), entry]);
  }
  const out: CatalogRegistry[] = [];
  const usedIds = new Set<string>();
  for (const [origin, group] of byOrigin) {
    const host = new URL(origin).host;
    let id = `watch-${host
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "")}`.slice(0, 60);
    while (usedIds.has(id)) id = `${id}-x`;
    usedIds.add(id);
    const first = group[0]!.spec;
    const definition = RegistryDefinitionSchema.parse({
      id,
      displayName: host,
      description: `watched: ${group.map((e) => e.name).join(", ")}`.slice(0, 2000),
      baseUrl: origin,
      tls: { allowInsecure: first.insecureSkipVerify, allowHttp: true },
      capabilities: { catalog: false },
      repositories: [...new Set(group.map((e) => e.spec.repository))],
    });
    let credentials: { username: string; password: string } | undefined;
    let problem: string | undefined;
    const withCredentials = group.find((e) => e.spec.credentials);
    if (withCredentials) {
      try {
        credentials = await resolveWatchCredentials(withCredentials.spec.credentials, env);
      } catch (error) {
        problem = (error as Error).message;
        logger?.warn("catalogue: watched registry credentials unavailable", { registry: id, error: problem });
      }
    }
    out.push({
      source: new RemoteRegistrySource({
        definition,
        ...(credentials ? { credentials } : {}),
        ...(problem ? { credentialsProblem: problem } : {}),
      }),
      displayName: host,
      description: definition.description,
    });
  }
  return out;
}

export async function setupCatalog(options: CatalogSetupOptions): Promise<CatalogSetup> {
  const env = options.env ?? process.env;
  const registries: CatalogRegistry[] = [];
  let local: LocalRegistrySource | undefined;
  if (options.local) {
    local = new LocalRegistrySource(options.local);
    registries.push({
      source: local,
      displayName: "Reestr (this server)",
      description: "Reestr's own registry",
    });
  }
  for (const definition of options.registries) {
    const resolution = resolveCredentials(definition, env);
    if (!resolution.ok) {
      options.logger?.warn("catalogue registry credentials missing", {
        registry: definition.id,
        problem: resolution.message,
        hint: `variables start with ${envPrefix(definition.id)}`,
      });
    }
    registries.push({
      source: new RemoteRegistrySource({
        definition,
        ...(resolution.ok
          ? { credentials: resolution.credentials }
          : { credentialsProblem: resolution.message }),
        probeTimeoutMs: options.probeTimeoutMs,
      }),
      displayName: definition.displayName ?? definition.id,
      ...(definition.description ? { description: definition.description } : {}),
    });
  }
  if (options.watcher) {
    const covered = registries.map((r) => r.source.baseUrl);
    registries.push(...(await watchedRegistries(options.watcher.entries, covered, env, options.logger)));
  }
  const settings = options.cache ?? {};
  const cache = await createCache(settings, env);
  if (cache.kind === "redis") options.logger?.info("catalogue cache: redis", {});
  const catalog = new Catalog({
    registries,
    cache,
    logger: options.logger,
    watcher: options.watcher,
    ttlMs: settings.ttl,
    staleMs: settings.staleTtl,
  });
  const probes = catalog.start().catch((error: unknown) => {
    options.logger?.error("catalogue probing failed", { err: error });
  });
  if (options.waitForProbes) await probes;
  return { catalog, local, close: () => catalog.close() };
}
