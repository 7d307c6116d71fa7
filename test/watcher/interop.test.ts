/**
 * The scan engine (and `reestr scan`) against real registries and real wire behaviour (issue 3 §4):
 *  - Debian's docker-registry (CNCF Distribution 2.8.2) with htpasswd basic auth (bcrypt entries
 *    from apache2-utils' `htpasswd -Bbn`): right credentials succeed, wrong ones fail saying so;
 *  - the bearer-token flow of Docker's token spec, through a small test token server in front of
 *    an in-process Reestr (Reestr's own token service lands with the security issue);
 *  - Link pagination over 1,000+ tags (a proxy gives Reestr a default page size, as Docker Hub has);
 *  - retries through a loopback proxy injecting 503s, 429 with Retry-After and connection resets.
 * Everything listens on 127.0.0.1, random ports.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { makeSmallImage, type SmallImage } from "../../bench/oci.ts";
import { runScan } from "../../src/cli/scan.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { forEachLimit } from "../../src/util/concurrency.ts";
import { ScanEngine } from "../../src/watcher/engine.ts";
import { parseRegistrySpec, type RegistrySpecInput } from "../../src/watcher/spec.ts";
import { startServer, type TestServer } from "../api/helpers.ts";
import { htpasswdEntry, startDistribution } from "../helpers/distribution.ts";
import type { ServerProcess } from "../helpers/reestr-process.ts";

const REPO = "team/app";

/** Pushes one small image's blobs, then its manifest under every tag. */
async function pushTags(client: RegistryClient, repo: string, tags: string[], image?: SmallImage) {
  const img = image ?? makeSmallImage(repo, 1, 512);
  for (const blob of [img.config, ...img.layers]) await client.pushBlob(repo, blob, blob.data);
  await forEachLimit(tags, 16, async (tag) => {
    await client.putManifest(repo, tag, img.manifest, img.mediaType);
  });
  return img;
}

