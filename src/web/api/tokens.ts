/**
 * The signed-in user's personal access tokens (src/auth/web-auth.ts: GET, POST and DELETE
 * /api/auth/tokens). Like the session endpoints they belong to the auth layer, not to the
 * catalogue's OpenAPI document, so they are typed here by hand.
 */
import { send } from "./session.ts";

export type TokenAction = "pull" | "push" | "delete";
export const TOKEN_ACTIONS: readonly TokenAction[] = ["pull", "push", "delete"];

export interface PersonalToken {
  id: string;
  user: string;
  name: string;
  /** Absent: whatever the owner may do. */
  actions?: TokenAction[];
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
}

export interface NewToken {
  name: string;
  /** Absent: not limited. */
  actions?: TokenAction[];
  /** Absent: never expires. */
  expiresInDays?: number;
}

export async function listTokens(): Promise<PersonalToken[]> {
  const response = await send("/api/auth/tokens");
  return ((await response.json()) as { tokens: PersonalToken[] }).tokens;
}

/** Creates a token; `secret` is shown once (the server keeps only its hash). */
export async function createToken(token: NewToken): Promise<{ token: PersonalToken; secret: string }> {
  const response = await send("/api/auth/tokens", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(token),
  });
  return (await response.json()) as { token: PersonalToken; secret: string };
}

export async function revokeToken(id: string): Promise<void> {
  await send(`/api/auth/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
}
