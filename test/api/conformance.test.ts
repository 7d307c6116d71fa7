/**
 * Behaviours the OCI distribution-spec (main) and its conformance suite ask for, and HTTP/1.1
 * basics a hostile client probes:
 *
 * - a manifest reference that is neither a tag nor a digest names nothing: 404 MANIFEST_UNKNOWN
 *   on GET, HEAD and DELETE (400 MANIFEST_INVALID on PUT);
 * - `?mount=` without `from` mounts from a repository the caller may pull (201), otherwise it
 *   is a plain upload (202), never revealing blobs of repositories the caller may not read;
 * - a final chunk out of order is 416 like a PATCH's; an unsatisfiable blob Range is 416 with
 *   a Content-Range of `*` and the size, a malformed one is ignored;
 * - `?digest-algorithm=` on a manifest push by tag and on an upload, `?tag=` on a push by
 *   digest answered with `OCI-Tag`;
 * - `storage.allowSparseManifests` accepts manifests whose content is not pushed (yet);
 * - a manifest over the limit sent in one write is answered 413 on a connection that stays
 *   usable; two Host headers are 400; `OPTIONS *` is answered 200 with `Allow`; a descriptor
 *   whose size disagrees with the stored blob is MANIFEST_INVALID.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { ConfigSchema } from "../../src/config/config.ts";
import { basic, fixedUsers } from "../hardening/helpers.ts";
import {
  assertError,
  assertHeadError,
  digestOf,
  http,
  locationPath,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  putManifest,
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

/** An image manifest over blobs already pushed to `repo` (a config and one layer of `layer`). */
async function imageManifest(repo: string, layer: Buffer, layerSize = layer.byteLength): Promise<Buffer> {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", seed: randomBytes(4) }));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: await pushBlob(server, repo, config), size: config.byteLength },
    layers: [{ mediaType: OCI_LAYER, digest: await pushBlob(server, repo, layer), size: layerSize }],
  };
  return Buffer.from(JSON.stringify(manifest));
}

describe("manifest references that are neither a tag nor a digest", () => {
  const invalid = [".INVALID_MANIFEST_NAME", "-dash-first", "x".repeat(129), "tag%20with%20space"];

  test("GET, HEAD and DELETE answer 404 MANIFEST_UNKNOWN: nothing can have such a name", async () => {
    await pushImage(server, "ref/app", "v1");
    for (const reference of invalid) {
      const path = `/v2/ref/app/manifests/${reference}`;
      assertError(await http(server, "GET", path), 404, "MANIFEST_UNKNOWN");
      assertHeadError(await http(server, "HEAD", path), 404);
      assertError(await http(server, "DELETE", path), 404, "MANIFEST_UNKNOWN");
    }
    // In a repository that does not exist, the repository is what is unknown.
    assertError(
      await http(server, "GET", "/v2/ref/none/manifests/.INVALID_MANIFEST_NAME"),
      404,
      "NAME_UNKNOWN",
    );
    assert.equal(
      (await http(server, "GET", "/v2/ref/app/manifests/v1")).status,
      200,
      "the real tag is intact",
    );
  });

  test("PUT stays 400 MANIFEST_INVALID; a malformed digest stays DIGEST_INVALID", async () => {
    const image = await pushImage(server, "ref/put", "v1");
    assertError(
      await putManifest(server, "ref/put", ".INVALID_MANIFEST_NAME", image.bytes, OCI_MANIFEST),
      400,
      "MANIFEST_INVALID",
    );
    assertError(
      await http(server, "GET", "/v2/ref/put/manifests/sha256:baddigeststring"),
      400,
      "DIGEST_INVALID",
    );
  });
});

