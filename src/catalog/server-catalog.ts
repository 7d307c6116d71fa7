/**
 * The catalogue as `reestr serve` runs it: Reestr's own registry ("local") beside the registries
 * of the config's `catalog` section and those the watcher scans; deletes authorized like a
 * DELETE on /v2 by the server's auth gate.
 */

import type { IncomingMessage } from "node:http";
import { resolve } from "node:path";
import type { V2AuthGate } from "../auth/gate.ts";
import { HttpProblem, type WebAuthApi, type WebCaller } from "../auth/web-auth-api.ts";
import { RegistryError } from "../oci/errors.ts";
import { matchV2 } from "../registry/http/v2-routes.ts";
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
  registry: Registry;
  auth?: V2AuthGate;
  /** The web login: a signed-in browser (session cookie + CSRF header) may delete like its user. */
  webAuth?: WebAuthApi;
  /** "token" auth answers Bearer challenges; basic otherwise. */
  authMode?: "basic" | "bearer";
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
  const auth = options.auth;
  const setup = await setupCatalog({
    registries,
    local: {
      registry: options.registry,
      authMode: auth ? (options.authMode ?? "basic") : "none",
    },
    watcher: options.watcher ? { entries: options.watcher.entries, store: options.watcher.store } : undefined,
    cache,
    probeTimeoutMs: section.probeTimeout,
    env: options.env,
    logger: options.logger,
    localVisibility: auth ? (ctx) => localVisibility(options.webAuth, auth, ctx.req) : undefined,
    authorizeDelete: auth
      ? async (ctx, repository) => {
          const webAuth = options.webAuth;
          if (webAuth && ctx.req.headers.authorization === undefined && ctx.req.headers.cookie) {
            await authorizeSessionDelete(webAuth, auth, ctx.req, repository);
            return;
          }
          // Exactly what a DELETE of a manifest in that repository needs on /v2.
          await auth.check(ctx, matchV2(`/v2/${repository}/manifests/latest`));
        }
      : undefined,
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

/** A browser's delete: its session (with the CSRF header) and the access rules for its user. */
async function authorizeSessionDelete(
  webAuth: WebAuthApi,
  auth: V2AuthGate,
  req: IncomingMessage,
  repository: string,
): Promise<void> {
  let caller: WebCaller;
  try {
    caller = await webAuth.changer(req);
  } catch (error) {
    if (!(error instanceof HttpProblem)) throw error;
    throw new RegistryError(error.status === 403 ? "DENIED" : "UNAUTHORIZED", error.message);
  }
  if (!auth.policy.can(caller.user, repository, "delete")) {
    throw new RegistryError("DENIED", `${caller.user} may not delete in ${repository}`);
  }
}

/**
 * The caller of a catalogue request (session cookie, or basic credentials: password or personal
 * token) and the local repositories it may pull under the access rules.
 */
async function localVisibility(
  webAuth: WebAuthApi | undefined,
  auth: V2AuthGate,
  req: IncomingMessage,
): Promise<{ user: string | undefined; visible: ((repository: string) => boolean) | undefined }> {
  let caller: WebCaller | undefined;
  if (webAuth) {
    try {
      caller = await webAuth.caller(req);
    } catch (error) {
      if (!(error instanceof HttpProblem)) throw error;
      throw new RegistryError("UNAUTHORIZED", error.message);
    }
  }
  // A personal token's actions (pull, push, delete) all include pull: its user's view applies.
  const user = caller?.user;
  if (auth.policy.pullsEverything(user)) return { user, visible: undefined };
  return { user, visible: (repository) => auth.policy.can(user, repository, "pull") };
}
