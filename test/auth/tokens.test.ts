/**
 * Token mode on an in-process server: the token endpoint (claims, grants = requested ∩ allowed,
 * anonymous tokens, wrong credentials, bad requests), the signing key on disk, the Bearer
 * challenges on /v2 (realm, service, scope, insufficient_scope), UNAUTHORIZED versus DENIED,
 * and every refused token: expired, not yet valid, wrong scope, tampered, `alg: none`, HMAC with
 * the public key, wrong key, wrong audience, wrong issuer, malformed. Tokens of a trusted external
 * issuer (PEM public key, JWKS file) are accepted, with their own audience and key checked.
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { exportJWK, SignJWT, UnsecuredJWT } from "jose";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { DEFAULT_KEY_FILE, libtrustKeyId } from "../../src/auth/token-keys.ts";
import { assertError, http, OCI_MANIFEST, startServer, type TestServer } from "../api/helpers.ts";
import { accessOf, basic, bearer, decodeJwtPart, fetchToken, pushImage } from "./helpers.ts";

const PASSWORD = "t0ken:pass word";
const ALICE = basic("alice", PASSWORD);
const BOB = basic("bob", PASSWORD);

let dir = "";
let htpasswd = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-tokens-"));
  htpasswd = join(dir, "htpasswd");
  const hash = await hashPassword(PASSWORD, 4);
  await writeHtpasswd(
    htpasswd,
    new Map([
      ["alice", hash],
      ["bob", hash],
    ]),
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const RULES = {
  groups: { dev: ["alice"] },
  rules: [
    {
      subjects: ["group:dev"],
      repositories: ["team/**", "pub/*"],
      actions: ["push" as const, "delete" as const],
    },
    { subjects: ["anonymous"], repositories: ["pub/*"], actions: ["pull" as const] },
    { subjects: ["authenticated"], repositories: ["**"], actions: ["pull" as const] },
  ],
};

function parseChallenge(header: string | undefined): Record<string, string> {
  assert.ok(header, "expected a WWW-Authenticate header");
  assert.match(header, /^Bearer /);
  const params: Record<string, string> = {};
  for (const match of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[match[1]!] = match[2]!;
  return params;
}

describe("token mode", () => {
  let server: TestServer;
  let key: KeyObject;
  let kid = "";
  let image: Awaited<ReturnType<typeof pushImage>>;

  before(async () => {
    server = await startServer({ auth: { mode: "token", htpasswd, ...RULES }, accessLog: true });
    key = createPrivateKey(await readFile(join(server.dataDir, DEFAULT_KEY_FILE), "utf8"));
    kid = libtrustKeyId(createPublicKey(key));
    const push = await fetchToken(server, ["repository:team/app:pull,push"], ALICE);
    image = await pushImage(server, bearer(push), "team/app", "v1");
    await pushImage(
      server,
      bearer(await fetchToken(server, ["repository:pub/app:push"], ALICE)),
      "pub/app",
      "v1",
    );
  });
  after(() => server.cleanup());

  /** A token signed with the server's own key, claims overridable. */
  function forge(
    claims: Record<string, unknown> = {},
    signer: KeyObject = key,
    header: Record<string, unknown> = {},
  ) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      access: [{ type: "repository", name: "team/app", actions: ["pull"] }],
      ...claims,
    })
      .setProtectedHeader({ alg: "ES256", kid, ...header })
      .setIssuer((claims["iss"] as string) ?? "reestr")
      .setSubject((claims["sub"] as string) ?? "alice")
      .setAudience((claims["aud"] as string) ?? "reestr")
      .setIssuedAt(now)
      .setNotBefore((claims["nbf"] as number) ?? now - 5)
      .setExpirationTime((claims["exp"] as number) ?? now + 300)
      .sign(signer);
  }

  const pullManifest = (headers: Record<string, string>) =>
    http(server, "GET", "/v2/team/app/manifests/v1", { headers: { ...headers, Accept: OCI_MANIFEST } });

  test("the signing key is generated 0600 in a 0700 directory; kid is its libtrust id", async () => {
    const file = join(server.dataDir, DEFAULT_KEY_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(server.dataDir, "auth"))).mode & 0o777, 0o700);
    assert.match(kid, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const jwks = await http(server, "GET", "/auth/jwks.json");
    assert.equal(jwks.status, 200);
    const [published] = jwks.json<{ keys: Record<string, string>[] }>().keys;
    assert.equal(published!["kid"], kid);
    assert.equal(published!["alg"], "ES256");
    assert.equal(published!["d"], undefined, "no private part");
  });

  test("a token's header and claims follow Docker's token spec", async () => {
    const start = Math.floor(Date.now() / 1000) * 1000; // issued_at is in whole seconds
    const res = await http(
      server,
      "GET",
      "/auth/token?service=reestr&scope=repository:team/app:pull,push&account=alice&client_id=docker&offline_token=true",
      { headers: ALICE },
    );
    assert.equal(res.status, 200);
    assert.equal(res.header("cache-control"), "no-store");
    const body = res.json<{ token: string; access_token: string; expires_in: number; issued_at: string }>();
    assert.equal(body.access_token, body.token);
    assert.equal(body.expires_in, 300);
    assert.ok(
      Date.parse(body.issued_at) >= start && Date.parse(body.issued_at) <= Date.now(),
      body.issued_at,
    );
    const header = decodeJwtPart(body.token, 0);
    assert.deepEqual(header, { alg: "ES256", typ: "JWT", kid });
    const claims = decodeJwtPart<Record<string, unknown>>(body.token, 1);
    assert.equal(claims["iss"], "reestr");
    assert.equal(claims["sub"], "alice");
    assert.equal(claims["aud"], "reestr");
    assert.equal((claims["exp"] as number) - (claims["iat"] as number), 300);
    assert.ok((claims["nbf"] as number) <= (claims["iat"] as number));
    assert.match(claims["jti"] as string, /^[0-9a-f-]{36}$/);
    assert.deepEqual(claims["access"], [{ type: "repository", name: "team/app", actions: ["pull", "push"] }]);
    const again = await fetchToken(server, ["repository:team/app:pull"], ALICE);
    assert.notEqual(decodeJwtPart(again, 1)["jti"], claims["jti"], "jti is unique");
  });

  test("granted = requested ∩ allowed, never an error for the rest", async () => {
    // bob may only pull; alice may not delete outside team/**; `*` asks for everything.
    const bob = await fetchToken(server, ["repository:team/app:pull,push,delete"], BOB);
    assert.deepEqual(accessOf(bob), [{ type: "repository", name: "team/app", actions: ["pull"] }]);
    const alice = await fetchToken(
      server,
      ["repository:team/app:*", "repository:other/x:push", "repository:pub/app:pull registry:catalog:*"],
      ALICE,
    );
    assert.deepEqual(accessOf(alice), [
      { type: "repository", name: "team/app", actions: ["pull", "push", "delete"] },
      { type: "repository", name: "pub/app", actions: ["pull"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
    const anonymous = await fetchToken(server, ["repository:pub/app:pull,push", "repository:team/app:pull"]);
    assert.deepEqual(accessOf(anonymous), [{ type: "repository", name: "pub/app", actions: ["pull"] }]);
    assert.equal(decodeJwtPart(anonymous, 1)["sub"], "");
    // Unknown resource types, invalid names and admin nobody has are left out.
    const odd = await fetchToken(
      server,
      ["thing:x:pull", "repository:UPPER:pull", "repository:team/app:admin"],
      ALICE,
    );
    assert.deepEqual(accessOf(odd), []);
    // `Basic Og==` (empty user and password) is anonymous.
    const empty = await fetchToken(server, ["repository:pub/app:pull"], basic("", ""));
    assert.equal(decodeJwtPart(empty, 1)["sub"], "");
  });

  test("the token endpoint refuses wrong credentials (401, Basic challenge) and bad requests (400)", async () => {
    for (const headers of [
      basic("alice", "wrong"),
      basic("mallory", PASSWORD),
      { Authorization: "Basic !!" },
    ]) {
      const res = await http(server, "GET", "/auth/token?service=reestr", { headers });
      assertError(res, 401, "UNAUTHORIZED");
      assert.equal(res.header("www-authenticate"), 'Basic realm="Reestr"');
      assert.doesNotMatch(res.text(), /token/);
    }
    const wrongService = await http(server, "GET", "/auth/token?service=elsewhere", { headers: ALICE });
    assert.equal(wrongService.status, 400);
    assert.match(
      wrongService.json<{ errors: { message: string }[] }>().errors[0]!.message,
      /unknown service "elsewhere"/,
    );
    const badScope = await http(server, "GET", "/auth/token?service=reestr&scope=repository", {
      headers: ALICE,
    });
    assert.equal(badScope.status, 400);
    assert.match(badScope.text(), /invalid scope/);
    const post = await http(server, "POST", "/auth/token", { headers: ALICE });
    assert.equal(post.status, 405);
  });

  test("/v2 without a token: 401 with the Bearer challenge (realm from Host, service, scope)", async () => {
    const ping = await http(server, "GET", "/v2/");
    assertError(ping, 401, "UNAUTHORIZED");
    assert.deepEqual(parseChallenge(ping.header("www-authenticate")), {
      realm: `${server.url}/auth/token`,
      service: "reestr",
    });
    const pull = await pullManifest({});
    assert.deepEqual(parseChallenge(pull.header("www-authenticate")), {
      realm: `${server.url}/auth/token`,
      service: "reestr",
      scope: "repository:team/app:pull",
    });
    const push = await http(server, "POST", "/v2/team/app/blobs/uploads/");
    assert.equal(parseChallenge(push.header("www-authenticate"))["scope"], "repository:team/app:pull,push");
    const catalog = await http(server, "GET", "/v2/_catalog");
    assert.equal(parseChallenge(catalog.header("www-authenticate"))["scope"], "registry:catalog:*");
    const viaName = await http(server, "GET", "/v2/", { headers: { Host: "registry.example.com:5000" } });
    assert.equal(
      parseChallenge(viaName.header("www-authenticate"))["realm"],
      "http://registry.example.com:5000/auth/token",
    );
    // Basic credentials are not a token here.
    const withBasic = await http(server, "GET", "/v2/", { headers: ALICE });
    assertError(withBasic, 401, "UNAUTHORIZED");
  });

  test("a valid token passes the ping and what it grants", async () => {
    const token = await fetchToken(server, ["repository:team/app:pull"], BOB);
    assert.equal((await http(server, "GET", "/v2/", { headers: bearer(token) })).status, 200);
    const pulled = await pullManifest(bearer(token));
    assert.equal(pulled.status, 200);
    assert.equal(pulled.header("docker-content-digest"), image.manifest);
    assert.equal(
      (await http(server, "GET", `/v2/team/app/blobs/${image.layer}`, { headers: bearer(token) })).status,
      200,
    );
    // An anonymous token also passes the ping.
    assert.equal(
      (await http(server, "GET", "/v2/", { headers: bearer(await fetchToken(server, [])) })).status,
      200,
    );
  });

  test("wrong scope: 401 insufficient_scope when a new token would help, 403 DENIED when not", async () => {
    const pubOnly = await fetchToken(server, ["repository:pub/app:pull"], BOB);
    // bob may pull team/app, but this token is for pub/app: ask for the right scope.
    const other = await pullManifest(bearer(pubOnly));
    assertError(other, 401, "UNAUTHORIZED");
    const challenge = parseChallenge(other.header("www-authenticate"));
    assert.equal(challenge["error"], "insufficient_scope");
    assert.equal(challenge["scope"], "repository:team/app:pull");
    // bob may never push to team/app: DENIED.
    const pullToken = await fetchToken(server, ["repository:team/app:pull,push"], BOB);
    const push = await http(server, "POST", "/v2/team/app/blobs/uploads/", { headers: bearer(pullToken) });
    assertError(push, 403, "DENIED");
    const del = await http(server, "DELETE", `/v2/team/app/manifests/${image.manifest}`, {
      headers: bearer(pullToken),
    });
    assertError(del, 403, "DENIED");
    // An anonymous token is asked to log in (401), never DENIED.
    const anonymous = await fetchToken(server, ["repository:team/app:pull"]);
    const res = await pullManifest(bearer(anonymous));
    assertError(res, 401, "UNAUTHORIZED");
    assert.equal(parseChallenge(res.header("www-authenticate"))["error"], "insufficient_scope");
    // A pull token does not cover the catalog.
    assertError(await http(server, "GET", "/v2/_catalog", { headers: bearer(pubOnly) }), 401, "UNAUTHORIZED");
  });

  test("own tokens are re-checked against the policy: a signed grant beyond the rules is DENIED", async () => {
    const token = await forge({
      sub: "bob",
      access: [{ type: "repository", name: "team/app", actions: ["push"] }],
    });
    assertError(
      await http(server, "POST", "/v2/team/app/blobs/uploads/", { headers: bearer(token) }),
      403,
      "DENIED",
    );
    const fine = await forge({
      sub: "alice",
      access: [{ type: "repository", name: "team/app", actions: ["pull"] }],
    });
    assert.equal((await pullManifest(bearer(fine))).status, 200, "the forge helper makes valid tokens");
  });

  describe("refused tokens: 401, error=invalid_token", () => {
    const refused = async (token: string, why: RegExp) => {
      const res = await pullManifest(bearer(token));
      const [error] = assertError(res, 401, "UNAUTHORIZED");
      assert.match(error!.message, why);
      const challenge = parseChallenge(res.header("www-authenticate"));
      assert.equal(challenge["error"], "invalid_token");
      assert.equal(challenge["scope"], "repository:team/app:pull");
    };
    const now = () => Math.floor(Date.now() / 1000);

    test("expired", async () => {
      await refused(await forge({ exp: now() - 120 }), /expired/);
    });
    test("not yet valid", async () => {
      await refused(await forge({ nbf: now() + 600 }), /nbf|not active|not yet/i);
    });
    test("tampered: a claim changed after signing", async () => {
      const token = await forge();
      const [h, , s] = token.split(".");
      const claims = decodeJwtPart<Record<string, unknown>>(token, 1);
      claims["access"] = [{ type: "repository", name: "team/app", actions: ["pull", "push", "delete"] }];
      const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
      await refused(`${h}.${payload}.${s}`, /signature/);
    });
    test("alg: none", async () => {
      const token = new UnsecuredJWT({
        access: [{ type: "repository", name: "team/app", actions: ["pull"] }],
      })
        .setIssuer("reestr")
        .setSubject("alice")
        .setAudience("reestr")
        .setExpirationTime("5m")
        .encode();
      await refused(token, /algorithm|alg|invalid/i);
    });
    test("HS256 keyed with the public key (algorithm confusion)", async () => {
      const publicPem = createPublicKey(key).export({ type: "spki", format: "pem" }) as string;
      const token = await new SignJWT({
        access: [{ type: "repository", name: "team/app", actions: ["pull"] }],
      })
        .setProtectedHeader({ alg: "HS256", kid })
        .setIssuer("reestr")
        .setSubject("alice")
        .setAudience("reestr")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(publicPem));
      await refused(token, /algorithm|alg/i);
    });
    test("signed by another key (same kid)", async () => {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      await refused(await forge({}, privateKey), /signature/);
    });
    test("wrong audience", async () => {
      await refused(await forge({ aud: "another-registry" }), /aud/);
    });
    test("wrong issuer", async () => {
      await refused(await forge({ iss: "someone-else" }), /untrusted issuer/);
    });
    test("malformed token and malformed access claim", async () => {
      await refused("not.a.jwt", /malformed/);
      await refused(await forge({ access: "everything" }), /access claim/);
    });
    test("the refusals never leak into a pass on another route", async () => {
      const expired = await forge({ exp: now() - 120 });
      assertError(await http(server, "GET", "/v2/", { headers: bearer(expired) }), 401, "UNAUTHORIZED");
    });
  });

  test("the access log names token users, also when they are refused", async () => {
    const token = await fetchToken(server, ["repository:team/app:pull"], BOB);
    await http(server, "POST", "/v2/team/app/blobs/uploads/", { headers: bearer(token) });
    const lines = server.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(
      lines.some((l) => l["msg"] === "request" && l["user"] === "bob" && l["status"] === 403),
      "403 logged with the user",
    );
    assert.doesNotMatch(server.logs.join("\n"), new RegExp(token.split(".")[2]!.slice(0, 20)));
  });

  test("the key survives a restart: tokens issued before still verify", async () => {
    const token = await fetchToken(server, ["repository:team/app:pull"], BOB);
    const before = await readFile(join(server.dataDir, DEFAULT_KEY_FILE), "utf8");
    await server.restart();
    assert.equal(await readFile(join(server.dataDir, DEFAULT_KEY_FILE), "utf8"), before);
    assert.equal((await pullManifest(bearer(token))).status, 200);
  });
});

describe("tokens of a trusted external issuer", () => {
  let server: TestServer;
  const pemIssuer = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwksIssuer = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const remoteIssuer = generateKeyPairSync("ed25519");
  let jwksServer: Server;
  let jwksFetches = 0;

  before(async () => {
    const remoteJwks = JSON.stringify({
      keys: [{ ...(await exportJWK(remoteIssuer.publicKey)), kid: "ed-1", alg: "EdDSA" }],
    });
    jwksServer = createServer((_req, res) => {
      jwksFetches++;
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(remoteJwks);
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    const pem = join(dir, "issuer.pem");
    await writeFile(pem, pemIssuer.publicKey.export({ type: "spki", format: "pem" }));
    const jwks = join(dir, "jwks.json");
    await writeFile(
      jwks,
      JSON.stringify({ keys: [{ ...(await exportJWK(jwksIssuer.publicKey)), kid: "rsa-1", alg: "RS256" }] }),
    );
    server = await startServer({
      auth: {
        mode: "token",
        htpasswd,
        token: {
          service: "registry.test",
          trust: [
            { issuer: "https://harbor.test", publicKey: pem },
            { issuer: "https://sso.test", jwks, audience: "sso-registry" },
            { issuer: "https://remote.test", jwks: jwksUrl },
          ],
        },
      },
    });
    const own = await fetchToken(server, ["repository:ext/app:push"], ALICE, "registry.test");
    await pushImage(server, bearer(own), "ext/app", "v1");
  });
  after(async () => {
    await server.cleanup();
    jwksServer.closeAllConnections();
    await new Promise((resolve) => jwksServer.close(resolve));
  });

  const sign = (
    signer: KeyObject,
    alg: string,
    iss: string,
    aud: string,
    actions = ["pull"],
    extra: Record<string, string> = {},
  ) =>
    new SignJWT({ access: [{ type: "repository", name: "ext/app", actions }] })
      .setProtectedHeader({ alg, ...extra })
      .setIssuer(iss)
      .setSubject("robot$ci")
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime("2m")
      .sign(signer);
  const get = (token: string) =>
    http(server, "GET", "/v2/ext/app/manifests/v1", { headers: { ...bearer(token), Accept: OCI_MANIFEST } });

  test("accepted with a PEM public key and with a JWKS file, for what they grant", async () => {
    assert.equal(
      (await get(await sign(pemIssuer.privateKey, "ES256", "https://harbor.test", "registry.test"))).status,
      200,
    );
    const jwt = await sign(jwksIssuer.privateKey, "RS256", "https://sso.test", "sso-registry", ["pull"], {
      kid: "rsa-1",
    });
    assert.equal((await get(jwt)).status, 200);
    // The issuer decides: no local rule or user named robot$ci is needed.
    const push = await sign(pemIssuer.privateKey, "ES256", "https://harbor.test", "registry.test", [
      "pull",
      "push",
    ]);
    assert.equal(
      (await http(server, "POST", "/v2/ext/app/blobs/uploads/", { headers: bearer(push) })).status,
      202,
    );
    // Without the scope: 401 insufficient_scope (the issuer might grant it), never DENIED.
    const res = await http(server, "DELETE", "/v2/ext/app/manifests/v1", { headers: bearer(push) });
    assertError(res, 401, "UNAUTHORIZED");
    assert.match(res.header("www-authenticate") ?? "", /error="insufficient_scope"/);
  });

  test("accepted with a JWKS URL, fetched once for many tokens; an unknown kid is refused", async () => {
    for (let i = 0; i < 3; i++) {
      const token = await sign(
        remoteIssuer.privateKey,
        "EdDSA",
        "https://remote.test",
        "registry.test",
        ["pull"],
        {
          kid: "ed-1",
        },
      );
      assert.equal((await get(token)).status, 200);
    }
    assert.equal(jwksFetches, 1);
    const unknown = await sign(
      remoteIssuer.privateKey,
      "EdDSA",
      "https://remote.test",
      "registry.test",
      ["pull"],
      {
        kid: "ed-2",
      },
    );
    const res = await get(unknown);
    assertError(res, 401, "UNAUTHORIZED");
    assert.match(res.header("www-authenticate") ?? "", /error="invalid_token"/);
  });

  test("refused: wrong audience, wrong key, another issuer's key, HMAC", async () => {
    const refusals = [
      await sign(pemIssuer.privateKey, "ES256", "https://harbor.test", "reestr"),
      await sign(
        generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey,
        "ES256",
        "https://harbor.test",
        "registry.test",
      ),
      await sign(jwksIssuer.privateKey, "RS256", "https://harbor.test", "registry.test"),
      await sign(pemIssuer.privateKey, "ES256", "https://sso.test", "sso-registry"),
      await new SignJWT({ access: [{ type: "repository", name: "ext/app", actions: ["pull"] }] })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("https://harbor.test")
        .setAudience("registry.test")
        .setExpirationTime("2m")
        .sign(new TextEncoder().encode("a shared secret nobody configured")),
    ];
    for (const token of refusals) {
      const res = await get(token);
      assertError(res, 401, "UNAUTHORIZED");
      assert.match(res.header("www-authenticate") ?? "", /error="invalid_token"/);
    }
  });

  test("a missing key file or a trust entry reusing the own issuer stops the start", async () => {
    await assert.rejects(
      startServer({
        auth: { mode: "token", token: { trust: [{ issuer: "x", publicKey: join(dir, "missing.pem") }] } },
      }),
      /auth\.token\.trust\[0\]\.publicKey: cannot read/,
    );
    await assert.rejects(
      startServer({
        auth: { mode: "token", token: { trust: [{ issuer: "reestr", publicKey: join(dir, "issuer.pem") }] } },
      }),
      /is this server's own/,
    );
  });
});
