/**
 * `reestr serve`'s composition root, the one place that knows every part: it takes the parsed
 * configuration as it is, builds the stores, the registry core, auth, the watcher and the
 * catalogue, mounts each feature module's routes on one router behind one pipeline, listens,
 * and on close shuts everything down in order (stop taking requests, stop scanning, drain, then
 * close modules and stores).
 *
 * Modules, in routing order: ops (/healthz, /readyz, /metrics), status (/api, /api/status), v2
 * (the OCI API), webhooks (/api/admin/webhooks…, with notifications), policy (/api/admin/quotas), token (/auth/token, token mode), web-auth
 * (/api/auth/…), watch (/api/watch/…), gc (/api/admin/gc), scrub (/api/admin/scrub), catalog
 * (/api/registries…, /api/storage, /api/openapi.json), web (the app on every other GET). A new
 * feature is a new module in this list. (retention, /api/admin/retention, comes after catalog.)
 */
import { join, resolve as resolvePath } from "node:path";
import type { Authenticator } from "../auth/authenticator.ts";
import { createAuth, type ServerAuth } from "../auth/setup.ts";
import { createOpenSessionModule } from "../auth/web-auth.ts";
import { createCatalogModule } from "../catalog/api.ts";
import { createServerCatalog } from "../catalog/server-catalog.ts";
import type { ReestrConfig } from "../config/config.ts";
import { type Gate, OPEN_GATE } from "../http/gate.ts";
import { LimitsSchema, RequestLimits } from "../http/limits.ts";
import { type Listening, listen } from "../http/listen.ts";
import type { HealthCheck, Module } from "../http/module.ts";
import { createOpsModule } from "../http/ops.ts";
import { HttpPipeline } from "../http/pipeline.ts";
import { Router } from "../http/router.ts";
import { securityHeaders } from "../http/security-headers.ts";
import { createPullThrough } from "../proxy/pull-through.ts";
import type { Coordination } from "../registry/coordination.ts";
import { eventOfGcRun, eventOfRetention, eventOfScan } from "../registry/events/envelopes.ts";
import { Notifier } from "../registry/events/notifier.ts";
import { type AuditEvent, AuditLog } from "../registry/http/audit.ts";
import { createGcApiModule } from "../registry/http/gc-api.ts";
import { createPolicyApiModule } from "../registry/http/policy-api.ts";
import { createRetentionApiModule } from "../registry/http/retention-api.ts";
import { createScrubModule } from "../registry/http/scrub-api.ts";
import { createV2Module } from "../registry/http/v2.ts";
import { createWebhooksModule } from "../registry/http/webhooks-api.ts";
import { DATA_DIR_FILES, metadataPath } from "../registry/layout.ts";
import { GcService } from "../registry/lifecycle/gc-service.ts";
import { Retention } from "../registry/lifecycle/retention.ts";
import { RetentionSchema } from "../registry/lifecycle/retention-config.ts";
import { ScrubService } from "../registry/lifecycle/scrub-service.ts";
import type { MetadataStore } from "../registry/metadata/metadata-store.ts";
import type { ReplicaClaim } from "../registry/metadata/postgres-replicas.ts";
import type { RegistryIndex } from "../registry/metadata/registry-index.ts";
import { SqliteMetadataStore } from "../registry/metadata/sqlite-metadata-store.ts";
import { PullRecorder } from "../registry/pull-stats.ts";
import { Registry } from "../registry/registry.ts";
import type { BlobStore } from "../registry/storage/blob-store.ts";
import { StoreUnavailable } from "../registry/storage/errors.ts";
import { FsBlobStore } from "../registry/storage/fs-blob-store.ts";
import type { S3Config } from "../registry/storage/s3-config.ts";
import { tlsEnabled } from "../tls/config.ts";
import type { TlsManager } from "../tls/manager.ts";
import { ConfigError } from "../util/config-error.ts";
import type { CronClock } from "../util/cron.ts";
import { acquireDataDirLock } from "../util/data-dir-lock.ts";
import { makeDirectorySync } from "../util/fs.ts";
import { createStreamingCollector } from "../util/gc.ts";
import { JsonLogger, type Logger } from "../util/logger.ts";
import { MetricsRegistry, ProcessMetrics } from "../util/prometheus.ts";
import { VERSION } from "../version.ts";
import { createWatchApiModule } from "../watcher/api.ts";
import { WatchMetrics } from "../watcher/metrics.ts";
import type { VulnerabilityScanner } from "../watcher/scanners/scanner.ts";
import type { WatchEntry } from "../watcher/scheduler.ts";
import { createWatcher, type Watcher } from "../watcher/watcher.ts";
import { createWebAppModule } from "../web/module.ts";
import { createStatusModule } from "./status.ts";

