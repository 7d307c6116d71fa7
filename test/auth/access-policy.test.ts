/**
 * AccessPolicy: repository globs, first-match rules over users, groups, anonymous and
 * authenticated callers, implied actions, the catalog, the defaults without rules; the /v2 route
 * → permission map; scope parsing; the config section's validation.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AccessPolicy, expandActions } from "../../src/auth/access-policy.ts";
import { parseAuthSettings } from "../../src/auth/auth-config.ts";
import { formatScope, parseScopes, scopeForRecords } from "../../src/auth/scope.ts";
import { loadConfig } from "../../src/config/config.ts";
import { ANONYMOUS, OPEN_ACCESS } from "../../src/http/access.ts";
import type { RequestContext } from "../../src/http/context.ts";
import { HttpError } from "../../src/http/errors.ts";
import { Router } from "../../src/http/router.ts";
import { createV2Module } from "../../src/registry/http/v2.ts";
import type { Registry } from "../../src/registry/registry.ts";
import { MetricsRegistry } from "../../src/util/prometheus.ts";
import { compileRepositoryGlob } from "../../src/util/repository-glob.ts";

describe("repository globs", () => {
  const cases: [string, string[], string[]][] = [
    ["team/*", ["team/app", "team/a-b.c_d"], ["team", "team/a/b", "teams/app", "other/team/app"]],
    ["team/**", ["team/app", "team/a/b/c"], ["team", "teamx/app", "x/team/app"]],
    ["*", ["app", "team/app", "a/b/c"], []],
    ["**", ["app", "team/app"], []],
    ["*/app", ["team/app", "x/app"], ["app", "a/b/app", "team/app2"]],
    ["**/app", ["team/app", "a/b/app"], ["app", "team/apps"]],
    ["lib?", ["lib1", "libx"], ["lib", "lib12", "lib/"]],
    ["exact/name", ["exact/name"], ["exact/name2", "exact", "exactxname"]],
    ["a.b", ["a.b"], ["axb"]],
  ];
  for (const [glob, yes, no] of cases) {
    test(`${glob}`, () => {
      const re = compileRepositoryGlob(glob);
      for (const name of yes) assert.ok(re.test(name), `${glob} should match ${name}`);
      for (const name of no) assert.ok(!re.test(name), `${glob} should not match ${name}`);
    });
  }

  test("characters no repository name holds are refused", () => {
    for (const bad of ["Team/*", "team app", "team/[ab]", "a\\b", ""]) {
      assert.throws(() => compileRepositoryGlob(bad), /invalid repository glob/);
    }
  });
});

describe("implied actions", () => {
  test("push and delete include pull; admin includes everything", () => {
    assert.deepEqual([...expandActions(["push"])].sort(), ["pull", "push"]);
    assert.deepEqual([...expandActions(["delete"])].sort(), ["delete", "pull"]);
    assert.deepEqual([...expandActions(["admin"])].sort(), ["admin", "delete", "pull", "push"]);
    assert.deepEqual([...expandActions(["pull"])], ["pull"]);
  });
});

describe("AccessPolicy without rules (the simple model)", () => {
  test("every user may do everything; anonymous callers pull only with anonymousPull", () => {
    const closed = new AccessPolicy();
    assert.ok(closed.can("anyone", "x/y", "admin"));
    assert.ok(closed.can("anyone", "x/y", "delete"));
    assert.ok(!closed.can(undefined, "x/y", "pull"));
    assert.ok(!closed.canReadCatalog(undefined));
    assert.ok(closed.canReadCatalog("anyone"));
    const open = new AccessPolicy({ anonymousPull: true });
    assert.ok(open.can(undefined, "x/y", "pull"));
    assert.ok(!open.can(undefined, "x/y", "push"));
    assert.ok(open.canReadCatalog(undefined));
    assert.ok(open.pullsEverything(undefined));
  });
});

