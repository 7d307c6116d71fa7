/**
 * The token endpoint of Docker's registry token spec, `GET /auth/token?service=…&scope=…`:
 * Basic credentials (checked against the user store) or none (an anonymous token), one or more
 * `scope` parameters, answered with `{token, access_token, expires_in, issued_at}`. Wrong
 * credentials are a 401 (so `docker login` / `podman login` fail as they should); scopes the
 * caller may not have are simply left out of the token. `account`, `client_id` and
 * `offline_token` (sent by docker login) are accepted and ignored: no refresh tokens are issued.
 *
 * `GET /auth/jwks.json` publishes the public signing key, for registries or proxies that verify
 * Reestr's tokens themselves.
 */
import { exportJWK } from "jose";
import { type RequestContext, sendJson } from "../http/context.ts";
import { RegistryError } from "../oci/errors.ts";
import type { Authenticator, AuthResult } from "./authenticator.ts";
import { parseScopes, ScopeError } from "./scope.ts";
import type { SigningKey } from "./token-keys.ts";
import type { TokenIssuer } from "./tokens.ts";

export const TOKEN_PATH = "/auth/token";
export const JWKS_PATH = "/auth/jwks.json";

export interface TokenEndpointOptions {
  issuer: TokenIssuer;
  key: SigningKey;
  /** Checks Basic credentials; absent: only anonymous tokens are issued. */
  authenticator?: Authenticator;
  /** The Basic challenge's realm on a 401. */
  realm: string;
  /** Told about every token issued (user, granted scopes) — for logs. */
  onIssue?: (event: { user: string | undefined; scopes: string[] }) => void;
}

export class TokenEndpoint {
  readonly #options: TokenEndpointOptions;
  readonly #challenge: string;
  #jwks: string | undefined;

  constructor(options: TokenEndpointOptions) {
    this.#options = options;
    this.#challenge = `Basic realm="${options.realm.replace(/["\\]/g, "")}"`;
  }

  handles(path: string): boolean {
    return path === TOKEN_PATH || path === `${TOKEN_PATH}/` || path === JWKS_PATH;
  }

  async handle(ctx: RequestContext): Promise<void> {
    const method = ctx.req.method ?? "GET";
    ctx.route = ctx.path === JWKS_PATH ? JWKS_PATH : TOKEN_PATH;
    if (method !== "GET" && method !== "HEAD") {
      ctx.res.setHeader("Allow", "GET, HEAD");
      return sendJson(ctx, 405, {
        errors: [{ code: "UNSUPPORTED", message: `method ${method} not allowed` }],
      });
    }
    if (ctx.path === JWKS_PATH) return this.#sendJwks(ctx);

    const { issuer, authenticator } = this.#options;
    let user: string | undefined;
    let limit: AuthResult["actions"];
    if (authenticator) {
      try {
        const result = await authenticator.authenticate(ctx.req);
        user = result?.user;
        limit = result?.actions;
      } catch (error) {
        if (error instanceof RegistryError && error.code === "UNAUTHORIZED") {
          throw new RegistryError("UNAUTHORIZED", error.message, undefined, {
            "WWW-Authenticate": this.#challenge,
          });
        }
        throw error;
      }
    } else if (ctx.req.headers.authorization && !/^basic\s+Og==\s*$/i.test(ctx.req.headers.authorization)) {
      throw new RegistryError("UNAUTHORIZED", "this server has no users: only anonymous tokens", undefined, {
        "WWW-Authenticate": this.#challenge,
      });
    }
    ctx.user = user;
    const service = ctx.query.get("service");
    if (service !== null && service !== issuer.service) {
      return badRequest(
        ctx,
        `unknown service "${service.slice(0, 200)}": this server is "${issuer.service}"`,
      );
    }
    let requested: ReturnType<typeof parseScopes>;
    try {
      requested = parseScopes(ctx.query.getAll("scope"));
    } catch (error) {
      if (error instanceof ScopeError) return badRequest(ctx, error.message);
      throw error;
    }
    const issued = await issuer.issue(user, requested, limit);
    this.#options.onIssue?.({
      user,
      scopes: issued.access.map((entry) => `${entry.type}:${entry.name}:${entry.actions.join(",")}`),
    });
    sendJson(
      ctx,
      200,
      {
        token: issued.token,
        access_token: issued.token,
        expires_in: issued.expiresIn,
        issued_at: issued.issuedAt,
      },
      { "Cache-Control": "no-store", Pragma: "no-cache" },
    );
  }

  async #sendJwks(ctx: RequestContext): Promise<void> {
    const { key } = this.#options;
    this.#jwks ??= JSON.stringify({
      keys: [{ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: "sig" }],
    });
    ctx.res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(this.#jwks),
      "Cache-Control": "max-age=300",
    });
    ctx.res.end(ctx.req.method === "HEAD" ? undefined : this.#jwks);
  }
}

function badRequest(ctx: RequestContext, message: string): void {
  sendJson(ctx, 400, { errors: [{ code: "INVALID_REQUEST", message }] });
}
