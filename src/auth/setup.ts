/**
 * Builds the auth part of a server from the config's `auth` section: the user stores (htpasswd,
 * embedded), personal access tokens and web sessions beside them, the access policy and its
 * controller, in token mode the signing key, issuer, verifier and token endpoint — and the gate
 * the pipeline asks on every request, plus the modules that serve /auth/token and /api/auth/….
 */
import { resolve } from "node:path";
import type { RequestLimits } from "../http/limits.ts";
import type { Module } from "../http/module.ts";
import type { Logger } from "../util/logger.ts";
import { PolicyAccessController } from "./access-controller.ts";
import { AccessPolicy } from "./access-policy.ts";
import { type AuthConfig, TokenConfigSchema } from "./auth-config.ts";
import type { Authenticator } from "./authenticator.ts";
import { AuthGate, type UserExists } from "./gate.ts";
import { HtpasswdFile } from "./htpasswd.ts";
import { PersonalTokenAuthenticator } from "./personal-token-authenticator.ts";
import { createTokenModule } from "./token-endpoint.ts";
import { loadSigningKey } from "./token-keys.ts";
import { loadTrustedIssuers, TokenIssuer, TokenVerifier, type TrustedIssuer } from "./tokens.ts";
import { EmbeddedUserStore, type UserStore, UserStoresAuthenticator } from "./user-store.ts";
import { createWebAuthModule } from "./web-auth.ts";
import { AuthStore } from "./web-sessions.ts";

export interface AuthDependencies {
  /** Where the embedded users, sessions and a generated signing key are kept. */
  dataDir: string;
  logger: Logger;
  /** The failed-login lockout the web login shares with /v2 and the token endpoint. */
  limits?: RequestLimits;
  /** Cookies get `Secure` when the server speaks TLS. */
  secureCookies?: boolean;
  /** Checks Basic credentials instead of the configured user stores (tests, embedders). */
  authenticator?: Authenticator;
}

export interface ServerAuth {
  gate: AuthGate;
  /** /auth/token and /auth/jwks.json in token mode; /api/auth/… always. */
  modules: Module[];
  /** Closes what was opened (embedded users, sessions). */
  close(): void;
}

export async function createAuth(config: AuthConfig, deps: AuthDependencies): Promise<ServerAuth> {
  const { dataDir, logger } = deps;
  const mode = config.mode ?? "basic";
  const resources: { close(): void }[] = [];
  const stores: UserStore[] = [];
  let users = deps.authenticator;
  if (!users) {
    let count = 0;
    if (config.htpasswd) {
      const file = await new HtpasswdFile(resolve(config.htpasswd), {
        onReloadError: (error) =>
          logger.error("htpasswd reload failed; previous users stay in force", {
            file: config.htpasswd,
            error: error.message,
          }),
      }).load();
      stores.push(file);
      count += file.users.length;
    }
    if (config.embeddedUsers) {
      const embedded = new EmbeddedUserStore(dataDir);
      stores.push(embedded);
      resources.push(embedded);
      count += embedded.list().length;
    }
    if (stores.length > 0 && count === 0)
      logger.warn("no users configured: nobody can log in", { file: config.htpasswd });
    if (stores.length > 0) users = new UserStoresAuthenticator(stores);
  }
  // Web sessions and personal access tokens live beside the users; a token works as a password.
  const sessions = AuthStore.inDataDir(dataDir);
  resources.push(sessions);
  const passwords = new PersonalTokenAuthenticator(sessions, users);
  const userExists: UserExists | undefined =
    stores.length === 0
      ? undefined
      : async (user) => (await Promise.all(stores.map((store) => store.exists(user)))).includes(true);
  const access = new PolicyAccessController(
    new AccessPolicy({ groups: config.groups, rules: config.rules, anonymousPull: config.anonymousPull }),
  );
  const webAuth = createWebAuthModule({
    store: sessions,
    verifyPassword: (user, password) => passwords.verifyPassword(user, password),
    secureCookies: deps.secureCookies ?? false,
    loginGuard: deps.limits?.loginGuard,
  });
  const close = () => {
    for (const resource of resources.splice(0)) resource.close();
  };
  const summary = {
    mode,
    anonymousPull: config.anonymousPull,
    rules: config.rules?.length ?? 0,
    groups: Object.keys(config.groups ?? {}).length,
  };
  if (mode === "basic") {
    logger.info("basic auth enabled", {
      file: config.htpasswd,
      embeddedUsers: config.embeddedUsers ?? false,
      ...summary,
    });
    const gate = new AuthGate({ mode, access, passwords, sessions, userExists, realm: config.realm });
    return { gate, modules: [webAuth], close };
  }

  const token = config.token ?? TokenConfigSchema.parse({});
  const key = await loadSigningKey({
    path: token.signingKey ? resolve(token.signingKey) : undefined,
    dataDir,
    onLoosePermissions: (path) =>
      logger.warn("token signing key was readable by others: set to 0600", { path }),
  });
  if (key.generated) logger.info("generated a token signing key", { path: key.path, kid: key.kid });
  const issuer = new TokenIssuer({
    key,
    issuer: token.issuer,
    service: token.service,
    expiryMs: token.expiry,
    policy: access.policy,
  });
  const own: TrustedIssuer = { issuer: token.issuer, audience: token.service, key: key.publicKey, own: true };
  const external = await loadTrustedIssuers(token.trust, token.service);
  if (external.some((entry) => entry.issuer === token.issuer)) {
    throw new Error(`auth.token.trust: issuer "${token.issuer}" is this server's own (auth.token.issuer)`);
  }
  const verifier = new TokenVerifier({ issuers: [own, ...external] });
  logger.info("token auth enabled", {
    ...summary,
    service: token.service,
    issuer: token.issuer,
    kid: key.kid,
    trusted: external.map((entry) => entry.issuer),
    users: config.htpasswd,
  });
  const gate = new AuthGate({
    mode,
    access,
    passwords,
    sessions,
    userExists,
    realm: config.realm,
    token: { verifier, service: token.service, realm: token.realm },
  });
  const tokenModule = createTokenModule({
    issuer,
    key,
    onIssue: ({ user, scopes }) => logger.debug("token issued", { user, scopes }),
  });
  return { gate, modules: [tokenModule, webAuth], close };
}
