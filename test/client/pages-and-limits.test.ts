/**
 * The two rules RegistryClient applies for every caller (catalogue, watcher, CLI), against a
 * stand-in registry: `Link` pages are followed only on the registry's own origin (a Link to
 * another host, or the same port under another host name, ends the listing with a warning and
 * no request there), and no response body held in memory may pass its cap.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { isRegistryClientError } from "../../src/client/errors.ts";
import { BODY_LIMITS, RegistryClient } from "../../src/client/registry-client.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { recordingLogger } from "../helpers/recording-logger.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: Server; origin: string; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, port };
}

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(200, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function expectCode(code: string) {
  return (error: unknown) => {
    assert.ok(isRegistryClientError(error, code), `expected ${code}, got ${error}`);
    return true;
  };
}

describe("Link pagination stays on the registry's origin", () => {
  let registry: Awaited<ReturnType<typeof listen>>;
  let elsewhere: Awaited<ReturnType<typeof listen>>;
  let elsewhereRequests = 0;
  const requests: string[] = [];

  before(async () => {
    elsewhere = await listen((_req, res) => {
      elsewhereRequests++;
      json(res, { repositories: ["evil"], tags: ["evil"], manifests: [] });
    });
    registry = await listen((req, res) => {
      requests.push(req.url ?? "");
      const url = new URL(req.url ?? "/", registry.origin);
      const last = url.searchParams.get("last");
      const away = `${elsewhere.origin}${url.pathname}?last=z`;
      if (url.pathname === "/v2/_catalog") {
        // Page 1 links absolutely to this origin, page 2 relatively, page 3 to another host.
        if (last === null)
          return json(
            res,
            { repositories: ["a", "b"] },
            { link: `<${registry.origin}/v2/_catalog?last=b&n=2>; rel="next"` },
          );
        if (last === "b")
          return json(res, { repositories: ["c"] }, { link: '</v2/_catalog?last=c&n=2>; rel="next"' });
        return json(res, { repositories: ["d"] }, { link: `<${away}>; rel="next"` });
      }
      if (url.pathname === "/v2/team/app/tags/list") {
        // Same port, another host name: another origin all the same.
        const sameServer = `http://localhost:${registry.port}${url.pathname}?last=v1`;
        return json(res, { name: "team/app", tags: ["v1"] }, { link: `<${sameServer}>; rel="next"` });
      }
      if (url.pathname === "/v2/team/loop/tags/list") {
        return json(res, { name: "team/loop", tags: ["x"] }, { link: `<${url.pathname}?n=1>; rel="next"` });
      }
      if (url.pathname.startsWith("/v2/team/app/referrers/")) {
        const manifests = [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: `sha256:${"1".repeat(64)}`,
            size: 10,
            artifactType: "application/x-sig",
          },
        ];
        return json(res, { schemaVersion: 2, manifests }, { link: `<${away}>; rel="next"` });
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"errors":[{"code":"NAME_UNKNOWN","message":"no such repository"}]}');
    });
  });

  after(() => {
    registry.server.close();
    elsewhere.server.close();
  });

  beforeEach(() => {
    requests.length = 0;
    elsewhereRequests = 0;
  });

  it("follows same-origin pages (absolute and relative) and stops at a Link to another host, with a warning", async () => {
    const log = recordingLogger();
    const client = new RegistryClient({ baseUrl: registry.origin, logger: log.logger, retries: 0 });
    try {
      assert.deepEqual(await client.catalog({ pageSize: 2 }), ["a", "b", "c", "d"]);
      assert.equal(requests.length, 3);
      assert.equal(elsewhereRequests, 0, "no request went to the other host");
      const warnings = log.lines.filter((line) => line.level === "warn");
      assert.equal(warnings.length, 1);
      assert.match(String(warnings[0]!.msg), /listing stopped: the next page is on another origin/);
      assert.equal(warnings[0]!.nextOrigin, elsewhere.origin);
      assert.equal(warnings[0]!.registry, registry.origin);
    } finally {
      client.close();
    }
  });

  it("tag lists: the same port under another host name is another origin", async () => {
    const log = recordingLogger();
    const client = new RegistryClient({ baseUrl: registry.origin, logger: log.logger, retries: 0 });
    try {
      assert.deepEqual(await client.listTags("team/app"), ["v1"]);
      assert.deepEqual(requests, ["/v2/team/app/tags/list"], "the localhost page was not fetched");
      assert.equal(log.lines[0]?.nextOrigin, `http://localhost:${registry.port}`);
    } finally {
      client.close();
    }
  });

  it("referrers pages follow the same rule", async () => {
    const client = new RegistryClient({ baseUrl: registry.origin, retries: 0 });
    try {
      const referrers = await client.listReferrers("team/app", `sha256:${"0".repeat(64)}`);
      assert.deepEqual(
        referrers.map((r) => r.artifactType),
        ["application/x-sig"],
      );
      assert.equal(elsewhereRequests, 0);
    } finally {
      client.close();
    }
  });

  it("a Link naming a page already read ends the listing instead of looping", async () => {
    const client = new RegistryClient({ baseUrl: registry.origin, retries: 0 });
    try {
      assert.deepEqual(await client.listTags("team/loop", { pageSize: 1 }), ["x"]);
      assert.deepEqual(requests, ["/v2/team/loop/tags/list?n=1"]);
    } finally {
      client.close();
    }
  });
});

describe("response bodies are capped", () => {
  const blob = Buffer.alloc(1000, 7);
  const blobDigest = digestOf(blob);
  let registry: Awaited<ReturnType<typeof listen>>;
  /** Answer without a Content-Length: the size only shows while reading. */
  let chunked = false;

  before(async () => {
    registry = await listen((req, res) => {
      const url = req.url ?? "";
      const send = (body: Buffer, type: string) => {
        res.writeHead(200, { "content-type": type, ...(chunked ? {} : { "content-length": body.length }) });
        if (chunked) for (let i = 0; i < body.length; i += 256) res.write(body.subarray(i, i + 256));
        res.end(chunked ? undefined : body);
      };
      if (url.startsWith("/v2/_catalog")) {
        const repositories = Array.from({ length: 200 }, (_, i) => `repo-${i}`);
        return send(Buffer.from(JSON.stringify({ repositories })), "application/json");
      }
      if (url.includes("/manifests/")) {
        const padded = { schemaVersion: 2, annotations: { pad: "x".repeat(BODY_LIMITS.manifest) } };
        return send(Buffer.from(JSON.stringify(padded)), "application/vnd.oci.image.manifest.v1+json");
      }
      if (url.includes("/blobs/")) {
        return send(url.includes("/wrong/") ? Buffer.alloc(1000, 8) : blob, "application/octet-stream");
      }
      res.writeHead(404);
      res.end();
    });
  });

  after(() => registry.server.close());

  for (const withoutLength of [false, true]) {
    const how = withoutLength ? "streamed without a length" : "with a Content-Length";

    it(`a catalog page over maxPageBytes is refused (${how}), naming the request`, async () => {
      chunked = withoutLength;
      const client = new RegistryClient({ baseUrl: registry.origin, retries: 0, maxPageBytes: 1024 });
      try {
        await assert.rejects(client.catalog(), (error: unknown) => {
          expectCode("SIZE_INVALID")(error);
          assert.match(
            String(error),
            /GET http:\/\/127\.0\.0\.1:\d+\/v2\/_catalog: 200 SIZE_INVALID: response body is larger than 1024 bytes/,
          );
          return true;
        });
        // The default cap is far above this page.
        const roomy = new RegistryClient({ baseUrl: registry.origin, retries: 0 });
        assert.equal((await roomy.catalog()).length, 200);
        roomy.close();
      } finally {
        client.close();
      }
    });

    it(`a manifest over ${BODY_LIMITS.manifest} bytes is refused (${how})`, async () => {
      chunked = withoutLength;
      const client = new RegistryClient({ baseUrl: registry.origin, retries: 0 });
      try {
        await assert.rejects(client.getManifest("team/app", "v1"), expectCode("SIZE_INVALID"));
      } finally {
        client.close();
      }
    });

    it(`a small blob is read whole up to maxBytes, and refused past it (${how})`, async () => {
      chunked = withoutLength;
      const client = new RegistryClient({ baseUrl: registry.origin, retries: 0 });
      try {
        assert.deepEqual(await client.getBlobBytes("team/app", blobDigest, { maxBytes: 1000 }), blob);
        await assert.rejects(
          client.getBlobBytes("team/app", blobDigest, { maxBytes: 999 }),
          (error: unknown) => {
            expectCode("SIZE_INVALID")(error);
            assert.match(String(error), /larger than 999 bytes/);
            return true;
          },
        );
      } finally {
        client.close();
      }
    });
  }

  it("a small blob whose bytes do not match its digest is refused", async () => {
    chunked = false;
    const client = new RegistryClient({ baseUrl: registry.origin, retries: 0 });
    try {
      await assert.rejects(
        client.getBlobBytes("team/wrong", blobDigest, { maxBytes: 4096 }),
        expectCode("DIGEST_INVALID"),
      );
    } finally {
      client.close();
    }
  });
});
