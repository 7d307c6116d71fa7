/**
 * Secrets never reach the logs (src/util/redact.ts through src/util/logger.ts): secret-named
 * fields at any depth, passwords in URLs, secret query parameters, Basic/Bearer credentials in
 * messages, error messages and stacks — while the rest of each line stays as it was. Then the
 * real server's log after requests that carry credentials and a token in the query.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JsonLogger, type Logger } from "../../src/util/logger.ts";
import { REDACTED, redactString } from "../../src/util/redact.ts";
import { startServer } from "../api/helpers.ts";
import { basic, fixedUsers, send } from "./helpers.ts";

function capture(): { logger: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const logger = new JsonLogger({ level: "debug", sink: { write: (chunk: string) => chunks.push(chunk) } });
  return {
    logger,
    lines: () => {
      logger.flush();
      return chunks.join("").split("\n").filter(Boolean);
    },
  };
}

const SECRETS = [
  "hunter2",
  "s3cr3t-pass",
  "dXNlcjpodW50ZXIy",
  "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
  "tok-123456",
  "AKIAxyz-signature",
  "cookie-value-1",
];

describe("log redaction", () => {
  test("secret fields, URL passwords, query tokens and auth headers are masked; the rest is kept", () => {
    const { logger, lines } = capture();
    logger.info("pulling https://robot:hunter2@registry.example.com/v2/app/manifests/v1", {
      user: "alice",
      path: "/v2/app/manifests/v1",
      headers: { Authorization: "Basic dXNlcjpodW50ZXIy", cookie: "session=cookie-value-1", accept: "*/*" },
      password: "s3cr3t-pass",
      url: "https://auth.example.com/token?service=reestr&access_token=tok-123456&scope=repository:app:pull",
      nested: {
        deeper: [{ token: "tok-123456" }, "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"],
      },
      s3: "https://bucket.s3.amazonaws.com/blob?X-Amz-Signature=AKIAxyz-signature&X-Amz-Date=20260101",
    });
    logger.error("upstream failed", {
      err: new Error("401 from https://ci:s3cr3t-pass@ghcr.io with Authorization: Bearer tok-123456"),
    });
    const text = lines().join("\n");
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} leaked:\n${text}`);
    const [first, second] = lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(first!.user, "alice");
    assert.equal(first!.path, "/v2/app/manifests/v1");
    assert.equal(first!.msg, `pulling https://robot:${REDACTED}@registry.example.com/v2/app/manifests/v1`);
    assert.deepEqual(first!.headers, { Authorization: REDACTED, cookie: REDACTED, accept: "*/*" });
    assert.equal(first!.password, REDACTED);
    assert.equal(
      first!.url,
      `https://auth.example.com/token?service=reestr&access_token=${REDACTED}&scope=repository:app:pull`,
    );
    assert.match(String(first!.s3), /X-Amz-Date=20260101/);
    const err = second!.err as { message: string; stack: string };
    assert.match(
      err.message,
      /^401 from https:\/\/ci:\[REDACTED\]@ghcr\.io with Authorization: Bearer \[REDACTED\]$/,
    );
    assert.ok(!err.stack.includes("s3cr3t-pass"));
  });

  test("ordinary text is untouched", () => {
    for (const text of [
      "sha256:0123456789abcdef",
      "/v2/team/app/blobs/uploads/?digest=sha256:abc",
      "user@example.com pushed",
      "a=b&c=d",
      "basic auth enabled",
    ]) {
      assert.equal(redactString(text), text);
    }
  });

  test("the server's log holds no credential a client sent", async () => {
    const { logger, lines } = capture();
    const server = await startServer({
      logger,
      accessLog: true,
      auth: { authenticator: fixedUsers({ alice: "hunter2" }) },
    });
    try {
      await send(server.url, "GET", "/v2/", { headers: basic("alice", "hunter2") });
      await send(server.url, "GET", "/v2/", { headers: basic("alice", "s3cr3t-pass") });
      await send(server.url, "GET", "/v2/?access_token=tok-123456", {
        headers: { Authorization: "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl" },
      });
    } finally {
      await server.cleanup();
    }
    const text = lines().join("\n");
    assert.match(text, /"msg":"request"/, "the access log was written");
    assert.match(text, /"user":"alice"/);
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} leaked`);
  });
});
