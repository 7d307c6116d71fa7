/**
 * Scopes of Docker's registry token spec (`repository:team/app:pull,push`, `registry:catalog:*`)
 * and what each /v2 request needs.
 *
 * A scope item is `<type>[(<class>)]:<name>:<actions>`: the type runs to the first colon, the
 * actions follow the last one, the name is what lies between (it may hold colons in other
 * registries' resource names). Several items are separated by spaces, within one `scope`
 * parameter or across several.
 */
import type { AccessRecord, GrantedAccess } from "../http/access.ts";
import { HttpError } from "../http/errors.ts";

/** One resource and the actions asked for or granted on it (the `access` claim's entries). */
export type ResourceAccess = GrantedAccess;

/** A malformed scope: 400 with the token spec's INVALID_REQUEST. */
function invalidScope(item: string): HttpError {
  return new HttpError(
    400,
    "INVALID_REQUEST",
    `invalid scope "${item.slice(0, 200)}": expected <type>:<name>:<actions>`,
  );
}

/** Parses the `scope` parameters of a token request; throws a 400 on a malformed item. */
export function parseScopes(values: Iterable<string>): ResourceAccess[] {
  const merged = new Map<string, ResourceAccess>();
  for (const value of values) {
    for (const item of value.split(" ")) {
      if (item === "") continue;
      const first = item.indexOf(":");
      const last = item.lastIndexOf(":");
      if (first <= 0 || last === first) {
        throw invalidScope(item);
      }
      const type = item.slice(0, first).replace(/\(.*\)$/, "");
      const name = item.slice(first + 1, last);
      const actions = item
        .slice(last + 1)
        .split(",")
        .filter((action) => action !== "");
      if (type === "" || name === "") throw invalidScope(item);
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

/**
 * The token scope that grants `records` (pull with push, as Docker clients ask for them), for a
 * Bearer challenge: `repository:team/app:pull,push registry:catalog:*`.
 */
export function scopeForRecords(records: readonly AccessRecord[]): string {
  const byRepository = new Map<string, Set<string>>();
  let catalog = false;
  for (const record of records) {
    if (record.type === "registry") {
      catalog ||= record.name === "catalog";
      continue;
    }
    const actions = byRepository.get(record.name) ?? new Set<string>();
    for (const action of record.actions) {
      actions.add(action);
      if (action === "push") actions.add("pull");
    }
    byRepository.set(record.name, actions);
  }
  const items = [...byRepository].map(
    ([name, actions]) => `repository:${name}:${[...actions].sort().join(",")}`,
  );
  if (catalog) items.push("registry:catalog:*");
  return items.join(" ");
}
