/**
 * The audit log (src/registry/http/audit.ts): one JSON line per push (manifest PUT), pull (manifest GET),
 * delete (manifest, tag or blob DELETE) with user, repository, reference, digest, client address
 * and time, appended to <data>/<audit.file> and, with audit.log, the main log; HEAD, blob reads,
 * failures and 401s make no line. The file survives a restart and is appended to, not replaced.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type AuditEvent, AuditSchema } from "../../src/registry/http/audit.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { pushImage, startServer } from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";
import { basic, fixedUsers, send } from "./helpers.ts";

async function auditLines(file: string): Promise<AuditEvent[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent);
}

/** Audit lines are written asynchronously (batched per event-loop turn): wait for `count`. */
async function waitForLines(file: string, count: number): Promise<AuditEvent[]> {
  return waitFor(
    async () => {
      const lines = await auditLines(file);
      return lines.length >= count ? lines : undefined;
    },
    { what: `${count} audit lines in ${file}` },
  );
}

describe("audit log", () => {
  test("push, pull and delete lines with user, repository, reference, digest, client and time", async () => {
    const logLines: string[] = [];
    const logger = new JsonLogger({ sink: { write: (chunk: string) => logLines.push(chunk) } });
    const server = await startServer({
      logger,
      audit: AuditSchema.parse({ file: "audit/events.log", log: true }),
      auth: { authenticator: fixedUsers({ alice: "a-pass" }) },
    });
    const file = join(server.dataDir, "audit", "events.log");
    const alice = basic("alice", "a-pass");
    const start = Date.now();
    try {
      assert.equal((await stat(file)).mode & 0o777, 0o600, "created private at start");
      // The API helpers send no credentials: push as alice by hand.
      const image = await pushImageAs(server.url, alice);
      const pulled = await send(server.url, "GET", "/v2/audit/app/manifests/v1", {
        headers: { ...alice, Accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      assert.equal(pulled.status, 200);
      // Not events: HEAD, a blob read, a missing manifest, an unauthenticated try.
      await send(server.url, "HEAD", "/v2/audit/app/manifests/v1", { headers: alice });
      await send(server.url, "GET", `/v2/audit/app/blobs/${image.config}`, { headers: alice });
      await send(server.url, "GET", "/v2/audit/app/manifests/nope", { headers: alice });
      await send(server.url, "DELETE", "/v2/audit/app/manifests/v1");
      const deleted = await send(server.url, "DELETE", `/v2/audit/app/manifests/${image.digest}`, {
        headers: alice,
      });
      assert.equal(deleted.status, 202, deleted.body);

      const lines = await waitForLines(file, 3);
      assert.deepEqual(
        lines.map((line) => [line.action, line.outcome, line.reference]),
        [
          ["push", "success", "v1"],
          ["pull", "success", "v1"],
          ["delete", "success", image.digest],
        ],
      );
      for (const line of lines) {
        assert.equal(line.user, "alice");
        assert.equal(line.repository, "audit/app");
        assert.equal(line.digest, image.digest);
        assert.equal(line.client, "127.0.0.1");
        assert.ok(Date.parse(line.time) >= start && Date.parse(line.time) <= Date.now(), line.time);
        assert.match(line.requestId, /\S/);
      }
      assert.equal(lines[0]!.status, 201);
      logger.flush();
      const mirrored = logLines
        .join("")
        .split("\n")
        .filter((line) => line.includes('"msg":"audit"'));
      assert.equal(mirrored.length, 3, "audit.log: true mirrors events into the main log");

      // A restart appends to the same file.
      await server.restart();
      await send(server.url, "PUT", "/v2/audit/app/manifests/v2", {
        headers: { ...alice, "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
        body: image.bytes,
      });
      const after = await waitForLines(file, 4);
      assert.equal(after.length, 4);
      assert.deepEqual([after[3]!.action, after[3]!.reference], ["push", "v2"]);
    } finally {
      await server.cleanup();
    }
  });

  test("a push the access rules refuse is recorded as denied", async () => {
    const server = await startServer({
      audit: AuditSchema.parse({ file: "audit.log" }),
      auth: {
        authenticator: fixedUsers({ alice: "a-pass", bob: "b-pass" }),
        rules: [
          { subjects: ["user:alice"], repositories: ["**"], actions: ["push"] },
          { subjects: ["user:bob"], repositories: ["**"], actions: ["pull"] },
        ],
      },
    });
    try {
      const image = await pushImageAs(server.url, basic("alice", "a-pass"));
      const refused = await send(server.url, "PUT", "/v2/audit/app/manifests/bob", {
        headers: { ...basic("bob", "b-pass"), "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
        body: image.bytes,
      });
      assert.equal(refused.status, 403, refused.body);
      const lines = await waitForLines(join(server.dataDir, "audit.log"), 2);
      assert.deepEqual(
        lines.map((line) => [line.action, line.outcome, line.user, line.reference, line.status]),
        [
          ["push", "success", "alice", "v1", 201],
          ["push", "denied", "bob", "bob", 403],
        ],
      );
    } finally {
      await server.cleanup();
    }
  });

  test("anonymous pushes are recorded with user null; no audit section writes nothing", async () => {
    const server = await startServer({ audit: AuditSchema.parse({ file: "audit.log" }) });
    try {
      const image = await pushImage(server, "open/app", "latest");
      const lines = await waitForLines(join(server.dataDir, "audit.log"), 1);
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.user, null);
      assert.equal(lines[0]!.digest, image.digest);
    } finally {
      await server.cleanup();
    }
    const quiet = await startServer({});
    try {
      await pushImage(quiet, "open/app", "latest");
      await assert.rejects(stat(join(quiet.dataDir, "audit.log")));
    } finally {
      await quiet.cleanup();
    }
  });
});

/** Pushes a one-layer image to audit/app:v1 with the given auth headers. */
async function pushImageAs(
  url: string,
  auth: Record<string, string>,
): Promise<{ digest: string; config: string; bytes: Buffer }> {
  const sha = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;
  const config = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }),
  );
  const layer = Buffer.from("layer bytes");
  for (const blob of [config, layer]) {
    const put = await send(url, "POST", `/v2/audit/app/blobs/uploads/?digest=${sha(blob)}`, {
      headers: { ...auth, "Content-Type": "application/octet-stream" },
      body: blob,
    });
    assert.equal(put.status, 201, put.body);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha(config),
        size: config.length,
      },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(layer), size: layer.length },
      ],
    }),
  );
  const put = await send(url, "PUT", "/v2/audit/app/manifests/v1", {
    headers: { ...auth, "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
    body: manifest,
  });
  assert.equal(put.status, 201, put.body);
  return { digest: sha(manifest), config: sha(config), bytes: manifest };
}
