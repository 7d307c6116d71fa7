/**
 * Registry authentication: `WWW-Authenticate` challenge parsing and the bearer token flow of
 * Docker's token spec (GET <realm>?service=<service>&scope=<scope>, with basic credentials if
 * we have them), plus a cache so each scope costs one token request until it expires.
 */

export interface AuthChallenge {
  /** Lower-cased scheme: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header value into challenges. Handles quoted strings with escapes
 * and several challenges in one header (`Basic realm="x", Bearer realm="y",service="z"`).
 */
export function parseAuthChallenges(header: string | string[] | undefined): AuthChallenge[] {
  if (!header) return [];
  const text = Array.isArray(header) ? header.join(", ") : header;
  const challenges: AuthChallenge[] = [];
  const token = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)/y;
  const param = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*,?/y;
  let pos = 0;
  while (pos < text.length) {
    token.lastIndex = pos;
    const scheme = token.exec(text);
    if (!scheme) break;
    pos = token.lastIndex;
    const challenge: AuthChallenge = { scheme: scheme[1]!.toLowerCase(), params: {} };
    // Params follow until the next bare token that is not followed by "=" (the next scheme).
    for (;;) {
      param.lastIndex = pos;
      const match = param.exec(text);
      if (!match) break;
      const value = match[3] !== undefined ? match[3].replace(/\\(.)/g, "$1") : match[2]!;
      challenge.params[match[1]!.toLowerCase()] = value;
      pos = param.lastIndex;
    }
    while (pos < text.length && (text[pos] === "," || text[pos] === " ")) pos++;
    challenges.push(challenge);
  }
  return challenges;
}

/** The repository scope a request needs, as Docker's token spec writes it. */
export function repositoryScope(repository: string, actions: Iterable<string>): string {
  return `repository:${repository}:${[...new Set(actions)].sort().join(",")}`;
}

/** Merges scopes for the same resource (`repository:a:pull` + `repository:a:push` → `pull,push`). */
export function mergeScopes(...scopes: (string | undefined)[]): string {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    if (!scope) continue;
    for (const item of scope.split(" ")) {
      const lastColon = item.lastIndexOf(":");
      if (lastColon === -1) continue;
      const resource = item.slice(0, lastColon);
      const actions = byResource.get(resource) ?? new Set<string>();
      for (const action of item.slice(lastColon + 1).split(",")) if (action) actions.add(action);
      byResource.set(resource, actions);
    }
  }
  return [...byResource]
    .map(([resource, actions]) => `${resource}:${[...actions].sort().join(",")}`)
    .sort()
    .join(" ");
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Remembers bearer tokens by realm, service and scope. Tokens are dropped a little before
 * they expire so a request never starts with a token that dies in flight.
 */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  private key(realm: string, service: string, scope: string): string {
    return `${realm}\u0000${service}\u0000${scope}`;
  }

  get(realm: string, service: string, scope: string): string | undefined {
    const cached = this.tokens.get(this.key(realm, service, scope));
    if (!cached) return undefined;
    if (cached.expiresAt <= this.now()) {
      this.tokens.delete(this.key(realm, service, scope));
      return undefined;
    }
    return cached.token;
  }

  set(realm: string, service: string, scope: string, token: string, expiresInSeconds: number): void {
    // Spec: default lifetime 60 s. Keep a 10% (at least 5 s, at most 60 s) margin.
    const lifetime = Math.max(expiresInSeconds, 1) * 1000;
    const margin = Math.min(Math.max(lifetime * 0.1, 5000), 60_000);
    this.tokens.set(this.key(realm, service, scope), {
      token,
      expiresAt: this.now() + Math.max(lifetime - margin, 1000),
    });
  }

  clear(): void {
    this.tokens.clear();
  }
}

/** Parses the token endpoint's JSON: `token` or `access_token`, `expires_in` (default 60). */
export function parseTokenResponse(body: string): { token: string; expiresIn: number } {
  const json = JSON.parse(body) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
  const token = typeof json.token === "string" ? json.token : json.access_token;
  if (typeof token !== "string" || token === "") throw new Error("token endpoint answered without a token");
  const expiresIn = typeof json.expires_in === "number" && json.expires_in > 0 ? json.expires_in : 60;
  return { token, expiresIn };
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}