function spec(url: string, extra: Partial<RegistrySpecInput> = {}) {
  return parseRegistrySpec({ url, repository: REPO, ...extra });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Forwards a request to `upstream` as is (method, path, headers minus host/authorization, body). */
function forward(upstream: string, req: IncomingMessage, res: ServerResponse, path = req.url ?? "/"): void {
  const target = new URL(upstream);
  const headers = { ...req.headers };
  delete headers.host;
  delete headers.authorization;
  const out = request(
    { hostname: target.hostname, port: target.port, method: req.method, path, headers, agent: false },
    (up) => {
      const responseHeaders = { ...up.headers };
      // Keep Link and Location relative to us: Reestr writes paths, not absolute URLs.
      res.writeHead(up.statusCode ?? 502, responseHeaders);
      up.pipe(res);
    },
  );
  out.on("error", () => res.destroy());
  req.pipe(out);
}

/** A shell-less stdout/stderr for runScan. */
function sink() {
  let text = "";
  return {
    write(chunk: string) {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}

describe("Distribution 2.8.2 with htpasswd basic auth", () => {
  let registry: ServerProcess;
  let image: SmallImage;

  before(async () => {
    registry = await startDistribution({ auth: { htpasswd: htpasswdEntry("watcher", "s3cret pass") } });
    const client = new RegistryClient({
      baseUrl: registry.url,
      username: "watcher",
      password: "s3cret pass",
    });
    try {
      image = await pushTags(client, REPO, ["1.0.0", "1.1.0", "latest"]);
    } finally {
      client.close();
    }
  });
  after(async () => {
    await registry?.cleanup();
  });

  test("right credentials: Success with digests, sizes and platforms", async () => {
    const { status, stats } = await new ScanEngine().run(
      spec(registry.url, { credentials: { username: "watcher", password: "s3cret pass" } }),
    );
    assert.equal(status.lastScanStatus, "Success", status.message);
    assert.deepEqual(status.images.map((i) => i.tag).sort(), ["1.0.0", "1.1.0", "latest"]);
    const size = image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
    for (const entry of status.images) {
      assert.equal(entry.digest, image.manifestDigest);
      assert.equal(entry.size, size);
      assert.deepEqual(
        entry.platforms.map((p) => `${p.os}/${p.architecture}`),
        ["linux/amd64"],
      );
    }
    assert.equal(stats.changed, 3);
  });

  test("wrong credentials: Failed, saying authentication failed", async () => {
    const { status } = await new ScanEngine().run(
      spec(registry.url, { credentials: { username: "watcher", password: "wrong" } }),
    );
    assert.equal(status.lastScanStatus, "Failed");
    assert.match(status.message ?? "", /authentication failed/);
  });

  test("no credentials: Failed, saying authentication failed", async () => {
    const { status } = await new ScanEngine().run(spec(registry.url));
    assert.equal(status.lastScanStatus, "Failed");
    assert.match(status.message ?? "", /authentication failed/);
  });

  test("reestr scan with --username/--password-env, semver sort and limit", async () => {
    const stdout = sink();
    const stderr = sink();
    const code = await runScan(
      [
        `${registry.url}/${REPO}`,
        "--username",
        "watcher",
        "--password-env",
        "SCAN_PW",
        "--sort",
        "semver",
        "--limit",
        "1",
      ],
      { env: { SCAN_PW: "s3cret pass" }, stdout, stderr },
    );
    assert.equal(code, 0, stderr.text);
    const lines = stdout.text.trimEnd().split("\n");
    assert.match(lines[0]!, /^TAG\s+DIGEST\s+SIZE\s+PLATFORMS\s+CREATED\s+VULNS C\/H\/M\/L$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /^1\.1\.0\s+sha256:[0-9a-f]{12}\s+\S+ \S+\s+linux\/amd64\s/);

    const failed = sink();
    const failedErr = sink();
    const code2 = await runScan(
      [`${registry.url}/${REPO}`, "--username", "watcher", "--password-env", "SCAN_PW", "--json"],
      { env: { SCAN_PW: "nope" }, stdout: failed, stderr: failedErr },
    );
    assert.equal(code2, 1);
    const status = JSON.parse(failed.text) as { lastScanStatus: string; message: string };
    assert.equal(status.lastScanStatus, "Failed");
    assert.match(status.message, /authentication failed/);
  });
});

describe("bearer tokens (Docker token spec) in front of Reestr", () => {
  let reestr: TestServer;
  let front: Server;
  let url: string;
  const SERVICE = "reestr-test-registry";
  const tokens = new Map<string, string>();
  const counts = { tokenRequests: 0, deniedTokenRequests: 0, challenged: 0, proxied: 0 };
  const scopesAsked: string[] = [];

  before(async () => {
    reestr = await startServer();
    const client = new RegistryClient({ baseUrl: reestr.url });
    try {
      await pushTags(client, REPO, ["v1", "v2", "v3", "v4"]);
    } finally {
      client.close();
    }
    front = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x");
      if (path.pathname === "/token") {
        counts.tokenRequests++;
        const expected = `Basic ${Buffer.from("robot:t0ken-pass").toString("base64")}`;
        if (req.headers.authorization !== expected) {
          counts.deniedTokenRequests++;
          res.writeHead(401, { "content-type": "application/json" });
          res.end(
            JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "invalid username or password" }] }),
          );
          return;
        }
        assert.equal(path.searchParams.get("service"), SERVICE);
        const scope = path.searchParams.get("scope") ?? "";
        scopesAsked.push(scope);
        const token = `tok-${counts.tokenRequests}`;
        tokens.set(token, scope);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
        return;
      }
      const name = /^\/v2\/(.+?)\/(?:tags|manifests|blobs)\//.exec(path.pathname)?.[1];
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const granted = bearer === undefined ? undefined : tokens.get(bearer);
      const allowed =
        granted !== undefined &&
        (name === undefined ||
          granted.split(" ").some((s) => /^repository:(.+):(.+)$/.exec(s)?.[1] === name));
      if (!allowed) {
        counts.challenged++;
        const scope = name ? `,scope="repository:${name}:pull"` : "";
        res.writeHead(401, {
          "content-type": "application/json",
          "www-authenticate": `Bearer realm="${url}/token",service="${SERVICE}"${scope}`,
        });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
        req.resume();
        return;
      }
      counts.proxied++;
      forward(reestr.url, req, res);
    });
    url = await listen(front);
  });
  after(async () => {
    if (front) await close(front);
    await reestr?.cleanup();
  });

  test("a scan gets one token for the repository's pull scope and reuses it", async () => {
    counts.tokenRequests = 0;
    counts.proxied = 0;
    scopesAsked.length = 0;
    const { status } = await new ScanEngine().run(
      spec(url, {
        credentials: { username: "robot", password: "t0ken-pass" },
        scanConfig: { concurrency: 2 },
      }),
    );
    assert.equal(status.lastScanStatus, "Success", status.message);
    assert.deepEqual(status.images.map((i) => i.tag).sort(), ["v1", "v2", "v3", "v4"]);
    // tags list + a HEAD per tag + the shared image's manifest and config once: all through one token.
    assert.ok(counts.proxied >= 1 + 4 + 2, `proxied ${counts.proxied}`);
    assert.equal(counts.tokenRequests, 1, `token requests: ${scopesAsked.join(" | ")}`);
    assert.deepEqual(scopesAsked, [`repository:${REPO}:pull`]);
  });

  test("credentials the token server refuses: Failed, saying authentication failed", async () => {
    const { status } = await new ScanEngine().run(
      spec(url, { credentials: { username: "robot", password: "wrong" } }),
    );
    assert.equal(status.lastScanStatus, "Failed");
    assert.match(status.message ?? "", /authentication failed/);
  });
});

