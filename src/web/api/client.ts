/**
 * The typed client of the catalogue API: openapi-fetch over the `paths` type generated from the
 * server's OpenAPI document (schema.gen.ts, by scripts/gen-api-client.ts). Every call goes
 * through `call()`, which turns error answers and network failures into one ApiError class the
 * views can show inline.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.gen.ts";

export type Schemas = components["schemas"];
export type RegistrySummary = Schemas["RegistrySummary"];
export type RepositorySummary = Schemas["RepositorySummary"];
export type RepositoryPage = Schemas["RepositoryPage"];
export type RepositoryDetail = Schemas["RepositoryDetail"];
export type TagSummary = Schemas["TagSummary"];
export type TagPage = Schemas["TagPage"];
export type ManifestDetail = Schemas["ManifestDetail"];
export type Referrer = Schemas["Referrer"];
export type SeverityCounts = Schemas["SeverityCounts"];
export type RegistryStorage = Schemas["RegistryStorage"];
export type StorageOverview = Schemas["StorageOverview"];
export type PullCommands = Schemas["PullCommands"];
export type RepositoryQuery = NonNullable<
  paths["/api/registries/{id}/repositories"]["get"]["parameters"]["query"]
>;
export type TagQuery = NonNullable<
  paths["/api/registries/{id}/repositories/{name}/tags"]["get"]["parameters"]["query"]
>;

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? "" });

/** An answer other than success, or no answer at all (status 0, code "NETWORK"). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** Worth retrying: the network or the server, not the request. */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Awaits an openapi-fetch call and returns its data, throwing ApiError otherwise. */
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch (error) {
    if ((error as Error)?.name === "AbortError") throw error;
    throw new ApiError(
      0,
      "NETWORK",
      "The Reestr server could not be reached. Check your connection and retry.",
    );
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const envelope = (error as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof envelope?.code === "string" ? envelope.code : `HTTP_${response.status}`;
  const message =
    typeof envelope?.message === "string" && envelope.message !== ""
      ? envelope.message
      : `${response.status} ${response.statusText || "error"}`;
  throw new ApiError(response.status, code, message);
}