/** What tests and embedders may put in place of what the configuration would build. */
export interface ServerOverrides {
  logger?: Logger;
  blobs?: BlobStore;
  /** The registry's metadata and its read models (one store implements both, as SQLite does). */
  metadata?: MetadataStore & RegistryIndex;
  /** Checks Basic credentials instead of the configured user stores. */
  authenticator?: Authenticator;
  /** The watcher's vulnerability scanner (default Trivy; tests pass a stand-in). */
  watchScanner?: VulnerabilityScanner;
  /** Delay before each entry's first scan (default: a small random jitter). */
  watchInitialDelay?: (entry: WatchEntry, intervalMs: number) => number;
  /** The built web app (default dist/web of this checkout). */
  webRoot?: string;
  /** The clock of rate limits and the failed-login lockout (tests move it by hand). */
  limitsNow?: () => number;
  /** Time of retention plans and of the retention and GC schedules (tests move a fake one). */
  scheduleClock?: CronClock;
  env?: NodeJS.ProcessEnv;
}

export interface RunningServer {
  url: string;
  port: number;
  registry: Registry;
  logger: Logger;
  /** Every route the server answers (the route-table test reads it). */
  router: Router;
  listening: Listening;
  /** The running watcher when `watch` is configured. */
  watcher?: Watcher;
  /** The certificate manager when serving HTTPS. */
  tls?: TlsManager;
  audit?: AuditLog;
  /** Pull statistics waiting to be written, with `storage.pullStats` (tests flush it). */
  pulls?: PullRecorder;
  /** Retention policies, their schedule and runs. */
  retention: Retention;
  /** Graceful: stop accepting, finish in-flight requests (up to the shutdown timeout), close stores. */
  close(): Promise<void>;
}

/**
 * How often expired uploads are swept: a few times per expiry period, so an upload goes within
 * about a quarter of the setting after it expired, at most hourly and at least a minute apart.
 */
export function uploadSweepInterval(uploadExpiryMs: number): number {
  return Math.min(60 * 60 * 1000, Math.max(60 * 1000, Math.round(uploadExpiryMs / 4)));
}

