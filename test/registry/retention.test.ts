/**
 * Retention through its API (POST /api/admin/retention) on a real server: each rule, manifests
 * (indexes, referrers, accessory tags, untagged ones), a dry run equal to the real run, the deploy
 * kit's policy objects, the schedule, the audit log and the API's refusals.
 *
 * Push and pull times come from the server's own clock: Date is mocked (node:test mock.timers,
 * Date only — timers and sockets stay real), so "pushed 10 days ago" is exact.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, mock, test } from "node:test";
import { RetentionResultSchema } from "../../src/catalog/api-schemas.ts";
import { ConfigSchema } from "../../src/config/config.ts";
import { imageRetentionPolicy, renderImageRetentionPolicy } from "../../src/deploy/index.ts";
import {
  http,
  OCI_MANIFEST,
  pushImage,
  pushIndex,
  startServer,
  type TestServer,
  type TestServerOptions,
} from "../api/helpers.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { waitFor } from "../helpers/wait.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2025-01-01T00:00:00Z");
const COSIGN_SIG = "application/vnd.dev.cosign.artifact.sig.v1+json";

interface Decision {
  tag?: string;
  digest: string;
  action: "keep" | "delete";
  reason: string;
  outcome?: string;
  error?: string;
}

interface Plan {
  repository: string;
  policy: string;
  tags: Decision[];
  manifests: Decision[];
}

interface Result {
  dryRun: boolean;
  trigger: string;
  policies: string[];
  summary: Record<string, number>;
  repositories: Plan[];
}

afterEach(() => mock.timers.reset());

/** A server with these retention settings (not scheduled unless told), its clock at T0. */
async function withServer(
  retention: Record<string, unknown>,
  body: (server: TestServer) => Promise<void>,
  options: TestServerOptions = {},
): Promise<void> {
  mock.timers.enable({ apis: ["Date"], now: T0 });
  const server = await startServer({
    ...options,
    config: { ...options.config, retention: { scheduled: false, ...retention } },
  });
  try {
    await body(server);
  } finally {
    await server.cleanup();
  }
}

const days = (n: number) => mock.timers.tick(n * DAY);

async function run(server: TestServer, query = "dryRun=true"): Promise<Result> {
  const res = await http(server, "POST", `/api/admin/retention?${query}`);
  assert.equal(res.status, 200, res.text());
  return res.json<Result>();
}

/** tag → [action, reason] in one repository's plan. */
function tagsOf(result: Result, repository: string): Record<string, [string, string]> {
  const plan = result.repositories.find((p) => p.repository === repository);
  assert.ok(
    plan,
    `no plan for ${repository}: ${JSON.stringify(result.repositories.map((p) => p.repository))}`,
  );
  return Object.fromEntries(plan.tags.map((t) => [t.tag!, [t.action, t.reason]]));
}

function manifestsOf(result: Result, repository: string): [string, string][] {
  return result.repositories
    .find((p) => p.repository === repository)!
    .manifests.map((m) => [m.digest, m.reason]);
}

const short = (digest: string) => digest.slice(0, 19);

