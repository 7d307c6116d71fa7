/**
 * What every handler gets: the raw request and response plus what the pipeline learnt (the
 * route, its path parameters, the caller), and the few ways of answering and reading a body
 * that every module shares.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ANONYMOUS, type Caller } from "./access.ts";
import type { ErrorFormat } from "./errors.ts";
import { badRequest, payloadTooLarge, unsupportedMediaType } from "./errors.ts";

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** The matched route's name, low-cardinality, for logs and metrics ("manifest", "/api/registries/{id}"). */
  route: string;
  /** The matched route's path parameters, percent-decoded. */
  params: Record<string, string>;
  /** Who is calling (set by the pipeline before the handler runs). */
  caller: Caller;
  /** The caller's name for logs and the audit log (also set for refused callers). */
  user?: string;
  /** How errors of this request are rendered (see src/http/errors.ts). */
  format: ErrorFormat;
  /** Request body bytes consumed (pushes). */
  bytesIn: number;
  /** Told about streamed request-body bytes (the composition root's memory housekeeping). */
  readonly onBodyBytes?: (bytes: number) => void;
}

/** A context for a request that has not been routed yet. */
export function createContext(
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  onBodyBytes?: (bytes: number) => void,
): RequestContext {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return {
    req,
    res,
    requestId,
    path: q === -1 ? url : url.slice(0, q),
    query: new URLSearchParams(q === -1 ? "" : url.slice(q + 1)),
    route: "unknown",
    params: {},
    caller: ANONYMOUS,
    format: "json",
    bytesIn: 0,
    onBodyBytes,
  };
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
  /** An array value is sent as one header line per element. */
  headers: Record<string, string | number | readonly string[]> = {},
): void {
  ctx.res.writeHead(status, { "Content-Length": 0, ...headers });
  ctx.res.end();
}

/** The request body as an async iterable that counts what it yields. */
export async function* countedBody(ctx: RequestContext): AsyncIterable<Uint8Array> {
  for await (const chunk of ctx.req) {
    const bytes = (chunk as Buffer).byteLength;
    ctx.bytesIn += bytes;
    ctx.onBodyBytes?.(bytes);
    yield chunk as Buffer;
  }
}

/** True when the request announces or carries a body. */
export function hasBody(ctx: RequestContext): boolean {
  const length = ctx.req.headers["content-length"];
  if (length !== undefined) return Number(length) > 0;
  return ctx.req.headers["transfer-encoding"] !== undefined;
}

/** The whole body, refused with `tooLarge()` as soon as it passes `limit` bytes. */
export async function readBody(
  ctx: RequestContext,
  limit: number,
  tooLarge: () => Error = () => payloadTooLarge(`body larger than ${limit} bytes`),
): Promise<Buffer> {
  const declared = ctx.req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  // Refusing mid-body must not destroy the request: the pipeline reads the rest before it
  // answers, so the client sees the 413 rather than a reset.
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false })) {
    total += (chunk as Buffer).byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  ctx.bytesIn += total;
  return Buffer.concat(chunks, total);
}

/** A JSON object body (`Content-Type: application/json`), at most `limit` bytes. */
export async function readJsonObject(ctx: RequestContext, limit: number): Promise<Record<string, unknown>> {
  const type = ctx.req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) throw unsupportedMediaType("send the body as application/json");
  const body = await readBody(ctx, limit);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw badRequest("body: not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw badRequest("body: a JSON object is required");
  }
  return parsed as Record<string, unknown>;
}

/**
 * A boolean query parameter (`?dryRun=true`): true/1/yes or false/0/no, `fallback` when absent;
 * anything else is a 400 naming the parameter, so a typo never silently means "no".
 */
export function queryFlag(ctx: RequestContext, name: string, fallback: boolean): boolean {
  const raw = ctx.query.get(name);
  if (raw === null) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw badRequest(`${name}: expected true or false, got "${raw.slice(0, 50)}"`);
}

/**
 * A path parameter of the matched route. The route's pattern guarantees it is there; asking for
 * one the pattern does not have is a programming error, said loudly.
 */
export function pathParam(ctx: RequestContext, name: string): string {
  const value = ctx.params[name];
  if (value === undefined) throw new Error(`route ${ctx.route} has no path parameter {${name}}`);
  return value;
}

/** One request header's value (the first, when a client sent it twice). */
export function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
