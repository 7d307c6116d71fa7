/**
 * Content discovery: tags list and catalog, in lexical order, with `n`/`last` pagination and
 * the `Link` header to the next page.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  assertError,
  http,
  OCI_MANIFEST,
  pushImage,
  putManifest,
  startServer,
  type TestServer,
} from "./helpers.ts";

let server: TestServer;

// Deliberately pushed out of order; uppercase, digits, dots, dashes and underscores all allowed in tags.
const TAGS = [
  "v2",
  "latest",
  "v10",
  "1.0",
  "Beta",
  "_hidden",
  "v1.0-rc.1",
  "alpha",
  "v1",
  "a-b",
  "Z9",
  "a_b",
];
const SORTED = [...TAGS].sort();
const REPOS = ["zeta", "alpha/one", "alpha", "alpha/two/deep", "m-n", "b.c", "a_b", "alpha-x"];
const SORTED_REPOS = [...REPOS].sort();

interface TagList {
  name: string;
  tags: string[];
}

/** Path and query of the `Link: <…>; rel="next"` header, or undefined. */
function nextLink(res: Awaited<ReturnType<typeof http>>): string | undefined {
  const link = res.header("link");
  if (link === undefined) return undefined;
  const match = /^<([^>]+)>;\s*rel="?next"?$/.exec(link.trim());
  assert.ok(match, `malformed Link header ${link}`);
  const url = new URL(match[1]!, "http://placeholder");
  return url.pathname + url.search;
}

before(async () => {
  server = await startServer();
  const image = await pushImage(server, "disco/app", TAGS[0]);
  for (const tag of TAGS.slice(1)) {
    const res = await putManifest(server, "disco/app", tag, image.bytes, OCI_MANIFEST);
    assert.equal(res.status, 201);
  }
  for (const repo of REPOS) await pushImage(server, `cat/${repo}`, "latest");
});

after(() => server.cleanup());

describe("tags list", () => {
  test("lists every tag in lexical order with the repository name", async () => {
    const res = await http(server, "GET", "/v2/disco/app/tags/list");
    assert.equal(res.status, 200);
    assert.match(res.header("content-type") ?? "", /^application\/json/);
    assert.deepEqual(res.json<TagList>(), { name: "disco/app", tags: SORTED });
    assert.equal(res.header("link"), undefined);
  });

  test("`n` limits the page and Link points to the next one; following it yields the rest", async () => {
    const res = await http(server, "GET", "/v2/disco/app/tags/list?n=5");
    assert.equal(res.status, 200);
    assert.deepEqual(res.json<TagList>().tags, SORTED.slice(0, 5));
    const seen = [...res.json<TagList>().tags];
    let next = nextLink(res);
    assert.ok(next, "a Link header to the next page");
    assert.match(next, /^\/v2\/disco\/app\/tags\/list\?/);
    let pages = 1;
    while (next) {
      const page = await http(server, "GET", next);
      assert.equal(page.status, 200);
      const body = page.json<TagList>();
      assert.equal(body.name, "disco/app");
      assert.ok(body.tags.length <= 5);
      seen.push(...body.tags);
      next = nextLink(page);
      pages++;
      assert.ok(pages < 10, "pagination terminates");
    }
    assert.deepEqual(seen, SORTED);
    assert.equal(pages, Math.ceil(SORTED.length / 5));
  });

  test("`last` starts after the given tag", async () => {
    const res = await http(server, "GET", `/v2/disco/app/tags/list?last=${encodeURIComponent(SORTED[3]!)}`);
    assert.deepEqual(res.json<TagList>().tags, SORTED.slice(4));
    const both = await http(
      server,
      "GET",
      `/v2/disco/app/tags/list?n=2&last=${encodeURIComponent(SORTED[3]!)}`,
    );
    assert.deepEqual(both.json<TagList>().tags, SORTED.slice(4, 6));
    assert.ok(nextLink(both));
  });

  test("`last` that is not a tag starts after where it would sort", async () => {
    const res = await http(server, "GET", "/v2/disco/app/tags/list?last=b");
    assert.deepEqual(
      res.json<TagList>().tags,
      SORTED.filter((t) => t > "b"),
    );
  });

  test("a page that reaches the end has no Link", async () => {
    const exact = await http(server, "GET", `/v2/disco/app/tags/list?n=${SORTED.length}`);
    assert.deepEqual(exact.json<TagList>().tags, SORTED);
    assert.equal(exact.header("link"), undefined);
    const more = await http(server, "GET", "/v2/disco/app/tags/list?n=1000");
    assert.deepEqual(more.json<TagList>().tags, SORTED);
    assert.equal(more.header("link"), undefined);
    const after = await http(server, "GET", `/v2/disco/app/tags/list?last=${SORTED.at(-1)}`);
    assert.deepEqual(after.json<TagList>().tags, []);
  });

  test("n=0 is an empty list without Link", async () => {
    const res = await http(server, "GET", "/v2/disco/app/tags/list?n=0");
    assert.equal(res.status, 200);
    assert.deepEqual(res.json<TagList>().tags, []);
    assert.equal(res.header("link"), undefined);
  });

  test("a repository whose only tag was deleted lists no tags (not NAME_UNKNOWN)", async () => {
    const image = await pushImage(server, "disco/untagged", "only");
    assert.equal((await http(server, "DELETE", "/v2/disco/untagged/manifests/only")).status, 202);
    const res = await http(server, "GET", "/v2/disco/untagged/tags/list");
    assert.equal(res.status, 200);
    assert.deepEqual(res.json<TagList>(), { name: "disco/untagged", tags: [] });
    assert.equal((await http(server, "GET", `/v2/disco/untagged/manifests/${image.digest}`)).status, 200);
  });

  test("the list follows tag pushes, moves and deletes at once (no stale cached list)", async () => {
    const repo = "disc/cached";
    const list = async () => (await http(server, "GET", `/v2/${repo}/tags/list`)).json<TagList>().tags;
    await pushImage(server, repo, "b");
    assert.deepEqual(await list(), ["b"]);
    await pushImage(server, repo, "a");
    assert.deepEqual(await list(), ["a", "b"]);
    assert.deepEqual((await http(server, "GET", `/v2/${repo}/tags/list?n=1&last=a`)).json<TagList>().tags, [
      "b",
    ]);
    const c = await pushImage(server, repo, "c");
    await putManifest(server, repo, "d", c.bytes, c.mediaType);
    assert.deepEqual(await list(), ["a", "b", "c", "d"]);
    assert.equal((await http(server, "DELETE", `/v2/${repo}/manifests/b`)).status, 202);
    assert.deepEqual(await list(), ["a", "c", "d"]);
    assert.equal((await http(server, "DELETE", `/v2/${repo}/manifests/${c.digest}`)).status, 202);
    assert.deepEqual(await list(), ["a"]);
  });

  test("unknown repository is NAME_UNKNOWN", async () => {
    assertError(await http(server, "GET", "/v2/disco/none/tags/list"), 404, "NAME_UNKNOWN");
  });

  for (const n of ["abc", "-1", "1.5", "1e3", "99999999999"]) {
    test(`bad n=${n} → 400 with the error envelope`, async () => {
      const res = await http(server, "GET", `/v2/disco/app/tags/list?n=${n}`);
      assert.equal(res.status, 400, res.text());
      assert.ok(res.json<{ errors: unknown[] }>().errors.length > 0);
    });
  }
});

