/**
 * What `reestr serve` says about itself under /api:
 *
 *   GET /api          name, version and the server's endpoints (read from its route table)
 *   GET /api/status   version, uptime, and the counts and storage of the local registry
 *
 * Both are public: the counts are aggregates (no repository names), as on Distribution's
 * /debug endpoints and Harbor's statistics page for logged-in users.
 */
import { sendJson } from "../http/context.ts";
import type { Module } from "../http/module.ts";
import type { Route } from "../http/router.ts";
import type { Registry } from "../registry/registry.ts";

export interface StatusOptions {
  registry: Registry;
  version: string;
  /** The server's routes (its router's, once every module is mounted). */
  routes: () => readonly Route[];
}

export function createStatusModule({ registry, version, routes }: StatusOptions): Module {
  const startedAt = Date.now();
  return {
    name: "status",
    routes: [
      {
        method: "GET",
        path: "/api/status",
        name: "/api/status",
        access: "public",
        async handle(ctx) {
          const stats = await registry.stats();
          sendJson(ctx, 200, {
            version,
            uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
            repositories: stats.repositories,
            manifests: stats.manifests,
            tags: stats.tags,
            blobs: stats.blobs,
            storageBytes: stats.blobBytes,
          });
        },
      },
      {
        method: "GET",
        path: "/api",
        name: "/api",
        access: "public",
        handle: (ctx) =>
          sendJson(ctx, 200, {
            name: "reestr",
            version,
            // Each path once, with its methods; catch-alls (`{rest*}`) are not endpoints.
            endpoints: endpointsOf(routes()),
          }),
      },
    ],
  };
}

function endpointsOf(routes: readonly Route[]): { path: string; methods: string[] }[] {
  const byPath = new Map<string, Set<string>>();
  for (const route of routes) {
    if (route.method === "*" || route.path.includes("*}")) continue;
    byPath.set(route.path, (byPath.get(route.path) ?? new Set()).add(route.method));
  }
  return [...byPath].map(([path, methods]) => ({ path, methods: [...methods] }));
}