describe("AccessPolicy with rules", () => {
  const policy = new AccessPolicy({
    groups: { dev: ["alice", "bob"], ops: ["carol"] },
    rules: [
      // An exception first: nobody but ops touches secret/**.
      { subjects: ["group:ops"], repositories: ["secret/**"], actions: ["admin"] },
      { subjects: ["everyone"], repositories: ["secret/**"], actions: [] },
      { subjects: ["group:dev"], repositories: ["team/**"], actions: ["push"] },
      { subjects: ["user:bob"], repositories: ["team/legacy"], actions: ["delete"] },
      { subjects: ["anonymous"], repositories: ["pub/*"], actions: ["pull"] },
      { subjects: ["authenticated"], repositories: ["*"], actions: ["pull"] },
    ],
    anonymousPull: false,
  });

  test("first match decides", () => {
    // bob is in dev: the dev rule (push) matches team/legacy before the bob rule (delete).
    assert.ok(policy.can("bob", "team/legacy", "push"));
    assert.ok(!policy.can("bob", "team/legacy", "delete"));
    assert.ok(policy.can("alice", "team/app", "push"));
    assert.ok(policy.can("alice", "team/app", "pull"), "push implies pull");
    assert.ok(!policy.can("alice", "team/app", "delete"));
  });

  test("an empty rule denies what a later, broader rule would give", () => {
    assert.ok(!policy.can("alice", "secret/keys", "pull"));
    assert.ok(!policy.can(undefined, "secret/keys", "pull"));
    assert.ok(policy.can("carol", "secret/keys", "delete"));
    assert.ok(policy.can("carol", "secret/keys", "admin"));
  });

  test("authenticated users, anonymous callers and unknown users", () => {
    assert.ok(policy.can("dave", "other/app", "pull"), "authenticated matches any user");
    assert.ok(!policy.can("dave", "other/app", "push"));
    assert.ok(!policy.can("dave", "team/app", "push"), "dave is in no group");
    assert.ok(policy.can(undefined, "pub/app", "pull"));
    assert.ok(!policy.can(undefined, "pub/a/b", "pull"), "pub/* is one segment");
    assert.ok(!policy.can(undefined, "other/app", "pull"));
    assert.ok(!policy.can(undefined, "pub/app", "push"));
  });

  test("groups and the catalog", () => {
    assert.deepEqual(policy.groupsOf("alice"), ["dev"]);
    assert.deepEqual(policy.groupsOf("nobody"), []);
    assert.ok(policy.canReadCatalog(undefined), "anonymous callers may pull pub/*");
    assert.ok(policy.canReadCatalog("dave"));
    assert.ok(!policy.pullsEverything("carol"), "with rules, the catalog is always filtered");
  });

  test("anonymousPull applies where no rule matched the anonymous caller", () => {
    const withSwitch = new AccessPolicy({
      rules: [{ subjects: ["anonymous"], repositories: ["private/**"], actions: [] }],
      anonymousPull: true,
    });
    assert.ok(withSwitch.can(undefined, "public/app", "pull"));
    assert.ok(!withSwitch.can(undefined, "private/app", "pull"));
    assert.ok(!withSwitch.can("alice", "public/app", "pull"), "rules exist: users need a rule");
    const noAnonymous = new AccessPolicy({
      rules: [{ subjects: ["authenticated"], repositories: ["**"], actions: ["pull"] }],
    });
    assert.ok(!noAnonymous.canReadCatalog(undefined));
  });

  test("malformed subjects are refused", () => {
    for (const subject of ["alice", "user:", "group:a b", "role:x"]) {
      assert.throws(
        () => new AccessPolicy({ rules: [{ subjects: [subject], repositories: ["*"], actions: [] }] }),
        /invalid subject/,
      );
    }
  });
});

