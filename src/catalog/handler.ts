/**
 * HTTP for the catalogue: matches `/api/*` requests against the documented routes
 * (openapi.ts's CATALOG_ROUTES, so nothing undocumented is served), validates path and query
 * parameters, calls the Catalog and answers JSON. Errors are `{"error":{"code","message"}}`.
 */

import { type RequestContext, sendEmpty, sendJson } from "../http/context.ts";
import { isDigest } from "../oci/digest.ts";
import { isRegistryError } from "../oci/errors.ts";
import { isValidRepositoryName, isValidTag } from "../oci/reference.ts";
import { RepositoryQuerySchema, StorageQuerySchema, TagQuerySchema } from "./api-schemas.ts";
import type { Catalog } from "./catalog.ts";
import { CATALOG_ROUTES, catalogOpenApi, type HttpMethod, type RouteDefinition } from "./openapi.ts";
import { CatalogError } from "./source.ts";

/**
 * Decides whether the caller may delete in `repository` of the local registry: resolves to
 * allow, throws to refuse (a RegistryError UNAUTHORIZED with its challenge → 401, a CatalogError
 * → its status). The server wires it to its /v2 auth; absent, deletes are open like /v2 is.
 */
export type AuthorizeDelete = (ctx: RequestContext, repository: string) => Promise<void>;

/**
 * Which repositories of the local registry the caller of a request may see (those it may pull):
 * undefined when all; throws a RegistryError UNAUTHORIZED when the credentials sent are wrong.
 * The server wires it to its access rules; absent, everything is visible, like an open /v2.
 */
export type LocalVisibility = (ctx: RequestContext) => Promise<{
  /** The caller, undefined when anonymous. */
  user: string | undefined;
  visible: ((repository: string) => boolean) | undefined;
}>;

export interface CatalogApiOptions {
  catalog: Catalog;
  authorizeDelete?: AuthorizeDelete;
  localVisibility?: LocalVisibility;
  logger?: { error(msg: string, fields?: Record<string, unknown>): void };
}

interface CompiledRoute {
  definition: RouteDefinition;
  pattern: RegExp;
  params: string[];
}

/** The routes this handler serves: every documented one except those the server core serves. */
export const SERVED_ROUTES: readonly RouteDefinition[] = CATALOG_ROUTES.filter((route) => !route.external);

const COMPILED: CompiledRoute[] = SERVED_ROUTES.map((definition) => {
  const params: string[] = [];
  const source = definition.path.replace(/[.]/g, "\\.").replace(/\{(\w+)\}/g, (_, name: string) => {
    params.push(name);
    return "([^/]+)";
  });
  return { definition, pattern: new RegExp(`^${source}/?$`), params };
});

/** Is this path one of the catalogue's (any method)? The server's router asks before handing over. */
export function isCatalogPath(path: string): boolean {
  return COMPILED.some((route) => route.pattern.test(path));
}

