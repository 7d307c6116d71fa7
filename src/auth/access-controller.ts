/**
 * The one authorization call (src/http/access.ts's AccessController) over the access policy:
 * may this caller do these actions on these resources?
 *
 * A caller may do an action when all of these allow it:
 * - the access policy, for the caller's user (anonymous: undefined) — except for bearer tokens of
 *   external issuers, which are trusted for what they grant;
 * - the caller's credentials: a personal access token limited to some actions;
 * - a bearer token's grants (its `access` claim): a token for `team/app:pull` does not push, and
 *   does not read `other/app` on /api either.
 *
 * Refusals say why, so the realm can answer: `unauthenticated` (anonymous: log in, 401),
 * `insufficient_scope` (a token that lacks the scope: ask for a new one, 401 with the scope),
 * `denied` (a known caller the policy refuses: 403).
 */
import {
  type AccessController,
  type AccessDecision,
  type AccessRecord,
  type Action,
  ALLOWED,
  type Caller,
  type GrantedAccess,
  type Refusal,
} from "../http/access.ts";

/** An action of an access record: a repository or admin action, or the catalog's `*`. */
type RecordAction = Action | "*";

import type { AccessPolicy } from "./access-policy.ts";

export class PolicyAccessController implements AccessController {
  readonly policy: AccessPolicy;

  constructor(policy: AccessPolicy) {
    this.policy = policy;
  }

  authorize(caller: Caller, records: readonly AccessRecord[]): AccessDecision {
    for (const record of records) {
      const actions: readonly RecordAction[] = record.actions;
      for (const action of actions) {
        if (this.#allows(caller, record, action)) continue;
        return { allowed: false, refusal: this.#refusal(caller, record, action), record };
      }
    }
    return ALLOWED;
  }

  pullFilter(caller: Caller): ((repository: string) => boolean) | undefined {
    const { token, limit, user } = caller;
    if (limit && !limit.has("pull")) return () => false;
    // External issuers' tokens that may list the catalog see all of it, as on Distribution; the
    // catalog of Reestr's own tokens is filtered by the policy for their subject (a token for the
    // catalog scope does not list each repository).
    if (token && !token.own) return undefined;
    if (this.policy.pullsEverything(user)) return undefined;
    return (repository) => this.policy.can(user, repository, "pull");
  }

  #allows(caller: Caller, record: AccessRecord, action: RecordAction): boolean {
    const { token, limit } = caller;
    if (token && !tokenGrants(token.access, record, action)) return false;
    if (token && !token.own) return true;
    if (!this.#policyAllows(caller.user, record, action)) return false;
    // A personal token's action list limits repository actions and administration, not the catalog.
    return !limit || action === "*" || limit.has(action);
  }

  #policyAllows(user: string | undefined, record: AccessRecord, action: RecordAction): boolean {
    if (record.type === "repository") return action !== "*" && this.policy.can(user, record.name, action);
    if (record.name === "catalog") return this.policy.canReadCatalog(user);
    return this.policy.isAdmin(user);
  }

  #refusal(caller: Caller, record: AccessRecord, action: RecordAction): Refusal {
    if (caller.token) {
      // Reestr's own token for a user the policy refuses: a new token would not help.
      const policyRefuses =
        caller.token.own && caller.user !== undefined && !this.#policyAllows(caller.user, record, action);
      return policyRefuses ? "denied" : "insufficient_scope";
    }
    return caller.user === undefined ? "unauthenticated" : "denied";
  }
}

/** Does a token's access claim grant `action` on the record's resource? `*` grants every action. */
export function tokenGrants(access: readonly GrantedAccess[], record: AccessRecord, action: string): boolean {
  const wanted = record.type === "registry" && record.name === "catalog" ? "*" : action;
  return access.some(
    (entry) =>
      entry.type === record.type &&
      entry.name === record.name &&
      (entry.actions.includes("*") || entry.actions.includes(wanted)),
  );
}
