import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { App } from "../server/app.ts";
import { Logger, type LogLevel } from "../server/logger.ts";
import { Metrics } from "../server/metrics.ts";
import { VERSION } from "../version.ts";
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
}

export interface RunningServer {
  url: string;
  port: number;
  registry: Registry;
  server: Server;
  logger: Logger;
  /** Graceful: stop accepting, finish in-flight requests (up to the shutdown timeout), close stores. */
  close(): Promise<void>;
}

/** How often expired uploads are swept. */
const UPLOAD_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** Starts the registry with embedded storage (filesystem blobs + SQLite metadata) unless stores are given. */
export async function startRegistryServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? new Logger({ level: options.logLevel ?? "info" });
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
  const app = new App({
    registry,
    v2: new V2Api(registry, metrics),
    metrics,
    logger,
    version: VERSION,
    accessLog: options.accessLog ?? true,
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

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 5000, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info("reestr listening", { url, version: VERSION, dataDir: options.dataDir });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweeper);
      server.close();
      server.closeIdleConnections();
      const timeout = options.shutdownTimeoutMs ?? 30_000;
      const drained = await Promise.race([
        app.drain().then(() => true),
        new Promise<boolean>((resolve) => setTimeout(resolve, timeout, false).unref()),
      ]);
      if (!drained) logger.warn("shutdown timeout: closing connections", { inFlight: app.inFlight });
      server.closeAllConnections();
      await metadata.close();
      logger.info("reestr stopped", { drained });
      logger.flush();
    })();
    return closing;
  };
  return { url, port: address.port, registry, server, logger, close };
}
