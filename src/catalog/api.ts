/**
 * The catalogue's JSON API as a module: one route per documented operation (openapi.ts's
 * CATALOG_ROUTES, so nothing undocumented is served and the document cannot drift from what is
 * served), each with its access decision, validated path and query parameters, answered by the
 * Catalog. Errors are `{"error":{"code","message"}}` (src/http/errors.ts).
 *
 * Access: remote registries are read with the server's credentials and shown to every caller;
 * the local registry (Reestr's own) follows its access rules — a repository the caller may not
 * pull is a 401 (anonymous) or 403, lists are filtered, deletes need `delete`. A resync makes
 * requests to someone else's registry: administrators only, rate-limited, CSRF-checked.
 */
import {
  type AccessController,
  type AccessRecord,
  type Action,
  type Caller,
  repositoryAccess,
} from "../http/access.ts";
import { pathParam, type RequestContext, sendEmpty, sendJson } from "../http/context.ts";
import { badRequest } from "../http/errors.ts";
import type { Module } from "../http/module.ts";
import type { Route, RouteAccess } from "../http/router.ts";
import { isDigest } from "../oci/digest.ts";
import { isValidRepositoryName, isValidTag } from "../oci/reference.ts";
import { RepositoryQuerySchema, StorageQuerySchema, TagQuerySchema } from "./api-schemas.ts";
import type { Catalog } from "./catalog.ts";
import { CATALOG_ROUTES, catalogOpenApi, type HttpMethod, type RouteDefinition } from "./openapi.ts";
import { CatalogError } from "./source.ts";

const METHOD: Record<HttpMethod, Route["method"]> = { get: "GET", post: "POST", delete: "DELETE" };

export interface CatalogModuleOptions {
  catalog: Catalog;
  access: AccessController;
}

/** The routes this module serves: every documented one except those other modules serve. */
export const SERVED_ROUTES: readonly RouteDefinition[] = CATALOG_ROUTES.filter((route) => !route.external);

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
    throw badRequest(problems.join("; "));
  }
  return result.data;
}

function requireRepository(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw badRequest(`name: "${name.slice(0, 100)}" is not a valid repository name`);
  }
  return name;
}

function requireReference(reference: string): string {
  if (!isValidTag(reference) && !isDigest(reference)) {
    throw badRequest(`reference: "${reference.slice(0, 100)}" is neither a tag nor a digest`);
  }
  return reference;
}

type Handler = (ctx: RequestContext, params: Record<string, string>) => Promise<void> | void;

export function createCatalogModule({ catalog, access }: CatalogModuleOptions): Module {
  const isLocal = (id: string) => catalog.source(id)?.local === true;
  /** What a repository route needs: the action on the local registry's repository; nothing on remote ones. */
  const onRepository =
    (action: Action) =>
    (ctx: RequestContext): AccessRecord[] => {
      const name = requireRepository(pathParam(ctx, "name"));
      return isLocal(pathParam(ctx, "id")) ? [repositoryAccess(name, action)] : [];
    };
  /** For lists of the local registry: the repositories the caller may pull (undefined: all). */
  const visible = (caller: Caller, id: string) => (isLocal(id) ? access.pullFilter(caller) : undefined);
  const send = (ctx: RequestContext, status: number, body: unknown) =>
    sendJson(ctx, status, body, { "Cache-Control": "no-cache" });
  const readOnly = (id: string) => {
    if (!catalog.source(id)) throw new CatalogError("NOT_FOUND", `no registry with id "${id.slice(0, 100)}"`);
    if (!isLocal(id)) {
      throw new CatalogError(
        "FORBIDDEN",
        `registry "${id}" is read-only here: only Reestr's own registry (local) allows deletes`,
      );
    }
  };

  const operations: Record<string, { access: RouteAccess; expensive?: boolean; handle: Handler }> = {
    getOpenApi: { access: "public", handle: (ctx) => send(ctx, 200, catalogOpenApi) },
    listRegistries: {
      access: "public",
      handle: async (ctx) => send(ctx, 200, { registries: await catalog.listRegistries() }),
    },
    getRegistry: {
      access: "public",
      handle: async (ctx, p) => send(ctx, 200, await catalog.getRegistry(p.id!)),
    },
    resyncRegistry: {
      access: "admin",
      expensive: true,
      handle: async (ctx, p) => send(ctx, 202, await catalog.resync(p.id!)),
    },
    listRepositories: {
      access: "public",
      handle: async (ctx, p) =>
        send(
          ctx,
          200,
          await catalog.listRepositories(
            p.id!,
            parseQuery(RepositoryQuerySchema, ctx.query),
            visible(ctx.caller, p.id!),
          ),
        ),
    },
    getRepository: {
      access: onRepository("pull"),
      handle: async (ctx, p) => send(ctx, 200, await catalog.getRepository(p.id!, p.name!)),
    },
    listTags: {
      access: onRepository("pull"),
      handle: async (ctx, p) =>
        send(ctx, 200, await catalog.listTags(p.id!, p.name!, parseQuery(TagQuerySchema, ctx.query))),
    },
    getManifest: {
      access: onRepository("pull"),
      handle: async (ctx, p) =>
        send(ctx, 200, await catalog.getManifest(p.id!, p.name!, requireReference(p.reference!))),
    },
    deleteTag: {
      access: onRepository("delete"),
      handle: async (ctx, p) => {
        if (!isValidTag(p.tag!)) throw badRequest(`tag: "${p.tag!.slice(0, 100)}" is not a valid tag`);
        readOnly(p.id!);
        await catalog.deleteTag(p.id!, p.name!, p.tag!);
        sendEmpty(ctx, 204);
      },
    },
    deleteManifest: {
      access: onRepository("delete"),
      handle: async (ctx, p) => {
        if (!isDigest(p.digest!)) throw badRequest(`digest: "${p.digest!.slice(0, 100)}" is not a digest`);
        readOnly(p.id!);
        await catalog.deleteManifest(p.id!, p.name!, p.digest!);
        sendEmpty(ctx, 204);
      },
    },
    getRegistryStorage: {
      access: "public",
      handle: async (ctx, p) =>
        send(
          ctx,
          200,
          await catalog.registryStorage(
            p.id!,
            parseQuery(StorageQuerySchema, ctx.query),
            visible(ctx.caller, p.id!),
          ),
        ),
    },
    getStorage: { access: "public", handle: async (ctx) => send(ctx, 200, await catalog.storageOverview()) },
  };

  const routes: Route[] = SERVED_ROUTES.map((definition) => {
    const operation = operations[definition.operationId];
    if (!operation) throw new Error(`catalogue: no handler for ${definition.operationId}`);
    return {
      method: METHOD[definition.method],
      path: definition.path,
      name: definition.path,
      access: operation.access,
      expensive: operation.expensive,
      handle: (ctx) => operation.handle(ctx, ctx.params),
    };
  });
  return { name: "catalog", routes };
}