async function pull(server: TestServer, repository: string, reference: string): Promise<void> {
  const res = await http(server, "GET", `/v2/${repository}/manifests/${reference}`, {
    headers: { Accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json` },
  });
  assert.equal(res.status, 200, res.text());
}

describe("retention rules (POST /api/admin/retention?dryRun=true)", () => {
  test("keepLast by push time keeps the N tags set last", () =>
    withServer({ policies: [{ name: "last", keepLast: 2 }] }, async (server) => {
      for (const tag of ["v1", "v2", "v3", "v4"]) {
        await pushImage(server, "app", tag);
        days(1);
      }
      // Setting v1 again makes it the newest.
      const v1 = await http(server, "GET", "/v2/app/manifests/v1", { headers: { Accept: OCI_MANIFEST } });
      await http(server, "PUT", "/v2/app/manifests/v1", {
        headers: { "Content-Type": OCI_MANIFEST },
        body: v1.body,
      });
      const result = await run(server);
      assert.equal(result.dryRun, true);
      assert.deepEqual(tagsOf(result, "app"), {
        v1: ["keep", "among the 2 newest"],
        v2: ["delete", "not among the 2 newest"],
        v3: ["delete", "not among the 2 newest"],
        v4: ["keep", "among the 2 newest"],
      });
    }));

  test("keepLast by semver keeps the highest versions; other tags are not ranked", () =>
    withServer(
      { policies: [{ keepLast: 2, sortBy: "semver", protectedTags: ["^latest$"] }] },
      async (server) => {
        for (const tag of ["1.10.0", "v2.0.0-rc.1", "latest", "1.2.0", "main", "1.0.0"]) {
          await pushImage(server, "app", tag);
          days(1);
        }
        const result = await run(server);
        assert.deepEqual(result.policies, ["policy-1"]);
        assert.deepEqual(tagsOf(result, "app"), {
          "1.0.0": ["delete", "not among the 2 highest versions"],
          "1.10.0": ["keep", "among the 2 highest versions"],
          "1.2.0": ["delete", "not among the 2 highest versions"],
          latest: ["keep", "protected by /^latest$/"],
          main: ["delete", "not a semantic version (keepLast ranks versions)"],
          "v2.0.0-rc.1": ["keep", "among the 2 highest versions"],
        });
      },
    ));

  test("keepPushedWithin keeps tags set within the window, measured from the run", () =>
    withServer({ policies: [{ keepPushedWithin: "6d" }] }, async (server) => {
      await pushImage(server, "app", "old");
      days(5);
      await pushImage(server, "app", "edge");
      days(5);
      await pushImage(server, "app", "new");
      days(1);
      assert.deepEqual(tagsOf(await run(server), "app"), {
        edge: ["keep", "pushed 6d ago (within 6d)"],
        new: ["keep", "pushed 1d ago (within 6d)"],
        old: ["delete", "pushed 11d ago (more than 6d)"],
      });
    }));

  test("keepPulledWithin keeps tags pulled by name or whose manifest was pulled by digest", () =>
    withServer({ policies: [{ keepPulledWithin: "8d" }] }, async (server) => {
      await pushImage(server, "app", "by-name");
      const byDigest = await pushImage(server, "app", "by-digest");
      await pushImage(server, "app", "stale");
      await pushImage(server, "app", "never");
      days(1);
      await pull(server, "app", "stale");
      days(2);
      await pull(server, "app", "by-name");
      await pull(server, "app", byDigest.digest); // as containerd does after a HEAD by tag
      await server.running.pulls!.flush();
      days(7);
      assert.deepEqual(tagsOf(await run(server), "app"), {
        "by-digest": ["keep", "pulled 7d ago (within 8d)"],
        "by-name": ["keep", "pulled 7d ago (within 8d)"],
        never: ["delete", "never pulled (keepPulledWithin 8d)"],
        stale: ["delete", "last pulled 9d ago (more than 8d)"],
      });
    }));

  test("protectedTags, deleteTags and keepTags", () =>
    withServer(
      {
        policies: [{ deleteTags: ["^pr-", "^feature-"], keepTags: ["^pr-2$"], protectedTags: ["^pr-1$"] }],
      },
      async (server) => {
        for (const tag of ["latest", "v1", "pr-1", "pr-2", "pr-3", "feature-x"])
          await pushImage(server, "app", tag);
        assert.deepEqual(tagsOf(await run(server), "app"), {
          "feature-x": ["delete", "matches deleteTags /^feature-/; matches no keepTags pattern"],
          latest: ["keep", "matches no deleteTags pattern"],
          "pr-1": ["keep", "protected by /^pr-1$/"],
          "pr-2": ["keep", "matches keepTags /^pr-2$/"],
          "pr-3": ["delete", "matches deleteTags /^pr-/; matches no keepTags pattern"],
          v1: ["keep", "matches no deleteTags pattern"],
        });
      },
    ));

  test("the first policy whose globs match governs; a policy without tag rules keeps every tag", () =>
    withServer(
      {
        policies: [
          { name: "exempt", repositories: ["prod/**"] },
          { name: "teams", repositories: ["team/*", "prod/special"], keepLast: 1 },
        ],
      },
      async (server) => {
        for (const repository of ["prod/special", "team/app", "team/app/deep", "other"]) {
          await pushImage(server, repository, "a");
          days(1);
          await pushImage(server, repository, "b");
        }
        const result = await run(server);
        assert.deepEqual(
          result.repositories.map((p) => [p.repository, p.policy]),
          [
            ["prod/special", "exempt"],
            ["team/app", "teams"],
          ],
        );
        assert.deepEqual(tagsOf(result, "prod/special").a, ["keep", 'policy "exempt" has no tag rules']);
        assert.deepEqual(tagsOf(result, "team/app").a, ["delete", "not among the 1 newest"]);
      },
    ));
});

describe("retention of manifests", () => {
  test("an index goes with its platforms, referrers and accessory tags; what stays is needed", () =>
    withServer({ policies: [{ deleteTags: ["^multi$"] }] }, async (server) => {
      const amd64 = await pushImage(server, "graph", undefined);
      const arm64 = await pushImage(server, "graph", undefined);
      const index = await pushIndex(server, "graph", "multi", [amd64.descriptor, arm64.descriptor]);
      const referrer = await pushImage(server, "graph", undefined, {
        artifactType: COSIGN_SIG,
        subject: index.descriptor,
      });
      const accessoryTag = `sha256-${index.digest.slice(7)}.sig`;
      const accessory = await pushImage(server, "graph", accessoryTag);
      // A platform manifest another index that stays still lists.
      const kept = await pushIndex(server, "graph", "keep-me", [amd64.descriptor]);
      const result = await run(server);
      assert.deepEqual(tagsOf(result, "graph"), {
        "keep-me": ["keep", "matches no deleteTags pattern"],
        multi: ["delete", "matches deleteTags /^multi$/"],
        [accessoryTag]: ["delete", `attached to ${short(index.digest)}, which is deleted`],
      });
      const deleted = manifestsOf(result, "graph");
      assert.deepEqual(
        new Map(deleted),
        new Map([
          [index.digest, "its tags are deleted (multi)"],
          [arm64.digest, `listed only by deleted ${short(index.digest)}`],
          [referrer.digest, `refers to deleted ${short(index.digest)}`],
          [accessory.digest, `its tags are deleted (${accessoryTag})`],
        ]),
      );
      const order = deleted.map(([digest]) => digest);
      assert.ok(
        order.indexOf(referrer.digest) < order.indexOf(index.digest),
        "a referrer before its subject",
      );
      assert.ok(order.indexOf(index.digest) < order.indexOf(arm64.digest), "an index before its platforms");
      assert.ok(!order.includes(amd64.digest) && !order.includes(kept.digest));
    }));

  test("deleteUntaggedAfter deletes old manifests without tags, unless needed or pulled", () =>
    withServer(
      { policies: [{ deleteUntaggedAfter: "10d", keepPulledWithin: "30d", protectedTags: ["^current$"] }] },
      async (server) => {
        const old = await pushImage(server, "app", undefined);
        const pulled = await pushImage(server, "app", undefined);
        const child = await pushImage(server, "app", undefined);
        await pushIndex(server, "app", "current", [child.descriptor]);
        const signature = await pushImage(server, "app", undefined, {
          artifactType: COSIGN_SIG,
          subject: child.descriptor,
        });
        days(15);
        await pull(server, "app", pulled.digest);
        await server.running.pulls!.flush();
        days(5);
        const fresh = await pushImage(server, "app", undefined);
        const result = await run(server);
        assert.deepEqual(tagsOf(result, "app"), { current: ["keep", "protected by /^current$/"] });
        // Not: the one pulled by digest 5 days ago, the index's platform, the signature of that
        // platform, the one pushed today.
        assert.deepEqual(manifestsOf(result, "app"), [
          [old.digest, "untagged, pushed 20d ago (more than 10d)"],
        ]);
        for (const stays of [pulled, child, signature, fresh]) {
          assert.ok(!result.repositories[0]!.manifests.some((m) => m.digest === stays.digest));
        }
      },
    ));
});

describe("a real run", () => {
  test("does what the dry run said: the same tags and manifests go, each deletion audited", () =>
    withServer(
      {
        policies: [
          {
            name: "cleanup",
            keepLast: 1,
            protectedTags: ["^latest$"],
            deleteUntaggedAfter: "2d",
          },
        ],
      },
      async (server) => {
        const base = await pushImage(server, "app", "latest");
        const amd64 = await pushImage(server, "app", undefined);
        const old = await pushIndex(server, "app", "1.0", [amd64.descriptor]);
        const previous = await pushImage(server, "app", "1.1");
        const orphan = await pushImage(server, "app", undefined);
        days(3);
        const newest = await pushImage(server, "app", "1.2");
        const x = await pushImage(server, "other", "x");
        days(1);
        await pushImage(server, "other", "y");

        const dry = await run(server, "dryRun=true");
        const real = await run(server, "dryRun=false");
        assert.equal(real.dryRun, false);
        for (const result of [dry, real]) {
          const parsed = RetentionResultSchema.safeParse(result);
          assert.ok(parsed.success, `the documented shape (openapi): ${parsed.error?.message}`);
        }
        const planOnly = (result: Result) =>
          result.repositories.map((plan) => ({
            ...plan,
            tags: plan.tags.map(({ outcome: _o, error: _e, ...decision }) => decision),
            manifests: plan.manifests.map(({ outcome: _o, error: _e, ...decision }) => decision),
          }));
        assert.deepEqual(planOnly(real), planOnly(dry), "the real run carried out the dry run's plan");
        assert.deepEqual(real.summary, dry.summary);
        const deletions = real.repositories
          .flatMap((p) => [...p.tags, ...p.manifests])
          .filter((d) => d.action === "delete");
        assert.equal(deletions.length, 8, "tags 1.0, 1.1, x and five manifests");
        assert.ok(deletions.every((d) => d.outcome === "deleted"));
        assert.deepEqual(
          Object.entries(tagsOf(dry, "app"))
            .filter(([, [action]]) => action === "delete")
            .map(([tag]) => tag),
          ["1.0", "1.1"],
        );
        assert.deepEqual(
          new Map(manifestsOf(dry, "app")),
          new Map([
            [old.digest, "its tags are deleted (1.0)"],
            [amd64.digest, `listed only by deleted ${short(old.digest)}`],
            [previous.digest, "its tags are deleted (1.1)"],
            [orphan.digest, "untagged, pushed 4d ago (more than 2d)"],
          ]),
        );
        assert.deepEqual(manifestsOf(dry, "other"), [[x.digest, "its tags are deleted (x)"]]);

        // The registry now holds exactly what the plan kept.
        const status = async (reference: string) =>
          (
            await http(server, "GET", `/v2/app/manifests/${reference}`, {
              headers: { Accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json` },
            })
          ).status;
        for (const tag of ["1.0", "1.1"]) assert.equal(await status(tag), 404, tag);
        for (const tag of ["latest", "1.2"]) assert.equal(await status(tag), 200, tag);
        for (const digest of [old.digest, amd64.digest, orphan.digest, previous.digest]) {
          assert.equal(await status(digest), 404);
        }
        for (const digest of [base.digest, newest.digest]) assert.equal(await status(digest), 200);
        assert.deepEqual(tagsOf(real, "other"), {
          x: ["delete", "not among the 1 newest"],
          y: ["keep", "among the 1 newest"],
        });

        // Nothing is left to do.
        const again = await run(server, "dryRun=true");
        assert.equal(again.summary.tagsDeleted, 0);
        assert.equal(again.summary.manifestsDeleted, 0);

        // Every deletion is in the audit log, with the policy and the reason.
        await server.running.audit!.flush();
        const lines = (await readFile(join(server.dataDir, "audit.log"), "utf8"))
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .filter((event) => event.action === "retention");
        assert.equal(lines.length, deletions.length);
        assert.ok(lines.every((event) => event.policy === "cleanup" && typeof event.reason === "string"));
        assert.ok(lines.some((event) => event.reference === "1.0" && event.repository === "app"));
        assert.ok(lines.some((event) => event.reference === orphan.digest));

        const info = await http(server, "GET", "/api/admin/retention");
        const lastRun = info.json<{ lastRun: { dryRun: boolean; trigger: string } }>().lastRun;
        assert.deepEqual([lastRun.dryRun, lastRun.trigger], [true, "api"]);
      },
      { audit: { file: "audit.log", log: false, sync: false } },
    ));

  test("on a registry without deletion only dry runs work", () =>
    withServer(
      { policies: [{ keepLast: 1 }] },
      async (server) => {
        await pushImage(server, "app", "a");
        days(1);
        await pushImage(server, "app", "b");
        const refused = await http(server, "POST", "/api/admin/retention?dryRun=false");
        assert.equal(refused.status, 403);
        assert.match(refused.text(), /storage\.deleteEnabled/);
        assert.equal((await run(server)).summary.tagsDeleted, 1);
      },
      { deleteEnabled: false },
    ));
});

