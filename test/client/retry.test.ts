/**
 * Retries against a stand-in registry on loopback that answers from a script: 503s, 429 with
 * Retry-After, connection resets. Asserts attempt counts and what the client waited for (through
 * onRetry), never wall-clock times.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, beforeEach, describe, it } from "node:test";
import { isRegistryClientError, type RegistryClientError } from "../../src/client/errors.ts";
import { RegistryClient, type RegistryClientOptions } from "../../src/client/registry-client.ts";
import {
  backoffDelay,
  isRetryableNetworkError,
  parseRetryAfter,
  type RetryInfo,
  rateLimitFrom,
} from "../../src/client/retry.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { MediaType } from "../../src/oci/media-types.ts";

type Step = "ok" | "reset" | "hang" | { status: number; headers?: Record<string, string> };

let server: Server;
let baseUrl: string;
let script: Step[] = [];
let seen: string[] = [];
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: digestOf(Buffer.from("{}")), size: 2 },
    layers: [],
  }),
);
const okHeaders = {
  "content-type": MediaType.OciManifest,
  "docker-content-digest": digestOf(manifest),
  "ratelimit-limit": "100;w=21600",
  "ratelimit-remaining": "76;w=21600",
};

before(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    const step = script.shift() ?? "ok";
    if (step === "reset") {
      req.socket.destroy();
      return;
    }
    if (step === "hang") return; // never answers; the client's idle timeout ends it
    if (step === "ok") {
      const status = req.method === "POST" ? 202 : req.method === "PUT" ? 201 : 200;
      res.writeHead(status, { ...okHeaders, location: "/v2/app/blobs/uploads/1" });
      res.end(req.method === "GET" ? manifest : undefined);
      return;
    }
    res.writeHead(step.status, { "content-type": "application/json", ...step.headers });
    res.end(JSON.stringify({ errors: [{ code: "UNAVAILABLE", message: `status ${step.status}` }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  script = [];
  seen = [];
});

function client(options: Partial<RegistryClientOptions> = {}): {
  client: RegistryClient;
  retries: RetryInfo[];
} {
  const retries: RetryInfo[] = [];
  const c = new RegistryClient({
    baseUrl,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    onRetry: (info) => retries.push(info),
    ...options,
  });
  return { client: c, retries };
}

describe("retries", () => {
  it("retries 503 with backoff and succeeds", async () => {
    script = [{ status: 503 }, { status: 503 }, "ok"];
    const { client: c, retries } = client();
    try {
      const got = await c.getManifest("app", "latest");
      assert.equal(got.digest, digestOf(manifest));
      assert.equal(seen.length, 3);
      assert.deepEqual(
        retries.map((r) => [r.attempt, r.status, r.fromRetryAfter]),
        [
          [1, 503, false],
          [2, 503, false],
        ],
      );
      for (const r of retries) assert.ok(r.delayMs >= 0 && r.delayMs <= 5);
    } finally {
      c.close();
    }
  });

  it("retries connection resets (socket hang up)", async () => {
    script = ["reset", "reset", "ok"];
    const { client: c, retries } = client();
    try {
      await c.ping();
      assert.equal(seen.length, 3);
      assert.deepEqual(
        retries.map((r) => [r.status, r.errorCode]),
        [
          [undefined, "ECONNRESET"],
          [undefined, "ECONNRESET"],
        ],
      );
    } finally {
      c.close();
    }
  });

  it("retries a request that timed out (ETIMEDOUT)", async () => {
    script = ["hang", "ok"];
    const { client: c, retries } = client({ timeoutMs: 100 });
    try {
      await c.headManifest("app", "latest");
      assert.equal(seen.length, 2);
      assert.deepEqual(
        retries.map((r) => r.errorCode),
        ["ETIMEDOUT"],
      );
    } finally {
      c.close();
    }
  });

  it("honours Retry-After on 429 instead of its own backoff", async () => {
    // A backoff this long would stall the test: finishing at all shows Retry-After: 0 was used.
    script = [{ status: 429, headers: { "retry-after": "0" } }, "ok"];
    const { client: c, retries } = client({ retryBaseDelayMs: 60_000, retryMaxDelayMs: 60_000 });
    try {
      await c.headManifest("app", "latest");
      assert.equal(seen.length, 2);
      assert.deepEqual(
        retries.map((r) => [r.status, r.delayMs, r.fromRetryAfter]),
        [[429, 0, true]],
      );
    } finally {
      c.close();
    }
  });

  it("gives up at once when Retry-After exceeds the max delay, surfacing it and the rate limit", async () => {
    script = [
      {
        status: 429,
        headers: {
          "retry-after": "120",
          "ratelimit-limit": "100;w=21600",
          "ratelimit-remaining": "0;w=21600",
        },
      },
    ];
    const { client: c, retries } = client({ retryMaxDelayMs: 5000 });
    try {
      await assert.rejects(c.getManifest("app", "latest"), (error: unknown) => {
        assert.ok(isRegistryClientError(error));
        const e = error as RegistryClientError;
        assert.equal(e.status, 429);
        assert.equal(e.retryAfterMs, 120_000);
        assert.equal(e.attempts, 1);
        assert.deepEqual(e.rateLimit, {
          limit: 100,
          remaining: 0,
          windowSeconds: 21600,
          resetSeconds: undefined,
        });
        return true;
      });
      assert.equal(seen.length, 1);
      assert.equal(retries.length, 0);
      // Honoured also when short enough: a 503 with Retry-After waits exactly that.
      script = [{ status: 503, headers: { "retry-after": "0" } }, "ok"];
      await c.ping();
      assert.deepEqual(
        retries.map((r) => [r.status, r.delayMs, r.fromRetryAfter]),
        [[503, 0, true]],
      );
    } finally {
      c.close();
    }
  });

  it("bounds attempts: retries + 1 requests, then the last error", async () => {
    script = Array.from({ length: 10 }, () => ({ status: 502 }));
    const { client: c, retries } = client({ retries: 2 });
    try {
      await assert.rejects(c.getManifest("app", "latest"), (error: unknown) => {
        assert.equal((error as RegistryClientError).status, 502);
        assert.equal((error as RegistryClientError).attempts, 3);
        return true;
      });
      assert.equal(seen.length, 3);
      assert.deepEqual(
        retries.map((r) => r.attempt),
        [1, 2],
      );
    } finally {
      c.close();
    }
  });

  it("defaults to 3 retries; retries: 0 disables them", async () => {
    script = Array.from({ length: 10 }, () => ({ status: 503 }));
    const { client: c } = client();
    await assert.rejects(c.ping());
    assert.equal(seen.length, 4);
    c.close();
    seen = [];
    const { client: none } = client({ retries: 0 });
    await assert.rejects(none.ping());
    assert.equal(seen.length, 1);
    none.close();
  });

  it("does not retry 4xx other than 429", async () => {
    script = [{ status: 404 }, "ok"];
    const { client: c } = client();
    try {
      await assert.rejects(c.getManifest("app", "latest"));
      assert.equal(seen.length, 1);
    } finally {
      c.close();
    }
  });

  it("retries a manifest PUT, not a POST nor a streamed blob PUT", async () => {
    const { client: c } = client();
    try {
      script = [{ status: 503 }, "ok"];
      await c.putManifest("app", "latest", manifest, MediaType.OciManifest);
      assert.deepEqual(seen, ["PUT /v2/app/manifests/latest", "PUT /v2/app/manifests/latest"]);

      seen = [];
      script = [{ status: 503 }, "ok"];
      await assert.rejects(c.startUpload("app"), (e: unknown) => (e as RegistryClientError).status === 503);
      assert.equal(seen.length, 1);

      seen = [];
      script = [{ status: 503 }, "ok"];
      const body = Buffer.from("layer");
      await assert.rejects(
        c.putUpload("app", `${baseUrl}/v2/app/blobs/uploads/1`, digestOf(body), body.length, () =>
          Readable.from([body]),
        ),
        (e: unknown) => (e as RegistryClientError).status === 503,
      );
      assert.equal(seen.length, 1);
    } finally {
      c.close();
    }
  });

  it("retries a refused connection and reports ECONNREFUSED", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { client: c, retries } = client({ baseUrl: `http://127.0.0.1:${port}`, retries: 2 });
    try {
      await assert.rejects(
        c.ping(),
        (error: unknown) => (error as NodeJS.ErrnoException).code === "ECONNREFUSED",
      );
      assert.deepEqual(
        retries.map((r) => r.errorCode),
        ["ECONNREFUSED", "ECONNREFUSED"],
      );
    } finally {
      c.close();
    }
  });

  it("surfaces rate-limit headers on responses and on the client", async () => {
    const { client: c } = client();
    try {
      const got = await c.getManifest("app", "latest");
      const expected = { limit: 100, remaining: 76, windowSeconds: 21600, resetSeconds: undefined };
      assert.deepEqual(got.rateLimit, expected);
      assert.deepEqual(c.rateLimit, expected);
      assert.deepEqual((await c.headManifest("app", "latest"))?.rateLimit, expected);
    } finally {
      c.close();
    }
  });
});

describe("retry helpers", () => {
  it("parses Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("5", now), 5000);
    assert.equal(parseRetryAfter(" 0 ", now), 0);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon-ish", now), undefined);
    assert.equal(parseRetryAfter("-3", now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  it("backs off exponentially with full jitter, capped", () => {
    assert.equal(
      backoffDelay(1, 100, 10_000, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(1, 100, 10_000, () => 0.5),
      50,
    );
    assert.equal(
      backoffDelay(3, 100, 10_000, () => 0.5),
      200,
    );
    assert.equal(
      backoffDelay(20, 100, 10_000, () => 0.5),
      5000,
    );
  });

  it("classifies network errors", () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    assert.ok(isRetryableNetworkError(reset));
    assert.ok(isRetryableNetworkError(new Error("socket hang up")));
    assert.ok(!isRetryableNetworkError(new Error("certificate has expired")));
  });

  it("reads the RateLimit headers in both spellings", () => {
    assert.deepEqual(
      rateLimitFrom({ "ratelimit-limit": "60", "ratelimit-remaining": "59", "ratelimit-reset": "30" }),
      {
        limit: 60,
        remaining: 59,
        windowSeconds: undefined,
        resetSeconds: 30,
      },
    );
    assert.equal(rateLimitFrom({}), undefined);
  });
});