describe("catalog", () => {
  async function catalogRepos(query = ""): Promise<string[]> {
    const res = await http(server, "GET", `/v2/_catalog${query}`);
    assert.equal(res.status, 200);
    return res.json<{ repositories: string[] }>().repositories;
  }

  test("lists every repository in lexical order", async () => {
    const repos = await catalogRepos();
    assert.deepEqual(
      repos.filter((r) => r.startsWith("cat/")),
      SORTED_REPOS.map((r) => `cat/${r}`),
    );
    assert.ok(repos.includes("disco/app"));
    assert.deepEqual(repos, [...repos].sort());
  });

  test("`n` and Link paginate; following Link yields every repository once", async () => {
    const all = await catalogRepos();
    const res = await http(server, "GET", "/v2/_catalog?n=3");
    const seen = [...res.json<{ repositories: string[] }>().repositories];
    assert.equal(seen.length, 3);
    let next = nextLink(res);
    assert.ok(next);
    assert.match(next, /^\/v2\/_catalog\?/);
    while (next) {
      const page = await http(server, "GET", next);
      assert.equal(page.status, 200);
      const repos = page.json<{ repositories: string[] }>().repositories;
      assert.ok(repos.length <= 3);
      seen.push(...repos);
      next = nextLink(page);
      assert.ok(seen.length <= all.length, "pagination terminates");
    }
    assert.deepEqual(seen, all);
  });

  test("`last` starts after the given repository", async () => {
    const all = await catalogRepos();
    const from = all.indexOf("cat/alpha/one");
    assert.deepEqual(await catalogRepos("?last=cat/alpha/one"), all.slice(from + 1));
    assert.deepEqual(await catalogRepos("?n=2&last=cat%2Falpha%2Fone"), all.slice(from + 1, from + 3));
  });

  test("n=0 is an empty list without Link", async () => {
    const res = await http(server, "GET", "/v2/_catalog?n=0");
    assert.equal(res.status, 200);
    assert.deepEqual(res.json<{ repositories: string[] }>().repositories, []);
    assert.equal(res.header("link"), undefined);
  });

  for (const n of ["abc", "-5"]) {
    test(`bad n=${n} → 400`, async () => {
      const res = await http(server, "GET", `/v2/_catalog?n=${n}`);
      assert.equal(res.status, 400);
      assert.ok(res.json<{ errors: unknown[] }>().errors.length > 0);
    });
  }
});
