/**
 * Web login (src/auth/web-auth.ts): who the caller is, sign in, sign out. These endpoints
 * belong to the server's auth layer, not to the catalogue's OpenAPI document, so they are called
 * with plain fetch here. The session's CSRF token is kept in memory and sent by the catalogue
 * client on every change (DELETE, POST): the session cookie alone never authorizes one.
 */
import { ApiError, api } from "./client.ts";

export interface SessionInfo {
  user: string | null;
  csrfToken: string | null;
  expiresAt: string | null;
  /** False when the server has no users: everyone may do everything, nobody signs in. */
  authRequired: boolean;
}

const CSRF_HEADER = "X-CSRF-Token";
let csrfToken: string | null = null;

api.use({
  onRequest({ request }) {
    if (csrfToken && request.method !== "GET" && request.method !== "HEAD") {
      request.headers.set(CSRF_HEADER, csrfToken);
    }
    return request;
  },
});

/**
 * A request to the auth endpoints, errors as ApiError; changes carry the session's CSRF token.
 * (Used by tokens.ts too.)
 */
export async function send(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  const method = init.method ?? "GET";
  const headers = new Headers(init.headers);
  if (csrfToken && method !== "GET" && method !== "HEAD") headers.set(CSRF_HEADER, csrfToken);
  try {
    response = await fetch(path, { credentials: "same-origin", ...init, headers });
  } catch {
    throw new ApiError(
      0,
      "NETWORK",
      "The Reestr server could not be reached. Check your connection and retry.",
    );
  }
  if (response.ok) return response;
  let code = `HTTP_${response.status}`;
  let message = `${response.status} ${response.statusText || "error"}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(response.status, code, message);
}

export async function fetchSession(): Promise<SessionInfo> {
  const response = await fetch("/api/auth/session", { credentials: "same-origin" });
  // A server without the auth layer: nothing to sign in to.
  if (response.status === 404) return { user: null, csrfToken: null, expiresAt: null, authRequired: false };
  if (!response.ok)
    throw new ApiError(response.status, `HTTP_${response.status}`, "could not read the session");
  const session = (await response.json()) as SessionInfo;
  csrfToken = session.csrfToken;
  return session;
}

export async function login(username: string, password: string): Promise<void> {
  const response = await send("/api/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { csrfToken?: string };
  csrfToken = body.csrfToken ?? null;
}

export async function logout(): Promise<void> {
  await send("/api/auth/logout", { method: "POST" });
  csrfToken = null;
}
