/**
 * Rate limits and failed-login lockout (src/http/limits.ts): the token buckets and the login
 * guard on a fake clock (exact counts, recovery after the window), then a real server, also on a
 * fake clock: 429 with TOOMANYREQUESTS and Retry-After per client IP (127.0.0.2 is another
 * client) and per user (another user on the same IP is unaffected), probes exempt, the metric
 * counting refusals, and a lockout that stops even the right password for that IP+user pair only.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LimitsSchema, LoginGuard, TokenBuckets } from "../../src/http/limits.ts";
import { startServer, type TestServer } from "../api/helpers.ts";
import { type Answer, basic, errorCode, fixedUsers, send } from "./helpers.ts";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function assertLimited(answer: Answer): number {
  assert.equal(answer.status, 429, answer.body);
  assert.equal(errorCode(answer), "TOOMANYREQUESTS");
  const retryAfter = String(answer.headers["retry-after"]);
  assert.match(retryAfter, /^[1-9]\d*$/, "Retry-After in whole seconds");
  return Number(retryAfter);
}

describe("token buckets", () => {
  test("allow the burst, then refuse with the seconds until a token is back, then refill", () => {
    const time = clock();
    const buckets = new TokenBuckets({ rate: 0.5, burst: 3 }, time.now);
    assert.deepEqual([buckets.take("a"), buckets.take("a"), buckets.take("a")], [0, 0, 0]);
    assert.equal(buckets.take("a"), 2, "one token per 2s");
    assert.equal(buckets.take("b"), 0, "another key has its own bucket");
    time.advance(1000);
    assert.equal(buckets.take("a"), 1);
    time.advance(1000);
    assert.equal(buckets.take("a"), 0, "recovered after the window");
    assert.equal(buckets.take("a"), 2);
    time.advance(60_000);
    assert.deepEqual(
      [buckets.take("a"), buckets.take("a"), buckets.take("a"), buckets.take("a")],
      [0, 0, 0, 2],
    );
  });
});

describe("login guard", () => {
  test("locks an IP+user pair after maxFailures within the window, for the lockout only", () => {
    const time = clock();
    const guard = new LoginGuard({ maxFailures: 3, windowMs: 60_000, lockoutMs: 30_000, now: time.now });
    assert.equal(guard.recordFailure("1.1.1.1", "alice"), 0);
    assert.equal(guard.recordFailure("1.1.1.1", "alice"), 0);
    assert.equal(guard.recordFailure("1.1.1.1", "alice"), 30);
    assert.equal(guard.lockedOutFor("1.1.1.1", "alice"), 30);
    assert.equal(guard.lockedOutFor("1.1.1.1", "bob"), 0, "another user");
    assert.equal(guard.lockedOutFor("2.2.2.2", "alice"), 0, "another address");
    guard.recordSuccess("1.1.1.1", "alice");
    assert.equal(guard.lockedOutFor("1.1.1.1", "alice"), 30, "a success does not lift a lockout");
    time.advance(29_001);
    assert.equal(guard.lockedOutFor("1.1.1.1", "alice"), 1);
    time.advance(1000);
    assert.equal(guard.lockedOutFor("1.1.1.1", "alice"), 0);
  });

  test("failures older than the window are forgotten; a success clears the count", () => {
    const time = clock();
    const guard = new LoginGuard({ maxFailures: 3, windowMs: 60_000, lockoutMs: 30_000, now: time.now });
    guard.recordFailure("ip", "u");
    guard.recordFailure("ip", "u");
    time.advance(61_000);
    assert.equal(guard.recordFailure("ip", "u"), 0);
    assert.equal(guard.recordFailure("ip", "u"), 0);
    guard.recordSuccess("ip", "u");
    assert.equal(guard.recordFailure("ip", "u"), 0);
    assert.equal(guard.recordFailure("ip", "u"), 0);
    assert.equal(guard.recordFailure("ip", "u"), 30);
    const off = new LoginGuard({ maxFailures: 0, windowMs: 1, lockoutMs: 1 });
    for (let i = 0; i < 20; i++) off.recordFailure("ip", "u");
    assert.equal(off.lockedOutFor("ip", "u"), 0, "maxFailures 0 turns it off");
  });
});

async function withServer(
  options: Parameters<typeof startServer>[0],
  body: (server: TestServer) => Promise<void>,
) {
  const server = await startServer(options);
  try {
    await body(server);
  } finally {
    await server.cleanup();
  }
}

describe("rate limits on a server", () => {
  test("per client IP: 429 TOOMANYREQUESTS with Retry-After, other IPs and probes unaffected, recovery", async () => {
    const limits = LimitsSchema.parse({ perClient: { rate: 0.5, burst: 3 } });
    const time = clock();
    await withServer({ limits, limitsNow: time.now }, async (server) => {
      const burst: number[] = [];
      for (let i = 0; i < 3; i++) burst.push((await send(server.url, "GET", "/v2/")).status);
      assert.deepEqual(burst, [200, 200, 200], "the burst of 3 is allowed");
      assert.equal(assertLimited(await send(server.url, "GET", "/v2/")), 2, "one token per 2 s");
      assert.equal((await send(server.url, "GET", "/v2/", { from: "127.0.0.2" })).status, 200);
      for (const path of ["/healthz", "/readyz", "/metrics"]) {
        assert.equal((await send(server.url, "GET", path)).status, 200, path);
      }
      // Not /v2 only: the whole server.
      assertLimited(await send(server.url, "GET", "/api/status"));
      const metrics = (await send(server.url, "GET", "/metrics")).body;
      assert.match(metrics, /reestr_rate_limited_requests_total\{scope="client"\} 2/);
      time.advance(2000);
      assert.equal((await send(server.url, "GET", "/v2/")).status, 200, "recovered once a token was back");
    });
  });

  test("per user: one user's limit does not touch another user on the same IP", async () => {
    const limits = LimitsSchema.parse({ perUser: { rate: 0.01, burst: 2 } });
    const auth = { authenticator: fixedUsers({ alice: "a-pass", bob: "b-pass" }) };
    await withServer({ limits, auth }, async (server) => {
      const alice = basic("alice", "a-pass");
      assert.equal((await send(server.url, "GET", "/v2/", { headers: alice })).status, 200);
      assert.equal((await send(server.url, "GET", "/v2/", { headers: alice })).status, 200);
      const refused = await send(server.url, "GET", "/v2/", { headers: alice });
      assertLimited(refused);
      assert.ok(Number(refused.headers["retry-after"]) > 60, "0.01/s: about 100s to the next token");
      // Even from another address: the limit follows the user.
      assertLimited(await send(server.url, "GET", "/v2/", { headers: alice, from: "127.0.0.2" }));
      assert.equal((await send(server.url, "GET", "/v2/", { headers: basic("bob", "b-pass") })).status, 200);
      assert.equal((await send(server.url, "GET", "/v2/")).status, 401, "anonymous: the challenge, not 429");
      const metrics = (await send(server.url, "GET", "/metrics")).body;
      assert.match(metrics, /reestr_rate_limited_requests_total\{scope="user"\} 2/);
    });
  });
});

describe("failed-login lockout on a server", () => {
  test("after maxFailures wrong passwords the IP+user pair gets 429 even with the right one, until the lockout ends", async () => {
    const limits = LimitsSchema.parse({ login: { maxFailures: 3, window: "5m", lockout: "2s" } });
    const auth = { authenticator: fixedUsers({ alice: "right", bob: "b-pass" }) };
    const time = clock();
    await withServer({ limits, auth, limitsNow: time.now }, async (server) => {
      // No credentials at all are not failed logins.
      for (let i = 0; i < 5; i++) assert.equal((await send(server.url, "GET", "/v2/")).status, 401);
      for (let i = 0; i < 3; i++) {
        const wrong = await send(server.url, "GET", "/v2/", { headers: basic("alice", `guess${i}`) });
        assert.equal(wrong.status, 401, `guess ${i}`);
      }
      const locked = await send(server.url, "GET", "/v2/", { headers: basic("alice", "right") });
      assert.equal(assertLimited(locked), 2);
      assert.match(locked.body, /failed logins/);
      assert.equal((await send(server.url, "GET", "/v2/", { headers: basic("bob", "b-pass") })).status, 200);
      const elsewhere = await send(server.url, "GET", "/v2/", {
        headers: basic("alice", "right"),
        from: "127.0.0.2",
      });
      assert.equal(elsewhere.status, 200, "the same user from another address");
      assert.match(
        (await send(server.url, "GET", "/metrics")).body,
        /reestr_rate_limited_requests_total\{scope="login"\} 1/,
      );

      time.advance(1999);
      assertLimited(await send(server.url, "GET", "/v2/", { headers: basic("alice", "right") }));
      time.advance(1);
      const after = await send(server.url, "GET", "/v2/", { headers: basic("alice", "right") });
      assert.equal(after.status, 200, "the lockout ends");
      // The success cleared the count: one wrong password is a plain 401 again.
      assert.equal((await send(server.url, "GET", "/v2/", { headers: basic("alice", "nope") })).status, 401);
      assert.equal((await send(server.url, "GET", "/v2/", { headers: basic("alice", "right") })).status, 200);
    });
  });

  test("logins at the token endpoint count too (token mode)", async () => {
    const limits = LimitsSchema.parse({ login: { maxFailures: 2, window: "5m", lockout: "5m" } });
    const auth = { mode: "token" as const, authenticator: fixedUsers({ alice: "right" }) };
    await withServer({ limits, auth }, async (server) => {
      const token = (password: string) =>
        send(server.url, "GET", "/auth/token?scope=repository:app:pull", {
          headers: basic("alice", password),
        });
      assert.equal((await token("right")).status, 200);
      assert.equal((await token("wrong1")).status, 401);
      assert.equal((await token("wrong2")).status, 401);
      assertLimited(await token("right"));
      // The lockout is the pair's, wherever the login happens.
      assertLimited(await send(server.url, "GET", "/v2/", { headers: basic("alice", "right") }));
    });
  });

  test("on by default: 10 failures in 5 minutes", () => {
    const defaults = LimitsSchema.parse({});
    assert.deepEqual(defaults.login, { maxFailures: 10, window: 300_000, lockout: 300_000 });
    assert.equal(defaults.perClient, undefined);
    assert.equal(defaults.perUser, undefined);
  });
});
