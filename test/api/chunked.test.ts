/**
 * Chunked and streamed uploads: PATCH with Content-Range, out-of-order chunks (416), upload
 * status (GET → 204), resume after an interrupted connection, streamed PATCH without
 * Content-Range, cancel (DELETE) and upload ids that belong to another repository.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  digestOf,
  http,
  locationPath,
  sendAndCut,
  startServer,
  startUpload,
  type TestServer,
  uploadedBytes,
  withQuery,
} from "./helpers.ts";

let server: TestServer;

before(async () => {
  server = await startServer();
});

after(() => server.cleanup());

function patch(location: string, chunk: Buffer, start?: number) {
  const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
  if (start !== undefined) headers["Content-Range"] = `${start}-${start + chunk.byteLength - 1}`;
  return http(server, "PATCH", location, { headers, body: chunk });
}

async function assertBlob(repo: string, digest: string, data: Buffer): Promise<void> {
  const res = await http(server, "GET", `/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET blob: ${res.status} ${res.text()}`);
  assert.ok(res.body.equals(data), "blob bytes differ");
}

describe("chunked upload", () => {
  test("PATCH chunks with Content-Range, each 202 with Location and Range; PUT ?digest= commits", async () => {
    const data = randomBytes(10_000);
    const digest = digestOf(data);
    let location = await startUpload(server, "chunked/basic");
    const chunks = [data.subarray(0, 4000), data.subarray(4000, 4001), data.subarray(4001)];
    let offset = 0;
    for (const chunk of chunks) {
      const res = await patch(location, chunk, offset);
      assert.equal(res.status, 202, res.text());
      offset += chunk.byteLength;
      assert.equal(res.header("range"), `0-${offset - 1}`);
      assert.equal(res.header("content-length"), "0");
      location = locationPath(res);
    }
    const put = await http(server, "PUT", withQuery(location, { digest }));
    assert.equal(put.status, 201, put.text());
    assert.equal(locationPath(put), `/v2/chunked/basic/blobs/${digest}`);
    assert.equal(put.header("docker-content-digest"), digest);
    await assertBlob("chunked/basic", digest, data);
  });

  test("the last chunk may come with the closing PUT", async () => {
    const data = randomBytes(3000);
    const digest = digestOf(data);
    const location = await startUpload(server, "chunked/basic");
    const first = await patch(location, data.subarray(0, 1000), 0);
    assert.equal(first.status, 202);
    const put = await http(server, "PUT", withQuery(locationPath(first), { digest }), {
      headers: { "Content-Type": "application/octet-stream", "Content-Range": "1000-2999" },
      body: data.subarray(1000),
    });
    assert.equal(put.status, 201, put.text());
    await assertBlob("chunked/basic", digest, data);
  });

  test("GET on an upload → 204 with Range, Location and Docker-Upload-UUID", async () => {
    const location = await startUpload(server, "chunked/status");
    const id = location.split("/").pop()!.split("?")[0]!;
    await patch(location, randomBytes(1234), 0);
    const res = await http(server, "GET", location);
    assert.equal(res.status, 204);
    assert.equal(res.header("range"), "0-1233");
    assert.equal(res.header("docker-upload-uuid"), id);
    assert.ok(locationPath(res).includes(id));
    assert.equal(res.body.byteLength, 0);
  });

  test("out-of-order chunk → 416 with the current Range; the session then continues", async () => {
    const data = randomBytes(3000);
    const digest = digestOf(data);
    const location = await startUpload(server, "chunked/order");
    assert.equal((await patch(location, data.subarray(0, 1000), 0)).status, 202);

    const gap = await patch(location, data.subarray(2000), 2000);
    assert.equal(gap.status, 416, gap.text());
    assert.equal(gap.header("range"), "0-999");
    assert.ok(gap.header("location"), "a 416 names the upload again");

    const replay = await patch(location, data.subarray(0, 1000), 0);
    assert.equal(replay.status, 416, "a chunk that overlaps what is stored is refused");
    assert.equal(replay.header("range"), "0-999");

    const overlap = await patch(location, data.subarray(500, 1500), 500);
    assert.equal(overlap.status, 416);

    const status = await http(server, "GET", location);
    assert.equal(uploadedBytes(status), 1000, "refused chunks add nothing");

    assert.equal((await patch(location, data.subarray(1000), 1000)).status, 202);
    const put = await http(server, "PUT", withQuery(location, { digest }));
    assert.equal(put.status, 201, put.text());
    await assertBlob("chunked/order", digest, data);
  });

  test("first chunk that does not start at 0 → 416", async () => {
    const location = await startUpload(server, "chunked/order");
    const res = await patch(location, randomBytes(10), 5);
    assert.equal(res.status, 416);
  });

  test("chunked upload verifies a sha512 digest", async () => {
    const data = randomBytes(5000);
    const digest = digestOf(data, "sha512");
    const location = await startUpload(server, "chunked/sha512");
    await patch(location, data.subarray(0, 2500), 0);
    await patch(location, data.subarray(2500), 2500);
    const put = await http(server, "PUT", withQuery(location, { digest }));
    assert.equal(put.status, 201, put.text());
    assert.equal(put.header("docker-content-digest"), digest);
    await assertBlob("chunked/sha512", digest, data);
  });

  test("chunked upload whose content does not match the digest is DIGEST_INVALID", async () => {
    const data = randomBytes(2000);
    const location = await startUpload(server, "chunked/bad");
    await patch(location, data, 0);
    const put = await http(server, "PUT", withQuery(location, { digest: digestOf("different") }));
    assertError(put, 400, "DIGEST_INVALID");
    const head = await http(server, "HEAD", `/v2/chunked/bad/blobs/${digestOf(data)}`);
    assert.equal(head.status, 404);
  });
});

describe("concurrency", () => {
  test("two concurrent PATCHes of the same range: one is appended, the other refused with 416", async () => {
    const data = randomBytes(256 * 1024);
    const location = await startUpload(server, "chunked/race");
    const results = await Promise.all([patch(location, data, 0), patch(location, data, 0)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [202, 416]);
    assert.equal(uploadedBytes(await http(server, "GET", location)), data.byteLength);
    const put = await http(server, "PUT", withQuery(location, { digest: digestOf(data) }));
    assert.equal(put.status, 201, put.text());
  });

  test("parallel chunked uploads of the same blob into one repository both succeed", async () => {
    const data = randomBytes(100_000);
    const digest = digestOf(data);
    const upload = async () => {
      const location = await startUpload(server, "chunked/parallel");
      assert.equal((await patch(location, data.subarray(0, 50_000), 0)).status, 202);
      assert.equal((await patch(location, data.subarray(50_000), 50_000)).status, 202);
      return http(server, "PUT", withQuery(location, { digest }));
    };
    const results = await Promise.all([upload(), upload(), upload()]);
    for (const res of results) assert.equal(res.status, 201, res.text());
    await assertBlob("chunked/parallel", digest, data);
  });
});

describe("resume after an interrupted connection", () => {
  test("PATCH cut off mid-body; GET status; continue from the reported offset; PUT verifies the digest", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 4321);
    const digest = digestOf(data);
    const location = await startUpload(server, "chunked/resume");
    // A first chunk that arrives whole.
    const first = await patch(location, data.subarray(0, 65536), 0);
    assert.equal(first.status, 202);
    // The second chunk announces the rest, but the connection dies after about 2 MiB.
    const cut = 65536 + 2 * 1024 * 1024;
    await sendAndCut(
      server,
      "PATCH",
      location,
      {
        "Content-Type": "application/octet-stream",
        "Content-Range": `65536-${data.byteLength - 1}`,
        "Content-Length": data.byteLength - 65536,
      },
      data.subarray(65536, cut),
    );
    // The client comes back: where did the upload get to?
    const status = await http(server, "GET", location);
    assert.equal(status.status, 204, status.text());
    const offset = uploadedBytes(status);
    assert.ok(offset >= 65536 && offset <= cut, `offset ${offset} is between the whole chunk and the cut`);
    // Send the rest from there.
    const rest = await patch(location, data.subarray(offset), offset);
    assert.equal(
      rest.status,
      202,
      `continuing at the reported offset ${offset}: ${rest.status} ${rest.text()}`,
    );
    assert.equal(uploadedBytes(rest), data.byteLength);
    const put = await http(server, "PUT", withQuery(locationPath(rest), { digest }));
    assert.equal(put.status, 201, put.text());
    await assertBlob("chunked/resume", digest, data);
  });

  test("a PATCH without Content-Range cut off mid-body keeps what arrived; the upload completes after a resume", async () => {
    const data = randomBytes(200_000);
    const digest = digestOf(data);
    const location = await startUpload(server, "chunked/resume");
    assert.equal((await patch(location, data.subarray(0, 1000), 0)).status, 202);
    await sendAndCut(
      server,
      "PATCH",
      location,
      { "Content-Type": "application/octet-stream", "Content-Length": 150_000 },
      data.subarray(1000, 100_000),
    );
    const status = await http(server, "GET", location);
    const offset = uploadedBytes(status);
    assert.ok(offset >= 1000 && offset <= 100_000, `offset ${offset}`);
    const rest = await patch(location, data.subarray(offset), offset);
    assert.equal(rest.status, 202, `continuing at the reported offset ${offset}: ${rest.text()}`);
    const put = await http(server, "PUT", withQuery(location, { digest }));
    assert.equal(put.status, 201, put.text());
    await assertBlob("chunked/resume", digest, data);
  });
});

describe("streamed upload", () => {
  test("PATCH without Content-Range (chunked transfer encoding) appends; PUT commits", async () => {
    const data = randomBytes(300_000);
    const digest = digestOf(data);
    const location = await startUpload(server, "chunked/stream");
    async function* stream(part: Buffer) {
      for (let i = 0; i < part.byteLength; i += 10_000) yield part.subarray(i, i + 10_000);
    }
    const first = await http(server, "PATCH", location, {
      headers: { "Content-Type": "application/octet-stream" },
      body: stream(data.subarray(0, 200_000)),
    });
    assert.equal(first.status, 202, first.text());
    assert.equal(first.header("range"), "0-199999");
    const second = await http(server, "PATCH", locationPath(first), {
      headers: { "Content-Type": "application/octet-stream" },
      body: stream(data.subarray(200_000)),
    });
    assert.equal(second.status, 202);
    assert.equal(second.header("range"), "0-299999");
    const put = await http(server, "PUT", withQuery(locationPath(second), { digest }));
    assert.equal(put.status, 201, put.text());
    await assertBlob("chunked/stream", digest, data);
  });

  test("PATCH without Content-Range but with Content-Length appends", async () => {
    const data = randomBytes(5000);
    const digest = digestOf(data);
    const location = await startUpload(server, "chunked/stream");
    assert.equal((await patch(location, data)).status, 202);
    const put = await http(server, "PUT", withQuery(location, { digest }));
    assert.equal(put.status, 201);
    await assertBlob("chunked/stream", digest, data);
  });
});

describe("cancel and unknown uploads", () => {
  test("DELETE on an upload → 204; afterwards every operation on it is BLOB_UPLOAD_UNKNOWN", async () => {
    const location = await startUpload(server, "chunked/cancel");
    await patch(location, randomBytes(100), 0);
    const del = await http(server, "DELETE", location);
    assert.equal(del.status, 204, del.text());
    assertError(await http(server, "GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await patch(location, randomBytes(10), 100), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await patch(location, randomBytes(10)), 404, "BLOB_UPLOAD_UNKNOWN");
    const put = await http(server, "PUT", withQuery(location, { digest: digestOf("x") }), { body: "x" });
    assertError(put, 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await http(server, "DELETE", location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  test("a committed upload is gone: its id is BLOB_UPLOAD_UNKNOWN", async () => {
    const data = randomBytes(10);
    const location = await startUpload(server, "chunked/cancel");
    const put = await http(server, "PUT", withQuery(location, { digest: digestOf(data) }), { body: data });
    assert.equal(put.status, 201);
    assertError(await http(server, "GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  test("an upload id of another repository is BLOB_UPLOAD_UNKNOWN, and the session is unharmed", async () => {
    const data = randomBytes(2000);
    const digest = digestOf(data);
    const location = await startUpload(server, "chunked/owner");
    await patch(location, data.subarray(0, 1000), 0);
    const foreign = location.replace("/v2/chunked/owner/", "/v2/chunked/intruder/");
    assert.notEqual(foreign, location);
    // Make the intruding repository exist, so the answer is not just NAME_UNKNOWN.
    await startUpload(server, "chunked/intruder");
    assertError(await http(server, "GET", foreign), 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await patch(foreign, data.subarray(1000), 1000), 404, "BLOB_UPLOAD_UNKNOWN");
    const put = await http(server, "PUT", withQuery(foreign, { digest }), { body: data.subarray(1000) });
    assertError(put, 404, "BLOB_UPLOAD_UNKNOWN");
    assertError(await http(server, "DELETE", foreign), 404, "BLOB_UPLOAD_UNKNOWN");
    assert.equal((await http(server, "HEAD", `/v2/chunked/intruder/blobs/${digest}`)).status, 404);

    const status = await http(server, "GET", location);
    assert.equal(uploadedBytes(status), 1000);
    assert.equal((await patch(location, data.subarray(1000), 1000)).status, 202);
    assert.equal((await http(server, "PUT", withQuery(location, { digest }))).status, 201);
    await assertBlob("chunked/owner", digest, data);
  });

  for (const id of [randomUUID(), "not-a-uuid", "..%2F..%2Fmetadata.sqlite"]) {
    test(`unknown upload id ${id} is BLOB_UPLOAD_UNKNOWN`, async () => {
      await startUpload(server, "chunked/unknown");
      const path = `/v2/chunked/unknown/blobs/uploads/${id}`;
      assertError(await http(server, "GET", path), 404, "BLOB_UPLOAD_UNKNOWN");
      assertError(await http(server, "PATCH", path, { body: "abc" }), 404, "BLOB_UPLOAD_UNKNOWN");
      assertError(await http(server, "DELETE", path), 404, "BLOB_UPLOAD_UNKNOWN");
      const put = await http(server, "PUT", withQuery(path, { digest: digestOf("abc") }), { body: "abc" });
      assertError(put, 404, "BLOB_UPLOAD_UNKNOWN");
    });
  }
});
