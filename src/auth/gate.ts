/**
 * The /v2 gate: who is calling (Basic credentials or a bearer token), what the request needs
 * (scope.ts's `requestNeeds`), and whether the access policy or the token grants it.
 *
 * Answers, in both modes:
 * - no or invalid credentials where they are needed: 401 UNAUTHORIZED with the challenge
 *   (`Basic realm=…`, or `Bearer realm=…,service=…,scope=…` in token mode). Wrong credentials are
 *   a 401 even where an anonymous caller would pass — a typo must not silently look anonymous;
 * - an authenticated caller the policy does not allow: 403 DENIED;
 * - the `/v2/` ping: 200 for any valid caller, 401 for anonymous ones — clients (containers/image,
 *   docker) learn the auth scheme from it, and a 200 would leave them pushing without credentials.
 *
 * Token mode: every request needs a token (an anonymous one from the token endpoint will do where
 * anonymous callers may pull). A token that lacks the scope is answered 401 with
 * `error="insufficient_scope"` and the scope to ask for — unless the token is Reestr's own and the
 * policy does not allow its subject at all, which is a 403 DENIED (a new token would not help).
 * Reestr's own tokens are re-checked against the current policy, so a rule change takes effect at
 * once; external issuers' tokens are trusted for what they grant.
 *
 * A cross-repository mount the caller may not pull the source of is not refused: the mount
 * parameters are dropped and the request starts a plain upload, as the spec allows.
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { RequestContext } from "../http/context.ts";
import { RegistryError } from "../oci/errors.ts";
import type { V2Route } from "../registry/http/v2-routes.ts";
import { AccessPolicy, type Action, expandActions } from "./access-policy.ts";
import type { Authenticator, AuthResult } from "./authenticator.ts";
import { type Need, requestNeeds, scopeForNeeds } from "./scope.ts";
import { TOKEN_PATH, type TokenEndpoint } from "./token-endpoint.ts";
import { TokenError, type TokenVerifier, tokenAllows, type VerifiedToken } from "./tokens.ts";
import type { AuthStore } from "./web-sessions.ts";

export interface V2AuthOptions {
  /** Basic credentials (basic mode). */
  authenticator?: Authenticator;
  /** The Basic challenge's realm (default "Reestr"). */
  realm?: string;
  /** Used when no policy is given: GET/HEAD without credentials allowed (default false). */
  anonymousPull?: boolean;
  /** Who may do what; default: every user everything, anonymous pull per `anonymousPull`. */
  policy?: AccessPolicy;
  /**
   * The web side of the same users (sessions, personal access tokens), when the server keeps
   * them: the server builds the /api/auth endpoints from it.
   */
  accounts?: GateAccounts;
  /** Closed with the gate (stores the setup opened: embedded users, sessions). */
  resources?: { close(): void }[];
  /** Token mode. */
  token?: {
    verifier: TokenVerifier;
    service: string;
    /** The challenge's realm; default `<scheme>://<Host>/auth/token` of the request. */
    realm?: string;
    /** This server's token endpoint, when it issues tokens. */
    endpoint?: TokenEndpoint;
  };
}

export interface GateAccounts {
  store: AuthStore;
  /** A user's password (not a personal token) against the user stores. */
  verifyPassword(user: string, password: string): Promise<boolean>;
}

type Caller =
  | { kind: "basic"; user: string | undefined; limit: ReadonlySet<Action> | undefined }
  | { kind: "token"; token: VerifiedToken };

const HOST = /^[A-Za-z0-9.\-:[\]]{1,300}$/;

export class V2AuthGate {
  readonly policy: AccessPolicy;
  readonly accounts: GateAccounts | undefined;
  readonly #resources: { close(): void }[];
  readonly #authenticator: Authenticator | undefined;
  readonly #basicChallenge: string;
  readonly #token: V2AuthOptions["token"];
  readonly #callers = new WeakMap<IncomingMessage, Caller>();

  constructor(options: V2AuthOptions) {
    if (!options.authenticator && !options.token)
      throw new Error("auth: an authenticator or token verifier is needed");
    this.#authenticator = options.authenticator;
    this.#basicChallenge = `Basic realm="${(options.realm ?? "Reestr").replace(/["\\]/g, "")}"`;
    this.policy = options.policy ?? new AccessPolicy({ anonymousPull: options.anonymousPull });
    this.#token = options.token;
    this.accounts = options.accounts;
    this.#resources = options.resources ?? [];
  }

