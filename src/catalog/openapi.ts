/**
 * The OpenAPI 3.1 document of `/api`, built from the zod schemas in api-schemas.ts. The route
 * table below is also what the catalogue handler matches requests against (see routes.ts), so
 * the document and the server cannot drift apart: a route is served iff it is documented.
 */
import { z } from "zod";
import { VERSION } from "../version.ts";
import {
  ApiErrorSchema,
  catalogSchemas,
  GcRunQuerySchema,
  GcRunSchema,
  GcStatusSchema,
  ManifestDetailSchema,
  QuotaListSchema,
  RegistryListSchema,
  RegistryStorageSchema,
  RegistrySummarySchema,
  RepositoryDetailSchema,
  RepositoryPageSchema,
  RepositoryQuerySchema,
  ResyncResultSchema,
  RetentionResultSchema,
  RetentionRunQuerySchema,
  RetentionStatusSchema,
  ScrubRunQuerySchema,
  ScrubStartSchema,
  ScrubStatusSchema,
  ServerStatusSchema,
  StorageOverviewSchema,
  StorageQuerySchema,
  TagPageSchema,
  TagQuerySchema,
  WatchEntryDetailSchema,
  WatchEntryListSchema,
  WatchHistorySchema,
} from "./api-schemas.ts";

export type HttpMethod = "get" | "post" | "delete";

export interface RouteSuccess {
  status: number;
  schema?: z.ZodType;
  description: string;
}

export interface RouteDefinition {
  method: HttpMethod;
  /** OpenAPI path template, e.g. `/api/registries/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Query parameters (a zod object); path parameters come from the template. */
  query?: z.ZodObject;
  /** Success status and body schema (undefined: no body). */
  success: RouteSuccess;
  /** Other success answers (e.g. 200 when asked to wait, 202 otherwise). */
  alsoSuccess?: RouteSuccess[];
  /** Error statuses this route may answer besides 500. */
  errors: number[];
  /** Served by another module (status, watch, quotas, the admin routes), not by the catalogue module. */
  external?: boolean;
}

const PATH_PARAMETER_TEXT: Record<string, string> = {
  id: "registry id from the configuration (`local` is Reestr's own registry)",
  name: "repository name, URL-encoded (`team%2Fapp`)",
  reference: "a tag or a digest",
  tag: "a tag",
  digest: "a manifest digest (sha256:…)",
};