describe("mount without from", () => {
  test("mounts a blob of another repository (201, readable in the target); unknown blob: an upload", async () => {
    const data = randomBytes(700);
    const digest = await pushBlob(server, "mount/source", data);
    const res = await http(server, "POST", `/v2/mount/target/blobs/uploads/?mount=${digest}`);
    assert.equal(res.status, 201, res.text());
    assert.equal(res.header("docker-content-digest"), digest);
    assert.equal(locationPath(res), `/v2/mount/target/blobs/${digest}`);
    const pulled = await http(server, "GET", `/v2/mount/target/blobs/${digest}`);
    assert.equal(pulled.status, 200);
    assert.ok(pulled.body.equals(data));

    const again = await http(server, "POST", `/v2/mount/target/blobs/uploads/?mount=${digest}`);
    assert.equal(again.status, 201, "a blob the target already has");

    const unknown = await http(
      server,
      "POST",
      `/v2/mount/target/blobs/uploads/?mount=${digestOf("nowhere")}`,
    );
    assert.equal(unknown.status, 202);
    assert.match(locationPath(unknown), /^\/v2\/mount\/target\/blobs\/uploads\/[0-9a-f-]+$/);
  });

  test("only from repositories the caller may pull; never revealing the others", async () => {
    const secured = await startServer({
      auth: {
        authenticator: fixedUsers({ admin: "a", bob: "b" }),
        rules: [
          { subjects: ["user:admin"], repositories: ["**"], actions: ["admin"] },
          { subjects: ["user:bob"], repositories: ["bob/*"], actions: ["push"] },
          { subjects: ["user:bob"], repositories: ["pub/*"], actions: ["pull"] },
        ],
      },
    });
    try {
      const admin = basic("admin", "a");
      const bob = basic("bob", "b");
      const data = randomBytes(500);
      const digest = digestOf(data);
      const push = (repo: string) =>
        http(secured, "POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: admin, body: data });
      assert.equal((await push("team/secret")).status, 201);

      const refused = await http(secured, "POST", `/v2/bob/app/blobs/uploads/?mount=${digest}`, {
        headers: bob,
      });
      assert.equal(refused.status, 202, "the blob is only in a repository bob may not pull");
      assert.match(locationPath(refused), /^\/v2\/bob\/app\/blobs\/uploads\//);
      assertHeadError(await http(secured, "HEAD", `/v2/bob/app/blobs/${digest}`, { headers: bob }), 404);

      assert.equal((await push("pub/open")).status, 201);
      const mounted = await http(secured, "POST", `/v2/bob/app/blobs/uploads/?mount=${digest}`, {
        headers: bob,
      });
      assert.equal(mounted.status, 201, "now also in pub/open, which bob may pull");
      const pulled = await http(secured, "GET", `/v2/bob/app/blobs/${digest}`, { headers: bob });
      assert.ok(pulled.body.equals(data));
    } finally {
      await secured.cleanup();
    }
  });
});

describe("ranges", () => {
  test("a final chunk out of order is 416 with the current Range; the upload continues", async () => {
    const data = randomBytes(3000);
    const digest = digestOf(data);
    const location = await startUpload(server, "range/put");
    const first = await http(server, "PATCH", location, {
      headers: { "Content-Range": "0-999", "Content-Type": "application/octet-stream" },
      body: data.subarray(0, 1000),
    });
    assert.equal(first.status, 202);
    const gap = await http(server, "PUT", withQuery(location, { digest }), {
      headers: { "Content-Range": "2000-2999", "Content-Type": "application/octet-stream" },
      body: data.subarray(2000),
    });
    assertError(gap, 416, "RANGE_INVALID");
    assert.equal(gap.header("range"), "0-999");
    assert.equal(uploadedBytes(await http(server, "GET", location)), 1000, "nothing appended");

    const wrongLength = await http(server, "PUT", withQuery(location, { digest }), {
      headers: { "Content-Range": "1000-2999", "Content-Type": "application/octet-stream" },
      body: data.subarray(1000, 1500),
    });
    assertError(wrongLength, 400, "SIZE_INVALID");

    const done = await http(server, "PUT", withQuery(location, { digest }), {
      headers: { "Content-Range": "1000-2999", "Content-Type": "application/octet-stream" },
      body: data.subarray(1000),
    });
    assert.equal(done.status, 201, done.text());
    assert.ok((await http(server, "GET", `/v2/range/put/blobs/${digest}`)).body.equals(data));
  });

  test("an unsatisfiable blob Range is 416 with bytes */<size>; a malformed one is ignored", async () => {
    const data = randomBytes(2048);
    const digest = await pushBlob(server, "range/get", data);
    const path = `/v2/range/get/blobs/${digest}`;
    for (const range of ["bytes=500-0", "bytes=5000-10000", "bytes=2048-"]) {
      const res = await http(server, "GET", path, { headers: { Range: range } });
      assertError(res, 416, "RANGE_INVALID");
      assert.equal(res.header("content-range"), "bytes */2048", range);
      const head = await http(server, "HEAD", path, { headers: { Range: range } });
      assertHeadError(head, 416);
    }
    for (const range of ["bytes=abc", "items=0-10", "bytes 0-10", "bytes=0-1,5-6"]) {
      const res = await http(server, "GET", path, { headers: { Range: range } });
      assert.equal(res.status, 200, range);
      assert.ok(res.body.equals(data), range);
    }
  });
});

describe("digest algorithms and tag parameters on manifest pushes", () => {
  test("a push by tag with ?digest-algorithm=sha512 is stored and answered under its sha512 digest", async () => {
    const bytes = await imageManifest("algo/app", randomBytes(300));
    const res = await http(server, "PUT", "/v2/algo/app/manifests/v1?digest-algorithm=sha512", {
      headers: { "Content-Type": OCI_MANIFEST },
      body: bytes,
    });
    assert.equal(res.status, 201, res.text());
    const digest = digestOf(bytes, "sha512");
    assert.equal(res.header("docker-content-digest"), digest);
    assert.equal(locationPath(res), `/v2/algo/app/manifests/${digest}`);
    const byTag = await http(server, "HEAD", "/v2/algo/app/manifests/v1");
    assert.equal(byTag.header("docker-content-digest"), digest);
    const byDigest = await http(server, "GET", `/v2/algo/app/manifests/${digest}`);
    assert.equal(byDigest.status, 200);
    assert.ok(byDigest.body.equals(bytes));
    const sha256 = await http(server, "GET", `/v2/algo/app/manifests/${digestOf(bytes)}`);
    assertError(sha256, 404, "MANIFEST_UNKNOWN");
  });

  test("an unsupported or contradicting digest-algorithm is DIGEST_INVALID, on manifests and uploads", async () => {
    const bytes = await imageManifest("algo/bad", randomBytes(300));
    const put = (path: string) =>
      http(server, "PUT", path, { headers: { "Content-Type": OCI_MANIFEST }, body: bytes });
    assertError(await put("/v2/algo/bad/manifests/v1?digest-algorithm=md5"), 400, "DIGEST_INVALID");
    assertError(await put("/v2/algo/bad/manifests/v1?digest-algorithm=toString"), 400, "DIGEST_INVALID");
    assertError(
      await put(`/v2/algo/bad/manifests/${digestOf(bytes)}?digest-algorithm=sha512`),
      400,
      "DIGEST_INVALID",
    );
    assertError(
      await http(server, "POST", "/v2/algo/bad/blobs/uploads/?digest-algorithm=md5"),
      400,
      "DIGEST_INVALID",
    );
    assertError(await http(server, "GET", "/v2/algo/bad/manifests/v1"), 404, "MANIFEST_UNKNOWN");
  });

  test("an upload started with ?digest-algorithm=sha512 completes under its sha512 digest", async () => {
    const data = randomBytes(4000);
    const digest = digestOf(data, "sha512");
    const start = await http(server, "POST", "/v2/algo/upload/blobs/uploads/?digest-algorithm=sha512");
    assert.equal(start.status, 202);
    const location = locationPath(start);
    for (const [from, to] of [
      [0, 2000],
      [2000, 4000],
    ] as const) {
      const res = await http(server, "PATCH", location, {
        headers: { "Content-Range": `${from}-${to - 1}`, "Content-Type": "application/octet-stream" },
        body: data.subarray(from, to),
      });
      assert.equal(res.status, 202);
    }
    const done = await http(server, "PUT", withQuery(location, { digest }));
    assert.equal(done.status, 201, done.text());
    assert.ok((await http(server, "GET", `/v2/algo/upload/blobs/${digest}`)).body.equals(data));
  });

  test("?tag= on a push by digest sets every tag and answers one OCI-Tag per tag", async () => {
    for (const algorithm of ["sha256", "sha512"] as const) {
      const repo = `tags/${algorithm}`;
      const bytes = await imageManifest(repo, randomBytes(300));
      const digest = digestOf(bytes, algorithm);
      const res = await http(
        server,
        "PUT",
        `/v2/${repo}/manifests/${digest}?tag=1.2.3&tag=1.2&tag=latest&tag=1.2`,
        {
          headers: { "Content-Type": OCI_MANIFEST },
          body: bytes,
        },
      );
      assert.equal(res.status, 201, res.text());
      assert.equal(res.header("docker-content-digest"), digest);
      // One header line per tag; node's client joins repeated lines with ", " (either form is the spec's).
      assert.deepEqual(
        res
          .header("oci-tag")
          ?.split(",")
          .map((tag) => tag.trim()),
        ["1.2.3", "1.2", "latest"],
      );
      const list = await http(server, "GET", `/v2/${repo}/tags/list`);
      assert.deepEqual(list.json<{ tags: string[] }>().tags, ["1.2", "1.2.3", "latest"]);
      for (const tag of ["1.2.3", "1.2", "latest"]) {
        const got = await http(server, "GET", `/v2/${repo}/manifests/${tag}`);
        assert.equal(got.header("docker-content-digest"), digest, tag);
      }
    }
  });

  test("?tag= needs a push by digest, valid tags, and at most 100 of them (then 414)", async () => {
    const bytes = await imageManifest("tags/bad", randomBytes(300));
    const digest = digestOf(bytes);
    const put = (path: string) =>
      http(server, "PUT", path, { headers: { "Content-Type": OCI_MANIFEST }, body: bytes });
    assertError(await put("/v2/tags/bad/manifests/v1?tag=v2"), 400, "MANIFEST_INVALID");
    assertError(await put(`/v2/tags/bad/manifests/${digest}?tag=ok&tag=.bad`), 400, "MANIFEST_INVALID");
    const many = Array.from({ length: 101 }, (_, i) => `tag=t${i}`).join("&");
    assertError(await put(`/v2/tags/bad/manifests/${digest}?${many}`), 414, "MANIFEST_INVALID");
    assertError(await http(server, "GET", "/v2/tags/bad/manifests/ok"), 404, "MANIFEST_UNKNOWN");
    const plain = await put(`/v2/tags/bad/manifests/${digest}`);
    assert.equal(plain.status, 201);
    assert.equal(plain.header("oci-tag"), undefined, "no tag parameters, no OCI-Tag");
  });
});

describe("storage.allowSparseManifests", () => {
  const missingLayer = { mediaType: OCI_LAYER, digest: digestOf("never pushed layer"), size: 18 };

  test("off by default: a manifest whose blobs are missing is MANIFEST_BLOB_UNKNOWN", async () => {
    assert.equal(ConfigSchema.parse({}).storage.allowSparseManifests, false);
    assert.equal(ConfigSchema.safeParse({ storage: { allowSparseManifests: "yes" } }).success, false);
    const config = await pushBlob(server, "sparse/off", Buffer.from("{}"));
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config, size: 2 },
      layers: [missingLayer],
    };
    assertError(
      await putManifest(server, "sparse/off", "v1", manifest, OCI_MANIFEST),
      400,
      "MANIFEST_BLOB_UNKNOWN",
    );
  });

  test("on: manifests and indexes whose content is not pushed are accepted and served", async () => {
    const sparse = await startServer({ config: { storage: { allowSparseManifests: true } } });
    try {
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: OCI_CONFIG, digest: digestOf("never pushed config"), size: 19 },
          layers: [missingLayer],
        }),
      );
      const res = await putManifest(sparse, "mirror/app", "v1", manifest, OCI_MANIFEST);
      assert.equal(res.status, 201, res.text());
      const pulled = await http(sparse, "GET", "/v2/mirror/app/manifests/v1");
      assert.equal(pulled.status, 200);
      assert.ok(pulled.body.equals(manifest));
      assertError(
        await http(sparse, "GET", `/v2/mirror/app/blobs/${missingLayer.digest}`),
        404,
        "BLOB_UNKNOWN",
      );
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: digestOf(manifest), size: manifest.byteLength },
          { mediaType: OCI_MANIFEST, digest: digestOf("a platform not mirrored"), size: 1024 },
        ],
      };
      const indexed = await putManifest(sparse, "mirror/app", "multi", index, OCI_INDEX);
      assert.equal(indexed.status, 201, indexed.text());
    } finally {
      await sparse.cleanup();
    }
  });
});

