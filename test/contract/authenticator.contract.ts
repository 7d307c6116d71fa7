/**
 * The contract every `Authenticator` (src/auth/authenticator.ts) honours, whatever holds the
 * users: no credentials → undefined (anonymous); an empty Basic user and password (`Basic Og==`,
 * what skopeo sends with no credentials) → undefined too; the right credentials → `{ user }`;
 * wrong or unknown credentials and a malformed header → RegistryError UNAUTHORIZED, with one
 * message for all of them so an answer never tells whether a user exists.
 *
 * A backend's test calls `authenticatorContract("name", make)`; `make(users)` returns a fresh
 * authenticator for those users (name → password) and the Basic credentials it must accept: the
 * passwords, or what stands for them (personal access tokens, say).
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import type { Authenticator, AuthResult } from "../../src/auth/authenticator.ts";
import type { BasicCredentials } from "../../src/http/credentials.ts";
import { isRegistryError } from "../../src/oci/errors.ts";
import { CONTRACT_USERS } from "./user-store.contract.ts";

export interface AuthenticatorFixture {
  authenticator: Authenticator;
  /** Credentials that must authenticate as their user (at least one). */
  accepted: BasicCredentials[];
  cleanup(): Promise<void> | void;
}

/** The passwords of `users` as the credentials a password-based fixture accepts. */
export function passwordsOf(users: Record<string, string>): BasicCredentials[] {
  return Object.entries(users).map(([user, password]) => ({ user, password }));
}

function request(authorization?: string): IncomingMessage {
  return { headers: authorization === undefined ? {} : { authorization } } as IncomingMessage;
}

function basic(user: string, password: string, scheme = "Basic"): string {
  return `${scheme} ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** Authenticates with this header, expecting UNAUTHORIZED; returns the error's message. */
async function refused(authenticator: Authenticator, authorization: string): Promise<string> {
  let message = "";
  await assert.rejects(authenticator.authenticate(request(authorization)), (error: unknown) => {
    assert.ok(isRegistryError(error), `a RegistryError for ${JSON.stringify(authorization)}: ${error}`);
    assert.equal(error.code, "UNAUTHORIZED", authorization);
    message = error.message;
    return true;
  });
  return message;
}

export function authenticatorContract(
  name: string,
  make: (users: Record<string, string>) => Promise<AuthenticatorFixture>,
): void {
  const withAuthenticator = async (body: (fixture: AuthenticatorFixture) => Promise<void>) => {
    const fixture = await make({ ...CONTRACT_USERS });
    try {
      assert.ok(fixture.accepted.length > 0, "the fixture names credentials to accept");
      await body(fixture);
    } finally {
      await fixture.cleanup();
    }
  };
  const contractTest = (title: string, body: (fixture: AuthenticatorFixture) => Promise<void>) =>
    test(title, () => withAuthenticator(body));

  describe(`Authenticator contract: ${name}`, () => {
    contractTest("no Authorization header: anonymous (undefined)", async ({ authenticator }) => {
      assert.equal(await authenticator.authenticate(request()), undefined);
    });

    contractTest(
      "an empty Basic user and password (skopeo's `Basic Og==`): anonymous",
      async ({ authenticator }) => {
        assert.equal(await authenticator.authenticate(request("Basic Og==")), undefined);
      },
    );

    contractTest(
      "the right credentials: the user, and what the password was at most",
      async ({ authenticator, accepted }) => {
        for (const { user, password } of accepted) {
          assert.deepEqual(
            withoutVia(await authenticator.authenticate(request(basic(user, password)))),
            { user },
            user,
          );
        }
      },
    );

    contractTest("the scheme name is case-insensitive", async ({ authenticator, accepted }) => {
      const { user, password } = accepted[0]!;
      for (const scheme of ["basic", "BASIC"]) {
        assert.deepEqual(
          withoutVia(await authenticator.authenticate(request(basic(user, password, scheme)))),
          { user },
        );
      }
    });

    contractTest(
      "a wrong password, an unknown user, an empty password or user name: UNAUTHORIZED",
      async ({ authenticator, accepted }) => {
        const { user, password } = accepted[0]!;
        await refused(authenticator, basic(user, `${password}x`));
        await refused(authenticator, basic(user, ""));
        await refused(authenticator, basic("nobody", password));
        await refused(authenticator, basic("", password));
        for (const other of accepted.filter((c) => c.user !== user)) {
          await refused(authenticator, basic(user, other.password));
        }
      },
    );

    contractTest(
      "an unknown user and a wrong password get the same message",
      async ({ authenticator, accepted }) => {
        const { user, password } = accepted[0]!;
        const wrong = await refused(authenticator, basic(user, `${password}x`));
        assert.equal(await refused(authenticator, basic("nobody", `${password}x`)), wrong);
      },
    );

    contractTest("a malformed or non-Basic Authorization header: UNAUTHORIZED", async ({ authenticator }) => {
      const headers = [
        "Basic",
        "Basic ",
        "Basic !!!not-base64",
        `Basic ${Buffer.from("no-colon").toString("base64")}`,
        "Bearer abc.def.ghi",
        'Digest username="alice"',
        "alice:secret",
      ];
      for (const header of headers) await refused(authenticator, header);
    });
  });
}

/** A result without its `via` (password or personal token), which must be one of the two when given. */
function withoutVia(result: AuthResult | undefined): Omit<AuthResult, "via"> | undefined {
  if (!result) return result;
  const { via, ...rest } = result;
  assert.ok(via === undefined || via === "password" || via === "personal-token", `via: ${via}`);
  return rest;
}
