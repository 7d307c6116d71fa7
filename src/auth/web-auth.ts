/**
 * The web catalogue's login and personal tokens over HTTP:
 *
 *   GET    /api/auth/session          who the caller is: { user, csrfToken, expiresAt, authRequired }
 *   POST   /api/auth/login            { username, password } → session cookie + { user, csrfToken, expiresAt }
 *   POST   /api/auth/logout           ends the session (CSRF header required)
 *   GET    /api/auth/tokens           the caller's personal access tokens (never their secrets)
 *   POST   /api/auth/tokens           { name, actions?, expiresInDays? } → 201 { token, secret } (shown once)
 *   DELETE /api/auth/tokens/{id}      revokes one (CSRF header required with a session)
 *
 * The caller is known from the session cookie, Basic credentials (a password or a personal
 * token) or a bearer token — the pipeline authenticates it in the `web` realm and checks the
 * CSRF header of changes made with a cookie. Without users (an open registry) only the session
 * route is served, answering that nobody needs to sign in.
 */
import { pathParam, readJsonObject, sendEmpty, sendJson } from "../http/context.ts";
import { badRequest, forbidden, notFound, tooManyRequests, unauthorized } from "../http/errors.ts";
import { clientIp, type LoginGuard } from "../http/limits.ts";
import type { Module } from "../http/module.ts";
import type { Route } from "../http/router.ts";
import { ConfigError } from "../util/config-error.ts";
import {
  type AuthStore,
  clearedSessionCookie,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
  type TokenAction,
} from "./web-sessions.ts";

export const WEB_AUTH_PREFIX = "/api/auth/";
const MAX_BODY_BYTES = 16 * 1024;

export interface WebAuthOptions {
  store: AuthStore;
  /** A user's password (not a personal token) against the user stores. */
  verifyPassword: (user: string, password: string) => Promise<boolean>;
  /** Cookies get `Secure` when the server speaks TLS. */
  secureCookies: boolean;
  /** Failed-login lockout shared with /v2 and the token endpoint. */
  loginGuard?: LoginGuard;
}

const NO_CACHE = { "Cache-Control": "no-store" };

/** The session route alone: a server without users, where nobody signs in. */
export function createOpenSessionModule(): Module {
  return {
    name: "web-auth",
    routes: [
      {
        method: "GET",
        path: "/api/auth/session",
        name: "/api/auth/session",
        access: "public",
        handle: (ctx) =>
          sendJson(ctx, 200, { user: null, csrfToken: null, expiresAt: null, authRequired: false }),
      },
    ],
  };
}

export function createWebAuthModule(options: WebAuthOptions): Module {
  const { store, loginGuard } = options;
  const route = (
    method: Route["method"],
    path: string,
    access: Route["access"],
    handle: Route["handle"],
  ): Route => ({
    method,
    path: `/api/auth/${path}`,
    name: `/api/auth/${path}`,
    access,
    handle,
  });
  return {
    name: "web-auth",
    routes: [
      route("GET", "session", "public", (ctx) => {
        const { user, session } = ctx.caller;
        sendJson(
          ctx,
          200,
          {
            user: user ?? null,
            csrfToken: session?.csrfToken ?? null,
            expiresAt: session?.expiresAt.toISOString() ?? null,
            authRequired: true,
          },
          NO_CACHE,
        );
      }),
      route("POST", "login", "public", async (ctx) => {
        const body = await readJsonObject(ctx, MAX_BODY_BYTES);
        const { username, password } = body;
        if (typeof username !== "string" || username === "" || username.length > 256) {
          throw badRequest("username: a non-empty string is required");
        }
        if (typeof password !== "string" || password.length > 1024)
          throw badRequest("password: a string is required");
        const ip = clientIp(ctx.req);
        const wait = loginGuard?.lockedOutFor(ip, username) ?? 0;
        if (wait > 0) throw tooManyRequests(`too many failed logins; try again in ${wait} s`, wait);
        if (!(await options.verifyPassword(username, password))) {
          loginGuard?.recordFailure(ip, username);
          throw unauthorized("invalid username or password");
        }
        loginGuard?.recordSuccess(ip, username);
        const session = store.createSession(username);
        ctx.user = username;
        sendJson(
          ctx,
          200,
          { user: username, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() },
          { "Set-Cookie": sessionCookie(session, options.secureCookies), ...NO_CACHE },
        );
      }),
      route("POST", "logout", "authenticated", (ctx) => {
        if (ctx.caller.via === "session")
          store.endSession(readCookie(ctx.req.headers.cookie, SESSION_COOKIE));
        sendEmpty(ctx, 204, { "Set-Cookie": clearedSessionCookie(options.secureCookies) });
      }),
      route("GET", "tokens", "authenticated", (ctx) => {
        sendJson(ctx, 200, { tokens: store.tokens(ctx.caller.user!) }, NO_CACHE);
      }),
      route("POST", "tokens", "authenticated", async (ctx) => {
        // A token must not mint tokens: a leaked one could otherwise outlive its own revocation.
        if (ctx.caller.via === "personal-token" || ctx.caller.via === "bearer") {
          throw forbidden("tokens cannot create tokens: sign in with a password");
        }
        const body = await readJsonObject(ctx, MAX_BODY_BYTES);
        if (typeof body.name !== "string") throw badRequest("name: a string is required");
        if (body.actions !== undefined && !Array.isArray(body.actions)) {
          throw badRequest("actions: a list of pull, push, delete");
        }
        if (body.expiresInDays !== undefined && typeof body.expiresInDays !== "number") {
          throw badRequest("expiresInDays: a number of days");
        }
        try {
          const created = store.createToken(ctx.caller.user!, body.name, {
            ...(body.actions !== undefined ? { actions: body.actions as TokenAction[] } : {}),
            ...(body.expiresInDays !== undefined ? { expiresInDays: body.expiresInDays } : {}),
          });
          sendJson(ctx, 201, created, NO_CACHE);
        } catch (error) {
          if (error instanceof ConfigError) throw badRequest(error.message);
          throw error;
        }
      }),
      route("DELETE", "tokens/{id}", "authenticated", (ctx) => {
        const user = ctx.caller.user!;
        const id = pathParam(ctx, "id");
        if (!store.revokeToken(user, id)) {
          throw notFound(`no token ${id.slice(0, 40)} of ${user}`);
        }
        sendEmpty(ctx, 204);
      }),
    ],
  };
}