describe("descriptor sizes", () => {
  test("a layer descriptor whose size disagrees with the stored blob is MANIFEST_INVALID naming it", async () => {
    const layer = randomBytes(1024);
    const bytes = await imageManifest("size/app", layer, 1000);
    const res = await putManifest(server, "size/app", "v1", bytes, OCI_MANIFEST);
    const [error] = assertError(res, 400, "MANIFEST_INVALID");
    assert.match(error!.message, /size mismatch/);
    assert.deepEqual(error!.detail, { digest: digestOf(layer), size: 1000, stored: 1024 });
    assert.equal(
      (await putManifest(server, "size/app", "v1", await imageManifest("size/app", layer), OCI_MANIFEST))
        .status,
      201,
    );
  });
});

// ---- HTTP/1.1 on a raw connection -------------------------------------------------------

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A connection on which requests are written as raw bytes and responses read one by one. */
class RawConnection {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiting: (() => void) | undefined;
  error: Error | undefined;
  closed = false;

  constructor(port: number) {
    this.#socket = connect({ host: "127.0.0.1", port });
    this.#socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#waiting?.();
    });
    this.#socket.on("error", (error) => {
      this.error = error;
      this.#waiting?.();
    });
    this.#socket.on("close", () => {
      this.closed = true;
      this.#waiting?.();
    });
  }

  write(data: Buffer | string): void {
    this.#socket.write(data);
  }

  /** The next response (Content-Length framed); rejects when the connection fails first. */
  async response(): Promise<RawResponse> {
    for (let turns = 0; turns < 10_000; turns++) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end !== -1) {
        const [statusLine, ...lines] = this.#buffer.subarray(0, end).toString("latin1").split("\r\n");
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(":");
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers["content-length"] ?? 0);
        if (this.#buffer.byteLength >= end + 4 + length) {
          const body = this.#buffer.subarray(end + 4, end + 4 + length).toString("utf8");
          this.#buffer = this.#buffer.subarray(end + 4 + length);
          return { status: Number(statusLine!.split(" ")[1]), headers, body };
        }
      }
      if (this.error) throw this.error;
      if (this.closed) throw new Error(`connection closed after ${JSON.stringify(this.#buffer.toString())}`);
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
      this.#waiting = undefined;
    }
    throw new Error("no complete response");
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe("HTTP/1.1 edges", () => {
  test("a 5 MiB manifest in one write is answered 413 SIZE_INVALID, and the connection stays usable", async () => {
    const body = Buffer.alloc(5 * 1024 * 1024, 0x20);
    for (const framing of ["length", "chunked"] as const) {
      const connection = new RawConnection(server.port);
      try {
        const head =
          framing === "length"
            ? `Content-Length: ${body.byteLength}\r\n\r\n`
            : `Transfer-Encoding: chunked\r\n\r\n${body.byteLength.toString(16)}\r\n`;
        const tail = framing === "length" ? "" : "\r\n0\r\n\r\n";
        connection.write(
          Buffer.concat([
            Buffer.from(
              `PUT /v2/edge/app/manifests/big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${OCI_MANIFEST}\r\n${head}`,
            ),
            body,
            Buffer.from(tail),
          ]),
        );
        const refused = await connection.response();
        assert.equal(refused.status, 413, framing);
        assert.equal(JSON.parse(refused.body).errors[0].code, "SIZE_INVALID");
        connection.write("GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        const next = await connection.response();
        assert.equal(next.status, 200, `${framing}: the next request on the same connection`);
      } finally {
        connection.close();
      }
    }
  });

  test("two Host headers are 400, in the route's error envelope", async () => {
    for (const [path, envelope] of [
      ["/v2/", "errors"],
      ["/api/status", "error"],
    ] as const) {
      const connection = new RawConnection(server.port);
      try {
        connection.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
        );
        const res = await connection.response();
        assert.equal(res.status, 400, path);
        assert.ok(envelope in JSON.parse(res.body), `${path}: ${res.body}`);
        assert.match(res.body, /more than one Host/);
      } finally {
        connection.close();
      }
    }
  });

  test("OPTIONS * is 200 with Allow and no body; another method with * is 400", async () => {
    const connection = new RawConnection(server.port);
    try {
      connection.write("OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      const options = await connection.response();
      assert.equal(options.status, 200);
      assert.equal(options.headers.allow, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
      assert.equal(options.body, "");
      connection.write("GET * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      const get = await connection.response();
      assert.equal(get.status, 400);
      assert.match(get.body, /for OPTIONS only/);
    } finally {
      connection.close();
    }
  });
});
