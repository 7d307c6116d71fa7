/**
 * Scopes of Docker's registry token spec (`repository:team/app:pull,push`, `registry:catalog:*`)
 * and what each /v2 request needs.
 *
 * A scope item is `<type>[(<class>)]:<name>:<actions>`: the type runs to the first colon, the
 * actions follow the last one, the name is what lies between (it may hold colons in other
 * registries' resource names). Several items are separated by spaces, within one `scope`
 * parameter or across several.
 */
import type { V2Route } from "../registry/http/v2-routes.ts";
import type { Action } from "./access-policy.ts";

/** One resource and the actions asked for or granted on it (the `access` claim's entries). */
export interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

export class ScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScopeError";
  }
}

/** Parses the `scope` parameters of a token request; throws ScopeError on a malformed item. */
export function parseScopes(values: Iterable<string>): ResourceAccess[] {
  const merged = new Map<string, ResourceAccess>();
  for (const value of values) {
    for (const item of value.split(" ")) {
      if (item === "") continue;
      const first = item.indexOf(":");
      const last = item.lastIndexOf(":");
      if (first <= 0 || last === first) {
        throw new ScopeError(`invalid scope "${item.slice(0, 200)}": expected <type>:<name>:<actions>`);
      }
      const type = item.slice(0, first).replace(/\(.*\)$/, "");
      const name = item.slice(first + 1, last);
      const actions = item
        .slice(last + 1)
        .split(",")
        .filter((action) => action !== "");
      if (type === "" || name === "") {
        throw new ScopeError(`invalid scope "${item.slice(0, 200)}": expected <type>:<name>:<actions>`);
      }
      const key = `${type}\0${name}`;
      const entry = merged.get(key) ?? { type, name, actions: [] };
      for (const action of actions) if (!entry.actions.includes(action)) entry.actions.push(action);
      merged.set(key, entry);
    }
  }
  return [...merged.values()];
}

export function formatScope(access: ResourceAccess): string {
  return `${access.type}:${access.name}:${access.actions.join(",")}`;
}

export const CATALOG_RESOURCE = { type: "registry", name: "catalog" } as const;

/** One permission a request needs: an action on a repository, or the catalog. */
export type Need =
  | { type: "repository"; name: string; action: Action }
  | { type: "registry"; name: "catalog" };

export interface RequestNeeds {
  /** What the request cannot do without. Empty for the ping: any valid caller passes. */
  needs: Need[];
  /** A cross-repository mount's source: pull on it is needed for the mount, not for the request. */
  mountFrom?: string;
  /** Unknown endpoints: any authenticated caller may learn they don't exist. */
  unknown?: boolean;
}

const READS = new Set(["GET", "HEAD"]);

/**
 * Maps a /v2 request to the permissions it needs: reads are `pull`; manifest PUT and every
 * upload method are `push`; DELETE of manifests and blobs is `delete`; any other method on a
 * known endpoint needs `push` (it is then refused as UNSUPPORTED, but only to those who may write).
 */
export function requestNeeds(
  route: V2Route | undefined,
  method: string,
  query: URLSearchParams,
): RequestNeeds {
  if (!route) return { needs: [], unknown: true };
  if (route.route === "ping") return { needs: [] };
  if (route.route === "catalog") return { needs: [{ type: "registry", name: "catalog" }] };
  const name = route.name ?? "";
  const need = (action: Action): Need => ({ type: "repository", name, action });
  switch (route.route) {
    case "tags":
    case "referrers":
      return { needs: [need(READS.has(method) ? "pull" : "push")] };
    case "manifest":
    case "blob":
      if (READS.has(method)) return { needs: [need("pull")] };
      if (method === "DELETE") return { needs: [need("delete")] };
      return { needs: [need("push")] };
    case "blob_upload": {
      const from = query.get("from");
      const mountFrom =
        method === "POST" && !route.uploadId && query.get("mount") && from && from !== name
          ? from
          : undefined;
      return mountFrom ? { needs: [need("push")], mountFrom } : { needs: [need("push")] };
    }
  }
  return { needs: [need("push")] };
}

/** The token scope that grants `needs` (pull with push, as Docker clients ask for them). */
export function scopeForNeeds(needs: Need[]): string {
  const byRepository = new Map<string, Set<string>>();
  let catalog = false;
  for (const need of needs) {
    if (need.type === "registry") {
      catalog = true;
      continue;
    }
    const actions = byRepository.get(need.name) ?? new Set<string>();
    actions.add(need.action);
    if (need.action === "push") actions.add("pull");
    byRepository.set(need.name, actions);
  }
  const items = [...byRepository].map(
    ([name, actions]) => `repository:${name}:${[...actions].sort().join(",")}`,
  );
  if (catalog) items.push("registry:catalog:*");
  return items.join(" ");
}
