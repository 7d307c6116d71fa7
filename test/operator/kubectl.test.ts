/**
 * The user's view with the real kubectl (offline; it talks to the Kubernetes API stand-in of
 * fake-kube-api.ts over HTTP, through a kubeconfig file, as it would to a cluster): a Registry
 * created with `kubectl create`, scanned by the operator, shown by `kubectl get registries` with
 * the CRD's printer columns, waited for with `kubectl wait --for=condition=Ready`, and deleted
 * with `kubectl delete` (the finalizer lets it go).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";
import { FakeKubeApi, humanDuration, RESOURCES } from "./fake-kube-api.ts";
import { type RunningOperator, startOperator } from "./harness.ts";

const KUBECTL = process.env.KUBECTL ?? "/usr/bin/kubectl";
const run = promisify(execFile);

let fake: FakeKubeApi;
let server: TestServer;
let op: RunningOperator;
let dir: string;
let kubeconfig: string;

before(async () => {
  // No token required: kubectl sends bearer tokens over https only, and the stand-in speaks http.
  fake = await FakeKubeApi.start({ bookmarkIntervalMs: 200 });
  server = await startServer();
  for (const tag of ["1.0", "1.1"]) await pushImage(server, "team/web", tag);
  dir = await mkdtemp(join(tmpdir(), "reestr-kubectl-"));
  kubeconfig = join(dir, "kubeconfig");
  await writeFile(kubeconfig, fake.kubeConfigYaml());
  op = await startOperator(fake, { namespace: "default" });
});

after(async () => {
  await op?.stop();
  await fake?.close();
  await server?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function kubectl(...args: string[]) {
  return run(KUBECTL, ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), ...args], {
    env: { ...process.env, HOME: dir },
    timeout: 60_000,
  });
}

test("kubectl create, get (printer columns), wait, delete", async () => {
  const manifest = join(dir, "web.yaml");
  await writeFile(
    manifest,
    [
      "apiVersion: registry.kubecontroller.io/v1alpha1",
      "kind: Registry",
      "metadata:",
      "  name: web",
      "spec:",
      `  url: ${server.url}`,
      "  repository: team/web",
      "  scanInterval: 600",
      "",
    ].join("\n"),
  );
  // The OpenAPI document is not served; the API server validates against the CRD schema anyway.
  const created = await kubectl("create", "--validate=false", "-f", manifest);
  assert.match(created.stdout, /registry\.registry\.kubecontroller\.io\/web created/);

  const waited = await kubectl("wait", "--for=condition=Ready", "registry/web", "--timeout=60s");
  assert.match(waited.stdout, /registry\.registry\.kubecontroller\.io\/web condition met/);

  const { stdout } = await kubectl("get", "registries");
  const [header, row] = stdout.trimEnd().split("\n");
  assert.deepEqual(header!.split(/\s{2,}/), [
    "NAME",
    "URL",
    "REPOSITORY",
    "STATUS",
    "IMAGES",
    "LAST SCAN",
    "AGE",
  ]);
  const cells = row!.split(/\s{2,}/);
  assert.deepEqual(cells.slice(0, 5), ["web", server.url, "team/web", "Success", "2"]);
  assert.match(cells[5]!, /^\d+s$/);

  // The short name and a JSONPath read of the status.
  const tags = await kubectl("get", "reg", "web", "-o", "jsonpath={.status.images[*].tag}");
  assert.deepEqual(tags.stdout.split(" ").sort(), ["1.0", "1.1"]);

  const deleted = await kubectl("delete", "registry", "web", "--wait=true", "--timeout=60s");
  assert.match(deleted.stdout, /registry\.registry\.kubecontroller\.io "web" deleted/);
  await waitFor(() => fake.get(RESOURCES.registries, "default", "web") === undefined, {
    what: "web to be gone",
  });
});

test("ages print as the API server prints them", () => {
  assert.equal(humanDuration(5_000), "5s");
  assert.equal(humanDuration(150_000), "2m30s");
  assert.equal(humanDuration(3 * 3600_000 + 60_000), "3h1m");
  assert.equal(humanDuration(72 * 3600_000), "3d");
});
