/**
 * `reestr ui`'s composition root: the catalogue alone, against remote registries only (no local
 * registry, no /v2), on the same pipeline as `reestr serve`: /api (the catalogue's JSON API),
 * /healthz, /readyz, /metrics, and the built web app on every other GET path. There are no
 * users here: the registries are read with the server's credentials, so everyone sees them
 * (bind it to a trusted network, or put it behind your proxy's authentication).
 */
import { createOpenSessionModule } from "../auth/web-auth.ts";
import { createCatalogModule } from "../catalog/api.ts";
import type { CatalogCacheSettings, RegistryDefinition } from "../catalog/registries-config.ts";
import { type CatalogSetup, setupCatalog } from "../catalog/setup.ts";
import { OPEN_ACCESS } from "../http/access.ts";
import { type Listening, listen } from "../http/listen.ts";
import type { Module } from "../http/module.ts";
import { createOpsModule } from "../http/ops.ts";
import { HttpPipeline } from "../http/pipeline.ts";
import { Router } from "../http/router.ts";
import { securityHeaders } from "../http/security-headers.ts";
import type { Logger } from "../util/logger.ts";
import { MetricsRegistry, ProcessMetrics } from "../util/prometheus.ts";
import { VERSION } from "../version.ts";
import { createWebAppModule } from "../web/module.ts";

export interface UiServerOptions {
  registries: RegistryDefinition[];
  cache?: Partial<CatalogCacheSettings>;
  host?: string;
  port?: number;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  probeTimeoutMs?: number;
  /** The built app (default dist/web of this checkout). */
  webRoot?: string;
  waitForProbes?: boolean;
}

export interface RunningUiServer {
  url: string;
  port: number;
  listening: Listening;
  router: Router;
  catalog: CatalogSetup;
  close(): Promise<void>;
}

export async function startUiServer(options: UiServerOptions): Promise<RunningUiServer> {
  const catalog = await setupCatalog({
    registries: options.registries,
    cache: options.cache,
    env: options.env,
    logger: options.logger,
    probeTimeoutMs: options.probeTimeoutMs,
    waitForProbes: options.waitForProbes,
  });
  const metrics = new MetricsRegistry();
  metrics.register(new ProcessMetrics());
  const modules: Module[] = [
    createOpenSessionModule(),
    createCatalogModule({ catalog: catalog.catalog, access: OPEN_ACCESS }),
    createWebAppModule({ root: options.webRoot }),
  ];
  const router = new Router();
  let pipeline: HttpPipeline | undefined;
  const ops = createOpsModule({
    version: VERSION,
    metrics,
    checks: async () => [],
    stopping: () => pipeline?.draining ?? false,
  });
  for (const module of [ops, ...modules]) router.add(...module.routes);
  pipeline = new HttpPipeline({
    router,
    logger: options.logger,
    accessLog: false,
    metrics,
    securityHeaders: securityHeaders({ tls: false }),
    modules,
  });
  let listening: Listening;
  try {
    listening = await listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 5080, pipeline });
  } catch (error) {
    await catalog.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    url: listening.url,
    port: listening.port,
    listening,
    router,
    catalog,
    close() {
      closing ??= (async () => {
        await listening.close(5000);
        await catalog.close();
      })();
      return closing;
    },
  };
}