function parseQuery<T>(
  schema: {
    safeParse(
      input: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  query: URLSearchParams,
): T {
  const result = schema.safeParse(Object.fromEntries(query));
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.map(String).join(".") || "query"}: ${issue.message}`,
    );
    throw new CatalogError("BAD_REQUEST", problems.join("; "));
  }
  return result.data;
}

function requireRepository(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new CatalogError("BAD_REQUEST", `name: "${name.slice(0, 100)}" is not a valid repository name`);
  }
  return name;
}

function requireReference(reference: string): string {
  if (!isValidTag(reference) && !isDigest(reference)) {
    throw new CatalogError(
      "BAD_REQUEST",
      `reference: "${reference.slice(0, 100)}" is neither a tag nor a digest`,
    );
  }
  return reference;
}

export class CatalogApi {
  readonly #catalog: Catalog;
  readonly #authorizeDelete: AuthorizeDelete | undefined;
  readonly #localVisibility: LocalVisibility | undefined;
  readonly #logger: CatalogApiOptions["logger"];

  constructor(options: CatalogApiOptions) {
    this.#catalog = options.catalog;
    this.#authorizeDelete = options.authorizeDelete;
    this.#localVisibility = options.localVisibility;
    this.#logger = options.logger;
  }

  get catalog(): Catalog {
    return this.#catalog;
  }

  /** Whether `path` is one of the catalogue's routes (any method): the server hands those over. */
  handles(path: string): boolean {
    // Unknown paths under /api/registries still get this API's error body.
    return isCatalogPath(path) || path.startsWith("/api/registries/") || path.startsWith("/api/storage/");
  }

  /** Answers one request under /api (never throws: failures become error bodies). */
  async handle(ctx: RequestContext): Promise<void> {
    try {
      await this.#dispatch(ctx);
    } catch (error) {
      this.#fail(ctx, error);
    }
  }

  async #dispatch(ctx: RequestContext): Promise<void> {
    const method = (ctx.req.method ?? "GET").toUpperCase();
    const matches = COMPILED.map((route) => ({ route, match: route.pattern.exec(ctx.path) })).filter(
      (m) => m.match !== null,
    );
    if (matches.length === 0) {
      ctx.route = "api_not_found";
      throw new CatalogError("NOT_FOUND", `no such endpoint: ${ctx.path.slice(0, 200)}`);
    }
    const wanted: HttpMethod = method === "HEAD" ? "get" : (method.toLowerCase() as HttpMethod);
    const found = matches.find((m) => m.route.definition.method === wanted);
    if (!found) {
      const allowed = [...new Set(matches.map((m) => m.route.definition.method.toUpperCase()))];
      ctx.route = matches[0]!.route.definition.path;
      ctx.res.setHeader("Allow", allowed.join(", "));
      return sendJson(ctx, 405, {
        error: {
          code: "BAD_REQUEST",
          message: `method ${method} not allowed here; use ${allowed.join(" or ")}`,
        },
      });
    }
    const { route, match } = found;
    ctx.route = route.definition.path;
    const params: Record<string, string> = {};
    route.params.forEach((name, index) => {
      try {
        params[name] = decodeURIComponent(match![index + 1]!);
      } catch {
        throw new CatalogError("BAD_REQUEST", `${name}: invalid URL encoding`);
      }
    });
    const catalog = this.#catalog;
    const id = params.id!;
    const send = (status: number, body: unknown) =>
      sendJson(ctx, status, body, { "Cache-Control": "no-cache" });
    switch (route.definition.operationId) {
      case "getOpenApi":
        return send(200, catalogOpenApi);
      case "listRegistries":
        return send(200, { registries: await catalog.listRegistries() });
      case "getRegistry":
        return send(200, await catalog.getRegistry(id));
      case "resyncRegistry":
        return send(202, await catalog.resync(id));
      case "listRepositories":
        return send(
          200,
          await catalog.listRepositories(
            id,
            parseQuery(RepositoryQuerySchema, ctx.query),
            await this.#visible(ctx, id),
          ),
        );
      case "getRepository":
        return send(200, await catalog.getRepository(id, await this.#readable(ctx, id, params.name!)));
      case "listTags":
        return send(
          200,
          await catalog.listTags(
            id,
            await this.#readable(ctx, id, params.name!),
            parseQuery(TagQuerySchema, ctx.query),
          ),
        );
      case "getManifest":
        return send(
          200,
          await catalog.getManifest(
            id,
            await this.#readable(ctx, id, params.name!),
            requireReference(params.reference!),
          ),
        );
      case "deleteTag": {
        const name = requireRepository(params.name!);
        if (!isValidTag(params.tag!))
          throw new CatalogError("BAD_REQUEST", `tag: "${params.tag!.slice(0, 100)}" is not a valid tag`);
        await this.#authorize(ctx, id, name);
        await catalog.deleteTag(id, name, params.tag!);
        return sendEmpty(ctx, 204);
      }
      case "deleteManifest": {
        const name = requireRepository(params.name!);
        if (!isDigest(params.digest!))
          throw new CatalogError("BAD_REQUEST", `digest: "${params.digest!.slice(0, 100)}" is not a digest`);
        await this.#authorize(ctx, id, name);
        await catalog.deleteManifest(id, name, params.digest!);
        return sendEmpty(ctx, 204);
      }
      case "getRegistryStorage":
        return send(
          200,
          await catalog.registryStorage(
            id,
            parseQuery(StorageQuerySchema, ctx.query),
            await this.#visible(ctx, id),
          ),
        );
      case "getStorage":
        return send(200, await catalog.storageOverview());
    }
    throw new CatalogError("NOT_FOUND", `no such endpoint: ${ctx.path.slice(0, 200)}`);
  }

  /** For the local registry with access rules: the caller's view of it (see LocalVisibility). */
  async #visible(ctx: RequestContext, id: string): Promise<((repository: string) => boolean) | undefined> {
    if (!this.#localVisibility || !this.#catalog.source(id)?.local) return undefined;
    return (await this.#localVisibility(ctx)).visible;
  }

  /** A repository name from the path that the caller may read: 401 for anonymous, 403 otherwise. */
  async #readable(ctx: RequestContext, id: string, raw: string): Promise<string> {
    const name = requireRepository(raw);
    if (!this.#localVisibility || !this.#catalog.source(id)?.local) return name;
    const { user, visible } = await this.#localVisibility(ctx);
    if (!visible || visible(name)) return name;
    if (user === undefined) throw new CatalogError("UNAUTHORIZED", `sign in to see ${name}`);
    throw new CatalogError("FORBIDDEN", `${user} may not pull ${name}`);
  }

  async #authorize(ctx: RequestContext, id: string, repository: string): Promise<void> {
    const source = this.#catalog.source(id);
    if (!source) throw new CatalogError("NOT_FOUND", `no registry with id "${id.slice(0, 100)}"`);
    if (!source.local) {
      throw new CatalogError(
        "FORBIDDEN",
        `registry "${id}" is read-only here: only Reestr's own registry (local) allows deletes`,
      );
    }
    if (this.#authorizeDelete) await this.#authorizeDelete(ctx, repository);
  }

  #fail(ctx: RequestContext, error: unknown): void {
    if (ctx.res.headersSent || ctx.res.destroyed) {
      ctx.res.destroy();
      return;
    }
    let status = 500;
    let code = "INTERNAL";
    let message = "internal server error";
    let headers: Record<string, string> = {};
    if (error instanceof CatalogError) {
      status = error.status;
      code = error.code;
      message = error.message;
      headers = error.headers;
    } else if (isRegistryError(error) && (error.code === "UNAUTHORIZED" || error.code === "DENIED")) {
      status = error.code === "UNAUTHORIZED" ? 401 : 403;
      code = error.code === "UNAUTHORIZED" ? "UNAUTHORIZED" : "FORBIDDEN";
      message = error.message;
      // No WWW-Authenticate here: on a JSON API for the browser it would make the browser show
      // its own password dialog; the app asks for a sign-in instead, scripts send credentials.
      headers = Object.fromEntries(
        Object.entries(error.headers).filter(([name]) => name.toLowerCase() !== "www-authenticate"),
      );
    } else {
      this.#logger?.error("catalogue request failed", {
        requestId: ctx.requestId,
        route: ctx.route,
        err: error,
      });
    }
    sendJson(ctx, status, { error: { code, message } }, headers);
  }
}