export async function startServer(
  config: ReestrConfig,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  const { dataDir } = config;
  const logger = overrides.logger ?? new JsonLogger({ level: config.log.level });
  const metrics = new MetricsRegistry();
  metrics.register(new ProcessMetrics());
  if (logger instanceof JsonLogger) {
    const droppedLines = () => logger.droppedLines;
    metrics.gauge(
      "reestr_log_lines_dropped",
      "Log lines lost because stdout could not take them (a full disk, a closed pipe), since start.",
      droppedLines,
    );
  }
  const limitsConfig = config.limits ?? LimitsSchema.parse({});
  const limits = new RequestLimits({ config: limitsConfig, metrics, now: overrides.limitsNow });
  const opened: { close(): unknown }[] = [];
  const closeOpened = async () => {
    for (const resource of opened.splice(0).reverse()) await resource.close();
  };
  try {
    // The data directory before anything else: it must exist and be this server's alone (a
    // second server on it would share its SQLite files; src/util/data-dir-lock.ts).
    const absoluteDataDir = resolvePath(dataDir);
    try {
      makeDirectorySync(absoluteDataDir);
    } catch (error) {
      throw new ConfigError(`cannot create data directory ${absoluteDataDir}: ${(error as Error).message}`);
    }
    const lock = acquireDataDirLock(join(absoluteDataDir, DATA_DIR_FILES.lock), absoluteDataDir);
    opened.push({ close: () => lock.release() });
    // Certificates first: a problem there stops the start before any store is opened.
    const tls = tlsEnabled(config.tls)
      ? // Loaded only for HTTPS: the X.509 library costs memory a plain-HTTP server doesn't need.
        await (await import("../tls/manager.ts")).TlsManager.start({ config: config.tls!, dataDir, logger })
      : undefined;
    if (tls) opened.push(tls);
    // Then auth: a bad htpasswd file stops the start too.
    let auth: ServerAuth | undefined;
    if (config.auth) {
      auth = await createAuth(config.auth, {
        dataDir,
        logger,
        limits,
        secureCookies: tls !== undefined,
        authenticator: overrides.authenticator,
      });
      opened.push(auth);
    }
    const gate: Gate = auth?.gate ?? OPEN_GATE;
    const audit = config.audit ? new AuditLog({ config: config.audit, dataDir, logger }) : undefined;
    if (audit) opened.push(audit);
    const blobs =
      overrides.blobs ??
      (config.storage.s3
        ? await openS3BlobStore(config.storage.s3, logger, opened)
        : await new FsBlobStore(dataDir).init());
    let replicaClaim: ReplicaClaim | undefined;
    const metadata = overrides.metadata ?? (await openMetadata(config, logger));
    opened.push(metadata);
    if (config.metadata?.postgres && !overrides.metadata) {
      // Before Redis and the rest: a second replica without shared locks must not start at all.
      const { claimReplica } = await import("../registry/metadata/postgres-replicas.ts");
      const claimLogger = logger.child({ component: "replica-lock" });
      replicaClaim = await claimReplica(config.metadata.postgres.url, config.redis !== undefined, {
        onChange: (state, message) =>
          state === "held"
            ? claimLogger.info("replica lock held again")
            : claimLogger[state === "refused" ? "error" : "warn"](message ?? state, { state }),
      });
      opened.push(replicaClaim);
    }
    const coordination = await openCoordination(config, logger);
    if (coordination) opened.push(coordination);
    const registry = new Registry({
      coordination,
      blobs,
      metadata,
      index: metadata,
      deleteEnabled: config.storage.deleteEnabled,
      uploadTtlMs: config.storage.uploadExpiry,
      policy: { quotas: config.quotas, immutableTags: config.immutableTags },
      allowSparseManifests: config.storage.allowSparseManifests,
      reserve: config.storage.reserve,
    });
    // Closed (its last batch written) before the metadata store, which `opened` closes later.
    const pulls = config.storage.pullStats
      ? new PullRecorder({ store: metadata, logger: logger.child({ component: "pull-stats" }) })
      : undefined;
    if (pulls) opened.push(pulls);

    // Webhooks: events queued in <dataDir>/notifications.sqlite, delivered in the background.
    const notifier =
      config.notifications && config.notifications.endpoints.length > 0
        ? new Notifier({ config: config.notifications, dataDir, logger, metrics })
        : undefined;
    if (notifier) opened.push(notifier);

    const gc = new GcService({
      registry,
      config: config.gc,
      logger: logger.child({ component: "gc" }),
      metrics,
      clock: overrides.scheduleClock,
      onRunFinished: notifier
        ? (run) => notifier.publish(eventOfGcRun({ ...run, items: undefined }, notifier.source))
        : undefined,
    });
    const scrub = new ScrubService({ registry, logger: logger.child({ component: "scrub" }), metrics });

    let watcher: Watcher | undefined;
    const watchEntries = config.watch?.registries ?? [];
    if (watchEntries.length > 0) {
      const watchMetrics = new WatchMetrics(metrics);
      watchMetrics.declare(watchEntries.map((entry) => entry.name));
      watcher = createWatcher({
        entries: watchEntries,
        dataDir: resolvePath(config.watch!.dataDir ?? dataDir),
        logger: logger.child({ component: "watch" }),
        scanner: overrides.watchScanner,
        initialDelay: overrides.watchInitialDelay,
        onScan: (event) => {
          watchMetrics.record(event);
          notifier?.publish(eventOfScan(event, notifier.source));
        },
      });
      opened.push(watcher);
    }
    // The catalogue: this registry as "local", configured and watched remote registries.
    const catalog = await createServerCatalog({
      section: config.catalog,
      redisUrl: config.redis?.url,
      registry,
      authMode: !config.auth ? "none" : config.auth.mode === "token" ? "bearer" : "basic",
      watcher,
      logger: logger.child({ component: "catalog" }),
      metrics,
      env: overrides.env,
    });
    opened.push(catalog);

    const retention = new Retention({
      registry,
      config: config.retention ?? RetentionSchema.parse({}),
      logger: logger.child({ component: "retention" }),
      audit: retentionSink(audit?.enabled ? audit : undefined, notifier),
      clock: overrides.scheduleClock,
    });
    if (retention.config.policies.length > 0 && !config.storage.deleteEnabled) {
      logger.warn("retention policies are configured but storage.deleteEnabled is false: only dry runs work");
    }

    let port = 0;
    const router = new Router();
    const modules: Module[] = [
      createStatusModule({ registry, version: VERSION, routes: () => router.routes }),
      createV2Module({
        registry,
        access: gate.access,
        metrics,
        audit: audit?.enabled ? audit : undefined,
        pulls,
        upstream: createPullThrough({ entries: config.proxy, registry, logger, opened }),
      }),
      // After v2 so it closes after gc and retention, which may still publish events.
      ...(notifier ? [createWebhooksModule({ notifier })] : []),
      createPolicyApiModule({ registry, metrics }),
      ...(auth ? auth.modules : [createOpenSessionModule()]),
      createWatchApiModule({
        watcher,
        access: gate.access,
        isLocal: (entry) => isThisServer(entry.spec.url, port),
      }),
      createGcApiModule({ gc }),
      createScrubModule({ scrub }),
      createCatalogModule({ catalog: catalog.catalog, access: gate.access }),
      createRetentionApiModule({ retention, deleteEnabled: config.storage.deleteEnabled }),
      createWebAppModule({ root: overrides.webRoot }),
    ];
    const checks = async (): Promise<HealthCheck[]> => [
      ...(await Promise.all(modules.map((module) => module.health?.() ?? []))).flat(),
      ...(replicaClaim ? [replicaCheck(replicaClaim)] : []),
    ];
    let pipeline: HttpPipeline | undefined;
    const ops = createOpsModule({
      version: VERSION,
      metrics,
      checks,
      stopping: () => pipeline?.draining ?? false,
    });
    for (const module of [ops, ...modules]) router.add(...module.routes);
    pipeline = new HttpPipeline({
      router,
      gate,
      limits,
      logger,
      accessLog: config.log.accessLog,
      metrics,
      securityHeaders: securityHeaders({ tls: tls !== undefined }),
      modules,
      onBodyBytes: createStreamingCollector(),
    });

    const sweep = async () => {
      try {
        const removed = await registry.expireUploads();
        if (removed > 0) logger.info("expired stale uploads", { removed });
      } catch (error) {
        logger.error("upload expiry failed", { err: error });
      }
    };
    await sweep();
    const sweeper = setInterval(sweep, uploadSweepInterval(config.storage.uploadExpiry));
    sweeper.unref();
    opened.push({ close: () => clearInterval(sweeper) });

    const listening = await listen({
      host: config.host,
      port: config.port,
      pipeline,
      tls,
      headersTimeoutMs: limitsConfig.headersTimeout,
      idleTimeoutMs: limitsConfig.idleTimeout,
      maxHeaderBytes: limitsConfig.maxHeaderBytes,
    });
    port = listening.port;
    const { url } = listening;
    logger.info("reestr listening", { url, version: VERSION, dataDir });
    if (catalog.local) {
      catalog.local.baseUrl = url;
      // A watch entry on this server's own URL is the local registry, not a remote one to probe.
      for (const id of catalog.catalog.registryIds) {
        const source = catalog.catalog.source(id);
        if (source && !source.local && isThisServer(source.baseUrl, port)) await catalog.catalog.remove(id);
      }
    }
    if (watcher) {
      await watcher.start();
      logger.info("watching", { entries: watcher.entries.map((entry) => entry.name) });
    }
    if (notifier) {
      notifier.source.addr = `${notifier.source.addr}:${port}`;
      notifier.start();
      logger.info("webhooks on", { endpoints: notifier.endpoints });
    }
    if (config.storage.deleteEnabled) retention.start();
    gc.startSchedule();
    if (gc.nextRun !== undefined) {
      logger.info("garbage collection scheduled", { nextRun: new Date(gc.nextRun).toISOString() });
    }
    if (retention.nextRun !== undefined) {
      logger.info("retention scheduled", { nextRun: new Date(retention.nextRun).toISOString() });
    }

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        // No new scans from here on; running ones are aborted (their requests end within the drain).
        const watcherClosed = watcher?.close().catch((error: unknown) => {
          logger.error("watcher shutdown failed", { err: error });
        });
        const drained = await listening.close(config.shutdownTimeout);
        if (!drained) logger.warn("shutdown timeout: closing connections", { inFlight: pipeline.inFlight });
        // The watcher (its scans ended, its store closed) before the registry's stores close.
        await watcherClosed;
        for (const module of [...modules].reverse()) await module.close?.();
        await closeOpened();
        logger.info("reestr stopped", { drained });
        logger.flush();
      })();
      return closing;
    };
    return { url, port, registry, logger, router, listening, watcher, tls, audit, pulls, retention, close };
  } catch (error) {
    await closeOpened();
    throw error;
  }
}

