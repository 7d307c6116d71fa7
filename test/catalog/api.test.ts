/**
 * The catalogue API end to end: a real `reestr serve` in-process (startRegistryServer) holding
 * pushed images, beside a real CNCF Distribution (Debian's docker-registry) as a remote, a
 * Distribution that demands credentials we get wrong, and a closed port. The server's watcher
 * scans the remote with a stand-in scanner, so vulnerabilities and tag history are joined in.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type {
  ManifestDetail,
  RegistryStorage,
  RegistrySummary,
  RepositoryDetail,
  RepositoryPage,
  StorageOverview,
  TagPage,
} from "../../src/catalog/api-schemas.ts";
import { CatalogSectionSchema } from "../../src/catalog/registries-config.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import {
  digestOf,
  http,
  metricValue,
  OCI_CONFIG,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
  startServer,
  type TestServer,
} from "../api/helpers.ts";
import { htpasswdEntry, startDistribution } from "../helpers/distribution.ts";
import { freePort, type ServerProcess } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";
import { finding, InMemoryScanner } from "../watcher/in-memory-scanner.ts";
import { api, assertApiError, pushRemoteImage, waitForProbes } from "./helpers.ts";

/** Every image scanned has the same findings, listed out of order on purpose (the API sorts by severity, then id). */
function standInScanner(): InMemoryScanner {
  return new InMemoryScanner({
    name: "stand-in",
    vulnerabilities: () => [
      finding("CVE-2024-0003", "MEDIUM", "zlib"),
      finding("CVE-2024-0002", "HIGH", "openssl"),
      finding("CVE-2024-0001", "CRITICAL", "musl"),
      finding("CVE-2024-0001", "HIGH", "busybox"),
      finding("GHSA-xxxx-yyyy-zzzz", "MEDIUM", "busybox", { fixed: null, url: null }),
      finding("CVE-2023-9999", "MEDIUM", "zlib"),
    ],
  });
}

const LOCKED_PASSWORD = `wrong-${randomBytes(6).toString("hex")}`;
const COSIGN = "application/vnd.dev.cosign.artifact.sig.v1+json";
const README_TEXT = "# other\n\nRead me **first**.\n";
const SPDX = "application/spdx+json";