describe("the deploy kit's retention policy", () => {
  test("as rendered and as built, it loads as a Reestr policy and applies", async () => {
    const built = imageRetentionPolicy("cleanup", {
      retentionDays: 7,
      keepTagged: false,
      repositories: ["team/**"],
    });
    const rendered = renderImageRetentionPolicy(built).policy;
    const fromRendered = ConfigSchema.parse({ retention: { policies: [rendered] } }).retention!.policies;
    const fromBuilt = ConfigSchema.parse({ retention: { policies: [built] } }).retention!.policies;
    assert.deepEqual(fromBuilt, fromRendered, "the builder's object and its rendering mean the same");
    assert.deepEqual(fromRendered, [
      {
        name: "cleanup",
        repositories: ["team/**"],
        schedule: "0 2 * * *",
        sortBy: "pushed",
        keepPushedWithin: 7 * DAY,
        deleteUntaggedAfter: 7 * DAY,
        keepTags: [],
        deleteTags: [],
        protectedTags: ["^latest$"],
      },
    ]);

    await withServer({ policies: [rendered] }, async (server) => {
      await pushImage(server, "team/app", "latest");
      await pushImage(server, "team/app", "old");
      const untagged = await pushImage(server, "team/app", undefined);
      await pushImage(server, "elsewhere", "old");
      days(8);
      await pushImage(server, "team/app", "new");
      const result = await run(server);
      assert.deepEqual(
        result.repositories.map((p) => p.repository),
        ["team/app"],
      );
      assert.deepEqual(tagsOf(result, "team/app"), {
        latest: ["keep", "protected by /^latest$/"],
        new: ["keep", "pushed 0s ago (within 1w)"],
        old: ["delete", "pushed 8d ago (more than 1w)"],
      });
      assert.ok(manifestsOf(result, "team/app").some(([digest]) => digest === untagged.digest));
      const info = await http(server, "GET", "/api/admin/retention");
      assert.deepEqual(info.json<{ policies: unknown[] }>().policies, [
        {
          name: "cleanup",
          repositories: ["team/**"],
          schedule: "0 2 * * *",
          keepLast: null,
          sortBy: "pushed",
          keepPushedWithin: "1w",
          keepPulledWithin: null,
          keepTags: [],
          deleteTags: [],
          protectedTags: ["^latest$"],
          deleteUntaggedAfter: "1w",
        },
      ]);
    });
  });

  test("with its defaults (keep every tagged image) only untagged manifests age out", () =>
    withServer(
      { policies: [renderImageRetentionPolicy(imageRetentionPolicy("defaults", {})).policy] },
      async (server) => {
        await pushImage(server, "any/where", "ancient");
        const untagged = await pushImage(server, "any/where", undefined);
        days(31);
        const result = await run(server);
        assert.deepEqual(tagsOf(result, "any/where"), { ancient: ["keep", "matches keepTags /.*/"] });
        assert.deepEqual(manifestsOf(result, "any/where"), [
          [untagged.digest, "untagged, pushed 31d ago (more than 30d)"],
        ]);
      },
    ));

  test("a deploy kit object with a wrong field is refused, naming it", () => {
    const rendered = renderImageRetentionPolicy(imageRetentionPolicy("x", {})).policy;
    const broken = { ...rendered, spec: { ...rendered.spec, maxAgeDays: "soon" } };
    const result = ConfigSchema.safeParse({ retention: { policies: [broken] } });
    assert.equal(result.success, false);
    const issue = result.error!.issues[0]!;
    assert.deepEqual(issue.path, ["retention", "policies", 0, "spec", "maxAgeDays"]);
    assert.match(issue.message, /deploy kit policy/);
  });
});

