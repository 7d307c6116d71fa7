/**
 * Operations: /healthz, /readyz, /metrics, /api/status, the access log, and graceful shutdown
 * (an in-flight upload finishes while new connections are refused).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { waitFor } from "../helpers/wait.ts";
import {
  digestOf,
  http,
  metricValue,
  pushBlob,
  pushImage,
  sleep,
  startServer,
  startUpload,
  type TestServer,
  uploadedBytes,
  withQuery,
} from "./helpers.ts";

let server: TestServer;

before(async () => {
  server = await startServer({ accessLog: true });
});

after(() => server.cleanup());

async function metrics(): Promise<string> {
  const res = await http(server, "GET", "/metrics");
  assert.equal(res.status, 200);
  assert.match(res.header("content-type") ?? "", /^text\/plain/);
  return res.text();
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await metrics(), name, labels) ?? 0;
}

/**
 * The download counter is bumped when the server sees its response finish, which can be just
 * after the client has read the last byte: scrape until it reaches `expected` (a timeout reports
 * the last value seen).
 */
async function settledMetric(name: string, expected: number): Promise<number> {
  return waitFor(async () => {
    const value = await metric(name);
    assert.equal(value, expected, name);
    return value;
  });
}

describe("health", () => {
  test("/healthz answers 200 JSON", async () => {
    const res = await http(server, "GET", "/healthz");
    assert.equal(res.status, 200);
    assert.match(res.header("content-type") ?? "", /^application\/json/);
    assert.equal(res.json<{ status: string }>().status, "healthy");
  });

  test("/readyz answers healthy with storage, metadata and disk space checks", async () => {
    const res = await http(server, "GET", "/readyz");
    assert.equal(res.status, 200);
    assert.match(res.header("content-type") ?? "", /^application\/json/);
    const body = res.json<{ status: string; checks: { name: string; status: string }[] }>();
    assert.equal(body.status, "healthy");
    assert.deepEqual(
      body.checks.map((c) => c.name),
      ["storage", "metadata", "disk"],
    );
    for (const check of body.checks) assert.equal(check.status, "healthy", check.name);
  });

  test("/api/status reports counts", async () => {
    await pushImage(server, "ops/status", "v1");
    const res = await http(server, "GET", "/api/status");
    assert.equal(res.status, 200);
    const body = res.json<Record<string, unknown>>();
    assert.equal(typeof body.version, "string");
    assert.ok((body.repositories as number) >= 1);
    assert.ok((body.manifests as number) >= 1);
    assert.ok((body.blobs as number) >= 2);
    assert.ok((body.storageBytes as number) > 0);
  });

  test("/api lists the endpoints the server mounts, from its route table", async () => {
    const res = await http(server, "GET", "/api");
    assert.equal(res.status, 200);
    const { endpoints } = res.json<{ endpoints: { path: string; methods: string[] }[] }>();
    const manifests = endpoints.find((e) => e.path === "/v2/{name+}/manifests/{reference}");
    assert.deepEqual(manifests?.methods.sort(), ["DELETE", "GET", "PUT"]);
    for (const path of ["/healthz", "/api/registries", "/api/watch/registries", "/api/auth/session"]) {
      assert.ok(
        endpoints.some((e) => e.path === path),
        path,
      );
    }
    assert.ok(!endpoints.some((e) => e.path.includes("*}")), "catch-alls are not endpoints");
  });
});

