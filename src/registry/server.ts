import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join, resolve as resolvePath } from "node:path";
import type { V2AuthGate } from "../auth/gate.ts";
import { type AuthSetup, createV2AuthGate } from "../auth/setup.ts";
import { WebAuthApi } from "../auth/web-auth-api.ts";
import type { CatalogSection } from "../catalog/registries-config.ts";
import { createServerCatalog } from "../catalog/server-catalog.ts";
import {
  checkLockout,
  clientIp,
  type LimitsConfig,
  LimitsSchema,
  RequestLimits,
  recordFailedLogin,
} from "../http/limits.ts";
import { securityHeaders } from "../http/security-headers.ts";
import { App } from "../server/app.ts";
import { type AuditConfig, AuditLog } from "../server/audit.ts";
import { Metrics } from "../server/metrics.ts";
import { type TlsConfig, tlsEnabled } from "../tls/config.ts";
import type { TlsManager } from "../tls/manager.ts";
import { JsonLogger, type Logger, type LogLevel } from "../util/logger.ts";
import { VERSION } from "../version.ts";
import type { VulnerabilityScanner } from "../watcher/scanners/scanner.ts";
import type { WatchEntry } from "../watcher/scheduler.ts";
import type { WatchConfig } from "../watcher/watch-config.ts";
import { createWatcher, type Watcher } from "../watcher/watcher.ts";
import { V2Api } from "./http/v2-routes.ts";
import type { MetadataStore } from "./metadata/metadata-store.ts";
import { SqliteMetadataStore } from "./metadata/sqlite-metadata-store.ts";
import { Registry } from "./registry.ts";
import type { BlobStore } from "./storage/blob-store.ts";
import { FsBlobStore } from "./storage/fs-blob-store.ts";

export interface ServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  dataDir: string;
  deleteEnabled?: boolean;
  uploadExpiryMs?: number;
  sync?: "full" | "normal";
  logLevel?: LogLevel;
  accessLog?: boolean;
  shutdownTimeoutMs?: number;
  /** Replace the embedded stores (tests, other backends). */
  blobs?: BlobStore;
  metadata?: MetadataStore;
  logger?: Logger;
  /** Registries to watch (the config's `watch` section): scanned on their intervals while serving. */
  watch?: WatchConfig;
  /** The watcher's vulnerability scanner (default Trivy; tests pass a stand-in). */
  watchScanner?: VulnerabilityScanner;
  /** Delay before each entry's first scan (default: a small random jitter). */
  watchInitialDelay?: (entry: WatchEntry, intervalMs: number) => number;
  /** Authentication on /v2 (the config's `auth` section); absent: open registry. */
  auth?: ServerAuthOptions;
  /** HTTPS (the config's `tls` section): an automatic local CA or the user's certificate. */
  tls?: TlsConfig;
  /** Rate limits, login lockout, size limits and timeouts (the config's `limits` section). */
  limits?: LimitsConfig;
  /** The clock of rate limits and login lockouts (default Date.now; tests pass a fake one). */
  limitsNow?: () => number;
  /** The audit log of pushes, pulls and deletes (the config's `audit` section). */
  audit?: AuditConfig;
  /** The web catalogue's remote registries and cache (the config's `catalog` section). */
  catalog?: CatalogSection;
}

/**
 * The config's `auth` section (src/auth/auth-config.ts: mode basic|token, htpasswd, realm,
 * anonymousPull, token, groups, rules), plus an optional authenticator replacing htpasswd.
 */
export type ServerAuthOptions = AuthSetup;

export interface RunningServer {
  url: string;
  port: number;
  registry: Registry;
  server: Server;
  logger: Logger;
  /** The running watcher when `watch` is configured. */
  watcher?: Watcher;
  /** The certificate manager when serving HTTPS. */
  tls?: TlsManager;
  audit?: AuditLog;
  /** Graceful: stop accepting, finish in-flight requests (up to the shutdown timeout), close stores. */
  close(): Promise<void>;
}

/** How often expired uploads are swept. */
const UPLOAD_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

async function createAuthGate(
  options: ServerAuthOptions,
  logger: Logger,
  dataDir: string,
): Promise<V2AuthGate> {
  return createV2AuthGate(options, { dataDir, logger });
}