describe("what each /v2 request needs (the v2 module's route table)", () => {
  const v2 = createV2Module({
    registry: {} as Registry,
    access: OPEN_ACCESS,
    metrics: new MetricsRegistry(),
  });
  const router = new Router().add(...v2.routes);
  /** The access records the route of a request declares, as the pipeline asks for them. */
  const needs = (method: string, path: string) => {
    const match = router.match(method, path);
    assert.equal(match.kind, "route", `${method} ${path}`);
    if (match.kind !== "route") throw new Error("unreachable");
    const { access, name } = match.route;
    const ctx = { params: match.params, caller: ANONYMOUS } as unknown as RequestContext;
    return { name, access: typeof access === "function" ? access(ctx) : access };
  };
  const one = (method: string, path: string) => JSON.stringify(needs(method, path).access);

  test("reads are pull, writes push, deletes delete", () => {
    const pull = JSON.stringify([{ type: "repository", name: "team/app", actions: ["pull"] }]);
    const push = JSON.stringify([{ type: "repository", name: "team/app", actions: ["push"] }]);
    const del = JSON.stringify([{ type: "repository", name: "team/app", actions: ["delete"] }]);
    const table: [string, string, string][] = [
      ["GET", "/v2/team/app/tags/list", pull],
      ["GET", "/v2/team/app/manifests/v1", pull],
      ["HEAD", "/v2/team/app/manifests/v1", pull],
      ["GET", "/v2/team/app/blobs/sha256:abc", pull],
      ["HEAD", "/v2/team/app/blobs/sha256:abc", pull],
      ["GET", "/v2/team/app/referrers/sha256:abc", pull],
      ["PUT", "/v2/team/app/manifests/v1", push],
      ["POST", "/v2/team/app/blobs/uploads/", push],
      ["PATCH", "/v2/team/app/blobs/uploads/id", push],
      ["PUT", "/v2/team/app/blobs/uploads/id", push],
      ["GET", "/v2/team/app/blobs/uploads/id", push],
      ["DELETE", "/v2/team/app/blobs/uploads/id", push],
      ["DELETE", "/v2/team/app/manifests/sha256:abc", del],
      ["DELETE", "/v2/team/app/blobs/sha256:abc", del],
      ["POST", "/v2/team/app/manifests/v1", push],
      ["PATCH", "/v2/team/app/tags/list", push],
    ];
    for (const [method, path, expected] of table)
      assert.equal(one(method, path), expected, `${method} ${path}`);
  });

  test("ping and unknown endpoints need a known caller, the catalog its own record", () => {
    assert.equal(needs("GET", "/v2/").access, "authenticated");
    assert.equal(needs("DELETE", "/v2/").access, "authenticated");
    assert.deepEqual(needs("GET", "/v2/_catalog").access, [
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
    const unknown = needs("GET", "/v2/nope");
    assert.equal(unknown.name, "v2_unknown");
    assert.equal(unknown.access, "authenticated");
  });

  test("names with several components, and an unencodable name kept raw for NAME_INVALID", () => {
    assert.equal(
      one("GET", "/v2/a/b/c/manifests/latest"),
      JSON.stringify([{ type: "repository", name: "a/b/c", actions: ["pull"] }]),
    );
    assert.equal(
      one("GET", "/v2/a/manifests/x/manifests/v1"),
      JSON.stringify([{ type: "repository", name: "a/manifests/x", actions: ["pull"] }]),
    );
    assert.equal(needs("GET", "/v2/%zz/tags/list").access[0] !== undefined, true);
  });

  test("the challenge's scope asks for pull with push, and for the catalog", () => {
    assert.equal(
      scopeForRecords([{ type: "repository", name: "a", actions: ["push"] }]),
      "repository:a:pull,push",
    );
    assert.equal(
      scopeForRecords([{ type: "repository", name: "a", actions: ["delete"] }]),
      "repository:a:delete",
    );
    assert.equal(
      scopeForRecords([{ type: "registry", name: "catalog", actions: ["*"] }]),
      "registry:catalog:*",
    );
    assert.equal(scopeForRecords([]), "");
  });
});

describe("scope parsing", () => {
  test("items across parameters and spaces, merged per resource", () => {
    const parsed = parseScopes([
      "repository:team/app:pull",
      "repository:team/app:push repository:other:pull,push",
      "registry:catalog:*",
      "repository(plugin):thing:pull",
      "repository:host:5000/x:pull",
    ]);
    assert.deepEqual(parsed.map(formatScope), [
      "repository:team/app:pull,push",
      "repository:other:pull,push",
      "registry:catalog:*",
      "repository:thing:pull",
      "repository:host:5000/x:pull",
    ]);
    assert.deepEqual(parseScopes([]), []);
  });

  test("malformed items are refused", () => {
    for (const bad of ["repository", "repository:x", ":x:pull", "repository::pull"]) {
      assert.throws(
        () => parseScopes([bad]),
        (error) => error instanceof HttpError && error.status === 400,
        bad,
      );
    }
  });
});

describe("the auth config section", () => {
  test("rules, groups and token settings validate; problems name their fields", async () => {
    const config = parseAuthSettings({
      mode: "token",
      groups: { dev: ["alice"] },
      rules: [{ subjects: "group:dev", repositories: "team/**", actions: ["push"] }],
      token: { service: "registry.example.com" },
    });
    assert.deepEqual(config.rules, [
      { subjects: ["group:dev"], repositories: ["team/**"], actions: ["push"] },
    ]);
    assert.equal(config.token?.expiry, 300_000);
    assert.equal(config.token?.issuer, "reestr");
    const problems: [unknown, RegExp][] = [
      [
        { htpasswd: "x", rules: [{ subjects: ["group:nope"], repositories: ["*"], actions: [] }] },
        /auth\.rules\.0\.subjects: unknown group "nope"/,
      ],
      [
        { htpasswd: "x", rules: [{ subjects: ["bob"], repositories: ["*"], actions: [] }] },
        /auth\.rules\.0\.subjects.*invalid subject "bob"/,
      ],
      [
        { htpasswd: "x", rules: [{ subjects: ["anonymous"], repositories: ["Team/*"], actions: [] }] },
        /auth\.rules\.0\.repositories.*invalid repository glob/,
      ],
      [
        { htpasswd: "x", rules: [{ subjects: ["anonymous"], repositories: ["*"], actions: ["write"] }] },
        /auth\.rules\.0\.actions/,
      ],
      [{ mode: "basic" }, /auth\.htpasswd: required with basic auth/],
      [{ htpasswd: "x", token: {} }, /auth\.token: only used with auth\.mode: token/],
      [
        { mode: "token", token: { trust: [{ issuer: "x" }] } },
        /auth\.token\.trust\.0: exactly one of publicKey/,
      ],
      [{ mode: "token", token: { realm: "ftp://x/token" } }, /auth\.token\.realm/],
      [{ mode: "token", token: { expiry: "soon" } }, /auth\.token\.expiry/],
      [{ mode: "sso" }, /auth\.mode/],
    ];
    for (const [settings, expected] of problems) {
      assert.throws(() => parseAuthSettings(settings as never), expected, JSON.stringify(settings));
    }
  });

  test("environment variables and flags reach the section", async () => {
    const config = await loadConfig({
      env: { REESTR_AUTH_MODE: "token", REESTR_ANONYMOUS_PULL: "true", REESTR_TOKEN_SERVICE: "svc" },
    });
    assert.equal(config.auth?.mode, "token");
    assert.equal(config.auth?.anonymousPull, true);
    assert.equal(config.auth?.token?.service, "svc");
    assert.equal(config.auth?.htpasswd, undefined);
    await assert.rejects(
      loadConfig({ env: { REESTR_AUTH_MODE: "magic", REESTR_HTPASSWD: "/x" } }),
      /auth\.mode/,
    );
    const flags = await loadConfig({ flags: { "auth.htpasswd": "/h", "auth.mode": "basic" } });
    assert.equal(flags.auth?.mode, "basic");
  });
});
