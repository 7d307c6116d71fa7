/**
 * Calls to a running Reestr's admin API (`/api/admin/…`) for the commands that drive one
 * (`reestr gc`): credentials as for every client command (REESTR_USERNAME / REESTR_PASSWORD or
 * docker's config.json), learnt from the registry's /v2/ challenge first, and refusals turned
 * into messages that say what to do.
 */
import type { RegistryClient } from "../client/registry-client.ts";

export class AdminApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdminApiError";
  }
}

export interface AdminApi {
  call<T>(method: "GET" | "POST", path: string, accept?: number[]): Promise<{ status: number; body: T }>;
}

/** An admin API over a client of the registry at `url`. */
export function adminApi(client: RegistryClient, url: string): AdminApi {
  let learnt = false;
  return {
    async call<T>(method: "GET" | "POST", path: string, accept = [200]) {
      if (!learnt) {
        // /v2/ tells the client which credentials the server wants (Basic, or a token realm).
        await client.ping().catch(() => undefined);
        learnt = true;
      }
      // Basic: in token mode a bearer token carries repository grants, not the user's admin rights.
      const response = await client.probe(path, { method, maxBytes: 256 * 1024 * 1024, basicAuth: true });
      if (accept.includes(response.status)) return { status: response.status, body: response.json as T };
      throw new AdminApiError(describeRefusal(url, path, response.status, response.json));
    },
  };
}

function describeRefusal(url: string, path: string, status: number, body: unknown): string {
  const message = (body as { error?: { message?: string } } | undefined)?.error?.message;
  if (status === 401) {
    return `${url} wants credentials for ${path}: set REESTR_USERNAME and REESTR_PASSWORD (an administrator)`;
  }
  if (status === 403)
    return `${url} refused ${path}: it needs a registry administrator${message ? ` (${message})` : ""}`;
  if (status === 404 && !message)
    return `${url} has no ${path}: is it a Reestr server (version 0.2 or later)?`;
  return `${url} answered ${status} for ${path}${message ? `: ${message}` : ""}`;
}
