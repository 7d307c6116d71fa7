import type { IncomingMessage, ServerResponse } from "node:http";
import { noteStreamedBytes } from "../util/gc.ts";

/** What every handler gets: the raw request and response plus what the pipeline learned. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  path: string;
  query: URLSearchParams;
  /** A low-cardinality route name for logs and metrics (e.g. "manifest", "blob_upload"). */
  route: string;
  /** Set by authentication when it knows the caller. */
  user?: string;
  /** Request body bytes consumed (pushes). */
  bytesIn: number;
}

export function sendJson(
  ctx: RequestContext,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  ctx.res.end(ctx.req.method === "HEAD" ? undefined : text);
}

export function sendEmpty(
  ctx: RequestContext,
  status: number,
  headers: Record<string, string | number> = {},
): void {
  ctx.res.writeHead(status, { "Content-Length": 0, ...headers });
  ctx.res.end();
}

/** The request body as an async iterable that counts what it yields. */
export async function* countedBody(ctx: RequestContext): AsyncIterable<Uint8Array> {
  for await (const chunk of ctx.req) {
    ctx.bytesIn += (chunk as Buffer).byteLength;
    noteStreamedBytes((chunk as Buffer).byteLength);
    yield chunk as Buffer;
  }
}

/** True when the request announces or carries a body. */
export function hasBody(ctx: RequestContext): boolean {
  const length = ctx.req.headers["content-length"];
  if (length !== undefined) return Number(length) > 0;
  return ctx.req.headers["transfer-encoding"] !== undefined;
}
