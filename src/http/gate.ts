/**
 * The pipeline's seam to auth: how a request's caller is learnt and its access decided. The
 * implementation is src/auth/gate.ts; without auth configured, OPEN_GATE lets everyone do
 * everything.
 */
import { type AccessController, type AccessRecord, ANONYMOUS, type Caller, OPEN_ACCESS } from "./access.ts";
import type { RequestContext } from "./context.ts";

/**
 * Which credentials a route takes, and how a refusal is answered there:
 * - `registry` (/v2): what registry clients send — Basic credentials, or in token mode a bearer
 *   token from the token endpoint; refusals carry the `WWW-Authenticate` challenge;
 * - `token` (/auth/token): Basic credentials or none;
 * - `web` (/api): a session cookie, Basic credentials (a password or a personal access token) or
 *   a bearer token; refusals carry no challenge (a browser would show its own password dialog).
 */
export type Realm = "registry" | "token" | "web";

/** What a route needs of its caller beyond being authenticated as someone or no one. */
export type AccessNeeds =
  | { readonly kind: "authenticated" }
  | { readonly kind: "records"; readonly records: readonly AccessRecord[] };

/** Authentication and authorization as the pipeline runs them on every request. */
export interface Gate {
  readonly access: AccessController;
  /**
   * The caller of a request (ANONYMOUS without credentials). Wrong credentials are a 401 even
   * where an anonymous caller would pass: a typo must not silently look anonymous. `needs` (what
   * the route will ask) lets a refusal name the scope to ask for.
   */
  authenticate(ctx: RequestContext, realm: Realm, needs: AccessNeeds | undefined): Promise<Caller>;
  /**
   * Throws the realm's 401 or 403 unless the caller may do what the route needs; changes made
   * with a browser session must carry its CSRF token.
   */
  authorize(ctx: RequestContext, caller: Caller, needs: AccessNeeds, realm: Realm): void;
}

export const OPEN_GATE: Gate = {
  access: OPEN_ACCESS,
  authenticate: async () => ANONYMOUS,
  authorize: () => {},
};
