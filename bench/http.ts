/**
 * A minimal HTTP client for load generation: raw node:http over a keep-alive Agent, no fetch,
 * no per-request allocations beyond what node:http needs, so the load generator is not the
 * bottleneck of the benchmark.
 */
import { Agent, type IncomingHttpHeaders, request } from "node:http";
import { connect } from "node:net";

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, unless the request asked to discard it. */
  body: Buffer;
  /** Bytes of body received. */
  bytes: number;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  /** Request body, sent with Content-Length. */
  body?: Uint8Array | string;
  /** Count the body's bytes but do not keep them (large blob pulls). */
  discardBody?: boolean;
}

const EMPTY = Buffer.alloc(0);

export class HttpTarget {
  readonly baseUrl: string;
  readonly hostname: string;
  readonly port: number;
  readonly agent: Agent;

  constructor(baseUrl: string, maxSockets = 256) {
    const url = new URL(baseUrl);
    this.baseUrl = url.origin;
    this.hostname = url.hostname;
    this.port = Number(url.port);
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" });
  }

  /** Turns a Location header (absolute URL or absolute path) into a request path on this target. */
  pathOf(location: string): string {
    if (location.startsWith("/")) return location;
    const url = new URL(location, this.baseUrl);
    return url.pathname + url.search;
  }

  request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...options.headers };
      const body = options.body;
      if (body !== undefined) headers["content-length"] = Buffer.byteLength(body);
      else if (method === "PUT" || method === "POST" || method === "PATCH") headers["content-length"] = 0;
      const req = request(
        { hostname: this.hostname, port: this.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          const keep = !options.discardBody;
          res.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
            if (keep) chunks.push(chunk);
          });
          res.on("end", () => {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
              bytes,
            });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      if (body === undefined) req.end();
      else req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export class UnexpectedResponse extends Error {
  constructor(what: string, expected: number | number[], res: HttpResponse) {
    const body = res.body.subarray(0, 500).toString("utf8");
    super(`${what}: expected HTTP ${String(expected)}, got ${res.status}: ${body}`);
  }
}

export function expectStatus(what: string, res: HttpResponse, expected: number | number[]): HttpResponse {
  const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
  if (!ok) throw new UnexpectedResponse(what, expected, res);
  return res;
}

/** The `next` URL of an RFC 5988 Link header (`<...>; rel="next"`), as a path. */
export function nextLink(target: HttpTarget, link: string | string[] | undefined): string | undefined {
  if (!link) return undefined;
  const value = Array.isArray(link) ? link.join(",") : link;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(value);
  return match ? target.pathOf(match[1]!) : undefined;
}

/**
 * GET over a fresh raw TCP connection, counting the body's bytes into one reused 1 MiB buffer.
 * node:http's body path tops out around 0.5 GB/s on a small machine, below what a registry can
 * serve on loopback; this one reaches the socket's speed (curl's ballpark), so big blob pulls
 * measure the server, not the client. Needs a Content-Length response (blob GETs have one).
 */
export function rawGetCount(
  target: HttpTarget,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; bytes: number; headers: string }> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let status = 0;
    let headerText = "";
    let length = -1;
    let bytes = 0;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve({ status, bytes, headers: headerText });
    };
    const socket = connect({
      host: target.hostname,
      port: target.port,
      onread: {
        buffer: Buffer.allocUnsafe(1024 * 1024),
        callback: (n, buf) => {
          if (length < 0) {
            head = Buffer.concat([head, buf.subarray(0, n)]);
            const end = head.indexOf("\r\n\r\n");
            if (end < 0) {
              if (head.length > 64 * 1024) finish(new Error(`GET ${path}: response header too large`));
              return true;
            }
            headerText = head.subarray(0, end).toString("latin1");
            status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headerText)?.[1] ?? 0);
            const cl = /\r\ncontent-length:\s*(\d+)/i.exec(headerText);
            if (!cl) {
              finish(new Error(`GET ${path}: HTTP ${status} without Content-Length`));
              return false;
            }
            length = Number(cl[1]);
            bytes = head.length - end - 4;
          } else {
            bytes += n;
          }
          if (bytes >= length) finish();
          return true;
        },
      },
    });
    socket.on("error", (error) => finish(error));
    socket.on("end", () =>
      finish(new Error(`GET ${path}: connection closed after ${bytes} of ${length} bytes`)),
    );
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${target.hostname}:${target.port}\r\nConnection: close\r\n${extra}\r\n`,
    );
  });
}
