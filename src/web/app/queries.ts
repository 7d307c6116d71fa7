/**
 * React Query keys and fetchers for every API call, in one place so that invalidation after a
 * resync or a delete reaches every cached view of the registry.
 */
import { keepPreviousData, QueryClient, queryOptions } from "@tanstack/react-query";
import { ApiError, api, call, type RepositoryQuery, type TagQuery } from "../api/client.ts";

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        gcTime: 5 * 60_000,
        refetchOnWindowFocus: false,
        // Requests that were wrong stay wrong; retry only the network and the server, twice.
        retry: (failures, error) => failures < 2 && (!(error instanceof ApiError) || error.transient),
        retryDelay: (attempt) => Math.min(400 * 2 ** attempt, 4000),
      },
    },
  });
}

/** While a registry has not been probed yet (state "unknown"), ask again every few seconds. */
const PROBE_POLL_MS = 2000;

export const registriesQuery = () =>
  queryOptions({
    queryKey: ["registries"],
    queryFn: ({ signal }) => call(api.GET("/api/registries", { signal })),
    refetchInterval: (query) =>
      query.state.data?.registries.some((registry) => registry.status.state === "unknown")
        ? PROBE_POLL_MS
        : false,
  });

export const registryQuery = (id: string) =>
  queryOptions({
    queryKey: ["registry", id, "summary"],
    queryFn: ({ signal }) => call(api.GET("/api/registries/{id}", { params: { path: { id } }, signal })),
    refetchInterval: (query) => (query.state.data?.status.state === "unknown" ? PROBE_POLL_MS : false),
  });

export const repositoriesQuery = (id: string, query: RepositoryQuery) =>
  queryOptions({
    queryKey: ["registry", id, "repositories", query],
    queryFn: ({ signal }) =>
      call(api.GET("/api/registries/{id}/repositories", { params: { path: { id }, query }, signal })),
    placeholderData: keepPreviousData,
  });

export const repositoryQuery = (id: string, name: string) =>
  queryOptions({
    queryKey: ["registry", id, "repository", name],
    queryFn: ({ signal }) =>
      call(api.GET("/api/registries/{id}/repositories/{name}", { params: { path: { id, name } }, signal })),
  });

export const tagsQuery = (id: string, name: string, query: TagQuery) =>
  queryOptions({
    queryKey: ["registry", id, "tags", name, query],
    queryFn: ({ signal }) =>
      call(
        api.GET("/api/registries/{id}/repositories/{name}/tags", {
          params: { path: { id, name }, query },
          signal,
        }),
      ),
    staleTime: 30_000,
  });

export const manifestQuery = (id: string, name: string, reference: string) =>
  queryOptions({
    queryKey: ["registry", id, "manifest", name, reference],
    queryFn: ({ signal }) =>
      call(
        api.GET("/api/registries/{id}/repositories/{name}/manifests/{reference}", {
          params: { path: { id, name, reference } },
          signal,
        }),
      ),
  });

export const storageOverviewQuery = () =>
  queryOptions({
    queryKey: ["storage"],
    queryFn: ({ signal }) => call(api.GET("/api/storage", { signal })),
  });

/** The server's quotas with their usage; only administrators may read them (others get 401/403). */
export const quotasQuery = () =>
  queryOptions({
    queryKey: ["quotas"],
    queryFn: ({ signal }) => call(api.GET("/api/admin/quotas", { signal })),
  });

export const registryStorageQuery = (id: string, page: number, pageSize: number) =>
  queryOptions({
    queryKey: ["registry", id, "storage", page, pageSize],
    queryFn: ({ signal }) =>
      call(
        api.GET("/api/registries/{id}/storage", {
          params: { path: { id }, query: { page, pageSize } },
          signal,
        }),
      ),
    placeholderData: keepPreviousData,
  });

export const retentionQuery = () =>
  queryOptions({
    queryKey: ["retention"],
    queryFn: ({ signal }) => call(api.GET("/api/admin/retention", { signal })),
  });

/** While a garbage collection or a scrub runs, its page asks how far it is once a second. */
export const RUN_POLL_MS = 1000;

export const gcQuery = () =>
  queryOptions({
    queryKey: ["admin", "gc"],
    queryFn: ({ signal }) => call(api.GET("/api/admin/gc", { signal })),
    refetchInterval: (query) => (query.state.data?.running ? RUN_POLL_MS : false),
  });

export const scrubQuery = () =>
  queryOptions({
    queryKey: ["admin", "scrub"],
    queryFn: ({ signal }) => call(api.GET("/api/admin/scrub", { signal })),
    refetchInterval: (query) => (query.state.data?.running ? RUN_POLL_MS : false),
  });

/** The statuses meaning "not for you" (401, 403) or "not on this server" (404: `reestr ui`). */
export function isNotAdmin(error: unknown): boolean {
  return error instanceof ApiError && [401, 403, 404].includes(error.status);
}

/**
 * Whether the caller administers this server, for the header's "Admin" entry. The session does
 * not say (admin is a rule of the access policy, not a flag of the user), so the cheapest admin
 * route is asked; sign-in and sign-out invalidate every query, this one included.
 */
export const adminAccessQuery = () =>
  queryOptions({
    queryKey: ["admin-access"],
    queryFn: async ({ signal }) => {
      try {
        await call(api.GET("/api/admin/gc", { signal }));
        return true;
      } catch (error) {
        if (isNotAdmin(error)) return false;
        throw error;
      }
    },
    staleTime: 5 * 60_000,
  });

/** After a resync or a delete: everything cached about the registry, and the lists that count it. */
export async function invalidateRegistry(client: QueryClient, id: string): Promise<void> {
  await Promise.all([
    client.invalidateQueries({ queryKey: ["registry", id] }),
    client.invalidateQueries({ queryKey: ["registries"] }),
    client.invalidateQueries({ queryKey: ["storage"] }),
  ]);
}
