/**
 * Authentication and authorization for every route (src/http/gate.ts's Gate), as the pipeline
 * runs them: who is calling, in the route's realm, and whether the access controller lets the
 * caller do what the route needs. The answers, by realm:
 *
 * - `registry` (/v2), basic mode: Basic credentials (a password or a personal access token).
 *   Anonymous callers the route needs to know get 401 with `Basic realm=…`; known callers the
 *   policy refuses get 403 DENIED. The `/v2/` ping needs a user: clients (containers/image,
 *   docker) learn the auth scheme from its 401, and a 200 would leave them pushing without
 *   credentials.
 * - `registry`, token mode: every request needs a bearer token (an anonymous one from the token
 *   endpoint will do where anonymous callers may pull). No token, an invalid one, or one that
 *   lacks the scope: 401 with `Bearer realm=…,service=…,scope=…` (and `error="insufficient_scope"`
 *   or `"invalid_token"`); Reestr's own token for a user the policy refuses: 403 DENIED (a new
 *   token would not help). Reestr's own tokens are re-checked against the current policy, so a rule
 *   change takes effect at once; external issuers' tokens are trusted for what they grant.
 * - `token` (/auth/token): Basic credentials or none; wrong ones are a 401 with the Basic challenge.
 * - `web` (/api): a session cookie, Basic credentials, or a bearer token (Reestr's own or a
 *   trusted issuer's); 401 UNAUTHORIZED or 403 FORBIDDEN in the JSON shape, without a challenge
 *   (a browser would show its own password dialog). Changes made with a session cookie need the
 *   session's CSRF token in `X-CSRF-Token`.
 *
 * In every realm wrong credentials are a 401 even where an anonymous caller would pass (a typo
 * must not silently look anonymous), and a user removed from the user stores is refused on the
 * next request, whatever credentials it holds (a session, a personal token, a bearer token issued
 * before the removal).
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { type AccessDecision, type AccessRecord, ANONYMOUS, type Caller } from "../http/access.ts";
import { header, type RequestContext } from "../http/context.ts";
import { parseBasicAuth, parseBearer } from "../http/credentials.ts";
import { forbidden, type HttpError, isHttpError, unauthorized } from "../http/errors.ts";
import type { AccessNeeds, Gate, Realm } from "../http/gate.ts";
import { RegistryError } from "../oci/errors.ts";
import type { PolicyAccessController } from "./access-controller.ts";
import { expandActions } from "./access-policy.ts";
import type { Authenticator } from "./authenticator.ts";
import { scopeForRecords } from "./scope.ts";
import { TOKEN_PATH } from "./token-endpoint.ts";
import { TokenError, type TokenVerifier } from "./tokens.ts";
import { type AuthStore, CSRF_HEADER, csrfAllows, readCookie, SESSION_COOKIE } from "./web-sessions.ts";

/** Whether a user still exists in the user stores (removed users lose every credential at once). */
export type UserExists = (user: string) => Promise<boolean>;

export interface AuthGateOptions {
  mode: "basic" | "token";
  access: PolicyAccessController;
  /** Checks Basic credentials: the user stores' passwords and personal access tokens. */
  passwords: Authenticator;
  /** Web sessions (cookies) beside the users. */
  sessions: AuthStore;
  /** Absent when the users are not Reestr's to know (an embedder's authenticator). */
  userExists?: UserExists;
  /** The Basic challenge's realm. */
  realm: string;
  /** Bearer tokens: required on /v2 in token mode, accepted on /api whenever configured. */
  token?: {
    verifier: TokenVerifier;
    service: string;
    /** The challenge's realm; default `<scheme>://<Host>/auth/token` of the request. */
    realm?: string;
  };
}

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const HOST = /^[A-Za-z0-9.\-:[\]]{1,300}$/;

export class AuthGate implements Gate {
  readonly access: PolicyAccessController;
  readonly mode: "basic" | "token";
  readonly #options: AuthGateOptions;
  readonly #basicChallenge: string;