describe("metrics", () => {
  test("registry_http_request_duration_seconds is a histogram by method, route and code", async () => {
    await pushImage(server, "ops/metrics", "v1");
    await http(server, "GET", "/v2/ops/metrics/manifests/v1");
    await http(server, "GET", "/v2/ops/metrics/manifests/missing");
    const text = await metrics();
    assert.match(text, /# TYPE registry_http_request_duration_seconds histogram/);
    const ok = metricValue(text, "registry_http_request_duration_seconds_count", {
      method: "GET",
      route: "manifest",
      code: "200",
    });
    assert.ok(ok !== undefined && ok >= 1, "a GET manifest 200 was counted");
    const notFound = metricValue(text, "registry_http_request_duration_seconds_count", {
      method: "GET",
      route: "manifest",
      code: "404",
    });
    assert.ok(notFound !== undefined && notFound >= 1, "a GET manifest 404 was counted");
    const inf = metricValue(text, "registry_http_request_duration_seconds_bucket", {
      method: "GET",
      route: "manifest",
      code: "200",
      le: "+Inf",
    });
    assert.equal(inf, ok);
    const put = metricValue(text, "registry_http_request_duration_seconds_count", {
      method: "PUT",
      route: "manifest",
      code: "201",
    });
    assert.ok(put !== undefined && put >= 1);
  });

  test("routes are low-cardinality names, not paths", async () => {
    const text = await metrics();
    for (const line of text.split("\n")) {
      if (!line.startsWith("registry_http_request_duration_seconds")) continue;
      assert.doesNotMatch(line, /route="\/v2\/ops/, line);
      assert.doesNotMatch(line, /sha256:/, line);
    }
  });

  test("registry_storage_blob_upload_total and the upload byte counter grow with a monolithic push", async () => {
    const uploads = await metric("registry_storage_blob_upload_total");
    const bytes = await metric("registry_storage_blob_upload_bytes_total");
    const data = randomBytes(12_345);
    await pushBlob(server, "ops/metrics", data);
    assert.equal(await metric("registry_storage_blob_upload_total"), uploads + 1);
    assert.equal(await metric("registry_storage_blob_upload_bytes_total"), bytes + data.byteLength);
  });

  test("a chunked push counts one upload and every byte once", async () => {
    const uploads = await metric("registry_storage_blob_upload_total");
    const bytes = await metric("registry_storage_blob_upload_bytes_total");
    const data = randomBytes(9000);
    const location = await startUpload(server, "ops/metrics");
    await http(server, "PATCH", location, {
      headers: { "Content-Range": "0-3999" },
      body: data.subarray(0, 4000),
    });
    await http(server, "PATCH", location, {
      headers: { "Content-Range": "4000-7999" },
      body: data.subarray(4000, 8000),
    });
    const put = await http(server, "PUT", withQuery(location, { digest: digestOf(data) }), {
      body: data.subarray(8000),
    });
    assert.equal(put.status, 201);
    assert.equal(await metric("registry_storage_blob_upload_total"), uploads + 1);
    assert.equal(await metric("registry_storage_blob_upload_bytes_total"), bytes + data.byteLength);
  });

  test("the download byte counter grows with blob GETs (whole and ranged), not with HEAD", async () => {
    const data = randomBytes(7777);
    const digest = await pushBlob(server, "ops/metrics", data);
    const before = await metric("registry_storage_blob_download_bytes_total");
    const name = "registry_storage_blob_download_bytes_total";
    assert.equal((await http(server, "GET", `/v2/ops/metrics/blobs/${digest}`)).body.byteLength, 7777);
    assert.equal(await settledMetric(name, before + 7777), before + 7777);
    await http(server, "GET", `/v2/ops/metrics/blobs/${digest}`, { headers: { Range: "bytes=0-99" } });
    assert.equal(await settledMetric(name, before + 7877), before + 7877);
    await http(server, "HEAD", `/v2/ops/metrics/blobs/${digest}`);
    // HEAD must add nothing: a GET of the metrics after a GET of something else shows it settled.
    await http(server, "GET", `/v2/ops/metrics/blobs/${digest}`, { headers: { Range: "bytes=0-0" } });
    assert.equal(await settledMetric(name, before + 7878), before + 7878);
  });

  test("registry_storage_uploads_in_progress follows sessions started, finished and cancelled", async () => {
    const base = await metric("registry_storage_uploads_in_progress");
    const a = await startUpload(server, "ops/progress");
    const b = await startUpload(server, "ops/progress");
    assert.equal(await metric("registry_storage_uploads_in_progress"), base + 2);
    assert.equal((await http(server, "DELETE", a)).status, 204);
    assert.equal(await metric("registry_storage_uploads_in_progress"), base + 1);
    const put = await http(server, "PUT", withQuery(b, { digest: digestOf("b") }), { body: "b" });
    assert.equal(put.status, 201);
    assert.equal(await metric("registry_storage_uploads_in_progress"), base);
  });
});

describe("access log", () => {
  test("one JSON line per request with request id, method, route, status", async () => {
    await pushImage(server, "ops/log", "v1");
    const requestId = `test-${randomBytes(4).toString("hex")}`;
    const res = await http(server, "GET", "/v2/ops/log/manifests/v1", {
      headers: { "X-Request-Id": requestId },
    });
    assert.equal(res.status, 200);
    assert.equal(res.header("x-request-id"), requestId);
    // The line is written when the response finishes and flushed on a later turn: wait for it.
    const line = await waitFor(
      () => {
        server.running.logger.flush();
        return server.logs
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.requestId === requestId);
      },
      { what: "an access log line with our request id" },
    );
    assert.equal(line.method, "GET");
    assert.equal(line.route, "manifest");
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, "number");
  });
});

describe("graceful shutdown", () => {
  test("close() lets an in-flight dribbled upload finish with 202 while new connections are refused", async () => {
    const target = await startServer();
    try {
      const data = randomBytes(64 * 1024);
      const location = await startUpload(target, "ops/shutdown");
      const url = new URL(target.url);
      const started = new Promise<void>((resolve) =>
        target.running.listening.server.once("request", () => resolve()),
      );
      const response = new Promise<{ status: number; range: string | undefined }>((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            method: "PATCH",
            path: location,
            agent: false,
            headers: {
              "Content-Type": "application/octet-stream",
              "Content-Range": `0-${data.byteLength - 1}`,
              "Content-Length": data.byteLength,
            },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, range: res.headers.range }));
          },
        );
        req.on("error", reject);
        (async () => {
          req.write(data.subarray(0, 1024));
          await started;
          const closed = target.stop();
          // A fresh connection is refused while the upload is still in flight.
          await assert.rejects(http(target, "GET", "/v2/"), (error: NodeJS.ErrnoException) => {
            assert.equal(error.code, "ECONNREFUSED");
            return true;
          });
          for (let offset = 1024; offset < data.byteLength; offset += 8192) {
            req.write(data.subarray(offset, offset + 8192));
            await sleep(5);
          }
          req.end();
          await closed;
        })().catch(reject);
      });
      const result = await response;
      assert.equal(result.status, 202);
      assert.equal(result.range, `0-${data.byteLength - 1}`);

      // What the in-flight request wrote was kept: the upload completes after a restart.
      await target.restart();
      const status = await http(target, "GET", location);
      assert.equal(uploadedBytes(status), data.byteLength);
      const put = await http(target, "PUT", withQuery(location, { digest: digestOf(data) }));
      assert.equal(put.status, 201, put.text());
    } finally {
      await target.cleanup();
    }
  });
});
