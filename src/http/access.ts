/**
 * Who is calling and what a request needs: the vocabulary shared by the HTTP pipeline, every
 * feature module and the auth implementation (src/auth/).
 *
 * An `AccessRecord` is Distribution's registry/auth access record: a resource and the actions
 * wanted on it (`{type: "repository", name: "team/app", actions: ["pull", "push"]}`), plus two
 * registry-wide resources — the catalog (`registry:catalog:*`, as in Docker's token scopes) and
 * administration (`registry:*:admin`: garbage collection, scans, resyncs). Modules never build
 * URLs to ask a question: they ask `AccessController.authorize(caller, records)`.
 *
 * Actions: `push` and `delete` include `pull`, `admin` includes all three (every client reads
 * before it writes); src/auth/access-policy.ts decides who has which.
 */
export const ACTIONS = ["pull", "push", "delete", "admin"] as const;
export type Action = (typeof ACTIONS)[number];

export type AccessRecord =
  | { type: "repository"; name: string; actions: readonly Action[] }
  | { type: "registry"; name: "catalog"; actions: readonly ["*"] }
  | { type: "registry"; name: "*"; actions: readonly ["admin"] };

/** Listing the repository catalog (what is listed is filtered by pull access). */
export const CATALOG_ACCESS: AccessRecord = { type: "registry", name: "catalog", actions: ["*"] };
/** Administering the whole registry. */
export const ADMIN_ACCESS: AccessRecord = { type: "registry", name: "*", actions: ["admin"] };

export function repositoryAccess(name: string, ...actions: Action[]): AccessRecord {
  return { type: "repository", name, actions };
}

/** A resource and the actions a bearer token grants on it (the token's `access` claim). */
export interface GrantedAccess {
  type: string;
  name: string;
  actions: string[];
}

/** The caller of one request, as the pipeline authenticated it. */
export interface Caller {
  /** The user name; undefined for an anonymous caller. */
  readonly user?: string;
  /** How the caller proved who it is. */
  readonly via: "anonymous" | "password" | "personal-token" | "bearer" | "session";
  /** Credentials good for fewer actions than the user has (a personal access token's). */
  readonly limit?: ReadonlySet<Action>;
  /** A bearer token's grants; `own` when this server issued it (then the policy is asked again). */
  readonly token?: { readonly own: boolean; readonly access: readonly GrantedAccess[] };
  /** A browser session: changes need its CSRF token. */
  readonly session?: { readonly csrfToken: string; readonly expiresAt: Date };
}

export const ANONYMOUS: Caller = Object.freeze({ via: "anonymous" });

/** Why access was refused: no caller known, a caller who may not, or a token that lacks a scope. */
export type Refusal = "unauthenticated" | "denied" | "insufficient_scope";

export type AccessDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly refusal: Refusal; readonly record: AccessRecord };

export const ALLOWED: AccessDecision = Object.freeze({ allowed: true });

/** The one authorization call every module makes. */
export interface AccessController {
  /** Whether `caller` may do every action of every record; the first refused record otherwise. */
  authorize(caller: Caller, records: readonly AccessRecord[]): AccessDecision;
  /**
   * For listings: which repositories `caller` may pull, or undefined when it may pull every one
   * (so a list needs no filtering).
   */
  pullFilter(caller: Caller): ((repository: string) => boolean) | undefined;
}

/** No auth configured: everyone may do everything, as on an open Distribution registry. */
export const OPEN_ACCESS: AccessController = {
  authorize: () => ALLOWED,
  pullFilter: () => undefined,
};
