/**
 * The contract every `UserStore` (src/auth/user-store.ts) honours: `check(user, password)` says
 * "ok", "wrong" or "unknown" and never throws for those. UserStoresAuthenticator asks stores in
 * order and the first that knows the user decides, so "unknown" versus "wrong" must be exact.
 *
 * A backend's test calls `userStoreContract("name", makeStore)`; `makeStore(users)` returns a
 * fresh store holding exactly those users (name → password).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UserStore } from "../../src/auth/user-store.ts";

export interface UserStoreFixture {
  store: UserStore;
  cleanup(): Promise<void> | void;
}

/** The users every fixture is made with: a colon and non-ASCII in passwords, as Basic auth allows. */
export const CONTRACT_USERS: Readonly<Record<string, string>> = {
  alice: "s3cret:with:colons",
  bob: "pässwörd ✓",
  "ci-bot.1": "x",
};

export function userStoreContract(
  name: string,
  makeStore: (users: Record<string, string>) => Promise<UserStoreFixture>,
): void {
  const withStore = async (body: (store: UserStore) => Promise<void>) => {
    const { store, cleanup } = await makeStore({ ...CONTRACT_USERS });
    try {
      await body(store);
    } finally {
      await cleanup();
    }
  };

  describe(`UserStore contract: ${name}`, () => {
    test("each user's own password is ok", () =>
      withStore(async (store) => {
        for (const [user, password] of Object.entries(CONTRACT_USERS)) {
          assert.equal(await store.check(user, password), "ok", user);
        }
      }));

    test("a known user with another password is wrong: empty, changed case, a prefix, another user's", () =>
      withStore(async (store) => {
        const wrong: [string, string][] = [
          ["alice", ""],
          ["alice", "S3CRET:WITH:COLONS"],
          ["alice", "s3cret"],
          ["alice", `${CONTRACT_USERS.alice} `],
          ["alice", CONTRACT_USERS.bob!],
          ["bob", "passwort"],
        ];
        for (const [user, password] of wrong) {
          assert.equal(await store.check(user, password), "wrong", `${user} / ${JSON.stringify(password)}`);
        }
      }));

    test("a name the store does not have is unknown, whatever the password (names are case-sensitive)", () =>
      withStore(async (store) => {
        for (const user of ["carol", "", "Alice", "alice ", " alice"]) {
          assert.equal(await store.check(user, CONTRACT_USERS.alice!), "unknown", JSON.stringify(user));
          assert.equal(await store.check(user, ""), "unknown", JSON.stringify(user));
        }
      }));

    test("a success does not make a wrong password ok (whatever the store caches)", () =>
      withStore(async (store) => {
        assert.equal(await store.check("alice", CONTRACT_USERS.alice!), "ok");
        assert.equal(await store.check("alice", CONTRACT_USERS.alice!), "ok", "again");
        assert.equal(await store.check("alice", "guess"), "wrong");
        assert.equal(await store.check("alice", CONTRACT_USERS.alice!), "ok", "after a wrong one");
      }));

    test("concurrent checks each get their own answer", () =>
      withStore(async (store) => {
        const checks: [string, string, string][] = [
          ["alice", CONTRACT_USERS.alice!, "ok"],
          ["alice", "guess", "wrong"],
          ["bob", CONTRACT_USERS.bob!, "ok"],
          ["carol", "x", "unknown"],
          ["alice", CONTRACT_USERS.alice!, "ok"],
        ];
        const answers = await Promise.all(checks.map(([user, password]) => store.check(user, password)));
        assert.deepEqual(
          answers,
          checks.map(([, , expected]) => expected),
        );
      }));
  });
}
