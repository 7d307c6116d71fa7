import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { runDeploy } from "../../src/cli/deploy.ts";

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
    JSON.stringify({ kind: "DockerRegistry", name: "solo", config: { replicas: 3 } }),
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
  dockerRegistry("built", { replicas: 1 }),
  imagePullSecret("built-pull", { registry: "r.example", username: "u", password: "p" }),
  { kind: "DockerRegistry", name: "shaped", config: {} },
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
    const objects = JSON.parse(stdout) as { kind: string; metadata: { name: string } }[];
    assert.deepEqual(
      objects.map((o) => o.kind),
      REGISTRY_KINDS,
    );
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

  test("single-entry paths have no index", async () => {
    await writeFile(
      join(dir, "single-bad.json"),
      JSON.stringify({ kind: "DockerRegistry", name: "x", config: { replicas: 0 } }),
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
    assert.match(stdout, /kind: DockerRegistry/);
    assert.match(stdout, /kind: ImagePullSecret/);
  });
});