export const CATALOG_ROUTES: readonly RouteDefinition[] = [
  {
    method: "get",
    path: "/api/registries",
    operationId: "listRegistries",
    summary: "Configured registries with status, counts and storage",
    tag: "registries",
    success: { status: 200, schema: RegistryListSchema, description: "every configured registry" },
    errors: [],
  },
  {
    method: "get",
    path: "/api/registries/{id}",
    operationId: "getRegistry",
    summary: "One registry",
    tag: "registries",
    success: { status: 200, schema: RegistrySummarySchema, description: "the registry" },
    errors: [404],
  },
  {
    method: "post",
    path: "/api/registries/{id}/resync",
    operationId: "resyncRegistry",
    summary: "Drop the registry's cached data and probe it again",
    tag: "registries",
    success: { status: 202, schema: ResyncResultSchema, description: "resync started" },
    errors: [404],
  },
  {
    method: "get",
    path: "/api/registries/{id}/repositories",
    operationId: "listRepositories",
    summary: "Repositories of a registry: search, filters, sort and pages (server-side)",
    tag: "repositories",
    query: RepositoryQuerySchema,
    success: { status: 200, schema: RepositoryPageSchema, description: "one page of repositories" },
    errors: [400, 404, 502, 504],
  },
  {
    method: "get",
    path: "/api/registries/{id}/repositories/{name}",
    operationId: "getRepository",
    summary: "A repository: summary, README and pull commands",
    tag: "repositories",
    success: { status: 200, schema: RepositoryDetailSchema, description: "the repository" },
    errors: [400, 404, 502, 504],
  },
  {
    method: "get",
    path: "/api/registries/{id}/repositories/{name}/tags",
    operationId: "listTags",
    summary: "Tags of a repository with digest, size, platforms, created and vulnerabilities",
    tag: "repositories",
    query: TagQuerySchema,
    success: { status: 200, schema: TagPageSchema, description: "one page of tags" },
    errors: [400, 404, 502, 504],
  },
  {
    method: "get",
    path: "/api/registries/{id}/repositories/{name}/manifests/{reference}",
    operationId: "getManifest",
    summary: "A manifest by tag or digest: config, layers, platforms, referrers, vulnerabilities, history",
    tag: "repositories",
    success: { status: 200, schema: ManifestDetailSchema, description: "the manifest" },
    errors: [400, 404, 502, 504],
  },
  {
    method: "delete",
    path: "/api/registries/{id}/repositories/{name}/tags/{tag}",
    operationId: "deleteTag",
    summary: "Delete a tag (Reestr's own registry only)",
    tag: "repositories",
    success: { status: 204, description: "deleted" },
    errors: [400, 401, 403, 404],
  },
  {
    method: "delete",
    path: "/api/registries/{id}/repositories/{name}/manifests/{digest}",
    operationId: "deleteManifest",
    summary: "Delete a manifest and the tags pointing at it (Reestr's own registry only)",
    tag: "repositories",
    success: { status: 204, description: "deleted" },
    errors: [400, 401, 403, 404],
  },
  {
    method: "get",
    path: "/api/registries/{id}/storage",
    operationId: "getRegistryStorage",
    summary: "Bytes per repository (largest first), each blob counted once in the total",
    tag: "storage",
    query: StorageQuerySchema,
    success: { status: 200, schema: RegistryStorageSchema, description: "storage of the registry" },
    errors: [400, 404, 502, 504],
  },
  {
    method: "get",
    path: "/api/storage",
    operationId: "getStorage",
    summary: "Bytes per registry",
    tag: "storage",
    success: { status: 200, schema: StorageOverviewSchema, description: "storage of every registry" },
    errors: [],
  },
  {
    method: "get",
    path: "/api/openapi.json",
    operationId: "getOpenApi",
    summary: "This document",
    tag: "meta",
    success: { status: 200, description: "the OpenAPI 3.1 document" },
    errors: [],
  },
  {
    method: "get",
    path: "/api/status",
    operationId: "getServerStatus",
    summary: "Counts and storage of the server's own registry (reestr serve only)",
    tag: "server",
    success: { status: 200, schema: ServerStatusSchema, description: "server status" },
    errors: [],
    external: true,
  },
  {
    method: "get",
    path: "/api/admin/quotas",
    operationId: "listQuotas",
    summary: "Storage quotas with their usage (reestr serve; administrators only)",
    tag: "storage",
    success: { status: 200, schema: QuotaListSchema, description: "every configured quota" },
    errors: [401, 403],
    external: true,
  },
  {
    method: "get",
    path: "/api/watch/registries",
    operationId: "listWatchEntries",
    summary: "The server's watch entries and their last scan (reestr serve with `watch`)",
    tag: "watch",
    success: { status: 200, schema: WatchEntryListSchema, description: "watch entries" },
    errors: [],
    external: true,
  },
  {
    method: "get",
    path: "/api/watch/registries/{name}",
    operationId: "getWatchEntry",
    summary: "One watch entry with its images",
    tag: "watch",
    success: { status: 200, schema: WatchEntryDetailSchema, description: "the watch entry" },
    errors: [400, 404],
    external: true,
  },
  {
    method: "get",
    path: "/api/watch/registries/{name}/history",
    operationId: "getWatchHistory",
    summary: "Digest changes seen by the watcher, newest first",
    tag: "watch",
    query: z.object({
      tag: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
      before: z.string().optional().describe("ISO-8601 time: only older changes"),
    }),
    success: { status: 200, schema: WatchHistorySchema, description: "digest changes" },
    errors: [400, 404],
    external: true,
  },
  {
    method: "get",
    path: "/api/admin/retention",
    operationId: "getRetention",
    summary: "Retention policies, their schedule, the next and the last run (administrators)",
    tag: "admin",
    success: { status: 200, schema: RetentionStatusSchema, description: "policies and runs" },
    errors: [401, 403],
    external: true,
  },
  {
    method: "post",
    path: "/api/admin/retention",
    operationId: "runRetention",
    summary: "Dry-run (default) or run the retention policies: per repository, what goes and why",
    tag: "admin",
    query: RetentionRunQuerySchema,
    success: { status: 200, schema: RetentionResultSchema, description: "the plan, or the run's result" },
    errors: [400, 401, 403],
    external: true,
  },
  {
    method: "get",
    path: "/api/admin/gc",
    operationId: "getGc",
    summary: "Garbage collection: its settings, the run in progress and the last runs (administrators)",
    tag: "admin",
    success: { status: 200, schema: GcStatusSchema, description: "settings and runs, newest first" },
    errors: [401, 403],
    external: true,
  },
  {
    method: "post",
    path: "/api/admin/gc",
    operationId: "runGc",
    summary: "Start a garbage-collection run (or a dry run listing what would go)",
    tag: "admin",
    query: GcRunQuerySchema,
    success: { status: 202, schema: GcRunSchema, description: "started; follow it with GET /api/admin/gc" },
    alsoSuccess: [{ status: 200, schema: GcRunSchema, description: "with wait=true: the finished run" }],
    errors: [400, 401, 403, 409],
    external: true,
  },
  {
    method: "get",
    path: "/api/admin/scrub",
    operationId: "getScrub",
    summary: "The integrity check: the run in progress and the last finished run (administrators)",
    tag: "admin",
    success: { status: 200, schema: ScrubStatusSchema, description: "the running and the last run" },
    errors: [401, 403],
    external: true,
  },
  {
    method: "post",
    path: "/api/admin/scrub",
    operationId: "runScrub",
    summary:
      "Check every blob against its digest (quarantining corrupt ones) and every manifest's references",
    tag: "admin",
    query: ScrubRunQuerySchema,
    success: {
      status: 202,
      schema: ScrubStartSchema,
      description: "started, or the run already in progress (started: false)",
    },
    alsoSuccess: [{ status: 200, schema: ScrubStartSchema, description: "with wait=true: the finished run" }],
    errors: [400, 401, 403, 429],
    external: true,
  },
];

