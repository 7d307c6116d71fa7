/**
 * Bearer tokens of Docker's registry token spec: JWTs whose `access` claim lists what the holder
 * may do (`[{type: "repository", name: "team/app", actions: ["pull", "push"]}]`).
 *
 * `TokenIssuer` signs Reestr's own tokens, granting of each requested scope only what the access
 * policy allows (never an error for the rest: a token for less is what clients expect, as with
 * Distribution's token servers). `TokenVerifier` accepts Reestr's own tokens and those of the
 * external issuers it is told to trust (a PEM public key or certificate, or a JWKS), checking
 * signature, algorithm (asymmetric only: never `none`, never HMAC), issuer, audience, expiry and
 * not-before; verified tokens are remembered until they expire, so a push pays one signature
 * check per token, not per request.
 */
import { createPublicKey, type KeyObject, randomUUID, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import { isValidRepositoryName } from "../oci/reference.ts";
import { LruCache } from "../util/lru-cache.ts";
import { ACTIONS, type AccessPolicy, type Action, expandActions } from "./access-policy.ts";
import type { TrustConfig } from "./auth-config.ts";
import type { ResourceAccess } from "./scope.ts";
import { algorithmFor, libtrustKeyId, type SigningKey } from "./token-keys.ts";

export interface IssuedToken {
  token: string;
  /** Seconds. */
  expiresIn: number;
  /** RFC 3339. */
  issuedAt: string;
  access: ResourceAccess[];
}

export interface TokenIssuerOptions {
  key: SigningKey;
  /** `iss` of the tokens. */
  issuer: string;
  /** `aud` of the tokens: the registry's service name. */
  service: string;
  expiryMs: number;
  policy: AccessPolicy;
  now?: () => number;
}

export class TokenIssuer {
  readonly #options: TokenIssuerOptions;
  readonly #now: () => number;

  constructor(options: TokenIssuerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get service(): string {
    return this.#options.service;
  }

  /**
   * What `user` (undefined: anonymous) gets of `requested`: each scope's actions ∩ the policy's
   * (∩ `limit`, the actions limited credentials such as a personal access token are good for).
   */
  grant(user: string | undefined, requested: ResourceAccess[], limit?: readonly Action[]): ResourceAccess[] {
    const { policy } = this.#options;
    const limited = limit ? expandActions(limit) : undefined;
    const granted: ResourceAccess[] = [];
    for (const item of requested) {
      if (item.type === "repository") {
        if (!isValidRepositoryName(item.name)) continue;
        const allowed = policy.actions(user, item.name);
        const wanted = item.actions.includes("*") ? ACTIONS : item.actions;
        const actions = ACTIONS.filter(
          (action) => wanted.includes(action) && allowed.has(action) && (!limited || limited.has(action)),
        );
        if (actions.length > 0) granted.push({ type: "repository", name: item.name, actions });
      } else if (item.type === "registry" && item.name === "catalog" && item.actions.includes("*")) {
        if (policy.canReadCatalog(user)) granted.push({ type: "registry", name: "catalog", actions: ["*"] });
      }
    }
    return granted;
  }

  async issue(
    user: string | undefined,
    requested: ResourceAccess[],
    limit?: readonly Action[],
  ): Promise<IssuedToken> {
    const { key, issuer, service, expiryMs } = this.#options;
    const access = this.grant(user, requested, limit);
    const nowMs = this.#now();
    const now = Math.floor(nowMs / 1000);
    const expiresIn = Math.max(1, Math.round(expiryMs / 1000));
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: key.alg, typ: "JWT", kid: key.kid })
      .setIssuer(issuer)
      .setSubject(user ?? "")
      .setAudience(service)
      .setIssuedAt(now)
      // A little slack for clocks of other replicas or registries that verify these tokens.
      .setNotBefore(now - 5)
      .setExpirationTime(now + expiresIn)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresIn, issuedAt: new Date(now * 1000).toISOString(), access };
  }
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

export interface VerifiedToken {
  issuer: string;
  /** `sub`; "" for anonymous tokens. */
  subject: string;
  /** Issued by this server (its grants are re-checked against the current policy). */
  own: boolean;
  access: ResourceAccess[];
  /** ms since the epoch. */
  expiresAt: number;
}

/** An issuer whose tokens are accepted. */
export interface TrustedIssuer {
  issuer: string;
  audience: string;
  key: KeyObject | KeyObject[] | JWTVerifyGetKey;
  own?: boolean;
}

const ASYMMETRIC = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"];

function algorithmsFor(key: KeyObject): string[] {
  if (key.asymmetricKeyType === "rsa") return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
  return [algorithmFor(key)];
}

export interface TokenVerifierOptions {
  issuers: TrustedIssuer[];
  /** Leeway for exp/nbf, seconds (default 30). */
  clockToleranceSeconds?: number;
  now?: () => number;
  /** Verified tokens remembered (default 1000). */
  cacheSize?: number;
}

export class TokenVerifier {
  readonly #issuers = new Map<string, TrustedIssuer>();
  readonly #tolerance: number;
  readonly #now: () => number;
  readonly #cache: LruCache<string, VerifiedToken>;