  constructor(options: AuthGateOptions) {
    this.#options = options;
    this.access = options.access;
    this.mode = options.mode;
    this.#basicChallenge = `Basic realm="${quote(options.realm)}"`;
  }

  async authenticate(ctx: RequestContext, realm: Realm, needs?: AccessNeeds): Promise<Caller> {
    const authorization = ctx.req.headers.authorization;
    let caller: Caller;
    if (realm === "registry" && this.mode === "token") {
      // Only tokens here; Basic credentials go to the token endpoint.
      const bearer = parseBearer(authorization);
      caller = bearer === undefined ? ANONYMOUS : await this.#bearer(ctx, bearer, realm, needs);
    } else if (realm === "web") {
      caller = await this.#webCaller(ctx);
    } else {
      caller = await this.#basic(ctx, realm);
    }
    ctx.user = caller.user;
    if (caller.user !== undefined && caller.via !== "password" && !(await this.#stillExists(caller))) {
      throw this.#unauthenticated(ctx, realm, needs, `user ${caller.user} no longer exists`);
    }
    return caller;
  }

  authorize(ctx: RequestContext, caller: Caller, needs: AccessNeeds, realm: Realm): void {
    const tokenOnly = realm === "registry" && this.mode === "token";
    if (tokenOnly && caller.via !== "bearer") throw this.#bearerChallenge(ctx, recordsOf(needs));
    if (needs.kind === "authenticated") {
      // In token mode any valid token is someone (an anonymous token included).
      if (caller.user === undefined && !tokenOnly) throw this.#unauthenticated(ctx, realm, needs);
    } else {
      const decision = this.access.authorize(caller, needs.records);
      if (!decision.allowed) throw this.#refusal(ctx, caller, decision, needs, realm);
    }
    if (caller.session && UNSAFE_METHODS.has(ctx.req.method ?? "GET")) {
      const verdict = csrfAllows(caller.session, {
        origin: header(ctx, "origin"),
        host: header(ctx, "host"),
        csrf: header(ctx, CSRF_HEADER),
      });
      if (!verdict.ok) throw forbidden(`CSRF check failed: ${verdict.reason}`);
    }
  }

  /** Basic credentials (a password or a personal token), or none. */
  async #basic(ctx: RequestContext, realm: Realm): Promise<Caller> {
    try {
      const result = await this.#options.passwords.authenticate(ctx.req);
      if (!result) return ANONYMOUS;
      const via = result.via ?? "password";
      return result.actions
        ? { user: result.user, via, limit: expandActions(result.actions) }
        : { user: result.user, via };
    } catch (error) {
      if (isHttpError(error) && error.status === 401)
        throw this.#unauthenticated(ctx, realm, undefined, error.message);
      throw error;
    }
  }

  /** /api: a bearer token, Basic credentials, or a session cookie, in that order. */
  async #webCaller(ctx: RequestContext): Promise<Caller> {
    const authorization = ctx.req.headers.authorization;
    const bearer = parseBearer(authorization);
    if (bearer !== undefined) {
      if (!this.#options.token)
        throw unauthorized("bearer tokens are not accepted: this server issues none (auth.mode: basic)");
      return this.#bearer(ctx, bearer, "web");
    }
    const basic = parseBasicAuth(authorization);
    if (basic === null)
      throw unauthorized("malformed Authorization header: send Basic credentials or a Bearer token");
    if (basic && basic.user !== "") return this.#basic(ctx, "web");
    const session = this.#options.sessions.session(readCookie(ctx.req.headers.cookie, SESSION_COOKIE));
    if (!session) return ANONYMOUS;
    return {
      user: session.user,
      via: "session",
      session: { csrfToken: session.csrfToken, expiresAt: session.expiresAt },
    };
  }

