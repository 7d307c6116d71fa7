/**
 * Who is calling: the `Authenticator` seam for Basic credentials (htpasswd, the embedded user
 * store, personal access tokens). The gate that turns callers into 200s, 401s and 403s is in
 * gate.ts.
 * An empty user name (`Basic Og==`, what skopeo sends with no credentials after a Basic challenge)
 * counts as no credentials.
 */
import type { IncomingMessage } from "node:http";
import type { Action } from "../http/access.ts";
import { parseBasicAuth } from "../http/credentials.ts";
import { RegistryError } from "../oci/errors.ts";
import type { HtpasswdFile } from "./htpasswd.ts";

export interface AuthResult {
  user: string;
  /**
   * When set, the credentials are limited to these actions (a personal access token, say): the
   * caller may do what the access rules allow the user AND what this lists (push and delete
   * include pull, admin everything, as in the rules).
   */
  actions?: readonly Action[];
  /** What the password was: the user's own (default) or a personal access token. */
  via?: "password" | "personal-token";
}

export interface Authenticator {
  /** The caller, `undefined` when no credentials came; throws RegistryError UNAUTHORIZED when they are wrong. */
  authenticate(req: IncomingMessage): Promise<AuthResult | undefined>;
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
