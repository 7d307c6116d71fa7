/**
 * Web sessions, CSRF and personal access tokens (issue 5 §3): the store (hashed secrets, idle and
 * absolute expiry, token owners and expiry) and the /api/auth endpoints over real HTTP.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PolicyAccessController } from "../../src/auth/access-controller.ts";
import { AccessPolicy } from "../../src/auth/access-policy.ts";
import { AuthGate } from "../../src/auth/gate.ts";
import { PersonalTokenAuthenticator } from "../../src/auth/personal-token-authenticator.ts";
import { createWebAuthModule } from "../../src/auth/web-auth.ts";
import {
  AuthStore,
  csrfAllows,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
} from "../../src/auth/web-sessions.ts";
import { parseBasicAuth } from "../../src/http/credentials.ts";
import { unauthorized } from "../../src/http/errors.ts";
import { LoginGuard } from "../../src/http/limits.ts";
import { type Listening, listen } from "../../src/http/listen.ts";
import { HttpPipeline } from "../../src/http/pipeline.ts";
import { Router } from "../../src/http/router.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { MetricsRegistry } from "../../src/util/prometheus.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-web-sessions-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("AuthStore sessions", () => {
  test("a session is found by its cookie value; only its hash is stored", async () => {
    const path = join(dir, "hash.sqlite");
    const store = new AuthStore(path);
    const session = store.createSession("alice");
    assert.equal(store.session(session.id)?.user, "alice");
    assert.equal(store.session(session.id)?.csrfToken, session.csrfToken);
    assert.equal(store.session("nope"), undefined);
    assert.equal(store.session(undefined), undefined);
    store.close();
    const bytes = await readFile(path);
    const wal = await readFile(`${path}-wal`).catch(() => Buffer.alloc(0));
    assert.ok(!bytes.includes(session.id) && !wal.includes(session.id), "the session id is not on disk");
  });

  test("idle timeout, absolute lifetime, logout and per-user revocation", () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const store = new AuthStore(":memory:", {
      idleMs: 60 * 60_000,
      lifetimeMs: 3 * 60 * 60_000,
      now: () => now,
    });
    const a = store.createSession("alice");
    now = new Date("2026-01-01T00:50:00Z");
    assert.ok(store.session(a.id), "used within the idle time");
    now = new Date("2026-01-01T01:40:00Z");
    assert.ok(store.session(a.id), "the idle clock restarted at 00:50");
    now = new Date("2026-01-01T02:41:00Z");
    assert.equal(store.session(a.id), undefined, "idle for more than an hour");

    const b = store.createSession("bob");
    for (const time of ["03:30", "04:20", "05:10"]) {
      now = new Date(`2026-01-01T${time}:00Z`);
      assert.ok(store.session(b.id), time);
    }
    now = new Date("2026-01-01T05:42:00Z");
    assert.equal(store.session(b.id), undefined, "past the absolute lifetime despite use");

    const c = store.createSession("carol");
    store.endSession(c.id);
    assert.equal(store.session(c.id), undefined);
    const d1 = store.createSession("dave");
    const d2 = store.createSession("dave");
    assert.equal(store.endSessionsOf("dave"), 2);
    assert.equal(store.session(d1.id) ?? store.session(d2.id), undefined);
    store.close();
  });
});

describe("AuthStore personal tokens", () => {
  test("created once, verified for their owner only, listed without secrets, revoked", () => {
    const store = new AuthStore(":memory:");
    const { token, secret } = store.createToken("alice", "ci", { actions: ["pull", "push"] });
    assert.match(secret, /^rst_[A-Za-z0-9_-]{43}$/);
    assert.equal(store.verifyToken(secret, "alice")?.id, token.id);
    assert.deepEqual(store.verifyToken(secret)?.actions, ["pull", "push"]);
    assert.equal(store.verifyToken(secret, "bob"), undefined, "another user's name");
    assert.equal(store.verifyToken(`${secret}x`, "alice"), undefined);
    assert.equal(store.verifyToken("password", "alice"), undefined);
    const listed = store.tokens("alice");
    assert.equal(listed.length, 1);
    assert.ok(!JSON.stringify(listed).includes(secret));
    assert.ok(listed[0]!.lastUsedAt, "last use recorded");
    assert.equal(store.revokeToken("bob", token.id), false, "not bob's");
    assert.equal(store.revokeToken("alice", token.id), true);
    assert.equal(store.verifyToken(secret, "alice"), undefined);
    store.close();
  });

  test("expiry and bad input naming the field", () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const store = new AuthStore(":memory:", { now: () => now });
    const { secret } = store.createToken("alice", "short", { expiresInDays: 1 });
    assert.ok(store.verifyToken(secret, "alice"));
    now = new Date("2026-01-02T00:00:01Z");
    assert.equal(store.verifyToken(secret, "alice"), undefined);
    assert.throws(() => store.createToken("alice", "short"), /^ConfigError: name: alice already has/);
    assert.throws(() => store.createToken("alice", "bad name!"), /^ConfigError: name:/);
    assert.throws(
      () => store.createToken("alice", "x", { actions: ["admin" as "pull"] }),
      /^ConfigError: actions:/,
    );
    assert.throws(
      () => store.createToken("alice", "y", { expiresInDays: 0 }),
      /^ConfigError: expiresInDays:/,
    );
    store.forgetUser("alice");
    assert.deepEqual(store.tokens("alice"), []);
    store.close();
  });
});

describe("cookies and CSRF", () => {
  test("the session cookie is httpOnly, SameSite=Strict, Secure under TLS", () => {
    const store = new AuthStore(":memory:");
    const session = store.createSession("alice");
    const cookie = sessionCookie(session, true, session.createdAt);
    assert.match(
      cookie,
      new RegExp(
        `^${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800; Secure$`,
      ),
    );
    assert.doesNotMatch(sessionCookie(session, false), /Secure/);
    assert.equal(readCookie(`a=1; ${SESSION_COOKIE}=${session.id}; b=2`, SESSION_COOKIE), session.id);
    assert.equal(readCookie("a=1", SESSION_COOKIE), undefined);
    store.close();
  });

  test("CSRF: the header must match and a foreign Origin is refused", () => {
    const store = new AuthStore(":memory:");
    const session = store.createSession("alice");
    const host = "127.0.0.1:5000";
    assert.deepEqual(csrfAllows(session, { host, csrf: session.csrfToken }), { ok: true });
    assert.deepEqual(csrfAllows(session, { host, origin: `http://${host}`, csrf: session.csrfToken }), {
      ok: true,
    });
    assert.equal(csrfAllows(session, { host }).ok, false);
    assert.equal(csrfAllows(session, { host, csrf: "wrong" }).ok, false);
    assert.equal(
      csrfAllows(session, { host, origin: "https://evil.example", csrf: session.csrfToken }).ok,
      false,
    );
    store.close();
  });
});

describe("/api/auth over HTTP", () => {
  let listening: Listening;
  let base: string;
  let store: AuthStore;
  const failures: string[] = [];

  /** The login lockout, counting failures; "locked" is locked out for 30 s from the start. */
  class CountingGuard extends LoginGuard {
    override recordFailure(ip: string, user: string): number {
      if (user !== "locked") failures.push(user);
      return super.recordFailure(ip, user);
    }
  }

  before(async () => {
    store = new AuthStore(":memory:");
    // alice / s3cret is the only user.
    const users = {
      async authenticate(req: { headers: { authorization?: string } }) {
        const credentials = parseBasicAuth(req.headers.authorization);
        if (!credentials) return undefined;
        if (credentials.user === "alice" && credentials.password === "s3cret") return { user: "alice" };
        throw unauthorized("invalid username or password");
      },
    };
    const passwords = new PersonalTokenAuthenticator(store, users);
    const loginGuard = new CountingGuard({ maxFailures: 3, windowMs: 60_000, lockoutMs: 30_000 });
    for (let i = 0; i < 3; i++) loginGuard.recordFailure("127.0.0.1", "locked");
    const module = createWebAuthModule({
      store,
      verifyPassword: (user, password) => passwords.verifyPassword(user, password),
      secureCookies: false,
      loginGuard,
    });
    const gate = new AuthGate({
      mode: "basic",
      access: new PolicyAccessController(new AccessPolicy()),
      passwords,
      sessions: store,
      realm: "Test",
    });
    const pipeline = new HttpPipeline({
      router: new Router().add(...module.routes),
      gate,
      logger: new JsonLogger({ level: "error" }),
      accessLog: false,
      metrics: new MetricsRegistry(),
    });
    listening = await listen({ host: "127.0.0.1", port: 0, pipeline });
    base = listening.url;
  });
  after(async () => {
    await listening.close(0);
    store.close();
  });

  const json = { "content-type": "application/json" };

  async function login(): Promise<{ cookie: string; csrf: string }> {
    const res = await fetch(`${base}/api/auth/login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ username: "alice", password: "s3cret" }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { user: string; csrfToken: string };
    assert.equal(body.user, "alice");
    const setCookie = res.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /HttpOnly; SameSite=Strict/);
    return { cookie: setCookie.split(";")[0]!, csrf: body.csrfToken };
  }

  test("login sets the cookie; the session endpoint knows the user; logout needs the CSRF header", async () => {
    const anonymous = await (await fetch(`${base}/api/auth/session`)).json();
    assert.deepEqual(anonymous, { user: null, csrfToken: null, expiresAt: null, authRequired: true });
    const { cookie, csrf } = await login();
    const session = (await (await fetch(`${base}/api/auth/session`, { headers: { cookie } })).json()) as {
      user: string;
      csrfToken: string;
    };
    assert.equal(session.user, "alice");
    assert.equal(session.csrfToken, csrf);
    const noCsrf = await fetch(`${base}/api/auth/logout`, { method: "POST", headers: { cookie } });
    assert.equal(noCsrf.status, 403);
    assert.match(((await noCsrf.json()) as { error: { message: string } }).error.message, /CSRF/);
    const out = await fetch(`${base}/api/auth/logout`, {
      method: "POST",
      headers: { cookie, "x-csrf-token": csrf },
    });
    assert.equal(out.status, 204);
    assert.match(out.headers.get("set-cookie") ?? "", /Max-Age=0/);
    const after = (await (await fetch(`${base}/api/auth/session`, { headers: { cookie } })).json()) as {
      user: null;
    };
    assert.equal(after.user, null, "the session ended on the server, not only in the browser");
  });

  test("bad logins: wrong password 401 (counted), locked out 429 with Retry-After, bad bodies 400/415", async () => {
    const wrong = await fetch(`${base}/api/auth/login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ username: "alice", password: "nope" }),
    });
    assert.equal(wrong.status, 401);
    assert.deepEqual(failures, ["alice"]);
    const locked = await fetch(`${base}/api/auth/login`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ username: "locked", password: "x" }),
    });
    assert.equal(locked.status, 429);
    assert.equal(locked.headers.get("retry-after"), "30");
    const noUser = await fetch(`${base}/api/auth/login`, { method: "POST", headers: json, body: "{}" });
    assert.equal(noUser.status, 400);
    assert.match(((await noUser.json()) as { error: { message: string } }).error.message, /^username:/);
    const notJson = await fetch(`${base}/api/auth/login`, { method: "POST", body: "username=alice" });
    assert.equal(notJson.status, 415);
    const get = await fetch(`${base}/api/auth/login`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
  });

  test("personal tokens: created with a session + CSRF, usable as basic password, revoked", async () => {
    const { cookie, csrf } = await login();
    const refused = await fetch(`${base}/api/auth/tokens`, {
      method: "POST",
      headers: { ...json, cookie },
      body: JSON.stringify({ name: "ci" }),
    });
    assert.equal(refused.status, 403, "no CSRF header");
    const created = await fetch(`${base}/api/auth/tokens`, {
      method: "POST",
      headers: { ...json, cookie, "x-csrf-token": csrf },
      body: JSON.stringify({ name: "ci", actions: ["pull"] }),
    });
    assert.equal(created.status, 201);
    const { token, secret } = (await created.json()) as { token: { id: string }; secret: string };
    const basic = (user: string, password: string) =>
      `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    const listed = await fetch(`${base}/api/auth/tokens`, {
      headers: { authorization: basic("alice", secret) },
    });
    assert.equal(listed.status, 200);
    const { tokens } = (await listed.json()) as { tokens: { id: string; name: string }[] };
    assert.deepEqual(
      tokens.map((t) => [t.id, t.name]),
      [[token.id, "ci"]],
    );
    assert.ok(!JSON.stringify(tokens).includes(secret));
    const asBob = await fetch(`${base}/api/auth/tokens`, {
      headers: { authorization: basic("bob", secret) },
    });
    assert.equal(asBob.status, 401, "a token works for its owner only");
    const mint = await fetch(`${base}/api/auth/tokens`, {
      method: "POST",
      headers: { ...json, authorization: basic("alice", secret) },
      body: JSON.stringify({ name: "child" }),
    });
    assert.equal(mint.status, 403, "tokens cannot mint tokens");
    const dup = await fetch(`${base}/api/auth/tokens`, {
      method: "POST",
      headers: { ...json, authorization: basic("alice", "s3cret") },
      body: JSON.stringify({ name: "ci" }),
    });
    assert.equal(dup.status, 400);
    const revoke = await fetch(`${base}/api/auth/tokens/${token.id}`, {
      method: "DELETE",
      headers: { cookie, "x-csrf-token": csrf },
    });
    assert.equal(revoke.status, 204);
    const gone = await fetch(`${base}/api/auth/tokens`, {
      headers: { authorization: basic("alice", secret) },
    });
    assert.equal(gone.status, 401);
    const again = await fetch(`${base}/api/auth/tokens/${token.id}`, {
      method: "DELETE",
      headers: { cookie, "x-csrf-token": csrf },
    });
    assert.equal(again.status, 404);
  });
});
