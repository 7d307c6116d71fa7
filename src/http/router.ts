/**
 * The route table of a server: every endpoint is one `Route` — method, path pattern, name, who
 * may call it, and its handler — registered by the feature module that owns it (see module.ts).
 *
 * Path patterns: literal segments, `{param}` (one segment) and `{param+}` (one or more segments,
 * for repository names such as `team/app/api`, which is why a generic router does not fit /v2:
 * find-my-way and friends match parameters within one segment). A pattern ending in `{param*}`
 * matches any rest of the path, empty included. Parameters are percent-decoded once. Routes of
 * the JSON APIs also match with one trailing slash; those of the registry API match exactly.
 *
 * Matching: routes are tried in the order they were added (so the more specific route of a
 * module comes first), bucketed by their first literal segment so a request is compared with
 * the few routes of its prefix. GET routes also answer HEAD. A route with method `*` answers the
 * methods no other route of the same path takes (the registry's UNSUPPORTED answers); a path
 * whose routes do not take the method gets 405 with `Allow`.
 */
import type { AccessRecord } from "./access.ts";
import type { RequestContext } from "./context.ts";
import { badRequest, type ErrorFormat } from "./errors.ts";
import type { Realm } from "./gate.ts";

export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export type Method = (typeof METHODS)[number];

/**
 * Who may call a route, decided by the pipeline before the handler runs:
 * - `public`: anyone (credentials, when sent, are still checked);
 * - `authenticated`: any known caller (on an open registry: anyone);
 * - `admin`: registry administrators;
 * - a function: the access records this request needs (repository actions from the path).
 * Lists are filtered by the handler with `AccessController.pullFilter`.
 */
export type RouteAccess =
  | "public"
  | "authenticated"
  | "admin"
  | ((ctx: RequestContext) => readonly AccessRecord[]);

export interface Route {
  method: Method | "*";
  path: string;
  /** Low-cardinality name for logs and metrics. */
  name: string;
  /** Required: a route without an access decision cannot be added. */
  access: RouteAccess;
  /** Which credentials the route takes (default `web`). */
  realm?: Realm;
  /** How its errors are rendered (default `json`). */
  format?: ErrorFormat;
  /** The request body is streamed to storage (blob uploads): no small-body limit. */
  streamsBody?: boolean;
  /** Costly for the server or for others (a scan of an upstream registry): rate limited per caller. */
  expensive?: boolean;
  /** Headers on every response of the route, refusals included. */
  headers?: Record<string, string>;
  handle(ctx: RequestContext): Promise<void> | void;
}

export type RouteMatch =
  | { kind: "route"; route: Route; params: Record<string, string> }
  | { kind: "method-not-allowed"; allowed: Method[]; route: Route }
  | { kind: "not-found" };

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  params: string[];
}

const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]*$/;

function compile(route: Route): CompiledRoute {
  if (!route.path.startsWith("/")) throw new Error(`route ${route.name}: path must start with "/"`);
  if (route.access === undefined) throw new Error(`route ${route.name}: no access decision`);
  const params: string[] = [];
  const parts = route.path.split("/").slice(1);
  let source = "";
  parts.forEach((part, index) => {
    const param = /^\{(\w+)([+*]?)\}$/.exec(part);
    if (!param) {
      if (!SEGMENT.test(part)) throw new Error(`route ${route.name}: bad segment "${part}"`);
      source += `/${part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`;
      return;
    }
    params.push(param[1]!);
    if (param[2] === "*") {
      if (index !== parts.length - 1) throw new Error(`route ${route.name}: {${param[1]}*} must be last`);
      source += "(?:/(.*))?";
    } else source += param[2] === "+" ? "/(.+?)" : "/([^/]+)";
  });
  // JSON APIs forgive a trailing slash; the registry API matches paths exactly, as the spec's do.
  const trailing =
    route.format !== "oci" && !route.path.endsWith("/") && !route.path.endsWith("*}") ? "/?" : "";
  return { route, pattern: new RegExp(`^${source || "/"}${trailing}$`), params };
}

/** The first literal segment of a pattern ("" for one that starts with a parameter). */
function bucketOf(path: string): string {
  const first = path.split("/")[1] ?? "";
  return first.startsWith("{") ? "" : first;
}

export class Router {
  readonly #routes: CompiledRoute[] = [];
  readonly #buckets = new Map<string, CompiledRoute[]>();
  /** Routes whose first segment is a parameter: tried after the request's bucket. */
  #wildcard: CompiledRoute[] = [];

  add(...routes: Route[]): this {
    for (const route of routes) {
      const compiled = compile(route);
      this.#routes.push(compiled);
      const bucket = bucketOf(route.path);
      if (bucket === "") this.#wildcard.push(compiled);
      else this.#buckets.set(bucket, [...(this.#buckets.get(bucket) ?? []), compiled]);
    }
    return this;
  }

  /** Every route, in matching order (the route-table test and the /api index read this). */
  get routes(): readonly Route[] {
    return this.#routes.map((compiled) => compiled.route);
  }

  match(method: string, path: string): RouteMatch {
    const slash = path.indexOf("/", 1);
    const first = slash === -1 ? path.slice(1) : path.slice(1, slash);
    const candidates = this.#buckets.get(first);
    let other: CompiledRoute | undefined;
    const allowed: CompiledRoute[] = [];
    for (const list of candidates ? [candidates, this.#wildcard] : [this.#wildcard]) {
      for (const compiled of list) {
        const routeMethod = compiled.route.method;
        const takesMethod = routeMethod === method || (routeMethod === "GET" && method === "HEAD");
        if (takesMethod) {
          const found = compiled.pattern.exec(path);
          if (found) return { kind: "route", route: compiled.route, params: decodeParams(compiled, found) };
          continue;
        }
        if (!compiled.pattern.test(path)) continue;
        if (routeMethod === "*") other ??= compiled;
        else allowed.push(compiled);
      }
      // A route of the request's own prefix hides the catch-alls of the wildcard bucket.
      if (other || allowed.length > 0) break;
    }
    // A `*` route answers the other methods of its own path; a catch-all of a wider path does not
    // hide that the path exists with other methods (405).
    if (
      other &&
      (allowed.length === 0 || allowed.some((compiled) => compiled.route.path === other.route.path))
    ) {
      return { kind: "route", route: other.route, params: decodeParams(other, other.pattern.exec(path)!) };
    }
    if (allowed.length > 0) {
      const methods = new Set(allowed.map((compiled) => compiled.route.method as Method));
      if (methods.has("GET")) methods.add("HEAD");
      return { kind: "method-not-allowed", allowed: [...methods], route: allowed[0]!.route };
    }
    return { kind: "not-found" };
  }
}

function decodeParams(compiled: CompiledRoute, found: RegExpExecArray): Record<string, string> {
  const params: Record<string, string> = {};
  compiled.params.forEach((name, index) => {
    const raw = found[index + 1] ?? "";
    if (!raw.includes("%")) {
      params[name] = raw;
      return;
    }
    try {
      params[name] = decodeURIComponent(raw);
    } catch {
      // The registry API validates names and references itself (NAME_INVALID and friends).
      if (compiled.route.format === "oci") params[name] = raw;
      else throw badRequest(`${name}: invalid percent-encoding in the path`);
    }
  });
  return params;
}
