import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { runDeploy } from "../../src/cli/deploy.ts";
import type { RenderedDocument } from "../../src/deploy/index.ts";
import { assertValidDocuments } from "./k8s-schema.ts";

let dir: string;

async function deploy(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runDeploy(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    cwd: dir,
  });
  return { code, stdout, stderr };
}

function kinds(yamlText: string): string[] {
  const docs = parseAllDocuments(yamlText);
  assert.ok(Array.isArray(docs));
  for (const doc of docs) assert.deepEqual(doc.errors, []);
  return docs.map((d) => d.toJS().kind as string);
}

const GOOD_YAML = `- kind: DockerRegistry
  name: registry
  config:
    namespace: registry
    replicas: 2
    auth: { scheme: htpasswd, htpasswd: { secretName: registry-users } }
- kind: ImagePullSecret
  name: registry-pull
  registry: registry.example.com
  username: ci
  password: change-me
  namespace: apps
`;

const REGISTRY_KINDS = ["ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service"];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-deploy-cli-"));
  await writeFile(join(dir, "good.yaml"), GOOD_YAML);
  await writeFile(
    join(dir, "single.json"),
    JSON.stringify({
      kind: "DockerRegistry",
      name: "solo",
      config: { replicas: 3, auth: { enabled: false } },
    }),
  );
  await writeFile(
    join(dir, "bad.yaml"),
    `- kind: DockerRegistry
  name: registry
  config:
    replicas: 0
    storage: { driver: s3, s3: { bucket: "" } }
    resources: { requests: { cpu: lots } }
- kind: ImagePullSecret
  name: pull
  registry: registry.example.com
`,
  );
  await writeFile(join(dir, "broken.yaml"), "- kind: DockerRegistry\n  name: [unclosed\n");
  await writeFile(
    join(dir, "unknown.yaml"),
    "- kind: DockerRegistry\n  name: a\n- kind: Harbour\n  name: b\n",
  );
  await writeFile(join(dir, "noname.json"), JSON.stringify({ kind: "DockerRegistry" }));
  await writeFile(join(dir, "config.toml"), "x = 1\n");
  const index = pathToFileURL(resolve(import.meta.dirname, "../../src/deploy/index.ts")).href;
  await writeFile(
    join(dir, "built.ts"),
    `import { dockerRegistry, imagePullSecret } from ${JSON.stringify(index)};
export default [
  dockerRegistry("built", { replicas: 1, auth: { enabled: false } }),
  imagePullSecret("built-pull", { registry: "r.example", username: "u", password: "p" }),
  { kind: "DockerRegistry", name: "shaped", config: { auth: { enabled: false } } },
];
`,
  );
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("reestr deploy render", () => {
  test("prints multi-document YAML on stdout", async () => {
    const { code, stdout, stderr } = await deploy(["render", "good.yaml"]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(kinds(stdout), [...REGISTRY_KINDS, "Secret"]);
    const deployment = parseAllDocuments(stdout)
      .map((d) => d.toJS())
      .find((o) => o.kind === "Deployment");
    assert.equal(deployment.spec.replicas, 2);
  });

  test("single JSON entry, and --json", async () => {
    const { code, stdout } = await deploy(["render", "single.json", "--json"]);
    assert.equal(code, 0);
    const documents = JSON.parse(stdout) as { type: string; file: string; content: { kind: string } }[];
    assert.deepEqual(
      documents.map((d) => d.content.kind),
      REGISTRY_KINDS,
    );
    assert.ok(documents.every((d) => d.type === "object" && d.file.endsWith(".yaml")));
  });

  test("-o writes one <kind>-<name>.yaml per object", async () => {
    const out = join(dir, "out");
    const { code, stdout } = await deploy(["render", "good.yaml", "-o", "out"]);
    assert.equal(code, 0);
    const files = (await readdir(out)).sort();
    assert.equal(files.length, 6);
    assert.ok(files.includes("secret-registry-pull.yaml"));
    assert.ok(files.includes("deployment-registry.yaml"));
    for (const file of files) {
      assert.match(file, /^[a-z0-9.-]+\.yaml$/);
      const object = parse(await readFile(join(out, file), "utf8"));
      assert.equal(`${object.kind}-${object.metadata.name}.yaml`.toLowerCase(), file);
    }
    assert.equal(stdout.trim().split("\n").length, 6);
  });

  test("imports a .ts config exporting built objects or entries", async () => {
    const { code, stdout, stderr } = await deploy(["render", "built.ts"]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(kinds(stdout), [...REGISTRY_KINDS, "Secret", ...REGISTRY_KINDS]);
  });

  test("an invalid config is not rendered (exit 1, problems on stderr)", async () => {
    const { code, stdout, stderr } = await deploy(["render", "bad.yaml"]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, /\[0\]\.config\.replicas: /);
  });
});

describe("reestr deploy validate", () => {
  test("good config prints valid, exit 0", async () => {
    assert.deepEqual(await deploy(["validate", "good.yaml"]), { code: 0, stdout: "valid\n", stderr: "" });
    assert.equal((await deploy(["validate", "built.ts"])).code, 0);
  });

  test("bad config prints path: message for each problem, exit 1", async () => {
    const { code, stdout } = await deploy(["validate", "bad.yaml"]);
    assert.equal(code, 1);
    const lines = stdout.trim().split("\n");
    const paths = lines.map((l) => l.slice(0, l.indexOf(": ")));
    for (const expected of [
      "[0].config.replicas",
      "[0].config.storage.s3.bucket",
      "[0].config.resources.requests.cpu",
      "[1].username",
      "[1].password",
    ]) {
      assert.ok(paths.includes(expected), `${expected} in ${stdout}`);
    }
    const json = JSON.parse((await deploy(["validate", "bad.yaml", "--json"])).stdout);
    assert.equal(json.valid, false);
    assert.ok(json.errors.every((e: { path: string; message: string }) => e.path && e.message));
  });

  test("validate refuses a name render would refuse (not a DNS-1123 label)", async () => {
    await writeFile(join(dir, "bad-name.yaml"), "- kind: HarborRegistry\n  name: Production\n");
    const { code, stdout } = await deploy(["validate", "bad-name.yaml"]);
    assert.equal(code, 1);
    assert.match(stdout, /^name: must be a DNS-1123 label/m, "a single entry: no index in the path");
    assert.equal((await deploy(["render", "bad-name.yaml"])).code, 1, "and render agrees");
  });

  test("single-entry paths have no index", async () => {
    await writeFile(
      join(dir, "single-bad.json"),
      JSON.stringify({
        kind: "DockerRegistry",
        name: "x",
        config: { replicas: 0, auth: { enabled: false } },
      }),
    );
    const { code, stdout } = await deploy(["validate", "single-bad.json"]);
    assert.equal(code, 1);
    assert.match(stdout, /^config\.replicas: /m);
  });
});

describe("reestr deploy: bad input exits 2 with a message naming the problem", () => {
  const cases: [string, string[], RegExp][] = [
    ["missing file", ["validate", "nope.yaml"], /nope\.yaml: no such file/],
    ["missing .ts file", ["render", "nope.ts"], /nope\.ts/],
    ["bad YAML", ["render", "broken.yaml"], /broken\.yaml: invalid YAML/],
    ["unknown kind", ["validate", "unknown.yaml"], /\[1\]\.kind: unknown kind "Harbour"/],
    ["missing name", ["render", "noname.json"], /name: missing/],
    ["unsupported extension", ["render", "config.toml"], /unsupported file type "\.toml"/],
    ["no subcommand", [], /missing subcommand/],
    ["unknown subcommand", ["apply", "good.yaml"], /unknown subcommand "apply"/],
    ["no file", ["render"], /expected exactly one config file/],
    ["unknown flag", ["render", "good.yaml", "--bogus"], /bogus/],
  ];
  for (const [name, argv, message] of cases) {
    test(name, async () => {
      const { code, stderr } = await deploy(argv);
      assert.equal(code, 2);
      assert.match(stderr, message);
    });
  }

  test("--help documents the format with an example", async () => {
    const { code, stdout } = await deploy(["--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /HarborRegistry \(harbor\)/);
    assert.match(stdout, /kind: ImagePullSecret/);
    assert.match(stdout, /--only/);
  });
});

const EXAMPLES = resolve(import.meta.dirname, "../../examples/deploy");

describe("reestr deploy: every registry kind, policies and the examples", () => {
  test("every example in examples/deploy validates and renders schema-valid documents", async () => {
    const files = (await readdir(EXAMPLES))
      .filter((f) => /\.(ya?ml|json|ts)$/.test(f) && f !== "tsconfig.json")
      .sort();
    assert.ok(files.length >= 6, files.join(", "));
    const types = new Set<string>();
    for (const file of files) {
      const path = join(EXAMPLES, file);
      const validated = await deploy(["validate", path]);
      assert.equal(validated.code, 0, `${file}: ${validated.stdout}${validated.stderr}`);
      const { code, stdout, stderr } = await deploy(["render", path, "--json"]);
      assert.equal(code, 0, `${file}: ${stderr}`);
      const documents = JSON.parse(stdout) as RenderedDocument[];
      assert.ok(documents.length > 0, file);
      assertValidDocuments(documents);
      for (const d of documents) types.add(d.type);
    }
    assert.deepEqual([...types].sort(), [
      "api-request",
      "build-config",
      "helm-values",
      "object",
      "reestr-policy",
    ]);
  });

  test("--only object prints only Kubernetes objects (for kubectl apply -f -)", async () => {
    const { code, stdout } = await deploy(["render", join(EXAMPLES, "harbor.yaml"), "--only", "object"]);
    assert.equal(code, 0);
    assert.deepEqual(kinds(stdout), ["Namespace", "Secret", "Secret"]);
    assert.doesNotMatch(stdout, /^# /m);
    const values = await deploy(["render", join(EXAMPLES, "harbor.yaml"), "--only", "values"]);
    const docs = parseAllDocuments(values.stdout);
    assert.ok(Array.isArray(docs));
    assert.equal(docs.length, 1);
    assert.match(
      values.stdout,
      /^# Helm values: helm upgrade --install production harbor --repo https:\/\/helm\.goharbor\.io/,
    );
    assert.equal(docs[0]!.toJS().externalURL, "https://harbor.example.com");
  });

  test("-o writes one file per document: objects, values, API requests (JSON), policies", async () => {
    const out = join(dir, "harbor-out");
    const { code, stderr } = await deploy(["render", join(EXAMPLES, "harbor.yaml"), "-o", out]);
    assert.equal(code, 0, stderr);
    const files = ((await readdir(out, { recursive: true })) as string[]).sort();
    for (const expected of [
      "namespace-harbor.yaml",
      "secret-production-harbor-core.yaml",
      "helm/values-production.yaml",
      "policy/scanpolicy-vulnerability-scan.yaml",
      "policy/retentionpolicy-cleanup.yaml",
      "secret-harbor-pull.yaml",
    ]) {
      assert.ok(files.includes(expected), `${expected} in ${files.join(", ")}`);
    }
    // Only Kubernetes objects at the top: kubectl apply -f <dir> applies exactly them.
    const top = (await readdir(out, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    assert.deepEqual(top.sort(), [
      "namespace-harbor.yaml",
      "secret-harbor-pull.yaml",
      "secret-production-harbor-core.yaml",
    ]);
    const api = files.filter((f) => f.startsWith("api/harbor-"));
    assert.ok(api.length >= 4, api.join(", "));
    for (const file of api) {
      const request = JSON.parse(await readFile(join(out, file), "utf8"));
      assert.match(request.path, /^\/api\/v2\.0\//);
    }
    const values = parse(await readFile(join(out, "helm/values-production.yaml"), "utf8"));
    assert.equal(values.core.replicas, 3);
    assert.equal(values.registry.replicas, 3);
    assert.equal(values.database.external.host, "postgres.default.svc");
  });

  test("warnings go to stderr on render, never secret values", async () => {
    await writeFile(
      join(dir, "secrets.yaml"),
      `- kind: harbor
  name: h
  config:
    adminPassword: admin-pass-do-not-log
    database: { password: db-pass-do-not-log }
- kind: artifactory
  name: a
  config:
    database: { password: art-pass-do-not-log }
`,
    );
    const { code, stdout, stderr } = await deploy(["render", "secrets.yaml"]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^warning: \[0\]\.config\.redis\.passwordSecret: /m);
    assert.doesNotMatch(stderr, /do-not-log/);
    // The values are in the rendered Secrets (stdout), referenced by name from the Helm values.
    assert.match(stdout, /HARBOR_ADMIN_PASSWORD: admin-pass-do-not-log/);
    assert.match(stdout, /password: db-pass-do-not-log/);
    assert.match(stdout, /db-password: art-pass-do-not-log/);
    const invalid = await deploy(["validate", "secrets.yaml", "--json"]);
    assert.doesNotMatch(invalid.stdout, /do-not-log/);
  });

  test("bad registry configs: every problem with its path, exit 1", async () => {
    await writeFile(
      join(dir, "bad-kinds.yaml"),
      `- kind: harbor
  name: h
  config:
    coreReplicas: 0
    authentication: { ldap: { enabled: true } }
    garbageCollection: { schedule: "0 25 * * *" }
- kind: nexus
  name: n
  config: { resources: { limits: { memory: 2 gigs } } }
- kind: artifactory
  name: a
  config: { authentication: { saml: { enabled: true } } }
- kind: retention-policy
  name: r
  config: { schedule: every night }
- kind: docker-registry
  name: d
  config: { storage: { driver: s3, s3: { bucket: "" } } }
`,
    );
    const { code, stdout } = await deploy(["validate", "bad-kinds.yaml"]);
    assert.equal(code, 1);
    for (const expected of [
      "[0].config.coreReplicas: must be at least 1",
      "[0].config.authentication.ldap.url: LDAP is enabled but no URL is set",
      "[0].config.garbageCollection.schedule: invalid cron schedule",
      "[1].config.resources.limits.memory: invalid memory quantity",
      "[2].config.authentication.saml.loginUrl: SAML is enabled",
      "[3].config.schedule: invalid cron schedule",
      "[4].config.storage.s3.bucket: S3 storage is enabled but no bucket is set",
      "[4].config.auth.token.secretName: bearer-token auth needs",
    ]) {
      assert.ok(stdout.includes(expected), `${expected} in\n${stdout}`);
    }
    const render = await deploy(["render", "bad-kinds.yaml"]);
    assert.equal(render.code, 1);
    assert.equal(render.stdout, "");
  });

  test("bad input: unknown --only type, unknown kind lists the aliases, options outside config", async () => {
    const only = await deploy(["render", "good.yaml", "--only", "objects,charts"]);
    assert.equal(only.code, 2);
    assert.match(only.stderr, /--only: unknown document type "charts"/);
    await writeFile(join(dir, "stray.yaml"), "kind: harbor\nname: h\ncoreReplicas: 3\n");
    const stray = await deploy(["validate", "stray.yaml"]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /coreReplicas: unknown field \(HarborRegistry options go under "config"\)/);
    const unknown = await deploy(["validate", "unknown.yaml"]);
    assert.match(unknown.stderr, /harbor, nexus, artifactory/);
  });
});

test("the TypeScript example type-checks against the library (tsc -p examples/deploy)", async () => {
  const { execFile } = await import("node:child_process");
  const root = resolve(import.meta.dirname, "../..");
  const tsc = join(root, "node_modules/.bin/tsc");
  const result = await new Promise<{ code: number | null; output: string }>((done) => {
    const child = execFile(
      tsc,
      ["--noEmit", "-p", "examples/deploy"],
      { cwd: root, timeout: 120_000 },
      (error, stdout, stderr) => {
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
      },
    );
    child.stdin?.end();
  });
  assert.equal(result.code, 0, result.output);
});

test("a hand-written builder object with a partial spec renders over the defaults", async () => {
  await writeFile(
    join(dir, "partial-object.yaml"),
    "apiVersion: deploy.reestr.dev/v1alpha1\nkind: HarborRegistry\nmetadata: { name: hand }\nspec: { coreReplicas: 2 }\n",
  );
  const { code, stdout, stderr } = await deploy(["render", "partial-object.yaml", "--json"]);
  assert.equal(code, 0, stderr);
  const documents = JSON.parse(stdout) as RenderedDocument[];
  assertValidDocuments(documents);
  const values = documents.find((d) => d.type === "helm-values")!.content as { core: { replicas: number } };
  assert.equal(values.core.replicas, 2);
  assert.equal(documents.find((d) => d.type === "helm-values")!.file, "helm/values-hand.yaml");
});