  constructor(options: TokenVerifierOptions) {
    for (const issuer of options.issuers) {
      if (this.#issuers.has(issuer.issuer)) throw new Error(`issuer "${issuer.issuer}" is trusted twice`);
      this.#issuers.set(issuer.issuer, issuer);
    }
    this.#tolerance = options.clockToleranceSeconds ?? 30;
    this.#now = options.now ?? Date.now;
    this.#cache = new LruCache(options.cacheSize ?? 1000);
  }

  /** The verified token; throws TokenError saying why it is refused. */
  async verify(token: string): Promise<VerifiedToken> {
    const cached = this.#cache.get(token);
    if (cached && cached.expiresAt > this.#now()) return cached;
    let iss: string | undefined;
    let kid: string | undefined;
    try {
      iss = decodeJwt(token).iss;
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenError("malformed token");
    }
    const trusted = iss === undefined ? undefined : this.#issuers.get(iss);
    if (!trusted) throw new TokenError("token from an untrusted issuer");
    let payload: JWTPayload;
    try {
      const key = pickKey(trusted.key, kid);
      const options = {
        issuer: trusted.issuer,
        audience: trusted.audience,
        algorithms: typeof key === "function" ? ASYMMETRIC : algorithmsFor(key),
        clockTolerance: this.#tolerance,
        currentDate: new Date(this.#now()),
        requiredClaims: ["exp"],
      };
      payload =
        typeof key === "function"
          ? (await jwtVerify(token, key, options)).payload
          : (await jwtVerify(token, key, options)).payload;
    } catch (error) {
      throw new TokenError(`invalid token: ${describeJoseError(error)}`);
    }
    const verified: VerifiedToken = {
      issuer: trusted.issuer,
      subject: typeof payload.sub === "string" ? payload.sub : "",
      own: trusted.own ?? false,
      access: parseAccessClaim(payload["access"]),
      expiresAt: (payload.exp ?? 0) * 1000 + this.#tolerance * 1000,
    };
    this.#cache.set(token, verified);
    return verified;
  }
}

/** With several keys, the one whose libtrust id is the token's `kid` (or the only one). */
function pickKey(key: TrustedIssuer["key"], kid: string | undefined): KeyObject | JWTVerifyGetKey {
  if (!Array.isArray(key)) return key;
  if (key.length === 1) return key[0]!;
  const match = key.find((candidate) => kid !== undefined && libtrustKeyId(candidate) === kid);
  if (!match) throw new TokenError("no trusted key matches the token's kid");
  return match;
}

function describeJoseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "expired";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "signature does not verify";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "algorithm not allowed";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return (error as Error).message;
    default:
      return (error as Error).message ?? "refused";
  }
}

function parseAccessClaim(value: unknown): ResourceAccess[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TokenError("invalid token: access claim is not a list");
  return value.map((entry) => {
    const item = entry as Partial<ResourceAccess> | null;
    if (
      !item ||
      typeof item.type !== "string" ||
      typeof item.name !== "string" ||
      !Array.isArray(item.actions) ||
      !item.actions.every((action) => typeof action === "string")
    ) {
      throw new TokenError("invalid token: malformed access claim entry");
    }
    return { type: item.type, name: item.name, actions: item.actions };
  });
}

/** Loads the keys of the configured external issuers (PEM files, JWKS files or URLs). */
export async function loadTrustedIssuers(
  trust: TrustConfig[],
  defaultAudience: string,
): Promise<TrustedIssuer[]> {
  const issuers: TrustedIssuer[] = [];
  for (const [index, entry] of trust.entries()) {
    const where = `auth.token.trust[${index}]`;
    const audience = entry.audience ?? defaultAudience;
    if (entry.publicKey) {
      issuers.push({ issuer: entry.issuer, audience, key: await readPublicKeys(entry.publicKey, where) });
    } else if (entry.jwks && /^https?:\/\//.test(entry.jwks)) {
      issuers.push({ issuer: entry.issuer, audience, key: createRemoteJWKSet(new URL(entry.jwks)) });
    } else if (entry.jwks) {
      let jwks: unknown;
      try {
        jwks = JSON.parse(await readFile(entry.jwks, "utf8"));
      } catch (error) {
        throw new Error(`${where}.jwks: cannot read ${entry.jwks}: ${(error as Error).message}`);
      }
      if (!jwks || !Array.isArray((jwks as { keys?: unknown }).keys)) {
        throw new Error(`${where}.jwks: ${entry.jwks} is not a JWK set ({"keys": [...]})`);
      }
      issuers.push({
        issuer: entry.issuer,
        audience,
        key: createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]),
      });
    }
  }
  return issuers;
}

/** Every public key or certificate in a PEM file. */
async function readPublicKeys(path: string, where: string): Promise<KeyObject[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`${where}.publicKey: cannot read ${path}: ${(error as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g) ?? [];
  const keys: KeyObject[] = [];
  for (const block of blocks) {
    try {
      if (block.includes("BEGIN CERTIFICATE")) keys.push(new X509Certificate(block).publicKey);
      else if (block.includes("BEGIN PUBLIC KEY") || block.includes("BEGIN RSA PUBLIC KEY"))
        keys.push(createPublicKey(block));
    } catch (error) {
      throw new Error(`${where}.publicKey: ${path} holds an unreadable key: ${(error as Error).message}`);
    }
  }
  if (keys.length === 0) throw new Error(`${where}.publicKey: no PEM public key or certificate in ${path}`);
  for (const key of keys) {
    if (key.type !== "public") throw new Error(`${where}.publicKey: ${path} must hold public keys only`);
    algorithmFor(key);
  }
  return keys;
}
