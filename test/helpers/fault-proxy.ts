/**
 * A fault-injecting HTTP proxy on loopback, in front of any HTTP server: passes requests on, or
 * answers them with a chosen fault (a status such as 503, a 429 with Retry-After, a connection
 * reset, a body sent slowly). Records every request it saw, so tests can count what reached
 * the server behind it.
 */
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  | { kind: "pass" }
  /** Answer with this status (and an OCI error body) without asking the target. */
  | { kind: "status"; status: number; retryAfterSeconds?: number }
  /** Destroy the client's connection without an answer. */
  | { kind: "reset" }
  /** Pass on, but send the body in `chunkBytes` pieces with `delayMs` between them. */
  | { kind: "slow"; chunkBytes: number; delayMs: number };

export interface SeenRequest {
  method: string;
  path: string;
  /** The fault applied to it. */
  fault: Fault["kind"];
}

export interface FaultProxy {
  readonly url: string;
  readonly hostPort: string;
  readonly requests: SeenRequest[];
  /** The fault for requests from now on; `match` limits it to paths it accepts. */
  setFault(fault: Fault, match?: (method: string, path: string) => boolean): void;
  /** Requests seen whose method and path the predicate accepts. */
  count(predicate: (request: SeenRequest) => boolean): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const base = new URL(target);
  let fault: Fault = { kind: "pass" };
  let matches: (method: string, path: string) => boolean = () => true;
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const applied = matches(method, path) ? fault : ({ kind: "pass" } as const);
    requests.push({ method, path, fault: applied.kind });
    if (applied.kind === "reset") {
      req.socket.destroy();
      return;
    }
    if (applied.kind === "status") {
      const body = JSON.stringify({
        errors: [{ code: "UNAVAILABLE", message: `injected ${applied.status}` }],
      });
      res.writeHead(applied.status, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(body),
        ...(applied.retryAfterSeconds === undefined
          ? {}
          : { "Retry-After": String(applied.retryAfterSeconds) }),
      });
      res.end(method === "HEAD" ? undefined : body);
      return;
    }
    const upstream = request(
      { host: base.hostname, port: base.port, method, path, headers: { ...req.headers, host: base.host } },
      (answer: IncomingMessage) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (applied.kind === "slow") void dribble(answer, res, applied.chunkBytes, applied.delayMs);
        else answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    requests,
    setFault(next, match) {
      fault = next;
      matches = match ?? (() => true);
    },
    count: (predicate) => requests.filter(predicate).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function dribble(
  answer: IncomingMessage,
  res: import("node:http").ServerResponse,
  chunkBytes: number,
  delayMs: number,
): Promise<void> {
  try {
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      for (let offset = 0; offset < chunk.length; offset += chunkBytes) {
        if (res.destroyed) return;
        res.write(chunk.subarray(offset, offset + chunkBytes));
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
    res.end();
  } catch {
    res.destroy();
  }
}
