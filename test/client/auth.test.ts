import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { mergeScopes, parseAuthChallenges, parseTokenResponse, TokenCache } from "../../src/client/auth.ts";
import { isRegistryClientError } from "../../src/client/errors.ts";
import { nextLink, RegistryClient } from "../../src/client/registry-client.ts";
import { digestOf } from "../../src/oci/digest.ts";

describe("auth helpers", () => {
  it("parses Bearer and Basic challenges, quoted values and several in one header", () => {
    assert.deepEqual(
      parseAuthChallenges(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      ),
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://auth.example/token",
            service: "registry.example",
            scope: "repository:a/b:pull,push",
          },
        },
      ],
    );
    assert.deepEqual(parseAuthChallenges(['Basic realm="x \\"y\\""', "Bearer realm=http://t,service=s"]), [
      { scheme: "basic", params: { realm: 'x "y"' } },
      { scheme: "bearer", params: { realm: "http://t", service: "s" } },
    ]);
    assert.deepEqual(parseAuthChallenges(undefined), []);
  });

  it("merges scopes per resource", () => {
    assert.equal(
      mergeScopes("repository:a:pull", "repository:a:push", "repository:b:pull", undefined),
      "repository:a:pull,push repository:b:pull",
    );
    assert.equal(mergeScopes("registry:catalog:*"), "registry:catalog:*");
  });

  it("caches tokens until shortly before they expire", () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.set("r", "s", "scope", "tok", 60);
    assert.equal(cache.get("r", "s", "scope"), "tok");
    assert.equal(cache.get("r", "s", "other"), undefined);
    now += 50_000;
    assert.equal(cache.get("r", "s", "scope"), "tok");
    now += 5_000; // within the safety margin before the 60 s expiry
    assert.equal(cache.get("r", "s", "scope"), undefined);
  });

  it("reads token responses in both spellings", () => {
    assert.deepEqual(parseTokenResponse('{"token":"a","expires_in":300}'), { token: "a", expiresIn: 300 });
    assert.deepEqual(parseTokenResponse('{"access_token":"b"}'), { token: "b", expiresIn: 60 });
    assert.throws(() => parseTokenResponse("{}"), /without a token/);
  });

  it("finds the next page in a Link header", () => {
    assert.equal(nextLink('</v2/_catalog?last=b&n=2>; rel="next"'), "/v2/_catalog?last=b&n=2");
    assert.equal(nextLink('<http://x/a>; rel="prev", <http://x/b>; rel=next'), "http://x/b");
    assert.equal(nextLink(undefined), undefined);
    assert.equal(nextLink('<http://x/a>; rel="prev"'), undefined);
  });
});

/**
 * A stand-in registry that speaks Docker's token auth: every /v2 request needs a bearer token
 * whose scope covers it; /token hands tokens out for basic credentials alice:secret.
 */
class FakeTokenRegistry {
  server: Server;
  url = "";
  tokenRequests: string[] = [];
  uploaded = new Map<string, Buffer>();

  constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => {
        res.statusCode = 500;
        res.end(error.message);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    if (url.pathname === "/token") {
      if (req.headers.authorization !== `Basic ${Buffer.from("alice:secret").toString("base64")}`) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }));
        return;
      }
      const scopes = url.searchParams.getAll("scope").join(" ");
      this.tokenRequests.push(scopes);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token: `tok:${scopes}`, expires_in: 300 }));
      return;
    }
    const match = /^\/v2\/(.+?)\/(tags\/list|blobs\/uploads\/.*)$/.exec(url.pathname);
    const repository = match?.[1];
    const needed = req.method === "GET" || req.method === "HEAD" ? "pull" : "push";
    const scope = repository ? `repository:${repository}:${needed}` : "";
    const token = req.headers.authorization?.startsWith("Bearer tok:")
      ? req.headers.authorization.slice(11)
      : undefined;
    const granted =
      token !== undefined &&
      (!repository || (token.includes(`repository:${repository}:`) && token.includes(needed)));
    if (!granted) {
      for await (const _ of req) {
        // drain the body before answering
      }
      res.writeHead(401, {
        "content-type": "application/json",
        "www-authenticate": `Bearer realm="${this.url}/token",service="fake"${scope ? `,scope="${scope}"` : ""}`,
      });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
      return;
    }
    if (url.pathname === "/v2/") {
      res.writeHead(200, { "docker-distribution-api-version": "registry/2.0" });
      res.end("{}");
    } else if (match?.[2] === "tags/list") {
      const last = url.searchParams.get("last");
      res.writeHead(200, {
        "content-type": "application/json",
        ...(last ? {} : { link: `</v2/${repository}/tags/list?last=b&n=2>; rel="next"` }),
      });
      res.end(JSON.stringify({ name: repository, tags: last ? ["c"] : ["a", "b"] }));
    } else if (req.method === "POST") {
      res.writeHead(202, { location: `/v2/${repository}/blobs/uploads/u1?_state=x` });
      res.end();
    } else if (req.method === "PUT") {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      this.uploaded.set(url.searchParams.get("digest") ?? "", Buffer.concat(chunks));
      res.writeHead(201, { location: `/v2/${repository}/blobs/${url.searchParams.get("digest")}` });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  }
}

