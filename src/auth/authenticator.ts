/**
 * Who is calling: the `Authenticator` seam (basic auth against htpasswd today; bearer tokens and
 * other user stores later) and the /v2 gate that turns its answer into 401s.
 *
 * The gate, when auth is configured:
 * - valid credentials: the caller may do everything (per-repository rules are not built yet);
 * - wrong or malformed credentials: 401 UNAUTHORIZED, always, even where anonymous pull would
 *   have let the request through — a typo must not silently look like "anonymous";
 * - no credentials: 401 with the challenge, except GET/HEAD requests other than the `/v2/` ping
 *   when `anonymousPull` is on. The ping always asks anonymous callers to log in, because clients
 *   (containers/image, docker) learn the auth scheme from it: a 200 there would leave them
 *   sending pushes without credentials. The catalog is a GET, so anonymous pull includes it.
 * An empty user name (`Basic Og==`, what skopeo sends with no credentials after a Basic challenge)
 * counts as no credentials.
 */
import type { IncomingMessage } from "node:http";
import { RegistryError } from "../oci/errors.ts";
import type { HtpasswdFile } from "./htpasswd.ts";

export interface AuthResult {
  user: string;
}

export interface Authenticator {
  /** The caller, `undefined` when no credentials came; throws RegistryError UNAUTHORIZED when they are wrong. */
  authenticate(req: IncomingMessage): Promise<AuthResult | undefined>;
}

export interface BasicCredentials {
  user: string;
  password: string;
}

/**
 * The credentials of an `Authorization: Basic …` header; `undefined` without the header;
 * `null` when the header is there but is not valid basic auth (another scheme, bad encoding).
 */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined | null {
  if (header === undefined) return undefined;
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const BAD_CREDENTIALS = "invalid username or password";

/** Basic auth checked against an htpasswd file. */
export class HtpasswdAuthenticator implements Authenticator {
  readonly #file: HtpasswdFile;

  constructor(file: HtpasswdFile) {
    this.#file = file;
  }

  async authenticate(req: IncomingMessage): Promise<AuthResult | undefined> {
    const credentials = parseBasicAuth(req.headers.authorization);
    if (credentials === undefined) return undefined;
    if (credentials === null) throw new RegistryError("UNAUTHORIZED", BAD_CREDENTIALS);
    if (credentials.user === "" && credentials.password === "") return undefined;
    if (!(await this.#file.verify(credentials.user, credentials.password))) {
      throw new RegistryError("UNAUTHORIZED", BAD_CREDENTIALS);
    }
    return { user: credentials.user };
  }
}

export interface V2AuthOptions {
  authenticator: Authenticator;
  /** The Basic challenge's realm (default "Reestr"). */
  realm?: string;
  /** GET/HEAD without credentials allowed (default false). */
  anonymousPull?: boolean;
}

/** Decides a /v2 request: returns the user (or undefined for an allowed anonymous pull), or throws a 401. */
export class V2AuthGate {
  readonly #authenticator: Authenticator;
  readonly #challenge: string;
  readonly #anonymousPull: boolean;

  constructor(options: V2AuthOptions) {
    this.#authenticator = options.authenticator;
    const realm = (options.realm ?? "Reestr").replace(/["\\]/g, "");
    this.#challenge = `Basic realm="${realm}"`;
    this.#anonymousPull = options.anonymousPull ?? false;
  }

  async check(req: IncomingMessage, path: string): Promise<string | undefined> {
    let result: AuthResult | undefined;
    try {
      result = await this.#authenticator.authenticate(req);
    } catch (error) {
      if (error instanceof RegistryError && error.code === "UNAUTHORIZED")
        throw this.#unauthorized(error.message);
      throw error;
    }
    if (result) return result.user;
    const method = req.method ?? "GET";
    const ping = path === "/v2" || path === "/v2/";
    if (this.#anonymousPull && !ping && (method === "GET" || method === "HEAD")) return undefined;
    throw this.#unauthorized();
  }

  #unauthorized(message = "authentication required"): RegistryError {
    return new RegistryError("UNAUTHORIZED", message, undefined, { "WWW-Authenticate": this.#challenge });
  }
}
