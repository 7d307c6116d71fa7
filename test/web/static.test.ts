/**
 * The server side of the web catalogue (src/web/static.ts) over real HTTP: content types,
 * caching (hashed assets immutable, index.html revalidated), SPA fallback, compression, ETags,
 * and paths that try to leave the root.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { StaticSite, safeRelativePath } from "../../src/web/static.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw request (no URL normalization by the client: "/../" reaches the server as written). */
function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

let dir: string;
let root: string;
let server: Server;
let base: string;
const INDEX = `<!doctype html><html lang="en"><head><title>t</title></head><body><div id="root"></div>${"<!-- pad -->".repeat(200)}</body></html>`;
const SCRIPT = `console.log(${JSON.stringify("x".repeat(5000))});`;

async function listen(site: StaticSite): Promise<{ server: Server; base: string }> {
  const s = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    site.handle(req, res, path).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const address = s.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { server: s, base: `http://127.0.0.1:${port}` };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-web-static-"));
  root = join(dir, "web");
  await mkdir(join(root, "assets"), { recursive: true });
  await writeFile(join(root, "index.html"), INDEX);
  await writeFile(join(root, "assets", "index-abc123.js"), SCRIPT);
  await writeFile(join(root, "assets", "index-abc123.css"), "body{color:red}");
  await writeFile(join(root, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  // A file outside the root that traversal attempts aim at.
  await writeFile(join(dir, "secret.txt"), "top secret");
  ({ server, base } = await listen(new StaticSite({ root })));
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe("web static files", () => {
  it("serves index.html on / with no-cache and the security headers", async () => {
    const answer = await get(base, "/");
    assert.equal(answer.status, 200);
    assert.equal(answer.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(answer.headers["cache-control"], "no-cache");
    assert.equal(answer.headers["x-content-type-options"], "nosniff");
    assert.match(String(answer.headers["content-security-policy"]), /script-src 'self'/);
    assert.equal(answer.body.toString(), INDEX);
  });

  it("serves hashed assets as immutable with their content type", async () => {
    const js = await get(base, "/assets/index-abc123.js");
    assert.equal(js.status, 200);
    assert.equal(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(js.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.equal(js.body.toString(), SCRIPT);
    const css = await get(base, "/assets/index-abc123.css");
    assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
    const svg = await get(base, "/favicon.svg");
    assert.equal(svg.headers["content-type"], "image/svg+xml");
    assert.equal(svg.headers["cache-control"], "no-cache");
  });

  it("falls back to index.html for client-side routes, dots and encoded slashes included", async () => {
    for (const path of [
      "/r/local",
      "/r/local/team/app",
      "/r/local/team/app/-/tag/v1.2.3",
      "/r/local/my.app",
      "/r/local/team%2Fapp",
      "/storage/local?page=2",
    ]) {
      const answer = await get(base, path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers["content-type"], "text/html; charset=utf-8", path);
      assert.equal(answer.headers["cache-control"], "no-cache", path);
      assert.equal(answer.body.toString(), INDEX, path);
    }
  });

  it("answers 404, not HTML, for a missing asset or top-level static file", async () => {
    for (const path of ["/assets/index-old999.js", "/assets/x", "/favicon.ico", "/robots.txt"]) {
      const answer = await get(base, path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.headers["content-type"], "text/plain; charset=utf-8", path);
    }
  });

  it("never leaves the root", async () => {
    for (const path of [
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/assets/..%5c..%5csecret.txt",
      "/%00",
      "/%E0%A4%A",
      "/./index.html",
    ]) {
      const answer = await get(base, path);
      assert.ok(!answer.body.toString().includes("top secret"), `${path} leaked the file outside the root`);
      assert.ok([200, 400, 404].includes(answer.status), `${path}: status ${answer.status}`);
      if (answer.status === 200) assert.equal(answer.body.toString(), INDEX, path);
    }
    assert.equal(safeRelativePath("/../x"), undefined);
    assert.equal(safeRelativePath("/a/%2e%2e/x"), undefined);
    assert.equal(safeRelativePath("/a\\b"), undefined);
    assert.equal(safeRelativePath("/a%00"), undefined);
    assert.equal(safeRelativePath("/assets/x.js"), "assets/x.js");
    assert.equal(safeRelativePath("//assets//x.js"), "assets/x.js");
  });

  it("compresses text with brotli or gzip as the client accepts", async () => {
    const br = await get(base, "/assets/index-abc123.js", { "accept-encoding": "gzip, deflate, br" });
    assert.equal(br.headers["content-encoding"], "br");
    assert.equal(brotliDecompressSync(br.body).toString(), SCRIPT);
    assert.ok(br.body.length < SCRIPT.length);
    const gzip = await get(base, "/assets/index-abc123.js", { "accept-encoding": "gzip" });
    assert.equal(gzip.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gzip.body).toString(), SCRIPT);
    assert.equal(gzip.headers.vary, "Accept-Encoding");
    const plain = await get(base, "/assets/index-abc123.js");
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.equal(Number(plain.headers["content-length"]), Buffer.byteLength(SCRIPT));
  });

  it("answers 304 to a matching If-None-Match and HEAD without a body", async () => {
    const first = await get(base, "/");
    const etag = String(first.headers.etag);
    assert.match(etag, /^W\/"/);
    const again = await get(base, "/", { "if-none-match": etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const head = await get(base, "/assets/index-abc123.js", {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.headers["content-length"]), Buffer.byteLength(SCRIPT));
  });

  it("picks up a rebuilt index.html without a restart", async () => {
    const rebuilt = INDEX.replace("<title>t</title>", "<title>rebuilt</title>");
    await writeFile(join(root, "index.html"), rebuilt);
    const answer = await get(base, "/");
    assert.equal(answer.body.toString(), rebuilt);
    await writeFile(join(root, "index.html"), INDEX);
  });

  it("says how to build the app when dist/web is missing", async () => {
    const empty = await listen(new StaticSite({ root: join(dir, "missing") }));
    try {
      const answer = await get(empty.base, "/r/local");
      assert.equal(answer.status, 503);
      assert.match(answer.body.toString(), /npm run build:web/);
    } finally {
      await new Promise<void>((resolve) => empty.server.close(() => resolve()));
    }
  });
});
