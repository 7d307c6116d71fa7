/** The web catalogue's URL scheme (src/web/app/routes.ts): every view is a link; links round-trip. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { href, parseRoute, queryString } from "../../src/web/app/routes.ts";

describe("web routes", () => {
  it("parses every view", () => {
    assert.deepEqual(parseRoute("/"), { view: "registries" });
    assert.deepEqual(parseRoute("/r/local"), { view: "repositories", registryId: "local" });
    assert.deepEqual(parseRoute("/r/local/team/app"), {
      view: "repository",
      registryId: "local",
      name: "team/app",
    });
    assert.deepEqual(parseRoute("/r/local/team/app/-/tag/v1.2.3"), {
      view: "tag",
      registryId: "local",
      name: "team/app",
      tag: "v1.2.3",
    });
    assert.deepEqual(parseRoute("/r/ghcr/a/b/c/-/manifest/sha256:abc"), {
      view: "manifest",
      registryId: "ghcr",
      name: "a/b/c",
      digest: "sha256:abc",
    });
    assert.deepEqual(parseRoute("/storage"), { view: "storage", registryId: null });
    assert.deepEqual(parseRoute("/storage/local"), { view: "storage", registryId: "local" });
    assert.deepEqual(parseRoute(href.tokens()), { view: "tokens" });
    assert.deepEqual(parseRoute("/admin"), { view: "admin" });
    assert.deepEqual(parseRoute("/admin/gc"), { view: "gc" });
    assert.deepEqual(parseRoute("/admin/scrub"), { view: "scrub" });
    assert.deepEqual(parseRoute("/admin/retention"), { view: "retention" });
  });

  it("accepts a repository name given as one encoded segment", () => {
    assert.deepEqual(parseRoute("/r/local/team%2Fapp"), {
      view: "repository",
      registryId: "local",
      name: "team/app",
    });
  });

  it("sends anything else to not found", () => {
    for (const path of [
      "/x",
      "/r",
      "/r/local/-/tag/v1",
      "/r/local/app/-/tag",
      "/r/local/app/-/blob/x",
      "/storage/a/b",
      "/account",
      "/account/tokens/x",
      "/admin/retention/x",
      "/admin/gc/1",
      "/admin/quotas",
      "/admin/constructor",
      "/admin/toString",
      "/r/%E0%A4%A",
    ]) {
      assert.equal(parseRoute(path).view, "not_found", path);
    }
  });

  it("builds links that parse back to the same view", () => {
    const cases = [
      [href.repositories("local"), { view: "repositories", registryId: "local" }],
      [
        href.repository("local", "team/my.app"),
        { view: "repository", registryId: "local", name: "team/my.app" },
      ],
      [
        href.tag("local", "team/app", "v1.0"),
        { view: "tag", registryId: "local", name: "team/app", tag: "v1.0" },
      ],
      [
        href.manifest("local", "app", "sha256:0123"),
        { view: "manifest", registryId: "local", name: "app", digest: "sha256:0123" },
      ],
      [href.storage("local"), { view: "storage", registryId: "local" }],
      [href.retention(), { view: "retention" }],
      [href.admin(), { view: "admin" }],
      [href.gc(), { view: "gc" }],
      [href.scrub(), { view: "scrub" }],
    ] as const;
    for (const [link, route] of cases) assert.deepEqual(parseRoute(link), route, link);
    assert.equal(href.repository("local", "team/app"), "/r/local/team/app");
    assert.equal(href.manifest("local", "app", "sha256:ab"), "/r/local/app/-/manifest/sha256:ab");
  });

  it("drops empty query values", () => {
    assert.equal(queryString({ q: "nginx", page: undefined, ns: "" }), "?q=nginx");
    assert.equal(queryString({}), "");
    assert.equal(href.repositories("local", { q: "a b" }), "/r/local?q=a+b");
  });
});