describe("Link pagination over 1,000+ tags", () => {
  let reestr: TestServer;
  let front: Server;
  let url: string;
  const TAG_COUNT = 1050;
  const PAGE = 100;
  const counts = { tagPages: 0, requests: 0, byMethod: new Map<string, number>() };

  before(async () => {
    reestr = await startServer();
    const client = new RegistryClient({ baseUrl: reestr.url });
    try {
      await pushTags(
        client,
        REPO,
        Array.from({ length: TAG_COUNT }, (_, i) => `t${String(i).padStart(4, "0")}`),
      );
    } finally {
      client.close();
    }
    // A registry with a default page size: the first tags/list without `n` gets n=100; Reestr's
    // Link then carries n and last, and the client must follow it.
    front = createServer((req, res) => {
      counts.requests++;
      const key = `${req.method} ${/\/tags\/list/.test(req.url ?? "") ? "tags" : /\/manifests\//.test(req.url ?? "") ? "manifest" : "blob"}`;
      counts.byMethod.set(key, (counts.byMethod.get(key) ?? 0) + 1);
      let path = req.url ?? "/";
      if (/\/tags\/list(\?|$)/.test(path)) {
        counts.tagPages++;
        if (!/[?&]n=/.test(path)) path += `${path.includes("?") ? "&" : "?"}n=${PAGE}`;
      }
      forward(reestr.url, req, res, path);
    });
    url = await listen(front);
  });
  after(async () => {
    if (front) await close(front);
    await reestr?.cleanup();
  });

  test("every page is followed; the rescan costs one HEAD per tag plus the pages", async () => {
    const engine = new ScanEngine();
    const s = spec(url, { scanConfig: { concurrency: 16 } });
    const first = await engine.run(s);
    assert.equal(first.status.lastScanStatus, "Success", first.status.message);
    assert.equal(first.status.images.length, TAG_COUNT);
    assert.equal(new Set(first.status.images.map((i) => i.tag)).size, TAG_COUNT);
    const pages = Math.ceil(TAG_COUNT / PAGE);
    assert.equal(counts.tagPages, pages);

    counts.tagPages = 0;
    counts.requests = 0;
    counts.byMethod.clear();
    const rescan = await engine.run(s, first.status);
    assert.equal(rescan.status.lastScanStatus, "Success", rescan.status.message);
    assert.equal(rescan.stats.changed, 0);
    assert.equal(rescan.status.images.length, TAG_COUNT);
    assert.equal(counts.tagPages, pages);
    assert.equal(counts.byMethod.get("HEAD manifest"), TAG_COUNT);
    assert.equal(counts.requests, TAG_COUNT + pages);
  });
});

