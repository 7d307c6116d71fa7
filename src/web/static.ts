/**
 * Serves the built web catalogue (Vite output in dist/web) to browsers: every GET/HEAD that is
 * not an API path lands here (see src/web/module.ts).
 *
 * - Files under /assets/ carry a content hash in their name, so they are cached for a year as
 *   immutable; everything else (index.html above all) is `no-cache`, revalidated with an ETag.
 * - Any other path without a file behind it is a client-side route: it gets index.html (SPA
 *   fallback), so every view of the app is a link that can be shared and reloaded.
 * - Paths are decoded once and resolved inside the root; anything that would leave it ("..",
 *   encoded slashes, NUL bytes) is refused before the filesystem is asked.
 * - Text files are gzip/brotli-compressed once and kept in memory, keyed by size and mtime, so a
 *   rebuild while the server runs is picked up on the next request.
 */
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync, constants as zlibConstants } from "node:zlib";

/** Where `npm run build:web` writes the app (the repository's dist/web). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../dist/web/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};
const COMPRESSIBLE = new Set([
  ".html",
  ".js",
  ".mjs",
  ".css",
  ".json",
  ".map",
  ".svg",
  ".txt",
  ".webmanifest",
]);
const STATIC_EXT = /\.(js|mjs|css|map|ico|png|svg|webp|woff2|txt|json|webmanifest)$/;
const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";
/** The app talks only to its own origin; inline style attributes come from React (virtual rows). */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const MAX_CACHED_FILE = 8 * 1024 * 1024;

interface CachedFile {
  key: string;
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  etag: string;
}

export interface StaticHandlerOptions {
  /** Directory holding index.html and assets/ (default: dist/web of this checkout). */
  root?: string;
}

export type StaticResult = "served" | "not_built";

/**
 * Answers a GET or HEAD for `path` (already stripped of its query) from the built app.
 * Never throws for a bad path: it answers 400/404 itself.
 */
export class StaticSite {
  readonly root: string;
  readonly #cache = new Map<string, CachedFile>();

  constructor(options: StaticHandlerOptions = {}) {
    this.root = resolve(options.root ?? DEFAULT_WEB_ROOT);
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<StaticResult> {
    // An encoded slash is part of a client-side route parameter (a repository name such as
    // team%2Fapp), never a file name: such paths skip the file lookup.
    const routeOnly = /%2f|%5c/i.test(path);
    const relative = routeOnly ? "" : safeRelativePath(path);
    if (relative === undefined) {
      sendText(req, res, 400, "bad path\n");
      return "served";
    }
    let file = relative === "" ? "index.html" : relative;
    let found = await this.#load(file);
    if (!found) {
      // Hashed assets and top-level static files are real files: a miss is a 404 (a stale tab
      // asking for an old chunk must not get HTML back). Everything else is a client-side route,
      // whose last segment may well contain a dot (repository "my.app", tag "v1.2.3").
      if (relative.startsWith("assets/") || (!relative.includes("/") && STATIC_EXT.test(relative))) {
        sendText(req, res, 404, "not found\n");
        return "served";
      }
      file = "index.html";
      found = await this.#load(file);
    }
    if (!found) {
      sendText(
        req,
        res,
        503,
        "The web catalogue is not built. Run `npm run build:web` (or `npm start`, which builds it).\n",
      );
      return "not_built";
    }
    const ext = extname(file);
    const headers: Record<string, string | number> = {
      "Content-Type": CONTENT_TYPES[ext] ?? "application/octet-stream",
      "Cache-Control": file.startsWith("assets/") ? IMMUTABLE : REVALIDATE,
      ETag: found.etag,
      "X-Content-Type-Options": "nosniff",
      Vary: "Accept-Encoding",
    };
    if (ext === ".html") {
      headers["Content-Security-Policy"] = CSP;
      headers["Referrer-Policy"] = "no-referrer";
    }
    if (matchesEtag(req.headers["if-none-match"], found.etag)) {
      res.writeHead(304, headers);
      res.end();
      return "served";
    }
    let body = found.body;
    const accepts = String(req.headers["accept-encoding"] ?? "");
    if (found.br && /\bbr\b/.test(accepts)) {
      body = found.br;
      headers["Content-Encoding"] = "br";
    } else if (found.gzip && /\bgzip\b/.test(accepts)) {
      body = found.gzip;
      headers["Content-Encoding"] = "gzip";
    }
    headers["Content-Length"] = body.byteLength;
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
    return "served";
  }

  async #load(relative: string): Promise<CachedFile | undefined> {
    const full = join(this.root, relative);
    // Belt and braces: safeRelativePath already refuses "..", but never read outside the root.
    if (full !== this.root && !full.startsWith(this.root + sep)) return undefined;
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(full);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const key = `${info.size}-${Math.trunc(info.mtimeMs)}`;
    const cached = this.#cache.get(relative);
    if (cached?.key === key) return cached;
    const body = await readFile(full);
    const entry: CachedFile = { key, body, etag: `W/"${key}"` };
    if (COMPRESSIBLE.has(extname(relative)) && body.byteLength > 1024) {
      entry.gzip = gzipSync(body, { level: 9 });
      entry.br = brotliCompressSync(body, {
        params: {
          [zlibConstants.BROTLI_PARAM_QUALITY]: 9,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      });
    }
    if (body.byteLength <= MAX_CACHED_FILE) this.#cache.set(relative, entry);
    return entry;
  }
}

/**
 * The request path as a path relative to the root ("" for "/"), or undefined when it is not a
 * plain path: undecodable escapes, NUL, backslashes, "." or ".." segments.
 */
export function safeRelativePath(path: string): string | undefined {
  if (!path.startsWith("/")) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const segments = decoded.split("/").filter((segment) => segment !== "");
  if (segments.some((segment) => segment === "." || segment === "..")) return undefined;
  return segments.join("/");
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((candidate) => {
    const value = candidate.trim();
    return value === "*" || value === etag || value === etag.slice(2);
  });
}

function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  res.end(req.method === "HEAD" ? undefined : text);
}
