/** Small helpers the catalogue's queries share: ordering, paging and display fields. */

/** Nulls last whatever the order. */
export function compareNullable<T>(a: T | null | undefined, b: T | null | undefined, desc: boolean): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? 1 : -1;
  if (a === b) return 0;
  return (a < b ? -1 : 1) * (desc ? -1 : 1);
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Page `page` (1-based) of `pageSize` items. */
export function pageOf<T>(items: T[], query: { page: number; pageSize: number }): T[] {
  const start = (query.page - 1) * query.pageSize;
  return items.slice(start, start + query.pageSize);
}

/** `team/tools/app` → `team/tools`; a name without a slash has no namespace. */
export function namespaceOf(name: string): string | null {
  const slash = name.lastIndexOf("/");
  return slash === -1 ? null : name.slice(0, slash);
}

/** Epoch ms as ISO 8601; unknown stays null. */
export function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}
