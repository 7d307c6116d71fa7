/**
 * Listening and shutting down, the same for every Reestr server: node's http (or https, with a
 * certificate source that swaps certificates in without a restart), timeouts that bound idle
 * sockets and request heads but not long transfers, a clear error when the port is taken, and a
 * graceful close that lets requests in flight finish.
 */
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { HttpPipeline } from "./pipeline.ts";

export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  pipeline: HttpPipeline;
  /** HTTPS: the certificate source (src/tls/manager.ts). */
  tls?: {
    secureContextOptions: { cert: string; key: string };
    attach(server: { setSecureContext(options: { cert: string; key: string }): void }): void;
  };
  /** A client must send its whole request head within this time (slowloris). */
  headersTimeoutMs?: number;
  /** A connection with no bytes moving either way for this long is closed. */
  idleTimeoutMs?: number;
  maxHeaderBytes?: number;
}

export interface Listening {
  server: Server;
  url: string;
  port: number;
  /**
   * Stops accepting, lets requests in flight finish for up to `timeoutMs`, then closes every
   * connection. Resolves whether the drain finished in time.
   */
  close(timeoutMs: number): Promise<boolean>;
}

/** A port in use or not ours to take, said in words a user can act on. */
export class ListenError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "ListenError";
    this.code = code;
  }
}

export async function listen(options: ListenOptions): Promise<Listening> {
  const headersTimeout = options.headersTimeoutMs ?? 30_000;
  const httpOptions = {
    // Large pushes can take long: bound idle sockets and the request head, not whole requests.
    requestTimeout: 0,
    headersTimeout,
    // node checks headersTimeout on this beat (default 30s): keep it finer than the timeout.
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, headersTimeout / 4)),
    keepAliveTimeout: 65_000,
    ...(options.maxHeaderBytes ? { maxHeaderSize: options.maxHeaderBytes } : {}),
  };
  const { pipeline, tls } = options;
  let server: Server;
  if (tls) {
    const secure = createHttpsServer(
      { ...httpOptions, ...tls.secureContextOptions, minVersion: "TLSv1.2" },
      pipeline.handle,
    );
    tls.attach(secure); // renewals and reloads swap the certificate in, no restart
    server = secure;
  } else {
    server = createServer(httpOptions, pipeline.handle);
  }
  if (options.idleTimeoutMs !== undefined) server.timeout = options.idleTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(describeListenError(error, options)));
    server.listen(options.port, options.host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${tls ? "https" : "http"}://${host}:${address.port}`;
  return {
    server,
    url,
    port: address.port,
    async close(timeoutMs) {
      server.close();
      server.closeIdleConnections();
      const drained = await Promise.race([
        pipeline.drain().then(() => true),
        new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, false).unref()),
      ]);
      server.closeAllConnections();
      return drained;
    },
  };
}

function describeListenError(error: NodeJS.ErrnoException, options: ListenOptions): Error {
  const where = `${options.host}:${options.port}`;
  if (error.code === "EADDRINUSE") {
    return new ListenError(
      `${where} is already in use (another reestr, or another server): choose another with --port <n> (0 picks a free one)`,
      error.code,
    );
  }
  if (error.code === "EACCES") {
    return new ListenError(
      `not allowed to listen on ${where}: ports below 1024 need root; use --port 5000`,
      error.code,
    );
  }
  if (error.code === "EADDRNOTAVAIL") {
    return new ListenError(`${options.host} is not an address of this machine: check --host`, error.code);
  }
  return error;
}
