/**
 * The users seam's contracts run against every implementation: the UserStore contract against
 * the htpasswd file and the embedded store, the Authenticator contract against the htpasswd
 * authenticator, the user-stores chain (users split over an htpasswd file and the embedded store)
 * and the personal-token authenticator, with user stores behind it and without.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HtpasswdAuthenticator } from "../../src/auth/authenticator.ts";
import { HtpasswdFile, hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { PersonalTokenAuthenticator } from "../../src/auth/personal-token-authenticator.ts";
import { EmbeddedUserStore, UserStoresAuthenticator } from "../../src/auth/user-store.ts";
import { AuthStore } from "../../src/auth/web-sessions.ts";
import { authenticatorContract, passwordsOf } from "../contract/authenticator.contract.ts";
import { userStoreContract } from "../contract/user-store.contract.ts";

/** Low bcrypt cost: the contract is about answers, not hashing strength. */
const COST = 4;

async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "reestr-users-contract-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

async function htpasswdFile(dir: string, users: Record<string, string>): Promise<HtpasswdFile> {
  const path = join(dir, "htpasswd");
  const entries = new Map<string, string>();
  for (const [user, password] of Object.entries(users)) entries.set(user, await hashPassword(password, COST));
  await writeHtpasswd(path, entries);
  return new HtpasswdFile(path).load();
}

async function embeddedStore(dir: string, users: Record<string, string>): Promise<EmbeddedUserStore> {
  const store = new EmbeddedUserStore(dir);
  for (const [user, password] of Object.entries(users)) store.add(user, await hashPassword(password, COST));
  return store;
}

userStoreContract("HtpasswdFile", async (users) => {
  const temp = await tempDir();
  return { store: await htpasswdFile(temp.dir, users), cleanup: temp.remove };
});

userStoreContract("EmbeddedUserStore", async (users) => {
  const temp = await tempDir();
  const store = await embeddedStore(temp.dir, users);
  return {
    store,
    cleanup: async () => {
      store.close();
      await temp.remove();
    },
  };
});

authenticatorContract("HtpasswdAuthenticator", async (users) => {
  const temp = await tempDir();
  const file = await htpasswdFile(temp.dir, users);
  return {
    authenticator: new HtpasswdAuthenticator(file),
    accepted: passwordsOf(users),
    cleanup: temp.remove,
  };
});

authenticatorContract("UserStoresAuthenticator (htpasswd file, then embedded store)", async (users) => {
  const temp = await tempDir();
  // Every other user in each store, so both stores answer "unknown" and decide in turn.
  const entries = Object.entries(users);
  const inFile = Object.fromEntries(entries.filter((_, i) => i % 2 === 0));
  const inEmbedded = Object.fromEntries(entries.filter((_, i) => i % 2 === 1));
  const embedded = await embeddedStore(temp.dir, inEmbedded);
  const authenticator = new UserStoresAuthenticator([await htpasswdFile(temp.dir, inFile), embedded]);
  return {
    authenticator,
    accepted: passwordsOf(users),
    cleanup: async () => {
      embedded.close();
      await temp.remove();
    },
  };
});

/** Personal tokens (no action limit) for each user, as the Basic credentials that use them. */
function tokensFor(store: AuthStore, users: Record<string, string>) {
  return Object.keys(users).map((user) => ({ user, password: store.createToken(user, "contract").secret }));
}

authenticatorContract("PersonalTokenAuthenticator over user stores (passwords and tokens)", async (users) => {
  const temp = await tempDir();
  const embedded = await embeddedStore(temp.dir, users);
  const store = new AuthStore(":memory:");
  const authenticator = new PersonalTokenAuthenticator(store, new UserStoresAuthenticator([embedded]));
  return {
    authenticator,
    accepted: [...passwordsOf(users), ...tokensFor(store, users)],
    cleanup: async () => {
      store.close();
      embedded.close();
      await temp.remove();
    },
  };
});

authenticatorContract(
  "PersonalTokenAuthenticator without user stores (tokens only: token mode with no htpasswd)",
  async (users) => {
    const store = new AuthStore(":memory:");
    return {
      authenticator: new PersonalTokenAuthenticator(store, undefined),
      accepted: tokensFor(store, users),
      cleanup: () => store.close(),
    };
  },
);