describe("the schedule", () => {
  test("runs the policies at the scheduled time, on the injected clock", async () => {
    const clock = new FakeClock("2025-06-01T00:00:00Z");
    const server = await startServer({
      scheduleClock: clock,
      config: { retention: { schedule: "0 4 * * *", policies: [{ keepLast: 1 }] } },
    });
    try {
      await pushImage(server, "app", "a");
      await new Promise((resolve) => setTimeout(resolve, 2)); // distinct push times
      await pushImage(server, "app", "b");
      const info = await http(server, "GET", "/api/admin/retention");
      assert.equal(info.json<{ nextRun: string }>().nextRun, "2025-06-01T04:00:00.000Z");
      await clock.advanceTo("2025-06-01T03:59:00Z");
      assert.equal(server.running.retention.lastRun, undefined);
      await clock.advanceTo("2025-06-01T04:00:00Z");
      const lastRun = await waitFor(() => server.running.retention.lastRun, { what: "the scheduled run" });
      assert.deepEqual(
        [lastRun.trigger, lastRun.dryRun, lastRun.summary.tagsDeleted],
        ["schedule", false, 1],
      );
      assert.equal(
        (await http(server, "GET", "/v2/app/manifests/a", { headers: { Accept: OCI_MANIFEST } })).status,
        404,
      );
      await waitFor(() => server.running.retention.nextRun === Date.parse("2025-06-02T04:00:00Z"), {
        what: "the next run planned for the next day",
      });
    } finally {
      await server.cleanup();
    }
  });
});

