/**
 * Personal access tokens as basic-auth passwords (`docker login -u alice -p rst_…`): credentials
 * whose password has the token prefix are checked against the AuthStore, for the token's owner
 * only, and come back limited to the token's actions; any other credentials go to the user
 * stores (htpasswd, embedded) as before.
 */
import type { IncomingMessage } from "node:http";
import { parseBasicAuth } from "../http/credentials.ts";
import { RegistryError } from "../oci/errors.ts";
import type { Authenticator, AuthResult } from "./authenticator.ts";
import { type AuthStore, PERSONAL_TOKEN_PREFIX } from "./web-sessions.ts";

export class PersonalTokenAuthenticator implements Authenticator {
  readonly #store: AuthStore;
  readonly #users: Authenticator | undefined;

  constructor(store: AuthStore, users: Authenticator | undefined) {
    this.#store = store;
    this.#users = users;
  }

  async authenticate(req: IncomingMessage): Promise<AuthResult | undefined> {
    const credentials = parseBasicAuth(req.headers.authorization);
    if (credentials?.password.startsWith(PERSONAL_TOKEN_PREFIX) && credentials.user !== "") {
      const token = this.#store.verifyToken(credentials.password, credentials.user);
      if (!token) throw new RegistryError("UNAUTHORIZED", "invalid username or token");
      const via = "personal-token";
      return token.actions ? { user: token.user, actions: token.actions, via } : { user: token.user, via };
    }
    if (!this.#users) {
      // No user stores (token mode with personal tokens only): no credentials, or skopeo's empty
      // `Basic Og==`, is anonymous; anything else is wrong.
      if (credentials === undefined || (credentials?.user === "" && credentials.password === ""))
        return undefined;
      throw new RegistryError("UNAUTHORIZED", "invalid username or password");
    }
    return this.#users.authenticate(req);
  }

  /** A user's password (not a token) checked against the user stores: the web login. */
  async verifyPassword(user: string, password: string): Promise<boolean> {
    if (!this.#users || password.startsWith(PERSONAL_TOKEN_PREFIX)) return false;
    const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    try {
      return (
        (await this.#users.authenticate({ headers: { authorization } } as IncomingMessage)) !== undefined
      );
    } catch {
      return false;
    }
  }
}
