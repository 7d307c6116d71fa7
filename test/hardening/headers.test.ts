/**
 * Security headers (src/http/security-headers.ts): every response outside /v2 — probes, /api,
 * the web app, 404s, errors — carries the CSP, nosniff, frame and referrer rules; /v2 (registry
 * clients, not browsers) does not; Strict-Transport-Security only over HTTPS.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { type IncomingHttpHeaders, request } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { describe, test } from "node:test";
import { TlsSchema } from "../../src/tls/config.ts";
import { startServer } from "../api/helpers.ts";
import { send } from "./helpers.ts";

function assertBrowserHeaders(headers: IncomingHttpHeaders, where: string): void {
  const csp = String(headers["content-security-policy"]);
  assert.match(csp, /default-src 'self'/, where);
  assert.match(csp, /frame-ancestors 'none'/, where);
  assert.match(csp, /object-src 'none'/, where);
  assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/, where);
  assert.equal(headers["x-content-type-options"], "nosniff", where);
  assert.equal(headers["x-frame-options"], "DENY", where);
  assert.equal(headers["referrer-policy"], "no-referrer", where);
  assert.match(String(headers["permissions-policy"]), /camera=\(\)/, where);
}

describe("security headers", () => {
  test("on probes, /api, 404s and errors over HTTP; not on /v2; no HSTS without TLS", async () => {
    const server = await startServer({});
    try {
      for (const path of ["/healthz", "/readyz", "/api/status", "/no/such/page", "/"]) {
        const answer = await send(server.url, "GET", path);
        assertBrowserHeaders(answer.headers, path);
        assert.equal(answer.headers["strict-transport-security"], undefined, path);
      }
      const refused = await send(server.url, "POST", "/api/status", { body: "x".repeat(2 * 1024 * 1024) });
      assert.equal(refused.status, 413);
      assertBrowserHeaders(refused.headers, "413");
      for (const path of ["/v2/", "/v2/nothing/here/manifests/latest"]) {
        const answer = await send(server.url, "GET", path);
        assert.equal(answer.headers["content-security-policy"], undefined, path);
        assert.equal(answer.headers["x-frame-options"], undefined, path);
        assert.equal(answer.headers["docker-distribution-api-version"], "registry/2.0", path);
      }
    } finally {
      await server.cleanup();
    }
  });

  test("Strict-Transport-Security over HTTPS, outside /v2", async () => {
    const server = await startServer({ tls: TlsSchema.parse({ enabled: true }) });
    try {
      assert.match(server.url, /^https:\/\//);
      const ca = await readFile(join(server.dataDir, "tls", "ca.crt"), "utf8");
      const get = (path: string) =>
        new Promise<IncomingHttpHeaders>((resolve, reject) => {
          const req = httpsRequest(
            `${server.url}${path}`,
            { ca, servername: "localhost", agent: false },
            (res) => {
              res.resume();
              resolve(res.headers);
            },
          );
          req.on("error", reject);
          req.end();
        });
      const health = await get("/healthz");
      assertBrowserHeaders(health, "/healthz over https");
      assert.equal(health["strict-transport-security"], "max-age=31536000");
      assert.equal((await get("/v2/"))["strict-transport-security"], undefined);
      // Plain HTTP to the HTTPS port gets no answer.
      await assert.rejects(
        new Promise((resolve, reject) => {
          const req = request(`http://127.0.0.1:${server.port}/healthz`, { agent: false }, resolve);
          req.on("error", reject);
          req.end();
        }),
      );
    } finally {
      await server.cleanup();
    }
  });
});