describe("retries through a fault-injecting proxy in front of Reestr", () => {
  let reestr: TestServer;
  let front: Server;
  let url: string;
  const TAGS = ["a1", "a2", "a3", "a4", "a5", "a6"];
  const seen = new Map<string, number>();
  const injected = { "503": 0, "429": 0, reset: 0 };
  const retryAfterWaits: number[] = [];
  const last429 = new Map<string, number>();
  let fresh = 0;

  before(async () => {
    reestr = await startServer();
    const client = new RegistryClient({ baseUrl: reestr.url });
    try {
      // One image per tag, so every request path is asked for by one tag only and a second
      // request for a path is that request's retry.
      for (const tag of TAGS) await pushTags(client, REPO, [tag], makeSmallImage(tag, 1, 256));
    } finally {
      client.close();
    }
    // Each request's first attempt may be faulted (in turn: 503, reset, 429 with Retry-After: 1
    // for the first two 429s, else 503); its retry always goes through.
    front = createServer((req, res) => {
      const key = `${req.method} ${req.url}`;
      const attempt = (seen.get(key) ?? 0) + 1;
      seen.set(key, attempt);
      const when429 = last429.get(key);
      if (when429 !== undefined) {
        retryAfterWaits.push(Date.now() - when429);
        last429.delete(key);
      }
      if (attempt === 1) {
        const fault = fresh++ % 3;
        if (fault === 0) {
          injected["503"]++;
          res.writeHead(503, { "content-type": "application/json" });
          res.end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
          req.resume();
          return;
        }
        if (fault === 1) {
          injected.reset++;
          req.socket.resetAndDestroy();
          return;
        }
        if (injected["429"] < 2) {
          injected["429"]++;
          last429.set(key, Date.now());
          res.writeHead(429, { "content-type": "application/json", "retry-after": "1" });
          res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
          req.resume();
          return;
        }
        injected["503"]++;
        res.writeHead(503);
        res.end();
        req.resume();
        return;
      }
      forward(reestr.url, req, res);
    });
    url = await listen(front);
  });
  after(async () => {
    if (front) await close(front);
    await reestr?.cleanup();
  });

  test("the scan still succeeds and the proxy saw each faulted request retried", async () => {
    const { status } = await new ScanEngine().run(spec(url, { scanConfig: { concurrency: 3, retries: 3 } }));
    assert.equal(status.lastScanStatus, "Success", status.message);
    assert.deepEqual(status.images.map((i) => i.tag).sort(), TAGS);
    assert.ok(injected["503"] >= 3, `503s: ${injected["503"]}`);
    assert.ok(injected.reset >= 3, `resets: ${injected.reset}`);
    assert.equal(injected["429"], 2);
    const faulted = injected["503"] + injected["429"] + injected.reset;
    const retried = [...seen.values()].filter((n) => n >= 2).length;
    assert.equal(retried, faulted, "every faulted request was retried");
    // Retry-After: 1 was honoured (a backoff alone starts at 200 ms).
    assert.equal(retryAfterWaits.length, 2);
    for (const wait of retryAfterWaits) assert.ok(wait >= 900, `retried after ${wait} ms`);
  });

  test("retries exhausted: Failed, naming the registry and the attempts", async () => {
    const down = createServer((req, res) => {
      req.resume();
      res.writeHead(503, { "content-type": "application/json" });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}');
    });
    const downUrl = await listen(down);
    try {
      const { status } = await new ScanEngine().run(spec(downUrl, { scanConfig: { retries: 1 } }));
      assert.equal(status.lastScanStatus, "Failed");
      assert.match(status.message ?? "", new RegExp(`registry ${downUrl} failed after 2 attempts`));
    } finally {
      await close(down);
    }
  });

  test("a bare 503 (no error body, as load balancers send) is reported as the registry failing", async () => {
    const down = createServer((req, res) => {
      req.resume();
      res.writeHead(503);
      res.end();
    });
    const downUrl = await listen(down);
    try {
      const { status } = await new ScanEngine().run(spec(downUrl, { scanConfig: { retries: 1 } }));
      assert.equal(status.lastScanStatus, "Failed");
      assert.match(status.message ?? "", new RegExp(`registry ${downUrl} failed after 2 attempts`));
    } finally {
      await close(down);
    }
  });
});