/** Where retention's deletions go: the audit log and webhooks, either, or neither. */
function retentionSink(
  audit: AuditLog | undefined,
  notifier: Notifier | undefined,
): { write(event: AuditEvent): void } | undefined {
  if (!notifier) return audit;
  return {
    write(event) {
      audit?.write(event);
      notifier.publish(eventOfRetention(event, notifier.source));
    },
  };
}

/**
 * The metadata store the configuration names: PostgreSQL with `metadata.postgres` (loaded only
 * then: the driver costs memory a SQLite server doesn't need), else `<dataDir>/metadata.sqlite`.
 */
export async function openMetadata(
  config: ReestrConfig,
  logger: Logger,
): Promise<MetadataStore & RegistryIndex> {
  const postgres = config.metadata?.postgres;
  if (!postgres)
    return new SqliteMetadataStore(metadataPath(config.dataDir), { synchronous: config.storage.sync });
  const { PostgresMetadataStore } = await import("../registry/metadata/postgres-metadata-store.ts");
  const { describePostgresUrl } = await import("../registry/metadata/postgres-database.ts");
  // The URL as it may be logged (its password replaced), in the log line and in a failure.
  const where = describePostgresUrl(postgres.url);
  try {
    const store = await PostgresMetadataStore.open({ url: postgres.url, poolSize: postgres.poolSize });
    logger.info("metadata in PostgreSQL", { url: where, poolSize: postgres.poolSize, ...store.migrations });
    return store;
  } catch (error) {
    throw new Error(`cannot open the metadata database ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * The shared locks and invalidations of `redis.url` (loaded only then), or undefined: this
 * process alone. A Redis that does not answer yet does not stop the start: locks answer 503 and
 * caches stay unused until it does (src/registry/redis-coordination.ts).
 */
async function openCoordination(config: ReestrConfig, logger: Logger): Promise<Coordination | undefined> {
  if (!config.redis) return undefined;
  const { RedisCoordination } = await import("../registry/redis-coordination.ts");
  const coordination = new RedisCoordination({ url: config.redis.url });
  const where = new URL(config.redis.url).host;
  try {
    await coordination.ready();
    logger.info("locks and cache invalidation in redis", { host: where });
  } catch (error) {
    logger.warn("redis is not reachable yet: locked writes answer 503 until it is", {
      host: where,
      err: error,
    });
  }
  return coordination;
}

/**
 * The S3 blob store of `storage.s3`, its bucket probed once: a missing bucket or refused
 * credentials stop the start (a ConfigError saying which); an S3 that does not answer yet does
 * not (the server starts not ready, and serves once S3 answers).
 */
export async function openS3BlobStore(
  config: S3Config,
  logger: Logger,
  opened: { close(): unknown }[],
): Promise<BlobStore> {
  // Loaded only for S3: the AWS SDK costs memory and start-up time a filesystem store doesn't need.
  const { S3BlobStore } = await import("../registry/storage/s3-blob-store.ts");
  const credentials =
    config.accessKeyId !== undefined && config.secretAccessKey !== undefined
      ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
      : undefined;
  const store = new S3BlobStore({
    endpoint: config.endpoint,
    region: config.region,
    bucket: config.bucket,
    prefix: config.prefix,
    forcePathStyle: config.forcePathStyle,
    credentials,
    partSize: config.partSize,
    redirectExpiryMs: config.redirect ? config.redirectExpiry : undefined,
  });
  opened.push(store);
  try {
    await store.check();
  } catch (error) {
    if (!(error instanceof StoreUnavailable)) {
      throw new ConfigError(`storage.s3: ${(error as Error).message}`);
    }
    logger.warn("S3 storage is not reachable yet: not ready until it is", { err: error });
  }
  logger.info("blobs in S3", {
    endpoint: config.endpoint ?? "AWS",
    bucket: config.bucket,
    prefix: config.prefix,
    redirect: config.redirect,
  });
  return store;
}

/** Whether a URL points at this process: a loopback address on the port it listens on. */
function isThisServer(url: string, port: number): boolean {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, "");
    return Number(parsed.port) === port && ["127.0.0.1", "localhost", "::1"].includes(host);
  } catch {
    return false;
  }
}

/** /readyz's view of the PostgreSQL replica lock: not ready while another replica holds it. */
function replicaCheck(claim: ReplicaClaim): HealthCheck {
  return claim.state === "held"
    ? { name: "replica-lock", status: "healthy", durationMs: 0 }
    : { name: "replica-lock", status: "unhealthy", durationMs: 0, message: claim.message };
}
