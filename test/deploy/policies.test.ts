import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  buildSteps,
  harborCron,
  IMAGE_BUILD_CONFIG_DEFAULTS,
  imageBuildConfig,
  imageReplicationPolicy,
  imageRetentionPolicy,
  imageScanPolicy,
  renderImageBuildConfig,
  renderImageReplicationPolicy,
  renderImageRetentionPolicy,
  renderImageScanPolicy,
} from "../../src/deploy/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered payloads are free-form JSON, read field by field
type Body = Record<string, any>;

describe("imageScanPolicy", () => {
  test("seed defaults; Reestr policy and Harbor project metadata", () => {
    const p = imageScanPolicy("image-scan");
    assert.deepEqual(p.spec.scanning, {
      enabled: true,
      scanner: "trivy",
      scanInterval: "24h",
      onPull: true,
      onPush: true,
    });
    assert.deepEqual(p.spec.vulnerabilities, {
      critical: { enabled: true, action: "block" },
      high: { enabled: true, action: "warn" },
      medium: { enabled: true, action: "allow" },
    });
    assert.deepEqual(p.spec.exemptions, []);
    const { policy, api } = renderImageScanPolicy(p);
    assert.equal(policy.apiVersion, "policy.reestr.dev/v1alpha1");
    assert.equal(policy.kind, "ScanPolicy");
    assert.deepEqual(policy.spec, {
      enabled: true,
      scanner: "trivy",
      intervalSeconds: 86400,
      triggers: { push: true, pull: true },
      rules: [
        { severity: "CRITICAL", action: "block" },
        { severity: "HIGH", action: "warn" },
        { severity: "MEDIUM", action: "allow" },
      ],
      exemptions: [],
    });
    assert.equal(api[0]!.path, "/api/v2.0/projects/library");
    assert.deepEqual(api[0]!.body, {
      metadata: { auto_scan: "true", prevent_vul: "true", severity: "critical" },
    });
    assert.deepEqual(api[1]!.body, { schedule: { type: "Custom", cron: "0 0 0 * * *" } });
  });

  test("Harbor's threshold is the lowest blocked severity; no block, no prevention; scan intervals", () => {
    const high = renderImageScanPolicy(
      imageScanPolicy("p", {
        vulnerabilities: { high: { action: "block" } },
        scanning: { scanInterval: "6h" },
      }),
    );
    assert.equal((high.api[0]!.body as Body).metadata.severity, "high");
    assert.deepEqual(high.api[1]!.body, { schedule: { type: "Custom", cron: "0 0 */6 * * *" } });
    const none = renderImageScanPolicy(
      imageScanPolicy("p", {
        vulnerabilities: { critical: { action: "warn" } },
        scanning: { onPush: false },
      }),
    );
    assert.deepEqual(none.api[0]!.body, { metadata: { auto_scan: "false", prevent_vul: "false" } });
    const off = renderImageScanPolicy(imageScanPolicy("p", { scanning: { enabled: false } }));
    assert.deepEqual(off.api[1]!.body, { schedule: { type: "None" } });
    const weekly = renderImageScanPolicy(imageScanPolicy("p", { scanning: { scanInterval: "168h" } }));
    assert.deepEqual(weekly.api[1]!.body, { schedule: { type: "Custom", cron: "0 0 0 * * 0" } });
  });
});

describe("imageRetentionPolicy", () => {
  test("seed defaults → Harbor /retentions payload: untagged by age, tagged kept", () => {
    const p = imageRetentionPolicy("cleanup");
    assert.deepEqual(
      { ...p.spec, harbor: undefined },
      {
        name: "cleanup",
        retentionDays: 30,
        keepTagged: true,
        keepLatest: true,
        repositories: [],
        images: [],
        schedule: "0 2 * * *",
        harbor: undefined,
      },
    );
    const { policy, api } = renderImageRetentionPolicy(p);
    assert.deepEqual(policy.spec, {
      schedule: "0 2 * * *",
      maxAgeDays: 30,
      keep: { tagged: true, latest: true },
      repositories: [],
    });
    assert.equal(api[0]!.method, "POST");
    assert.equal(api[0]!.path, "/api/v2.0/retentions");
    const body = api[0]!.body as Body;
    assert.equal(body.algorithm, "or");
    assert.deepEqual(body.scope, { level: "project", ref: 1 });
    assert.deepEqual(body.trigger, { kind: "Schedule", settings: { cron: "0 0 2 * * *" }, references: {} });
    assert.deepEqual(
      body.rules.map((r: Body) => [
        r.action,
        r.template,
        r.params,
        r.tag_selectors[0].pattern,
        r.tag_selectors[0].extras,
      ]),
      [
        ["retain", "nDaysSinceLastPush", { nDaysSinceLastPush: 30 }, "**", '{"untagged":true}'],
        ["retain", "always", {}, "**", '{"untagged":false}'],
      ],
    );
  });

  test("keepTagged false keeps latest by name; repositories and images select the scope", () => {
    const p = imageRetentionPolicy("p", {
      retentionDays: 7,
      keepTagged: false,
      repositories: ["team-a/**"],
      images: ["tools/ci"],
      harbor: { projectId: 4 },
    });
    const body = renderImageRetentionPolicy(p).api[0]!.body as Body;
    assert.deepEqual(body.scope.ref, 4);
    assert.deepEqual(
      body.rules.map((r: Body) => r.tag_selectors[0].pattern),
      ["**", "latest"],
    );
    assert.equal(body.rules[0].scope_selectors.repository[0].pattern, "{team-a/**,tools/ci}");
    assert.equal(body.rules[0].scope_selectors.repository[0].decoration, "repoMatches");
  });
});