describe("the retention API", () => {
  test("shows the policies and the schedule; refuses bad parameters", () =>
    withServer({ policies: [{ name: "p", keepLast: 3, keepPulledWithin: "30d" }] }, async (server) => {
      const info = await http(server, "GET", "/api/admin/retention");
      assert.equal(info.status, 200);
      const body = info.json<Record<string, unknown>>();
      assert.equal(body.schedule, "0 4 * * *");
      assert.equal(body.scheduled, false);
      assert.equal(body.nextRun, null);
      assert.equal(body.lastRun, null);
      assert.equal((body.policies as { keepPulledWithin: string }[])[0]!.keepPulledWithin, "30d");
      const bad = await http(server, "POST", "/api/admin/retention?dryRun=maybe");
      assert.equal(bad.status, 400);
      assert.match(bad.text(), /dryRun/);
      const unknown = await http(server, "POST", "/api/admin/retention?policy=nope");
      assert.equal(unknown.status, 400);
      assert.match(unknown.json<{ error: { message: string } }>().error.message, /no policy named "nope"/);
      const named = await run(server, "policy=p");
      assert.deepEqual(named.policies, ["p"]);
    }));
});

describe("the retention section", () => {
  const problems = (retention: unknown) => {
    const result = ConfigSchema.safeParse({ retention });
    assert.equal(result.success, false);
    return result.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  };

  test("names each bad field", () => {
    assert.match(problems({ schedule: "0 4 * *" })[0]!, /^retention\.schedule: invalid cron expression/);
    assert.match(
      problems({ policies: [{ repositories: ["Team/*"] }] })[0]!,
      /^retention\.policies\.0\.repositories\.0: invalid repository glob/,
    );
    assert.match(
      problems({ policies: [{ keepTags: ["("] }] })[0]!,
      /^retention\.policies\.0\.keepTags\.0: invalid regular expression/,
    );
    assert.match(problems({ policies: [{ keepLast: 0 }] })[0]!, /^retention\.policies\.0\.keepLast/);
    assert.match(
      problems({ policies: [{ keepPushedWithin: "soon" }] })[0]!,
      /^retention\.policies\.0\.keepPushedWithin/,
    );
    assert.match(problems({ policies: [{ sortBy: "alpha" }] })[0]!, /^retention\.policies\.0\.sortBy/);
    assert.match(
      problems({ policies: [{ schedule: "@never" }] })[0]!,
      /^retention\.policies\.0\.schedule: invalid cron/,
    );
    assert.match(problems({ policies: [{ keepLast: 1, typo: true }] })[0]!, /typo/);
    assert.match(
      problems({
        policies: [
          { name: "a", keepLast: 1 },
          { name: "a", keepLast: 2 },
        ],
      })[0]!,
      /^retention\.policies\.1\.name: duplicate policy name "a"/,
    );
  });
});