/** Starts the registry with embedded storage (filesystem blobs + SQLite metadata) unless stores are given. */
export async function startRegistryServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? new JsonLogger({ level: options.logLevel ?? "info" });
  // First: a bad htpasswd file stops the start before any store is opened.
  const auth = options.auth ? await createAuthGate(options.auth, logger, options.dataDir) : undefined;
  // Certificates and the audit file next: problems there also stop the start early.
  const tls = tlsEnabled(options.tls)
    ? // Loaded only for HTTPS: the X.509 library costs memory a plain-HTTP server doesn't need.
      await (await import("../tls/manager.ts")).TlsManager.start({
        config: options.tls!,
        dataDir: options.dataDir,
        logger,
      })
    : undefined;
  const limitsConfig = options.limits ?? LimitsSchema.parse({});
  const audit = options.audit
    ? new AuditLog({ config: options.audit, dataDir: options.dataDir, logger })
    : undefined;
  const blobs = options.blobs ?? (await new FsBlobStore(options.dataDir).init());
  const metadata =
    options.metadata ??
    new SqliteMetadataStore(join(options.dataDir, "metadata.sqlite"), { synchronous: options.sync });
  const registry = new Registry({
    blobs,
    metadata,
    deleteEnabled: options.deleteEnabled ?? true,
    uploadTtlMs: options.uploadExpiryMs,
  });
  const metrics = new Metrics({ uploadsInProgress: async () => (await metadata.listUploads()).length });
  let watcher: Watcher | undefined;
  if (options.watch && options.watch.registries.length > 0) {
    const entries = options.watch.registries;
    metrics.watchEntries(entries.map((entry) => entry.name));
    watcher = createWatcher({
      entries,
      dataDir: resolvePath(options.watch.dataDir ?? options.dataDir),
      logger: logger.child({ component: "watch" }),
      scanner: options.watchScanner,
      initialDelay: options.watchInitialDelay,
      onScan: (event) => metrics.recordScan(event),
    });
  }
  const limits = new RequestLimits({
    config: limitsConfig,
    metrics: metrics.registry,
    now: options.limitsNow,
  });
  // Web login and personal access tokens over the same users (when auth is configured).
  const webAuth = auth?.accounts
    ? new WebAuthApi({
        store: auth.accounts.store,
        verifyPassword: auth.accounts.verifyPassword,
        authRequired: true,
        secureCookies: tls !== undefined,
        lockedOutFor: (user, req) => checkLockout(limits.loginGuard, clientIp(req), user),
        onLoginFailure: (user, req) => recordFailedLogin(limits.loginGuard, clientIp(req), user),
      })
    : undefined;
  // The catalogue (/api): this registry as "local", configured and watched remote registries.
  const catalog = await createServerCatalog({
    section: options.catalog,
    registry,
    auth,
    webAuth,
    authMode: options.auth?.mode === "token" ? "bearer" : "basic",
    watcher,
    logger: logger.child({ component: "catalog" }),
    metrics: metrics.registry,
  });
  const app = new App({
    catalog: catalog.api,
    registry,
    watcher,
    v2: new V2Api(registry, metrics, { catalogFilter: auth?.catalogFilter }),
    metrics,
    logger,
    version: VERSION,
    accessLog: options.accessLog ?? true,
    auth,
    limits,
    webAuth,
    securityHeaders: securityHeaders({ tls: tls !== undefined }),
    audit: audit?.enabled ? audit : undefined,
  });

  const httpOptions = {
    // Large pushes can take long: bound idle sockets and the request head, not whole requests.
    requestTimeout: 0,
    headersTimeout: limitsConfig.headersTimeout,
    // node checks headersTimeout on this beat (default 30s): keep it finer than the timeout.
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, limitsConfig.headersTimeout / 4)),
    keepAliveTimeout: 65_000,
    maxHeaderSize: limitsConfig.maxHeaderBytes,
  };
  let server: Server;
  if (tls) {
    const secure = createHttpsServer(
      { ...httpOptions, ...tls.secureContextOptions, minVersion: "TLSv1.2" },
      app.handle,
    );
    tls.attach(secure); // renewals and reloads swap the certificate in, no restart
    server = secure;
  } else {
    server = createServer(httpOptions, app.handle);
  }
  server.timeout = limitsConfig.idleTimeout;

  const sweep = async () => {
    try {
      const removed = await registry.expireUploads();
      if (removed > 0) logger.info("expired stale uploads", { removed });
    } catch (error) {
      logger.error("upload expiry failed", { err: error });
    }
  };
  await sweep();
  const sweeper = setInterval(sweep, UPLOAD_SWEEP_INTERVAL_MS);
  sweeper.unref();

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 5000, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    clearInterval(sweeper);
    tls?.close();
    await audit?.close();
    await watcher?.close();
    await catalog.close();
    auth?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${tls ? "https" : "http"}://${host}:${address.port}`;
  logger.info("reestr listening", { url, version: VERSION, dataDir: options.dataDir });
  if (catalog.local) {
    catalog.local.baseUrl = url;
    // A watch entry on this server's own URL is the local registry, not a remote one to probe.
    for (const id of catalog.catalog.registryIds) {
      const source = catalog.catalog.source(id);
      if (source && !source.local && isThisServer(source.baseUrl, address.port))
        await catalog.catalog.remove(id);
    }
  }
  if (watcher) {
    await watcher.start();
    logger.info("watching", { entries: watcher.entries.map((entry) => entry.name) });
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweeper);
      // No new scans from here on; running ones are aborted (their requests end within the drain).
      const watcherClosed = watcher?.close().catch((error: unknown) => {
        logger.error("watcher shutdown failed", { err: error });
      });
      server.close();
      server.closeIdleConnections();
      const timeout = options.shutdownTimeoutMs ?? 30_000;
      const drained = await Promise.race([
        app.drain().then(() => true),
        new Promise<boolean>((resolve) => setTimeout(resolve, timeout, false).unref()),
      ]);
      if (!drained) logger.warn("shutdown timeout: closing connections", { inFlight: app.inFlight });
      server.closeAllConnections();
      // The watcher (its scans ended, its store closed) before the registry's stores close.
      await watcherClosed;
      await catalog.close();
      tls?.close();
      await audit?.close();
      auth?.close();
      await metadata.close();
      logger.info("reestr stopped", { drained });
      logger.flush();
    })();
    return closing;
  };
  return { url, port: address.port, registry, server, logger, watcher, tls, audit, close };
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
