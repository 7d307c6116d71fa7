/**
 * Builds the /v2 gate from the config's `auth` section: the htpasswd user store, the access
 * policy, and in token mode the signing key, the token issuer and endpoint and the verifier that
 * trusts Reestr's own tokens plus the configured external issuers.
 */
import { resolve } from "node:path";
import type { Logger } from "../util/logger.ts";
import { AccessPolicy } from "./access-policy.ts";
import { type AuthSettings, parseAuthSettings, TokenConfigSchema } from "./auth-config.ts";
import type { Authenticator } from "./authenticator.ts";
import { V2AuthGate } from "./gate.ts";
import { HtpasswdFile } from "./htpasswd.ts";
import { PersonalTokenAuthenticator } from "./personal-token-authenticator.ts";
import { TokenEndpoint } from "./token-endpoint.ts";
import { loadSigningKey } from "./token-keys.ts";
import { loadTrustedIssuers, TokenIssuer, TokenVerifier, type TrustedIssuer } from "./tokens.ts";
import { EmbeddedUserStore, type UserStore, UserStoresAuthenticator } from "./user-store.ts";
import { AuthStore } from "./web-sessions.ts";

export interface AuthSetup extends AuthSettings {
  /** Another authenticator for Basic credentials instead of the htpasswd file (tests, embedders). */
  authenticator?: Authenticator;
}

export interface AuthContext {
  /** Where a generated token signing key is kept. */
  dataDir: string;
  logger: Logger;
}

export async function createV2AuthGate(
  setup: AuthSetup,
  { dataDir, logger }: AuthContext,
): Promise<V2AuthGate> {
  const { authenticator: given, ...settings } = setup;
  // An authenticator stands in for the htpasswd file.
  const config = parseAuthSettings(given && !settings.htpasswd ? { ...settings, htpasswd: "-" } : settings);
  const mode = config.mode ?? "basic";
  let authenticator = given;
  const resources: { close(): void }[] = [];
  if (!authenticator) {
    const stores: UserStore[] = [];
    let users = 0;
    if (config.htpasswd) {
      const file = await new HtpasswdFile(resolve(config.htpasswd), {
        onReloadError: (error) =>
          logger.error("htpasswd reload failed; previous users stay in force", {
            file: config.htpasswd,
            error: error.message,
          }),
      }).load();
      stores.push(file);
      users += file.users.length;
    }
    if (config.embeddedUsers) {
      const embedded = new EmbeddedUserStore(dataDir);
      stores.push(embedded);
      resources.push(embedded);
      users += embedded.list().length;
    }
    if (stores.length > 0 && users === 0) {
      logger.warn("no users configured: nobody can log in", { file: config.htpasswd });
    }
    if (stores.length > 0) authenticator = new UserStoresAuthenticator(stores);
  }
  // Web sessions and personal access tokens live beside the users; a token works as a password.
  const authStore = AuthStore.inDataDir(dataDir);
  resources.push(authStore);
  const personal = new PersonalTokenAuthenticator(authStore, authenticator);
  const accounts = {
    store: authStore,
    verifyPassword: (user: string, password: string) => personal.verifyPassword(user, password),
  };
  authenticator = personal;
  const policy = new AccessPolicy({
    groups: config.groups,
    rules: config.rules,
    anonymousPull: config.anonymousPull,
  });
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
    return new V2AuthGate({ authenticator, realm: config.realm, policy, accounts, resources });
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
    policy,
  });
  const own: TrustedIssuer = { issuer: token.issuer, audience: token.service, key: key.publicKey, own: true };
  const external = await loadTrustedIssuers(token.trust, token.service);
  if (external.some((entry) => entry.issuer === token.issuer)) {
    throw new Error(`auth.token.trust: issuer "${token.issuer}" is this server's own (auth.token.issuer)`);
  }
  const verifier = new TokenVerifier({ issuers: [own, ...external] });
  const endpoint = new TokenEndpoint({
    issuer,
    key,
    authenticator,
    realm: config.realm,
    onIssue: ({ user, scopes }) => logger.debug("token issued", { user, scopes }),
  });
  logger.info("token auth enabled", {
    ...summary,
    service: token.service,
    issuer: token.issuer,
    kid: key.kid,
    trusted: external.map((entry) => entry.issuer),
    users: config.htpasswd,
  });
  return new V2AuthGate({
    authenticator,
    realm: config.realm,
    policy,
    token: { verifier, service: token.service, realm: token.realm, endpoint },
    accounts,
    resources,
  });
}