  /** Closes what the setup opened for this gate. */
  close(): void {
    for (const resource of this.#resources.splice(0)) resource.close();
  }

  /** The token endpoint to route `/auth/…` to, in token mode. */
  get tokenEndpoint(): TokenEndpoint | undefined {
    return this.#token?.endpoint;
  }

  /** Decides a /v2 request: the caller's name (undefined: anonymous), or a thrown 401/403. */
  async check(ctx: RequestContext, route: V2Route | undefined): Promise<string | undefined> {
    const needs = requestNeeds(route, ctx.req.method ?? "GET", ctx.query);
    return this.#token ? this.#checkToken(ctx, needs) : this.#checkBasic(ctx, needs);
  }

  /**
   * For the catalog: which repositories this request's caller may see (those it may pull), or
   * undefined when it may see all. Call after {@link check}.
   */
  readonly catalogFilter = (ctx: RequestContext): ((repository: string) => boolean) | undefined => {
    const caller = this.#callers.get(ctx.req);
    if (!caller) return undefined;
    let user: string | undefined;
    if (caller.kind === "basic") {
      user = caller.user;
      if (caller.limit && !caller.limit.has("pull")) return () => false;
    } else if (caller.token.own) user = caller.token.subject || undefined;
    else return undefined;
    if (this.policy.pullsEverything(user)) return undefined;
    return (repository) => this.policy.can(user, repository, "pull");
  };

  async #checkBasic(ctx: RequestContext, { needs, mountFrom }: ReturnType<typeof requestNeeds>) {
    let result: AuthResult | undefined;
    try {
      result = await this.#authenticator!.authenticate(ctx.req);
    } catch (error) {
      if (error instanceof RegistryError && error.code === "UNAUTHORIZED")
        throw this.#unauthorizedBasic(error.message);
      throw error;
    }
    const user = result?.user;
    const limit = result?.actions ? expandActions(result.actions) : undefined;
    this.#callers.set(ctx.req, { kind: "basic", user, limit });
    // Named in the access log even when refused below.
    ctx.user = user;
    if (needs.length === 0 && user === undefined) throw this.#unauthorizedBasic();
    const allows = (need: Need) =>
      this.#policyAllows(user, need) && (!limit || need.type === "registry" || limit.has(need.action));
    for (const need of needs) {
      if (allows(need)) continue;
      throw user === undefined ? this.#unauthorizedBasic() : denied(need);
    }
    if (mountFrom && !allows({ type: "repository", name: mountFrom, action: "pull" })) dropMount(ctx);
    return user;
  }

  async #checkToken(ctx: RequestContext, { needs, mountFrom }: ReturnType<typeof requestNeeds>) {
    const header = ctx.req.headers.authorization;
    const bearer = header === undefined ? undefined : /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1];
    if (bearer === undefined) throw this.#bearerChallenge(ctx, needs);
    let token: VerifiedToken;
    try {
      token = await this.#token!.verifier.verify(bearer);
    } catch (error) {
      if (error instanceof TokenError)
        throw this.#bearerChallenge(ctx, needs, "invalid_token", error.message);
      throw error;
    }
    this.#callers.set(ctx.req, { kind: "token", token });
    const user = token.subject === "" ? undefined : token.subject;
    ctx.user = user;
    for (const need of needs) {
      const policyAllows = !token.own || this.#policyAllows(user, need);
      if (tokenAllows(token, need) && policyAllows) continue;
      if (token.own && user !== undefined && !policyAllows) throw denied(need);
      throw this.#bearerChallenge(ctx, needs, "insufficient_scope");
    }
    if (mountFrom) {
      const source: Need = { type: "repository", name: mountFrom, action: "pull" };
      if (!tokenAllows(token, source) || (token.own && !this.#policyAllows(user, source))) dropMount(ctx);
    }
    return user;
  }

  #policyAllows(user: string | undefined, need: Need): boolean {
    if (need.type === "registry") return this.policy.canReadCatalog(user);
    return this.policy.can(user, need.name, need.action);
  }

  #unauthorizedBasic(message = "authentication required"): RegistryError {
    return new RegistryError("UNAUTHORIZED", message, undefined, {
      "WWW-Authenticate": this.#basicChallenge,
    });
  }

  #bearerChallenge(ctx: RequestContext, needs: Need[], error?: string, message?: string): RegistryError {
    const { service, realm } = this.#token!;
    let challenge = `Bearer realm="${quote(realm ?? defaultRealm(ctx.req))}",service="${quote(service)}"`;
    const scope = scopeForNeeds(needs);
    if (scope) challenge += `,scope="${quote(scope)}"`;
    if (error) challenge += `,error="${error}"`;
    const text =
      message ??
      (error === "insufficient_scope" ? "insufficient scope for this request" : "authentication required");
    const detail = needs.length > 0 ? needs.map(describeNeed) : undefined;
    return new RegistryError("UNAUTHORIZED", text, detail, { "WWW-Authenticate": challenge });
  }
}

function denied(need: Need): RegistryError {
  return new RegistryError("DENIED", "requested access to the resource is denied", describeNeed(need));
}

function describeNeed(need: Need): { Type: string; Name: string; Action: string } {
  return need.type === "registry"
    ? { Type: "registry", Name: "catalog", Action: "*" }
    : { Type: "repository", Name: need.name, Action: need.action };
}

function dropMount(ctx: RequestContext): void {
  ctx.query.delete("mount");
  ctx.query.delete("from");
}

function quote(value: string): string {
  return value.replace(/["\\]/g, "");
}

/** This server's token endpoint as the client reached it. */
function defaultRealm(req: IncomingMessage): string {
  const scheme = (req.socket as TLSSocket).encrypted ? "https" : "http";
  const host = req.headers.host;
  const authority =
    host && HOST.test(host)
      ? host
      : `${req.socket.localFamily === "IPv6" ? `[${req.socket.localAddress}]` : req.socket.localAddress}:${req.socket.localPort}`;
  return `${scheme}://${authority}${TOKEN_PATH}`;
}
