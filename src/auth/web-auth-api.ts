/**
 * The web catalogue's login and personal tokens over HTTP (issue 5 §3):
 *
 *   GET    /api/auth/session          who the caller is: { user, csrfToken, authRequired }
 *   POST   /api/auth/login            { username, password } → session cookie + { user, csrfToken, expiresAt }
 *   POST   /api/auth/logout           ends the session (CSRF header required)
 *   GET    /api/auth/tokens           the caller's personal access tokens (never their secrets)
 *   POST   /api/auth/tokens           { name, actions?, expiresInDays? } → 201 { token, secret } (shown once)
 *   DELETE /api/auth/tokens/<id>      revokes one (CSRF header required with a session)
 *
 * The caller is known from the session cookie, or from basic auth (password or personal token)
 * for scripts. Changes made with a cookie need the session's CSRF token in `X-CSRF-Token`;
 * requests with basic credentials carry no ambient authority and need none.
 * Errors: `{ "error": { "code", "message" } }` like the rest of /api.
 */
import type { IncomingMessage } from "node:http";
import { type RequestContext, sendEmpty, sendJson } from "../http/context.ts";
import { parseBasicAuth } from "./authenticator.ts";
import {
  type AuthStore,
  CSRF_HEADER,
  clearedSessionCookie,
  csrfAllows,
  PERSONAL_TOKEN_PREFIX,
  readCookie,
  SESSION_COOKIE,
  type Session,
  sessionCookie,
  type TokenAction,
  TokenInputError,
} from "./web-sessions.ts";

export interface WebAuthOptions {
  store: AuthStore;
  /** Checks a user's password (the htpasswd file's verify). */
  verifyPassword: (user: string, password: string) => Promise<boolean>;
  /** Whether the server requires auth at all (no users configured: everyone is anonymous and allowed). */
  authRequired: boolean;
  /** Cookies get `Secure` when the server speaks TLS. */
  secureCookies: boolean;
  /** Called on a failed login (brute-force accounting); returns seconds to wait when locked out. */
  onLoginFailure?: (user: string, req: IncomingMessage) => void;
  /** Seconds the caller must wait before trying this user again, 0 when not locked out. */
  lockedOutFor?: (user: string, req: IncomingMessage) => number;
}

/** Who made a request, and how. */
export interface WebCaller {
  user: string;
  via: "session" | "password" | "token";
  session?: Session;
  /** For a personal token: the actions it is limited to. */
  actions?: TokenAction[];
}

const MAX_BODY_BYTES = 16 * 1024;
export const WEB_AUTH_PREFIX = "/api/auth/";