  async #bearer(ctx: RequestContext, bearer: string, realm: Realm, needs?: AccessNeeds): Promise<Caller> {
    const token = this.#options.token!;
    try {
      const verified = await token.verifier.verify(bearer);
      const user = verified.subject === "" ? undefined : verified.subject;
      return {
        ...(user === undefined ? {} : { user }),
        via: "bearer",
        token: { own: verified.own, access: verified.access },
      };
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      if (realm === "registry")
        throw this.#bearerChallenge(ctx, recordsOf(needs), "invalid_token", error.message);
      throw unauthorized(error.message);
    }
  }

  async #stillExists(caller: Caller): Promise<boolean> {
    const { userExists } = this.#options;
    // External issuers' subjects are not users of ours.
    if (!userExists || (caller.token && !caller.token.own)) return true;
    return userExists(caller.user!);
  }

  #refusal(
    ctx: RequestContext,
    caller: Caller,
    decision: AccessDecision & { allowed: false },
    needs: AccessNeeds,
    realm: Realm,
  ): HttpError {
    const { record, refusal } = decision;
    if (realm !== "registry") {
      if (refusal === "unauthenticated") return unauthorized(`sign in to ${describe(record)}`);
      return forbidden(`${caller.user ?? "this token"} may not ${describe(record)}`, describeRecord(record));
    }
    if (refusal === "denied") {
      return new RegistryError(
        "DENIED",
        "requested access to the resource is denied",
        describeRecord(record),
      );
    }
    if (this.mode === "token") {
      return this.#bearerChallenge(
        ctx,
        recordsOf(needs),
        refusal === "insufficient_scope" ? "insufficient_scope" : undefined,
      );
    }
    return this.#unauthenticated(ctx, realm, needs);
  }

  /** The 401 of a realm: a challenge for registry clients, a plain refusal for the web. */
  #unauthenticated(
    ctx: RequestContext,
    realm: Realm,
    needs: AccessNeeds | undefined,
    message = "authentication required",
  ): HttpError {
    if (realm === "web")
      return unauthorized(message === "authentication required" ? "sign in first" : message);
    if (realm === "registry" && this.mode === "token")
      return this.#bearerChallenge(ctx, recordsOf(needs), "invalid_token", message);
    return new RegistryError("UNAUTHORIZED", message, undefined, {
      "WWW-Authenticate": this.#basicChallenge,
    });
  }

  #bearerChallenge(
    ctx: RequestContext,
    records: readonly AccessRecord[],
    error?: string,
    message?: string,
  ): RegistryError {
    const { service, realm } = this.#options.token!;
    let challenge = `Bearer realm="${quote(realm ?? defaultRealm(ctx.req))}",service="${quote(service)}"`;
    const scope = scopeForRecords(records);
    if (scope) challenge += `,scope="${quote(scope)}"`;
    if (error) challenge += `,error="${error}"`;
    const text =
      message ??
      (error === "insufficient_scope" ? "insufficient scope for this request" : "authentication required");
    const detail = records.length > 0 ? records.map(describeRecord) : undefined;
    return new RegistryError("UNAUTHORIZED", text, detail, { "WWW-Authenticate": challenge });
  }
}

function recordsOf(needs: AccessNeeds | undefined): readonly AccessRecord[] {
  return needs?.kind === "records" ? needs.records : [];
}

/** Distribution's error detail for a refused access record. */
function describeRecord(record: AccessRecord): { Type: string; Name: string; Action: string } {
  return { Type: record.type, Name: record.name, Action: record.actions.join(",") };
}

function describe(record: AccessRecord): string {
  if (record.type === "registry")
    return record.name === "catalog" ? "list the catalog" : "administer this registry";
  if (record.actions.includes("delete")) return `delete in ${record.name}`;
  if (record.actions.includes("push")) return `push to ${record.name}`;
  if (record.actions.includes("admin")) return `administer ${record.name}`;
  return `see ${record.name}`;
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