describe("imageReplicationPolicy", () => {
  test("seed defaults: pull from Docker Hub every 6 hours", () => {
    const p = imageReplicationPolicy("image-replication");
    assert.deepEqual(
      { ...p.spec, harbor: undefined },
      {
        name: "image-replication",
        source: { registry: "docker.io", namespace: "", repository: "" },
        destination: { registry: "registry.local", namespace: "" },
        rules: { pullImage: true, deleteImage: false },
        schedule: "0 */6 * * *",
        enabled: true,
        harbor: undefined,
      },
    );
    const { policy, api } = renderImageReplicationPolicy(p);
    assert.equal(policy.kind, "ReplicationPolicy");
    assert.equal(policy.spec.mode, "pull");
    assert.deepEqual(api[0]!.body, {
      name: "image-replication-remote",
      type: "docker-hub",
      url: "https://hub.docker.com",
      insecure: false,
    });
    const body = api[1]!.body as Body;
    assert.equal(api[1]!.path, "/api/v2.0/replication/policies");
    assert.deepEqual(body.src_registry, { id: 1 });
    assert.equal(body.dest_registry, null);
    assert.deepEqual(body.trigger, { type: "scheduled", trigger_settings: { cron: "0 0 */6 * * *" } });
    assert.equal(body.deletion, false);
  });

  test("push mode with namespaces, filters and deletion", () => {
    const p = imageReplicationPolicy("dr", {
      source: { registry: "harbor.example.com", namespace: "apps" },
      destination: { registry: "harbor-dr.example.com:8443", namespace: "apps-dr" },
      rules: { pullImage: false, deleteImage: true },
    });
    const { api } = renderImageReplicationPolicy(p);
    assert.deepEqual(api[0]!.body, {
      name: "dr-remote",
      type: "docker-registry",
      url: "https://harbor-dr.example.com:8443",
      insecure: false,
    });
    const body = api[1]!.body as Body;
    assert.equal(body.src_registry, null);
    assert.deepEqual(body.dest_registry, { id: 1 });
    assert.deepEqual(body.filters, [{ type: "name", value: "apps/**" }]);
    assert.equal(body.dest_namespace, "apps-dr");
    assert.equal(body.dest_namespace_replace_count, 1);
    assert.equal(body.deletion, true);
  });
});

describe("imageBuildConfig", () => {
  test("seed defaults and the CI object", () => {
    const b = imageBuildConfig("image-build");
    assert.deepEqual(
      { ...b.spec, image: undefined, dockerfile: undefined, cache: { ...b.spec.cache, ref: undefined } },
      {
        name: "image-build",
        buildSystem: "docker",
        cache: { enabled: true, type: "registry", maxSize: "10Gi", ref: undefined },
        context: { source: "git", repository: "", branch: "main" },
        credentials: { registrySecret: "", gitSecret: "" },
        image: undefined,
        dockerfile: undefined,
      },
    );
    const ci = renderImageBuildConfig(b);
    assert.equal(ci.apiVersion, "build.reestr.dev/v1alpha1");
    assert.equal(ci.kind, "BuildConfig");
    assert.equal(ci.spec.image, "$IMAGE");
    assert.deepEqual(ci.spec.steps, [
      [
        "docker",
        "buildx",
        "build",
        "--file",
        "Dockerfile",
        "--tag",
        "$IMAGE",
        "--push",
        "--cache-from",
        "type=registry,ref=$IMAGE:buildcache",
        "--cache-to",
        "type=registry,ref=$IMAGE:buildcache,mode=max",
        ".",
      ],
    ]);
  });

  test("steps per build system: git context, cache references", () => {
    const base = {
      image: "registry.example.com/team/api:1.0",
      context: { repository: "https://git.example.com/team/api.git", branch: "release" },
    };
    const spec = (extra: object) =>
      ({ ...IMAGE_BUILD_CONFIG_DEFAULTS, ...base, ...extra }) as typeof IMAGE_BUILD_CONFIG_DEFAULTS;
    const docker = buildSteps(spec({}))[0]!;
    assert.equal(docker.at(-1), "https://git.example.com/team/api.git#release");
    assert.ok(docker.includes("type=registry,ref=registry.example.com/team/api:buildcache,mode=max"));
    assert.deepEqual(buildSteps(spec({ buildSystem: "kaniko" })), [
      [
        "/kaniko/executor",
        "--context",
        "git://git.example.com/team/api.git#refs/heads/release",
        "--dockerfile",
        "Dockerfile",
        "--destination",
        "registry.example.com/team/api:1.0",
        "--cache=true",
        "--cache-repo=registry.example.com/team/api",
      ],
    ]);
    const buildah = buildSteps(spec({ buildSystem: "buildah" }));
    assert.equal(buildah.length, 2);
    assert.deepEqual(buildah[1], ["buildah", "push", "registry.example.com/team/api:1.0"]);
    assert.ok(buildah[0]!.includes("--layers"));
    const local = buildSteps(spec({ cache: { enabled: true, type: "local", maxSize: "1Gi", ref: "" } }))[0]!;
    assert.ok(local.includes("type=local,dest=/cache,mode=max"));
    const noCache = buildSteps(
      spec({ cache: { enabled: false, type: "registry", maxSize: "1Gi", ref: "" } }),
    )[0]!;
    assert.ok(!noCache.includes("--cache-from"));
  });
});

test("harborCron: 5-field schedules get seconds, macros their 6-field forms", () => {
  assert.equal(harborCron("0 2 * * *"), "0 0 2 * * *");
  assert.equal(harborCron("*/15  * * * mon-fri"), "0 */15 * * * mon-fri");
  assert.equal(harborCron("@daily"), "0 0 0 * * *");
  assert.equal(harborCron("@hourly"), "0 0 * * * *");
});