describe("RegistryClient authentication", () => {
  const fake = new FakeTokenRegistry();
  before(() => fake.start());
  after(() => fake.stop());

  it("answers a Bearer challenge with a token for the challenged scope and caches it", async () => {
    const client = new RegistryClient({ baseUrl: fake.url, username: "alice", password: "secret" });
    try {
      await client.ping();
      assert.deepEqual(await client.listTags("team/app", { pageSize: 2 }), ["a", "b", "c"]);
      assert.deepEqual(await client.listTags("team/app"), ["a", "b", "c"]);
      // One token for /v2/ (no scope) and one for the repository: the rest came from the cache.
      assert.deepEqual(fake.tokenRequests, ["", "repository:team/app:pull"]);
    } finally {
      client.close();
    }
  });

  it("widens the token to push and streams an upload body once", async () => {
    fake.tokenRequests = [];
    const client = new RegistryClient({ baseUrl: fake.url, username: "alice", password: "secret" });
    try {
      const body = Buffer.from("streamed blob body");
      const digest = digestOf(body);
      const location = await client.startUpload("team/app");
      await client.putUpload("team/app", location, digest, body.length, () => Readable.from([body]));
      assert.deepEqual(fake.uploaded.get(digest), body);
      assert.deepEqual(fake.tokenRequests, ["repository:team/app:pull,push"]);
    } finally {
      client.close();
    }
  });

  it("surfaces bad credentials as a typed UNAUTHORIZED error", async () => {
    const client = new RegistryClient({ baseUrl: fake.url, username: "alice", password: "wrong" });
    try {
      await assert.rejects(client.listTags("team/app"), (error: unknown) => {
        assert.ok(isRegistryClientError(error, "UNAUTHORIZED"));
        assert.equal(error.status, 401);
        assert.equal(error.message.includes("bad credentials"), true);
        return true;
      });
    } finally {
      client.close();
    }
  });
});

describe("RegistryClient basic auth", () => {
  let server: Server;
  let url: string;
  let seen: (string | undefined)[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== `Basic ${Buffer.from("bob:pw").toString("base64")}`) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="fake"', "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "who are you" }] }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ repositories: ["x"] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("retries with credentials after a Basic challenge, then sends them up front", async () => {
    const client = new RegistryClient({ baseUrl: url, username: "bob", password: "pw" });
    try {
      seen = [];
      assert.deepEqual(await client.catalog(), ["x"]);
      assert.deepEqual(await client.catalog(), ["x"]);
      assert.equal(seen.length, 3);
      assert.equal(seen[0], undefined);
      assert.ok(seen[1]?.startsWith("Basic "));
      assert.ok(seen[2]?.startsWith("Basic "));
    } finally {
      client.close();
    }
  });

  it("without credentials reports the registry's UNAUTHORIZED error", async () => {
    const client = new RegistryClient({ baseUrl: url });
    try {
      await assert.rejects(client.catalog(), (error: unknown) => {
        assert.ok(isRegistryClientError(error, "UNAUTHORIZED"));
        assert.equal(error.errors[0]?.message, "who are you");
        return true;
      });
    } finally {
      client.close();
    }
  });
});
