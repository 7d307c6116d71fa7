/**
 * `reestr operator`: flags and their errors, /healthz, /readyz and /metrics, a kubeconfig file
 * pointing at the Kubernetes API stand-in (fake-kube-api.ts; no API server can run here), and a
 * graceful stop on SIGTERM of the real process (the Lease is released).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runOperator } from "../../src/cli/operator.ts";
import type { Operator } from "../../src/operator/operator.ts";
import { TrivyScanner } from "../../src/watcher/scanners/trivy.ts";
import { metricValue, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { REPO_ROOT } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";
import { FakeKubeApi, RESOURCES } from "./fake-kube-api.ts";
import { FAKE_TRIVY, registry, waitForStatus } from "./harness.ts";

let fake: FakeKubeApi;
let server: TestServer;
let dir: string;
let kubeconfig: string;

before(async () => {
  fake = await FakeKubeApi.start({ token: "s3cr3t-token", bookmarkIntervalMs: 200 });
  server = await startServer();
  await pushImage(server, "team/app", "v1");
  dir = await mkdtemp(join(tmpdir(), "reestr-operator-cli-"));
  kubeconfig = join(dir, "kubeconfig");
  await writeFile(kubeconfig, fake.kubeConfigYaml());
});

after(async () => {
  await fake?.close();
  await server?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function sink() {
  const lines: string[] = [];
  return {
    lines,
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line) lines.push(line);
      return true;
    },
  };
}

test("bad flags are usage errors naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["--metrics-port", "http"], /--metrics-port: expected a port number/],
    [["--namespace", "Team_A"], /--namespace: "Team_A" is not a Kubernetes namespace name/],
    [["--kubeconfig", join(dir, "missing")], /--kubeconfig: .*missing does not exist/],
    [["--kubeconfig", kubeconfig, "--context", "nope"], /--context: no context "nope"/],
    [["--log-level", "loud"], /--log-level: expected one of debug, info, warn, error/],
    [["--workers", "0"], /--workers: expected a number from 1 to 64/],
    [["extra"], /unexpected argument "extra"/],
    [[], /no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod/],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(
      runOperator(argv, { stdout: sink(), stderr: sink(), env: { HOME: dir } }),
      message,
      argv.join(" "),
    );
  }
});

test("runs against a kubeconfig: health, readiness, metrics, a scan, a graceful stop", async () => {
  const stop = new AbortController();
  const out = sink();
  let operator: Operator | undefined;
  const exit = runOperator(
    [
      "--kubeconfig",
      kubeconfig,
      "--namespace",
      "cli",
      "--metrics-port",
      "0",
      "--metrics-host",
      "127.0.0.1",
      "--lease-namespace",
      "cli",
      "--identity",
      "cli-replica",
      "--json",
    ],
    {
      stdout: out,
      stderr: out,
      env: {},
      signal: stop.signal,
      scanner: new TrivyScanner({ binary: FAKE_TRIVY }),
      onStarted: (started) => {
        operator = started;
      },
    },
  );
  try {
    const started = await waitFor(() => operator, { what: "the operator to start" });
    const url = started.url!;
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, "healthy");
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { what: "/readyz 200" });
    await waitFor(() => started.isLeader, { what: "leadership" });
    const held = fake.get(RESOURCES.leases, "cli", "reestr-operator")?.spec as { holderIdentity?: string };
    assert.equal(held?.holderIdentity, "cli-replica");
    fake.create(
      RESOURCES.registries,
      "cli",
      registry("app", { url: server.url, repository: "team/app" }, "cli"),
    );
    await waitForStatus(fake, "app", "Success", (s) => s.lastScanStatus === "Success", "cli");
    const metrics = await fetch(`${url}/metrics`);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    assert.equal(metricValue(text, "reestr_operator_leader"), 1);
    assert.equal(
      metricValue(text, "reestr_operator_scans_total", { registry: "cli/app", status: "Success" }),
      1,
    );
    assert.equal(metricValue(text, "reestr_operator_registry_images", { registry: "cli/app" }), 1);
    assert.ok((metricValue(text, "process_resident_memory_bytes") ?? 0) > 0);
    assert.equal((await fetch(`${url}/nope`)).status, 404);
    // A deleted Registry's gauges go away once the operator has let it go.
    fake.delete(RESOURCES.registries, "cli", "app");
    await waitFor(
      async () =>
        metricValue(await (await fetch(`${url}/metrics`)).text(), "reestr_operator_registry_images", {
          registry: "cli/app",
        }) === undefined,
      { what: "the images gauge of the deleted Registry to go away" },
    );
    const running = out.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((l) => l.msg === "operator running");
    assert.ok(running, "a JSON line says the operator runs");
    assert.equal(running.namespace, "cli");
    assert.equal(running.lease, "cli/reestr-operator");
  } finally {
    stop.abort();
  }
  assert.equal(await exit, 0);
  const lease = fake.get(RESOURCES.leases, "cli", "reestr-operator")?.spec as { holderIdentity: string };
  assert.equal(lease.holderIdentity, "", "the Lease is released on a graceful stop");
});

test("SIGTERM stops the real process gracefully and releases the Lease", async () => {
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, "bin/reestr.js"),
      "operator",
      "--kubeconfig",
      kubeconfig,
      "--namespace",
      "proc",
      "--lease-namespace",
      "proc",
      "--metrics-port",
      "0",
      "--metrics-host",
      "127.0.0.1",
      "--identity",
      "proc-replica",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, REESTR_TRIVY: FAKE_TRIVY } },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await waitFor(
      () => {
        const spec = fake.get(RESOURCES.leases, "proc", "reestr-operator")?.spec as
          | { holderIdentity?: string }
          | undefined;
        return spec?.holderIdentity === "proc-replica";
      },
      { what: "the child to lead" },
    );
    assert.match(output, /"msg":"operator running"/, "JSON lines when stdout is not a terminal");
    child.kill("SIGTERM");
    assert.equal(await exited, 0, output);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  assert.match(output, /"msg":"shutting down"[^\n]*"signal":"SIGTERM"/);
  const spec = fake.get(RESOURCES.leases, "proc", "reestr-operator")?.spec as { holderIdentity: string };
  assert.equal(spec.holderIdentity, "");
});
