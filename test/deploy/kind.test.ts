import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { runKind } from "../../src/cli/kind.ts";
import {
  kindClusterConfig,
  kindHostsToml,
  kindIntegration,
  localRegistryHostingConfigMap,
  registryContainerCommand,
  renderKindIntegration,
} from "../../src/deploy/index.ts";
import { IMAGE } from "../../src/version.ts";

async function kind(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runKind(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

function assertKep1755(configMap: Record<string, unknown>, host: string): void {
  assert.equal(configMap.apiVersion, "v1");
  assert.equal(configMap.kind, "ConfigMap");
  const metadata = configMap.metadata as { name: string; namespace: string };
  assert.equal(metadata.name, "local-registry-hosting");
  assert.equal(metadata.namespace, "kube-public");
  const data = configMap.data as Record<string, string>;
  assert.deepEqual(Object.keys(data), ["localRegistryHosting.v1"]);
  const hosting = parse(data["localRegistryHosting.v1"]!) as Record<string, string>;
  assert.equal(hosting.host, host);
  assert.match(hosting.help!, /^https:\/\//);
  for (const key of Object.keys(hosting)) {
    assert.ok(["host", "hostFromContainerRuntime", "hostFromClusterNetwork", "help"].includes(key), key);
  }
}

describe("kind builders", () => {
  test("Cluster config patches containerd to read hosts.toml and mounts it into every node", () => {
    const cluster = kindClusterConfig({ workers: 2 });
    assert.equal(cluster.kind, "Cluster");
    assert.equal(cluster.apiVersion, "kind.x-k8s.io/v1alpha4");
    assert.equal(cluster.containerdConfigPatches.length, 1);
    assert.match(
      cluster.containerdConfigPatches[0]!,
      /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]/,
    );
    assert.match(cluster.containerdConfigPatches[0]!, /config_path = "\/etc\/containerd\/certs\.d"/);
    assert.deepEqual(
      cluster.nodes.map((n) => n.role),
      ["control-plane", "worker", "worker"],
    );
    for (const node of cluster.nodes) {
      assert.deepEqual(node.extraMounts, [
        { hostPath: "/tmp/reestr-kind/certs.d", containerPath: "/etc/containerd/certs.d", readOnly: true },
      ]);
    }
  });

  test("hosts.toml points the registry host at the container on kind's network", () => {
    const toml = kindHostsToml({ name: "my-reg", containerPort: 5001 });
    assert.match(toml, /^server = "http:\/\/my-reg:5001"$/m);
    assert.match(toml, /^\[host\."http:\/\/my-reg:5001"\]$/m);
    assert.equal(
      kindIntegration({ registryHost: "localhost:5002" }).hostsToml.path,
      "/tmp/reestr-kind/certs.d/localhost:5002/hosts.toml",
    );
  });

  test("ConfigMap is valid KEP-1755", () => {
    assertKep1755(localRegistryHostingConfigMap({ registryHost: "localhost:5001" }), "localhost:5001");
  });

  test("commands connect the registry container to kind's network", () => {
    const { commands } = kindIntegration({ name: "reestr" });
    assert.ok(commands.some((c) => c.includes("docker network connect kind 'reestr'")));
    assert.ok(commands.some((c) => c.startsWith("kind create cluster --config")));
  });

  test("the first command starts the registry container from the image npm run image builds", () => {
    const { commands } = kindIntegration({ registryHost: "localhost:5001", name: "reg" });
    assert.equal(commands[0], registryContainerCommand({ registryHost: "localhost:5001", name: "reg" }));
    assert.equal(
      commands[0],
      `docker inspect 'reg' >/dev/null 2>&1 || docker run -d --restart=always --name 'reg' ` +
        `-p '127.0.0.1:5001:5000' -v 'reg-data:/data' '${IMAGE}' serve --host 0.0.0.0 --port 5000`,
    );
    const other = registryContainerCommand({ image: "registry.example.com/reestr:dev", containerPort: 5002 });
    assert.match(other, / 'registry\.example\.com\/reestr:dev' serve --host 0\.0\.0\.0 --port 5002$/);
    assert.match(other, /-p '127\.0\.0\.1:5000:5002'/);
    assert.match(registryContainerCommand({ registryHost: "registry.local" }), /-p '127\.0\.0\.1:80:5000'/);
  });

  test("bad options name the field", () => {
    assert.throws(() => kindClusterConfig({ registryHost: "http://x/y" }), /registryHost/);
    assert.throws(() => kindClusterConfig({ certsDir: "relative" }), /certsDir/);
    assert.throws(() => kindClusterConfig({ name: "bad name" }), /name/);
    assert.throws(() => kindClusterConfig({ image: "bad image; rm -rf /" }), /image/);
  });

  test("rendered text is a YAML stream: Cluster, then the ConfigMap, with comments", () => {
    const docs = parseAllDocuments(renderKindIntegration());
    assert.ok(Array.isArray(docs));
    assert.equal(docs.length, 2);
    for (const doc of docs) assert.deepEqual(doc.errors, []);
    const [cluster, configMap] = docs.map((d) => d.toJS());
    assert.equal(cluster.kind, "Cluster");
    assertKep1755(configMap, "localhost:5000");
  });
});

describe("reestr kind config", () => {
  test("prints the Cluster config with the patch, the ConfigMap and the commands", async () => {
    const { code, stdout } = await kind(["config", "--registry-host", "localhost:5001", "--name", "reg"]);
    assert.equal(code, 0);
    const docs = parseAllDocuments(stdout);
    assert.ok(Array.isArray(docs));
    const [cluster, configMap] = docs.map((d) => d.toJS());
    assert.equal(cluster.kind, "Cluster");
    assert.equal(cluster.apiVersion, "kind.x-k8s.io/v1alpha4");
    assert.match(cluster.containerdConfigPatches[0], /config_path = "\/etc\/containerd\/certs\.d"/);
    assertKep1755(configMap, "localhost:5001");
    assert.match(stdout, /^# .*docker network connect kind 'reg'/m);
    assert.match(stdout, /^# \[host\."http:\/\/reg:5000"\]$/m);
    assert.ok(stdout.includes(`'${IMAGE}' serve`), "the commands start the registry from Reestr's image");
    const custom = await kind(["config", "--only", "commands", "--image", "localhost:5000/reestr:dev"]);
    assert.match(custom.stdout.split("\n")[0]!, / 'localhost:5000\/reestr:dev' serve /);
  });

  test("--only and --json", async () => {
    const cluster = await kind(["config", "--only", "cluster"]);
    assert.equal(parse(cluster.stdout).kind, "Cluster");
    const toml = await kind(["config", "--only", "hosts-toml"]);
    assert.match(toml.stdout, /^server = "http:\/\/reestr:5000"/);
    const json = await kind(["config", "--json"]);
    const bundle = JSON.parse(json.stdout);
    assert.equal(bundle.cluster.kind, "Cluster");
    assertKep1755(bundle.configMap, "localhost:5000");
  });

  test("bad usage exits 2 with a message", async () => {
    assert.equal((await kind([])).code, 2);
    assert.equal((await kind(["nope"])).code, 2);
    const badPort = await kind(["config", "--container-port", "x"]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--container-port/);
    const badOnly = await kind(["config", "--only", "everything"]);
    assert.equal(badOnly.code, 2);
    assert.match(badOnly.stderr, /--only/);
    assert.equal((await kind(["config", "--bogus"])).code, 2);
  });
});

describe("reestr kind config --only mirror", () => {
  test("prints a containerd hosts.toml sending docker.io pulls through the cache prefix", async () => {
    let out = "";
    const code = await runKind(["config", "--only", "mirror", "--mirror", "docker.io=dockerhub"], {
      stdout: (text) => {
        out += text;
      },
      stderr: () => {},
    });
    assert.equal(code, 0);
    assert.match(out, /^server = "https:\/\/registry-1\.docker\.io"/);
    assert.match(out, /\[host\."http:\/\/[^"]+\/v2\/dockerhub"\]/);
    assert.match(out, /override_path = true/);
    assert.equal(await runKind(["config", "--only", "mirror"], { stdout: () => {}, stderr: () => {} }), 2);
  });
});
