/**
 * Who is calling: the `Authenticator` seam for Basic credentials (htpasswd today; other user
 * stores later). The /v2 gate that turns callers into 200s, 401s and 403s is in gate.ts.
 * An empty user name (`Basic Og==`, what skopeo sends with no credentials after a Basic challenge)
 * counts as no credentials.
 */
import type { IncomingMessage } from "node:http";
import { RegistryError } from "../oci/errors.ts";
import type { Action } from "./access-policy.ts";
import type { HtpasswdFile } from "./htpasswd.ts";

export interface AuthResult {
  user: string;
  /**
   * When set, the credentials are limited to these actions (a personal access token, say): the
   * caller may do what the access rules allow the user AND what this lists (push and delete
   * include pull, admin everything, as in the rules).
   */
  actions?: readonly Action[];
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

export { V2AuthGate, type V2AuthOptions } from "./gate.ts";