/** A refusal with its HTTP status and /api error code (401 UNAUTHORIZED, 403 FORBIDDEN, …). */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export class WebAuthApi {
  readonly #options: WebAuthOptions;

  constructor(options: WebAuthOptions) {
    this.#options = options;
  }

  /**
   * The caller of any /api request: a session cookie, or basic credentials (a password or a
   * personal token as the password). Undefined when anonymous; throws (401) when credentials
   * were given and are wrong, so a typo never silently looks anonymous.
   */
  async caller(req: IncomingMessage): Promise<WebCaller | undefined> {
    const basic = parseBasicAuth(req.headers.authorization);
    if (basic === null) throw new HttpProblem(401, "UNAUTHORIZED", "malformed Authorization header");
    if (basic && basic.user !== "") {
      if (basic.password.startsWith(PERSONAL_TOKEN_PREFIX)) {
        const token = this.#options.store.verifyToken(basic.password, basic.user);
        if (token)
          return { user: token.user, via: "token", ...(token.actions ? { actions: token.actions } : {}) };
      } else if (await this.#options.verifyPassword(basic.user, basic.password)) {
        return { user: basic.user, via: "password" };
      }
      throw new HttpProblem(401, "UNAUTHORIZED", "invalid username, password or token");
    }
    const session = this.#options.store.session(readCookie(req.headers.cookie, SESSION_COOKIE));
    return session ? { user: session.user, via: "session", session } : undefined;
  }

  /** For changes: a caller whose session request carries the CSRF token (or who used basic auth). */
  async changer(req: IncomingMessage): Promise<WebCaller> {
    const caller = await this.caller(req);
    if (!caller) throw new HttpProblem(401, "UNAUTHORIZED", "log in first");
    if (caller.session) {
      const verdict = csrfAllows(caller.session, {
        origin: header(req, "origin"),
        host: header(req, "host"),
        csrf: header(req, CSRF_HEADER),
      });
      if (!verdict.ok) throw new HttpProblem(403, "FORBIDDEN", `CSRF check failed: ${verdict.reason}`);
    }
    return caller;
  }

  /** Handles /api/auth/*; false when the path is not one of its routes. */
  async handle(ctx: RequestContext): Promise<boolean> {
    if (!ctx.path.startsWith(WEB_AUTH_PREFIX)) return false;
    const rest = ctx.path.slice(WEB_AUTH_PREFIX.length).replace(/\/$/, "");
    const method = ctx.req.method ?? "GET";
    ctx.route = `/api/auth/${rest.startsWith("tokens/") ? "tokens/{id}" : rest}`;
    try {
      return await this.#route(ctx, rest, method);
    } catch (error) {
      if (!(error instanceof HttpProblem)) throw error;
      sendJson(ctx, error.status, { error: { code: error.code, message: error.message } }, error.headers);
      return true;
    }
  }

  async #route(ctx: RequestContext, rest: string, method: string): Promise<boolean> {
    switch (rest) {
      case "session":
        return this.#only(method, ["GET", "HEAD"], () => this.#session(ctx));
      case "login":
        return this.#only(method, ["POST"], () => this.#login(ctx));
      case "logout":
        return this.#only(method, ["POST"], () => this.#logout(ctx));
      case "tokens":
        if (method === "GET" || method === "HEAD") return this.#done(this.#listTokens(ctx));
        return this.#only(method, ["GET", "HEAD", "POST"], () => this.#createToken(ctx));
    }
    if (rest.startsWith("tokens/") && !rest.slice(7).includes("/")) {
      let id: string;
      try {
        id = decodeURIComponent(rest.slice(7));
      } catch {
        throw new HttpProblem(400, "BAD_REQUEST", "token id: malformed percent-encoding");
      }
      return this.#only(method, ["DELETE"], () => this.#revokeToken(ctx, id));
    }
    ctx.route = "not_found";
    sendJson(ctx, 404, { error: { code: "NOT_FOUND", message: "no such endpoint" } });
    return true;
  }

  async #done(work: Promise<void>): Promise<boolean> {
    await work;
    return true;
  }

  async #only(method: string, allowed: string[], work: () => Promise<void>): Promise<boolean> {
    if (!allowed.includes(method)) {
      throw new HttpProblem(405, "METHOD_NOT_ALLOWED", `method ${method} not allowed`, {
        Allow: allowed.join(", "),
      });
    }
    await work();
    return true;
  }

  async #session(ctx: RequestContext): Promise<void> {
    let caller: WebCaller | undefined;
    try {
      caller = await this.caller(ctx.req);
    } catch {
      caller = undefined;
    }
    sendJson(
      ctx,
      200,
      {
        user: caller?.user ?? null,
        csrfToken: caller?.session?.csrfToken ?? null,
        expiresAt: caller?.session?.expiresAt.toISOString() ?? null,
        authRequired: this.#options.authRequired,
      },
      { "Cache-Control": "no-store" },
    );
  }

  async #login(ctx: RequestContext): Promise<void> {
    const body = await readJsonObject(ctx);
    const username = body.username;
    const password = body.password;
    if (typeof username !== "string" || username === "" || username.length > 256) {
      throw new HttpProblem(400, "BAD_REQUEST", "username: a non-empty string is required");
    }
    if (typeof password !== "string" || password.length > 1024) {
      throw new HttpProblem(400, "BAD_REQUEST", "password: a string is required");
    }
    const wait = this.#options.lockedOutFor?.(username, ctx.req) ?? 0;
    if (wait > 0) {
      throw new HttpProblem(429, "TOOMANYREQUESTS", `too many failed logins; try again in ${wait} s`, {
        "Retry-After": String(wait),
      });
    }
    if (!(await this.#options.verifyPassword(username, password))) {
      this.#options.onLoginFailure?.(username, ctx.req);
      throw new HttpProblem(401, "UNAUTHORIZED", "invalid username or password");
    }
    const session = this.#options.store.createSession(username);
    ctx.user = username;
    sendJson(
      ctx,
      200,
      { user: username, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() },
      { "Set-Cookie": sessionCookie(session, this.#options.secureCookies), "Cache-Control": "no-store" },
    );
  }

  async #logout(ctx: RequestContext): Promise<void> {
    const caller = await this.changer(ctx.req);
    if (caller.via === "session")
      this.#options.store.endSession(readCookie(ctx.req.headers.cookie, SESSION_COOKIE));
    sendEmpty(ctx, 204, { "Set-Cookie": clearedSessionCookie(this.#options.secureCookies) });
  }

  async #listTokens(ctx: RequestContext): Promise<void> {
    const caller = await this.caller(ctx.req);
    if (!caller) throw new HttpProblem(401, "UNAUTHORIZED", "log in first");
    ctx.user = caller.user;
    sendJson(ctx, 200, { tokens: this.#options.store.tokens(caller.user) }, { "Cache-Control": "no-store" });
  }

  async #createToken(ctx: RequestContext): Promise<void> {
    const caller = await this.changer(ctx.req);
    // A token must not mint tokens: a leaked one could otherwise outlive its own revocation.
    if (caller.via === "token")
      throw new HttpProblem(403, "FORBIDDEN", "personal tokens cannot create tokens");
    ctx.user = caller.user;
    const body = await readJsonObject(ctx);
    if (typeof body.name !== "string")
      throw new HttpProblem(400, "BAD_REQUEST", "name: a string is required");
    if (body.actions !== undefined && !Array.isArray(body.actions)) {
      throw new HttpProblem(400, "BAD_REQUEST", "actions: a list of pull, push, delete");
    }
    if (body.expiresInDays !== undefined && typeof body.expiresInDays !== "number") {
      throw new HttpProblem(400, "BAD_REQUEST", "expiresInDays: a number of days");
    }
    try {
      const created = this.#options.store.createToken(caller.user, body.name, {
        ...(body.actions !== undefined ? { actions: body.actions as TokenAction[] } : {}),
        ...(body.expiresInDays !== undefined ? { expiresInDays: body.expiresInDays as number } : {}),
      });
      sendJson(ctx, 201, created, { "Cache-Control": "no-store" });
    } catch (error) {
      if (error instanceof TokenInputError) throw new HttpProblem(400, "BAD_REQUEST", error.message);
      throw error;
    }
  }

  async #revokeToken(ctx: RequestContext, id: string): Promise<void> {
    const caller = await this.changer(ctx.req);
    ctx.user = caller.user;
    if (!this.#options.store.revokeToken(caller.user, id)) {
      throw new HttpProblem(404, "NOT_FOUND", `no token ${id.slice(0, 40)} of ${caller.user}`);
    }
    sendEmpty(ctx, 204);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readJsonObject(ctx: RequestContext): Promise<Record<string, unknown>> {
  const type = header(ctx.req, "content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpProblem(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES)
      throw new HttpProblem(413, "BAD_REQUEST", `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  ctx.bytesIn += size;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpProblem(400, "BAD_REQUEST", "body: not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HttpProblem(400, "BAD_REQUEST", "body: a JSON object is required");
  }
  return parsed as Record<string, unknown>;
}
