/**
 * The URL scheme of the catalogue (pure functions, no DOM, so node:test can check them).
 * Repository names keep their slashes; "-" can never be a name component, so it separates the
 * name from what follows, as in GitLab:
 *   /                                   registries
 *   /r/<id>                             repositories of a registry  (?q&ns&updated&signed&sort&order&page&size&view)
 *   /r/<id>/<name…>                     repository                   (?tq&tsort&torder)
 *   /r/<id>/<name…>/-/tag/<tag>         tag
 *   /r/<id>/<name…>/-/manifest/<digest> manifest by digest
 *   /storage, /storage/<id>             storage                      (?page)
 *   /account/tokens                     the signed-in user's personal access tokens
 *   /admin                              administration: links to the pages below (administrators)
 *   /admin/gc                           garbage collection: settings, dry run, run, last runs
 *   /admin/scrub                        integrity check: last result, progress, run
 *   /admin/retention                    retention policies, dry run and run
 */

export type Route =
  | { view: "registries" }
  | { view: "repositories"; registryId: string }
  | { view: "repository"; registryId: string; name: string }
  | { view: "tag"; registryId: string; name: string; tag: string }
  | { view: "manifest"; registryId: string; name: string; digest: string }
  | { view: "storage"; registryId: string | null }
  | { view: "tokens" }
  | { view: "admin" }
  | { view: "gc" }
  | { view: "scrub" }
  | { view: "retention" }
  | { view: "not_found"; path: string };

/** `/admin/<page>`, each the view of the same name. */
const ADMIN_PAGES = ["gc", "scrub", "retention"] as const;
export type AdminPage = (typeof ADMIN_PAGES)[number];
const isAdminPage = (segment: string): segment is AdminPage =>
  (ADMIN_PAGES as readonly string[]).includes(segment);

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter((part) => part !== "");
  const decoded = parts.map(decode);
  if (decoded.some((part) => part === undefined)) return { view: "not_found", path: pathname };
  const segments = decoded as string[];
  if (segments.length === 0) return { view: "registries" };
  if (segments[0] === "admin") {
    if (segments.length === 1) return { view: "admin" };
    const page = segments[1]!;
    if (segments.length === 2 && isAdminPage(page)) return { view: page };
  }
  if (segments[0] === "storage" && segments.length <= 2) {
    return { view: "storage", registryId: segments[1] ?? null };
  }
  if (segments.length === 2 && segments[0] === "account" && segments[1] === "tokens")
    return { view: "tokens" };
  if (segments[0] === "r" && segments.length >= 2) {
    const registryId = segments[1]!;
    if (segments.length === 2) return { view: "repositories", registryId };
    const rest = segments.slice(2);
    const dash = rest.indexOf("-");
    // A name given as one encoded segment (team%2Fapp) is accepted too.
    const name = (dash === -1 ? rest : rest.slice(0, dash)).join("/");
    if (name === "") return { view: "not_found", path: pathname };
    if (dash === -1) return { view: "repository", registryId, name };
    const [kind, reference, ...extra] = rest.slice(dash + 1);
    if (extra.length === 0 && reference) {
      if (kind === "tag") return { view: "tag", registryId, name, tag: reference };
      if (kind === "manifest") return { view: "manifest", registryId, name, digest: reference };
    }
  }
  return { view: "not_found", path: pathname };
}

/** One path segment, encoded; ":" and "@" are legal in paths and keep digests readable. */
const enc = (segment: string) => encodeURIComponent(segment).replace(/%3A/gi, ":").replace(/%40/g, "@");
/** Repository names keep their slashes in URLs; each component is encoded on its own. */
const encName = (name: string) => name.split("/").map(enc).join("/");

export const href = {
  registries: () => "/",
  repositories: (registryId: string, query?: Record<string, string | undefined>) =>
    `/r/${enc(registryId)}${queryString(query)}`,
  repository: (registryId: string, name: string) => `/r/${enc(registryId)}/${encName(name)}`,
  tag: (registryId: string, name: string, tag: string) =>
    `/r/${enc(registryId)}/${encName(name)}/-/tag/${enc(tag)}`,
  manifest: (registryId: string, name: string, digest: string) =>
    `/r/${enc(registryId)}/${encName(name)}/-/manifest/${enc(digest)}`,
  storage: (registryId?: string) => (registryId ? `/storage/${enc(registryId)}` : "/storage"),
  tokens: () => "/account/tokens",
  admin: () => "/admin",
  gc: () => "/admin/gc",
  scrub: () => "/admin/scrub",
  retention: () => "/admin/retention",
};

export function queryString(query?: Record<string, string | undefined>): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, value);
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
