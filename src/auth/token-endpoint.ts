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
import type { Module } from "../http/module.ts";
import type { Route } from "../http/router.ts";
import { parseScopes } from "./scope.ts";
import type { SigningKey } from "./token-keys.ts";
import type { TokenIssuer } from "./tokens.ts";

export const TOKEN_PATH = "/auth/token";
export const JWKS_PATH = "/auth/jwks.json";

export interface TokenModuleOptions {
  issuer: TokenIssuer;
  key: SigningKey;
  /** Told about every token issued (user, granted scopes) — for logs. */
  onIssue?: (event: { user: string | undefined; scopes: string[] }) => void;
}

/**
 * The token endpoint's routes. The caller is authenticated by the pipeline in the `token` realm
 * (Basic credentials or none; wrong ones are a 401 with the Basic challenge, and count for the
 * failed-login lockout like those on /v2), so the routes themselves are public.
 */
export function createTokenModule(options: TokenModuleOptions): Module {
  let jwks: string | undefined;
  const token: Omit<Route, "path"> = {
    method: "GET",
    name: TOKEN_PATH,
    access: "public",
    realm: "token",
    format: "oci",
    handle: (ctx) => issueToken(ctx, options),
  };
  return {
    name: "token",
    routes: [
      { ...token, path: TOKEN_PATH },
      { ...token, path: `${TOKEN_PATH}/` },
      {
        method: "GET",
        path: JWKS_PATH,
        name: JWKS_PATH,
        access: "public",
        realm: "token",
        format: "oci",
        async handle(ctx) {
          const { key } = options;
          jwks ??= JSON.stringify({
            keys: [{ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: "sig" }],
          });
          ctx.res.writeHead(200, {
            "Content-Type": "application/json",
            "Content-Length": Buffer.byteLength(jwks),
            "Cache-Control": "max-age=300",
          });
          ctx.res.end(ctx.req.method === "HEAD" ? undefined : jwks);
        },
      },
    ],
  };
}

async function issueToken(ctx: RequestContext, options: TokenModuleOptions): Promise<void> {
  const { issuer } = options;
  const service = ctx.query.get("service");
  if (service !== null && service !== issuer.service) {
    return sendJson(ctx, 400, {
      errors: [
        {
          code: "INVALID_REQUEST",
          message: `unknown service "${service.slice(0, 200)}": this server is "${issuer.service}"`,
        },
      ],
    });
  }
  const requested = parseScopes(ctx.query.getAll("scope"));
  const { user, limit } = ctx.caller;
  const issued = await issuer.issue(user, requested, limit ? [...limit] : undefined);
  options.onIssue?.({
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