describe("catalogue API", () => {
  let server: TestServer;
  let dist: ServerProcess;
  let locked: ServerProcess;
  let closedPort: number;
  let base: string;
  const pushed: Record<string, { digest: string }> = {};
  const start = Date.now();

  before(async () => {
    [dist, locked] = await Promise.all([
      startDistribution({ logLevel: "error", disableAccessLog: true }),
      startDistribution({
        logLevel: "error",
        disableAccessLog: true,
        auth: { htpasswd: htpasswdEntry("bob", "right") },
      }),
    ]);
    closedPort = await freePort();
    const shared = randomBytes(4096);
    pushed.alpine = await pushRemoteImage(dist.url, "library/alpine", "3.19", { layer: shared });
    pushed.alpineLatest = await pushRemoteImage(dist.url, "library/alpine", "latest", {
      layer: shared,
      created: "2025-01-01T00:00:00Z",
    });
    pushed.cli = await pushRemoteImage(dist.url, "tools/cli", "1.0");
    process.env.REESTR_REGISTRY_LOCKED_USERNAME = "bob";
    process.env.REESTR_REGISTRY_LOCKED_PASSWORD = LOCKED_PASSWORD;
    server = await startServer({
      catalog: CatalogSectionSchema.parse({
        probeTimeout: "3s",
        registries: [
          {
            id: "dist",
            displayName: "Distribution",
            description: "CNCF Distribution 2.8",
            baseUrl: dist.url,
          },
          { id: "locked", baseUrl: locked.url, auth: { type: "basic" } },
          { id: "down", baseUrl: `http://127.0.0.1:${closedPort}`, timeout: "2s" },
        ],
      }),
      watch: parseWatchSection({
        registries: [
          {
            name: "alpine",
            url: dist.url,
            repository: "library/alpine",
            scanInterval: 3600,
            vulnerabilityScanning: { enabled: true },
          },
        ],
      }),
      watchScanner: standInScanner(),
      watchInitialDelay: () => 0,
    });
    base = server.url;
    // Local content: an image with a README annotation, an index, a signature and an SBOM referrer.
    const v1 = await pushImage(server, "team/app", "v1", { layers: [randomBytes(3000)] });
    pushed.v1 = v1;
    pushed.latest = await pushImage(server, "team/app", "latest", {
      annotations: { "org.opencontainers.image.description": "# team/app\nThe app." },
    });
    pushed.multi = await pushIndex(server, "team/app", "multi", [
      { ...v1.descriptor, platform: { os: "linux", architecture: "amd64" } },
    ]);
    const empty = await pushBlob(server, "team/app", "{}");
    const layer = await pushBlob(server, "team/app", "signature-bytes");
    for (const artifactType of [COSIGN, SPDX]) {
      const referrer = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType,
          config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 },
          layers: [{ mediaType: "application/octet-stream", digest: layer, size: 15 }],
          subject: v1.descriptor,
        }),
      );
      await pushManifest(server, "team/app", digestOf(referrer), referrer, OCI_MANIFEST);
    }
    const other = await pushImage(server, "other", "1.0", { layers: [randomBytes(100)] });
    // A README artifact referring to other:1.0 (its one layer is the markdown).
    const markdown = await pushBlob(server, "other", README_TEXT);
    const readmeEmpty = await pushBlob(server, "other", "{}");
    const readme = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.reestr.readme.v1+markdown",
        config: { mediaType: "application/vnd.oci.empty.v1+json", digest: readmeEmpty, size: 2 },
        layers: [{ mediaType: "text/markdown", digest: markdown, size: Buffer.byteLength(README_TEXT) }],
        subject: other.descriptor,
      }),
    );
    await pushManifest(server, "other", digestOf(readme), readme, OCI_MANIFEST);
    for (const name of ["ns/r1", "ns/r2", "ns/r3"])
      await pushImage(server, name, "t", { layers: [randomBytes(10)] });
    await waitForProbes(base);
  });

  after(async () => {
    delete process.env.REESTR_REGISTRY_LOCKED_USERNAME;
    delete process.env.REESTR_REGISTRY_LOCKED_PASSWORD;
    await server?.cleanup();
    await dist?.stop();
    await locked?.stop();
  });

  test("GET /api/registries: local, a healthy remote, one refusing our credentials and one unreachable", async () => {
    const res = await api<{ registries: RegistrySummary[] }>(base, "/api/registries");
    assert.equal(res.status, 200);
    const byId = Object.fromEntries(res.body.registries.map((r) => [r.id, r]));
    assert.deepEqual(Object.keys(byId).sort(), ["dist", "down", "local", "locked"]);
    const local = byId.local!;
    assert.equal(local.local, true);
    assert.equal(local.status.state, "ok");
    assert.equal(local.status.authMode, "none");
    assert.deepEqual(local.status.capabilities, { catalog: true, referrers: true, delete: true });
    assert.equal(local.counts.repositories, 5);
    assert.ok(local.storageBytes! > 3000);
    const remote = byId.dist!;
    assert.equal(remote.local, false);
    assert.equal(remote.displayName, "Distribution");
    assert.equal(remote.description, "CNCF Distribution 2.8");
    assert.equal(remote.status.state, "ok", remote.status.message ?? "");
    assert.equal(remote.status.authMode, "none");
    assert.equal(remote.status.capabilities.catalog, true);
    assert.equal(remote.status.capabilities.delete, false);
    assert.ok(remote.status.lastSync);
    assert.equal(byId.locked!.status.state, "auth_failed");
    assert.equal(byId.locked!.status.authMode, "basic");
    assert.ok(byId.locked!.status.hint);
    assert.equal(byId.down!.status.state, "unreachable");
    assert.match(byId.down!.status.message ?? "", /ECONNREFUSED|connect/i);
    assert.match(byId.down!.status.hint ?? "", /baseUrl/);
    assert.ok(!res.text.includes(LOCKED_PASSWORD), "no credential reaches the browser");
  });

  test("GET /api/registries/{id}; unknown id → 404", async () => {
    const one = await api<RegistrySummary>(base, "/api/registries/dist");
    assert.equal(one.status, 200);
    assert.equal(one.body.id, "dist");
    assert.equal(one.body.baseUrl, dist.url);
    assertApiError(await api(base, "/api/registries/nope"), 404, "NOT_FOUND");
  });

  test("local repositories: search, namespace, filters, sort and pages on the server", async () => {
    const all = await api<RepositoryPage>(base, "/api/registries/local/repositories");
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.items.map((r) => r.name),
      ["ns/r1", "ns/r2", "ns/r3", "other", "team/app"],
    );
    assert.equal(all.body.total, 5);
    assert.equal(all.body.pageSize, 50);
    const app = all.body.items.find((r) => r.name === "team/app")!;
    assert.equal(app.namespace, "team");
    assert.equal(app.tagCount, 3);
    assert.equal(app.signed, true, "a cosign signature refers to v1");
    assert.ok(app.sizeBytes! > 3000);
    assert.ok(app.updatedAt && Date.parse(app.updatedAt) >= start && Date.parse(app.updatedAt) <= Date.now());
    assert.equal(all.body.items.find((r) => r.name === "other")!.namespace, null);

    const page2 = await api<RepositoryPage>(base, "/api/registries/local/repositories?pageSize=2&page=2");
    assert.deepEqual(
      page2.body.items.map((r) => r.name),
      ["ns/r3", "other"],
    );
    assert.equal(page2.body.total, 5);
    const beyond = await api<RepositoryPage>(base, "/api/registries/local/repositories?pageSize=2&page=9");
    assert.deepEqual(beyond.body.items, []);

    const search = await api<RepositoryPage>(base, "/api/registries/local/repositories?q=APP");
    assert.deepEqual(
      search.body.items.map((r) => r.name),
      ["team/app"],
    );
    const ns = await api<RepositoryPage>(base, "/api/registries/local/repositories?namespace=ns&order=desc");
    assert.deepEqual(
      ns.body.items.map((r) => r.name),
      ["ns/r3", "ns/r2", "ns/r1"],
    );
    const bySize = await api<RepositoryPage>(base, "/api/registries/local/repositories?sort=size&order=desc");
    const sizes = bySize.body.items.map((r) => r.sizeBytes!);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => b - a),
    );
    assert.equal(bySize.body.items[0]!.name, "team/app");
    const signed = await api<RepositoryPage>(base, "/api/registries/local/repositories?signed=true");
    assert.deepEqual(
      signed.body.items.map((r) => r.name),
      ["team/app"],
    );
    const unsigned = await api<RepositoryPage>(base, "/api/registries/local/repositories?signed=false");
    assert.equal(unsigned.body.total, 4);
    const recent = await api<RepositoryPage>(
      base,
      "/api/registries/local/repositories?updatedWithin=1d&sort=updated&order=desc",
    );
    assert.equal(recent.body.total, 5);
  });

  test("a push to the local registry shows at once (its cache is keyed by the content version)", async () => {
    const before = await api<RepositoryPage>(base, "/api/registries/local/repositories?q=instant");
    assert.equal(before.body.total, 0);
    const counts = (await api<RegistrySummary>(base, "/api/registries/local")).body.counts;
    await pushImage(server, "instant/app", "v1");
    const after = await api<RepositoryPage>(base, "/api/registries/local/repositories?q=instant");
    assert.deepEqual(
      after.body.items.map((r) => [r.name, r.tagCount]),
      [["instant/app", 1]],
    );
    const now = (await api<RegistrySummary>(base, "/api/registries/local")).body.counts;
    assert.equal(now.repositories, counts.repositories! + 1);
    // Moving a tag to a manifest the repository already holds is seen at once too.
    const second = await pushImage(server, "instant/app", "v2");
    await pushManifest(server, "instant/app", "v1", second.bytes, OCI_MANIFEST);
    const tags = await api<TagPage>(base, "/api/registries/local/repositories/instant%2Fapp/tags");
    assert.deepEqual(
      tags.body.items.map((t) => [t.tag, t.digest]),
      [
        ["v1", second.digest],
        ["v2", second.digest],
      ],
    );
    const manifest = await api<ManifestDetail>(
      base,
      "/api/registries/local/repositories/instant%2Fapp/manifests/v1",
    );
    assert.equal(manifest.body.digest, second.digest);
  });

  test("bad query parameters are 400 naming the parameter", async () => {
    assert.match(
      assertApiError(await api(base, "/api/registries/local/repositories?pageSize=501"), 400, "BAD_REQUEST"),
      /pageSize/,
    );
    assert.match(
      assertApiError(await api(base, "/api/registries/local/repositories?page=0"), 400, "BAD_REQUEST"),
      /page/,
    );
    assert.match(
      assertApiError(await api(base, "/api/registries/local/repositories?sort=stars"), 400, "BAD_REQUEST"),
      /sort/,
    );
    assert.match(
      assertApiError(
        await api(base, "/api/registries/local/repositories?updatedWithin=soon"),
        400,
        "BAD_REQUEST",
      ),
      /updatedWithin/,
    );
    assert.match(
      assertApiError(await api(base, "/api/registries/local/repositories?signed=maybe"), 400, "BAD_REQUEST"),
      /signed/,
    );
    assert.match(
      assertApiError(
        await api(base, "/api/registries/local/repositories/team%2Fapp/tags?pageSize=10001"),
        400,
        "BAD_REQUEST",
      ),
      /pageSize/,
    );
    assert.match(
      assertApiError(await api(base, "/api/registries/local/repositories/UPPER/tags"), 400, "BAD_REQUEST"),
      /name/,
    );
    assert.match(
      assertApiError(
        await api(base, "/api/registries/local/repositories/team%2Fapp/manifests/bad:ref:x"),
        400,
        "BAD_REQUEST",
      ),
      /reference/,
    );
    assertApiError(await api(base, "/api/registries/local/repositories/%E0%A4%A"), 400, "BAD_REQUEST");
  });

  test("remote repositories come from the catalog, with tag counts for the page", async () => {
    const res = await api<RepositoryPage>(base, "/api/registries/dist/repositories");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.body.items.map((r) => [r.name, r.tagCount]),
      [
        ["library/alpine", 2],
        ["tools/cli", 1],
      ],
    );
    const search = await api<RepositoryPage>(base, "/api/registries/dist/repositories?q=cli");
    assert.deepEqual(
      search.body.items.map((r) => r.name),
      ["tools/cli"],
    );
  });

  test("a registry that failed its probe answers with its own error, never a hang", async () => {
    assert.match(
      assertApiError(await api(base, "/api/registries/down/repositories"), 504, "UPSTREAM_UNREACHABLE"),
      /down/,
    );
    assertApiError(await api(base, "/api/registries/locked/repositories"), 502, "UPSTREAM_AUTH_FAILED");
    const locked = await api(base, "/api/registries/locked/repositories/x/tags");
    assert.ok(!locked.text.includes(LOCKED_PASSWORD));
  });

  test("repository detail: README from an annotation or a README artifact, pull commands; unknown → 404", async () => {
    const res = await api<RepositoryDetail>(base, "/api/registries/local/repositories/team%2Fapp");
    assert.equal(res.status, 200);
    assert.equal(res.body.name, "team/app");
    assert.equal(res.body.tagCount, 3);
    assert.equal(res.body.readme, "# team/app\nThe app.");
    const host = new URL(base).host;
    assert.equal(res.body.pullReference, `${host}/team/app`);
    assert.equal(res.body.pullCommands.docker, `docker pull ${host}/team/app:latest`);
    assert.equal(res.body.pullCommands.ctr, `ctr images pull --plain-http ${host}/team/app:latest`);
    assertApiError(await api(base, "/api/registries/local/repositories/no%2Fsuch"), 404, "NOT_FOUND");
    const artifact = await api<RepositoryDetail>(base, "/api/registries/local/repositories/other");
    assert.equal(artifact.body.readme, README_TEXT, "README artifact among the referrers");
    const remote = await api<RepositoryDetail>(base, "/api/registries/dist/repositories/library%2Falpine");
    assert.equal(remote.status, 200, remote.text);
    assert.equal(remote.body.tagCount, 2);
    assert.equal(
      remote.body.pullCommands.podman,
      `podman pull --tls-verify=false ${dist.hostPort}/library/alpine:latest`,
    );
    assertApiError(await api(base, "/api/registries/dist/repositories/no%2Fsuch"), 404, "NOT_FOUND");
  });

  test("local tags: digest, size, platforms, index platforms, sort by size, search and pages", async () => {
    const res = await api<TagPage>(base, "/api/registries/local/repositories/team%2Fapp/tags");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.body.items.map((t) => t.tag),
      ["latest", "multi", "v1"],
    );
    const v1 = res.body.items.find((t) => t.tag === "v1")!;
    assert.equal(v1.digest, pushed.v1!.digest);
    assert.equal(v1.mediaType, OCI_MANIFEST);
    assert.deepEqual(v1.platforms, [{ os: "linux", architecture: "amd64", variant: null }]);
    assert.ok(v1.sizeBytes! > 3000);
    assert.equal(v1.vulnerabilities, null);
    const multi = res.body.items.find((t) => t.tag === "multi")!;
    assert.equal(multi.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(multi.platforms, [{ os: "linux", architecture: "amd64", variant: null }]);
    // The index holds v1 alone: the same blobs, the same size.
    assert.equal(multi.sizeBytes, v1.sizeBytes);
    const bySize = await api<TagPage>(
      base,
      "/api/registries/local/repositories/team%2Fapp/tags?sort=size&order=desc",
    );
    assert.deepEqual(bySize.body.items.map((t) => t.tag).slice(0, 2), ["multi", "v1"], "ties by name");
    const search = await api<TagPage>(
      base,
      "/api/registries/local/repositories/team%2Fapp/tags?q=V&pageSize=1",
    );
    assert.deepEqual(
      search.body.items.map((t) => t.tag),
      ["v1"],
    );
    assert.equal(search.body.total, 1);
    const paged = await api<TagPage>(
      base,
      "/api/registries/local/repositories/team%2Fapp/tags?pageSize=2&page=2&order=desc",
    );
    assert.deepEqual(
      paged.body.items.map((t) => t.tag),
      ["latest"],
    );
    assertApiError(await api(base, "/api/registries/local/repositories/no%2Fsuch/tags"), 404, "NOT_FOUND");
  });

  test("one definition of size: an index's distinct blobs, as the repository counts them", async () => {
    // Two platforms sharing one layer, each with a layer of its own and a config.
    const sharedLayer = randomBytes(700);
    const amd64 = await pushImage(server, "sized/app", undefined, {
      layers: [sharedLayer, randomBytes(300)],
    });
    const arm64 = await pushImage(server, "sized/app", undefined, {
      layers: [sharedLayer, randomBytes(200)],
    });
    await pushIndex(server, "sized/app", "1.0", [
      { ...amd64.descriptor, platform: { os: "linux", architecture: "amd64" } },
      { ...arm64.descriptor, platform: { os: "linux", architecture: "arm64" } },
    ]);
    const blobs = new Map<string, number>();
    for (const image of [amd64, arm64])
      for (const blob of [image.config, ...image.layers]) blobs.set(blob.digest, blob.size);
    const distinct = [...blobs.values()].reduce((a, b) => a + b, 0);
    assert.equal(blobs.size, 5, "two configs, the shared layer once, two own layers");

    const repo = await api<RepositoryDetail>(base, "/api/registries/local/repositories/sized%2Fapp");
    const tags = await api<TagPage>(base, "/api/registries/local/repositories/sized%2Fapp/tags");
    const detail = await api<ManifestDetail>(
      base,
      "/api/registries/local/repositories/sized%2Fapp/manifests/1.0",
    );
    assert.equal(repo.body.sizeBytes, distinct);
    assert.equal(tags.body.items[0]!.sizeBytes, distinct, "the tag row counts what the repository counts");
    assert.equal(detail.body.sizeBytes, distinct);
    const own = (image: typeof amd64) => image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
    assert.deepEqual(
      detail.body.platforms.map((p) => p.sizeBytes),
      [own(amd64), own(arm64)],
    );
    const single = await api<ManifestDetail>(
      base,
      `/api/registries/local/repositories/sized%2Fapp/manifests/${amd64.digest}`,
    );
    assert.equal(single.body.sizeBytes, own(amd64), "an image: its config and layers, not the manifest");
  });

  test("repository without a README: the image config's description label, for an image and an index", async () => {
    const label = "A tool that does one thing.\nSee <https://example.com>.";
    const config = (architecture: string, labels: Record<string, string>) =>
      Buffer.from(
        JSON.stringify({
          architecture,
          os: "linux",
          rootfs: { type: "layers", diff_ids: [] },
          config: { Labels: labels },
        }),
      );
    await pushImage(server, "labelled/tool", "latest", {
      config: config("amd64", { "org.opencontainers.image.description": label }),
    });
    const image = await api<RepositoryDetail>(base, "/api/registries/local/repositories/labelled%2Ftool");
    assert.equal(image.status, 200, image.text);
    assert.equal(image.body.readme, null);
    assert.equal(image.body.description, label);

    const amd64 = await pushImage(server, "labelled/multi", undefined, {
      config: config("amd64", { "org.opencontainers.image.description": "multi-arch tool" }),
    });
    await pushIndex(server, "labelled/multi", "2.0", [
      { ...amd64.descriptor, platform: { os: "linux", architecture: "amd64" } },
    ]);
    const index = await api<RepositoryDetail>(base, "/api/registries/local/repositories/labelled%2Fmulti");
    assert.equal(index.body.description, "multi-arch tool");
    // A README wins: the label is not read then.
    const withReadme = await api<RepositoryDetail>(base, "/api/registries/local/repositories/team%2Fapp");
    assert.equal(withReadme.body.readme, "# team/app\nThe app.");
    assert.equal(withReadme.body.description, null);
    // No README and no label.
    const bare = await api<RepositoryDetail>(base, "/api/registries/local/repositories/ns%2Fr1");
    assert.deepEqual([bare.body.readme, bare.body.description], [null, null]);
  });

  test("remote tags with created time, platform with variant, and the watcher's vulnerabilities", async () => {
    // The watcher scans library/alpine at start; wait for its first result.
    const tags = await waitFor(
      async () => {
        const res = await api<TagPage>(
          base,
          "/api/registries/dist/repositories/library%2Falpine/tags?sort=created&order=desc",
        );
        assert.equal(res.status, 200, res.text);
        if (res.body.items.every((t) => t.vulnerabilities !== null)) return res.body;
        // Tag lists are cached; a resync makes the next read fresh.
        await api(base, "/api/registries/dist/resync", "POST");
        await waitForProbes(base);
        return undefined;
      },
      { what: "the watcher's vulnerabilities on every alpine tag", intervalMs: 100 },
    );
    assert.deepEqual(
      tags.items.map((t) => t.tag),
      ["latest", "3.19"],
    );
    const latest = tags.items[0]!;
    assert.equal(latest.digest, pushed.alpineLatest!.digest);
    assert.equal(latest.created, "2025-01-01T00:00:00.000Z");
    assert.deepEqual(latest.platforms, [{ os: "linux", architecture: "arm64", variant: "v8" }]);
    assert.ok(latest.sizeBytes! > 4096);
    assert.deepEqual(latest.vulnerabilities, { critical: 1, high: 2, medium: 3, low: 0, unknown: 0 });
  });

  test("manifest detail: config, layers, referrers by kind; index platforms; remote history from the watcher", async () => {
    const res = await api<ManifestDetail>(base, "/api/registries/local/repositories/team%2Fapp/manifests/v1");
    assert.equal(res.status, 200, res.text);
    const m = res.body;
    assert.equal(m.digest, pushed.v1!.digest);
    assert.equal(m.config?.os, "linux");
    assert.equal(m.config?.mediaType, OCI_CONFIG);
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0]!.mediaType, OCI_LAYER);
    assert.equal(m.layers[0]!.size, 3000);
    assert.deepEqual(m.platforms, []);
    assert.deepEqual(m.referrers.map((r) => r.kind).sort(), ["sbom", "signature"]);
    assert.equal(m.referrers.find((r) => r.kind === "signature")!.artifactType, COSIGN);
    assert.equal(m.pullCommands.docker, `docker pull ${new URL(base).host}/team/app:v1`);
    const byDigest = await api<ManifestDetail>(
      base,
      `/api/registries/local/repositories/team%2Fapp/manifests/${pushed.v1!.digest}`,
    );
    assert.equal(byDigest.body.digest, pushed.v1!.digest);
    assert.match(byDigest.body.pullCommands.docker, /@sha256:/);
    const index = await api<ManifestDetail>(
      base,
      "/api/registries/local/repositories/team%2Fapp/manifests/multi",
    );
    assert.equal(index.body.config, null);
    assert.deepEqual(
      index.body.platforms.map((p) => [p.os, p.architecture, p.digest]),
      [["linux", "amd64", pushed.v1!.digest]],
    );
    assert.ok(index.body.platforms[0]!.sizeBytes! > 3000);
    assertApiError(
      await api(base, "/api/registries/local/repositories/team%2Fapp/manifests/nope"),
      404,
      "NOT_FOUND",
    );

    const remote = await api<ManifestDetail>(
      base,
      "/api/registries/dist/repositories/library%2Falpine/manifests/3.19",
    );
    assert.equal(remote.status, 200, remote.text);
    assert.equal(remote.body.digest, pushed.alpine!.digest);
    assert.deepEqual(remote.body.config?.env.slice(0, 1), ["PATH=/usr/bin"]);
    assert.deepEqual(remote.body.config?.cmd, ["/bin/sh"]);
    assert.deepEqual(remote.body.config?.labels, { team: "a" });
    assert.deepEqual(remote.body.config?.history, [
      { created: "2024-05-01T10:00:00.000Z", createdBy: "ADD rootfs /", emptyLayer: false },
    ]);
    assert.deepEqual(remote.body.vulnerabilities?.summary, {
      critical: 1,
      high: 2,
      medium: 3,
      low: 0,
      unknown: 0,
    });
    assert.equal(remote.body.vulnerabilities?.scanner, "stand-in 1.0");
    assert.deepEqual(
      remote.body.vulnerabilities?.items.map((v) => [v.severity, v.id, v.package]),
      [
        ["critical", "CVE-2024-0001", "musl"],
        ["high", "CVE-2024-0001", "busybox"],
        ["high", "CVE-2024-0002", "openssl"],
        ["medium", "CVE-2023-9999", "zlib"],
        ["medium", "CVE-2024-0003", "zlib"],
        ["medium", "GHSA-xxxx-yyyy-zzzz", "busybox"],
      ],
      "the watcher's findings, most severe first, then by id",
    );
    assert.deepEqual(remote.body.vulnerabilities?.items[0], {
      id: "CVE-2024-0001",
      severity: "critical",
      package: "musl",
      installed: "1.0.0",
      fixed: "1.0.1",
      title: "CVE-2024-0001 in musl",
      url: "https://avd.aquasec.com/nvd/cve-2024-0001",
    });
    assert.deepEqual(
      {
        fixed: remote.body.vulnerabilities?.items[5]?.fixed,
        url: remote.body.vulnerabilities?.items[5]?.url,
      },
      { fixed: null, url: null },
    );
    // The same image by digest carries the same list.
    const remoteByDigest = await api<ManifestDetail>(
      base,
      `/api/registries/dist/repositories/library%2Falpine/manifests/${pushed.alpine!.digest}`,
    );
    assert.equal(remoteByDigest.body.vulnerabilities?.items.length, 6);
    assert.deepEqual(
      remote.body.history.map((h) => [h.tag, h.from, h.to]),
      [["3.19", null, pushed.alpine!.digest]],
      "the watcher saw the tag appear",
    );
    assertApiError(
      await api(base, "/api/registries/dist/repositories/library%2Falpine/manifests/9.9"),
      404,
      "NOT_FOUND",
    );
  });

  test("storage: per repository largest first, each blob once; totals per registry", async () => {
    const local = await api<RegistryStorage>(base, "/api/registries/local/storage");
    assert.equal(local.status, 200);
    const status = await api<{ storageBytes: number; repositories: number }>(base, "/api/status");
    assert.equal(local.body.totalBytes, status.body.storageBytes);
    const bytes = local.body.repositories.map((r) => r.bytes);
    assert.deepEqual(
      bytes,
      [...bytes].sort((a, b) => b - a),
    );
    assert.equal(local.body.repositories[0]!.name, "team/app");
    assert.equal(local.body.total, status.body.repositories);
    const paged = await api<RegistryStorage>(base, "/api/registries/local/storage?pageSize=1&page=2");
    assert.equal(paged.body.repositories.length, 1);
    assert.equal(paged.body.repositories[0]!.name, local.body.repositories[1]!.name);

    const remote = await api<RegistryStorage>(base, "/api/registries/dist/storage");
    assert.equal(remote.status, 200, remote.text);
    const alpine = remote.body.repositories.find((r) => r.name === "library/alpine")!;
    const cli = remote.body.repositories.find((r) => r.name === "tools/cli")!;
    assert.equal(alpine.tagCount, 2);
    // Two configs and one shared 4 KiB layer: the layer counts once.
    assert.ok(alpine.bytes >= 4096 && alpine.bytes < 4096 * 2, `alpine ${alpine.bytes}`);
    assert.equal(remote.body.totalBytes, alpine.bytes + cli.bytes);

    const overview = await api<StorageOverview>(base, "/api/storage");
    assert.equal(overview.status, 200);
    const byId = Object.fromEntries(overview.body.registries.map((r) => [r.id, r.totalBytes]));
    assert.equal(byId.local, local.body.totalBytes);
    assert.equal(byId.dist, remote.body.totalBytes);
    assert.equal(byId.down, null);
    assert.equal(overview.body.totalBytes, local.body.totalBytes + remote.body.totalBytes);
    assertApiError(await api(base, "/api/registries/down/storage"), 504, "UPSTREAM_UNREACHABLE");
  });

  test("resync drops the registry's cache: a repository pushed since shows up", async () => {
    const before = await api<RepositoryPage>(base, "/api/registries/dist/repositories");
    assert.ok(!before.body.items.some((r) => r.name === "fresh/one"));
    await pushRemoteImage(dist.url, "fresh/one", "v1");
    const resync = await api<{ id: string; resyncedAt: string }>(base, "/api/registries/dist/resync", "POST");
    assert.equal(resync.status, 202);
    assert.equal(resync.body.id, "dist");
    assert.ok(!Number.isNaN(Date.parse(resync.body.resyncedAt)));
    const afterResync = await api<RepositoryPage>(base, "/api/registries/dist/repositories");
    assert.ok(
      afterResync.body.items.some((r) => r.name === "fresh/one"),
      afterResync.text,
    );
    assertApiError(await api(base, "/api/registries/nope/resync", "POST"), 404, "NOT_FOUND");
  });

  test("deletes: only on the local registry, through the core", async () => {
    const forbidden = await api(
      base,
      "/api/registries/dist/repositories/library%2Falpine/tags/3.19",
      "DELETE",
    );
    assert.match(assertApiError(forbidden, 403, "FORBIDDEN"), /read-only/);
    assertApiError(
      await api(
        base,
        `/api/registries/dist/repositories/library%2Falpine/manifests/${pushed.alpine!.digest}`,
        "DELETE",
      ),
      403,
      "FORBIDDEN",
    );
    assertApiError(
      await api(base, "/api/registries/local/repositories/team%2Fapp/manifests/not-a-digest", "DELETE"),
      400,
      "BAD_REQUEST",
    );
    assertApiError(
      await api(base, "/api/registries/local/repositories/team%2Fapp/tags/nope", "DELETE"),
      404,
      "NOT_FOUND",
    );

    await pushImage(server, "gone/app", "a");
    const b = await pushImage(server, "gone/app", "b");
    const deleted = await http(base, "DELETE", "/api/registries/local/repositories/gone%2Fapp/tags/a");
    assert.equal(deleted.status, 204);
    let tags = await api<TagPage>(base, "/api/registries/local/repositories/gone%2Fapp/tags");
    assert.deepEqual(
      tags.body.items.map((t) => t.tag),
      ["b"],
    );
    const byDigest = await http(
      base,
      "DELETE",
      `/api/registries/local/repositories/gone%2Fapp/manifests/${b.digest}`,
    );
    assert.equal(byDigest.status, 204);
    tags = await api<TagPage>(base, "/api/registries/local/repositories/gone%2Fapp/tags");
    assert.deepEqual(tags.body.items, []);
    assert.equal(
      (await http(base, "GET", `/v2/gone/app/manifests/${b.digest}`)).status,
      404,
      "gone from /v2 too",
    );
  });

  test("unknown paths and methods get the catalogue's error body", async () => {
    assertApiError(await api(base, "/api/registries/local/whatever"), 404, "NOT_FOUND");
    const wrong = await api(base, "/api/registries", "POST");
    assertApiError(wrong, 405, "METHOD_NOT_ALLOWED");
    assert.equal(wrong.headers.allow, "GET, HEAD");
    const openapi = await api<{ openapi: string }>(base, "/api/openapi.json");
    assert.equal(openapi.status, 200);
    assert.equal(openapi.body.openapi, "3.1.0");
  });

  test("/metrics exports the catalogue's cache counters and healthy registries", async () => {
    const text = (await http(base, "GET", "/metrics")).text();
    assert.ok((metricValue(text, "reestr_catalog_cache_hits") ?? 0) > 0, "cache hits counted");
    assert.ok((metricValue(text, "reestr_catalog_cache_misses") ?? 0) > 0);
    assert.equal(metricValue(text, "reestr_catalog_registries_ok"), 2, "local and dist");
  });

  test("credentials never appear in responses or logs", () => {
    assert.ok(!server.logs.some((line) => line.includes(LOCKED_PASSWORD)), "password in the server log");
  });
});
