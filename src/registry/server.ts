import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve as resolvePath } from "node:path";
import { type Authenticator, HtpasswdAuthenticator, V2AuthGate } from "../auth/authenticator.ts";
import { HtpasswdFile } from "../auth/htpasswd.ts";
import { App } from "../server/app.ts";
import { Logger, type LogLevel } from "../server/logger.ts";
import { Metrics } from "../server/metrics.ts";
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
}

export interface ServerAuthOptions {
  /** An htpasswd file (bcrypt); loaded at start, reloaded when it changes. */
  htpasswd?: string;
  /** Another authenticator instead of htpasswd (tests, later token auth). */
  authenticator?: Authenticator;
  /** Basic challenge realm, default "Reestr". */
  realm?: string;
  /** GET/HEAD without credentials allowed (not the /v2/ ping). Default false. */
  anonymousPull?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  registry: Registry;
  server: Server;
  logger: Logger;
  /** The running watcher when `watch` is configured. */
  watcher?: Watcher;
  /** Graceful: stop accepting, finish in-flight requests (up to the shutdown timeout), close stores. */
  close(): Promise<void>;
}

/** How often expired uploads are swept. */
const UPLOAD_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

async function createAuthGate(options: ServerAuthOptions, logger: Logger): Promise<V2AuthGate> {
  let authenticator = options.authenticator;
  if (!authenticator) {
    if (!options.htpasswd) throw new Error("auth: an htpasswd file or an authenticator is required");
    const file = await new HtpasswdFile(resolvePath(options.htpasswd), {
      onReloadError: (error) =>
        logger.error("htpasswd reload failed; previous users stay in force", {
          file: options.htpasswd,
          error: error.message,
        }),
    }).load();
    if (file.users.length === 0)
      logger.warn("htpasswd file has no users: nobody can log in", { file: file.path });
    logger.info("basic auth enabled", {
      file: file.path,
      users: file.users.length,
      anonymousPull: options.anonymousPull ?? false,
    });
    authenticator = new HtpasswdAuthenticator(file);
  }
  return new V2AuthGate({ authenticator, realm: options.realm, anonymousPull: options.anonymousPull });
}

/** Starts the registry with embedded storage (filesystem blobs + SQLite metadata) unless stores are given. */
export async function startRegistryServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? new Logger({ level: options.logLevel ?? "info" });
  // First: a bad htpasswd file stops the start before any store is opened.
  const auth = options.auth ? await createAuthGate(options.auth, logger) : undefined;
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
  const app = new App({
    registry,
    watcher,
    v2: new V2Api(registry, metrics),
    metrics,
    logger,
    version: VERSION,
    accessLog: options.accessLog ?? true,
    auth,
  });

  const server = createServer(
    {
      // Large pushes can take long: bound idle sockets, not whole requests.
      requestTimeout: 0,
      headersTimeout: 60_000,
      keepAliveTimeout: 65_000,
    },
    app.handle,
  );
  server.timeout = 5 * 60_000;

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
    await watcher?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info("reestr listening", { url, version: VERSION, dataDir: options.dataDir });
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
      await metadata.close();
      logger.info("reestr stopped", { drained });
      logger.flush();
    })();
    return closing;
  };
  return { url, port: address.port, registry, server, logger, watcher, close };
}