const ERROR_TEXT: Record<number, string> = {
  400: "bad request (a parameter is named in the message)",
  401: "authentication required",
  403: "not allowed (e.g. deleting on a remote registry)",
  404: "no such registry, repository, tag or manifest",
  409: "conflict (e.g. a run is already in progress; it is in error.details)",
  429: "too many requests (expensive operations are rate-limited per caller)",
  500: "internal error",
  502: "the registry refused our credentials or answered with an error",
  504: "the registry could not be reached",
};

function stripMeta(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function componentRef(schema: z.ZodType): Record<string, unknown> {
  const meta = catalogSchemas.get(schema);
  if (meta) return { $ref: `#/components/schemas/${meta.id}` };
  return stripMeta(
    z.toJSONSchema(schema, { target: "draft-2020-12", io: "output" }) as Record<string, unknown>,
  );
}

function queryParameters(query: z.ZodObject): Record<string, unknown>[] {
  const json = z.toJSONSchema(query, { target: "draft-2020-12", io: "input" }) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return {
      name,
      in: "query",
      required: json.required?.includes(name) === true && !("default" in rest),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/** The document's top level (what a client generator reads). */
export interface CatalogOpenApiDocument {
  openapi: string;
  jsonSchemaDialect: string;
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Record<string, unknown>> };
}

function buildDocument(): CatalogOpenApiDocument {
  const components = z.toJSONSchema(catalogSchemas, {
    target: "draft-2020-12",
    io: "output",
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Record<string, unknown>> };
  const schemas = Object.fromEntries(
    Object.entries(components.schemas).map(([id, schema]) => [id, stripMeta(schema)]),
  );
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of CATALOG_ROUTES) {
    const parameters = [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: "path",
      required: true,
      description: PATH_PARAMETER_TEXT[name!] ?? name,
      schema: { type: "string" },
    }));
    if (route.query) parameters.push(...(queryParameters(route.query) as typeof parameters));
    const responses: Record<string, unknown> = {};
    for (const success of [route.success, ...(route.alsoSuccess ?? [])]) {
      responses[String(success.status)] = {
        description: success.description,
        ...(success.schema
          ? { content: { "application/json": { schema: componentRef(success.schema) } } }
          : route.operationId === "getOpenApi"
            ? { content: { "application/json": { schema: { type: "object" } } } }
            : {}),
      };
    }
    for (const status of [...route.errors, 500]) {
      responses[String(status)] = {
        description: ERROR_TEXT[status] ?? "error",
        content: { "application/json": { schema: componentRef(ApiErrorSchema) } },
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "Reestr catalogue API",
      version: VERSION,
      description:
        "The JSON API behind Reestr's web catalogue: configured registries, repositories, tags, manifests, " +
        "vulnerabilities and storage. Registry credentials stay on the server. Errors are " +
        '`{"error":{"code","message"}}` with an HTTP status.',
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "registries" },
      { name: "repositories" },
      { name: "storage" },
      { name: "server" },
      { name: "watch" },
      { name: "admin" },
      { name: "meta" },
    ],
    paths,
    components: { schemas },
  };
}

/** The OpenAPI 3.1 document served at GET /api/openapi.json. */
export const catalogOpenApi: CatalogOpenApiDocument = buildDocument();
