/**
 * Two operator replicas against one API (the Kubernetes API stand-in, fake-kube-api.ts, over real
 * HTTP): exactly one holds the Lease and scans; a graceful stop releases the Lease and the other
 * takes over without scanning again what is fresh; a leader that sees another holder stops
 * reconciling.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Lease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { metricValue, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";
import { FakeKubeApi, RESOURCES } from "./fake-kube-api.ts";
import { type RunningOperator, registry, startOperator, waitForStatus } from "./harness.ts";

let fake: FakeKubeApi;
let server: TestServer;
const replicas: RunningOperator[] = [];

before(async () => {
  fake = await FakeKubeApi.start({ bookmarkIntervalMs: 200 });
  server = await startServer();
  await pushImage(server, "team/app", "v1");
});

after(async () => {
  for (const replica of replicas) await replica.stop();
  await fake?.close();
  await server?.cleanup();
});

async function scans(replica: RunningOperator): Promise<number> {
  const text = await replica.operator.metrics.registry.render();
  return (
    (metricValue(text, "reestr_operator_scans_total", { registry: "default/app", status: "Success" }) ?? 0) +
    (metricValue(text, "reestr_operator_scans_total", { registry: "default/app", status: "Failed" }) ?? 0)
  );
}

function lease() {
  return fake.get(RESOURCES.leases, "reestr-system", "reestr-operator")?.spec as
    | { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number }
    | undefined;
}

test("two replicas → one leader scans; stop → the other takes over; lost lease → stop reconciling", async () => {
  for (const identity of ["replica-a", "replica-b"]) {
    replicas.push(
      await startOperator(fake, { leaderElection: true, identity, leaseNamespace: "reestr-system" }),
    );
  }
  const leader = await waitFor(
    () => {
      const leading = replicas.filter((r) => r.operator.isLeader);
      return leading.length === 1 ? leading[0] : undefined;
    },
    { what: "a leader" },
  );
  const standby = replicas.find((r) => r !== leader)!;
  assert.equal(lease()?.holderIdentity, leader.operator.identity);
  assert.doesNotThrow(() =>
    new Lease(fake.get(RESOURCES.leases, "reestr-system", "reestr-operator") as never).validate(),
  );
  assert.equal(standby.operator.isLeader, false);
  assert.equal(standby.operator.ready, true, "a standby is ready: it reached the API server");

  fake.create(RESOURCES.registries, "default", registry("app", { url: server.url, repository: "team/app" }));
  await waitForStatus(fake, "app", "Success", (s) => s.lastScanStatus === "Success");
  // A few renew periods pass: still one leader, and the standby never scanned.
  const renewals = fake.requests.filter((r) => r.resource === "leases" && r.method === "PUT").length;
  await waitFor(
    () => fake.requests.filter((r) => r.resource === "leases" && r.method === "PUT").length > renewals + 3,
    { what: "more renewals" },
  );
  assert.equal(replicas.filter((r) => r.operator.isLeader).length, 1);
  assert.equal(await scans(leader), 1);
  assert.equal(await scans(standby), 0);
  assert.equal(fake.watchCount(RESOURCES.registries), 1, "only the leader watches Registries");

  // Graceful stop: the Lease is released, the standby takes it without waiting for expiry.
  await leader.stop();
  replicas.splice(replicas.indexOf(leader), 1);
  await waitFor(() => standby.operator.isLeader, { what: "the standby to lead" });
  assert.equal(lease()?.holderIdentity, standby.operator.identity);
  assert.equal(lease()?.leaseTransitions, 1);
  await waitFor(() => standby.reconciles.some((r) => r.key === "default/app"), {
    what: "the new leader's first reconcile",
  });
  const first = standby.reconciles.find((r) => r.key === "default/app")!;
  assert.equal(first.result.action, "waiting", "a fresh status is not scanned again by the new leader");
  assert.equal(await scans(standby), 0);

  // Someone else takes the Lease (a partition healed, an operator elsewhere): the leader steps down.
  const current = fake.get(RESOURCES.leases, "reestr-system", "reestr-operator")!;
  fake.patch(RESOURCES.leases, "reestr-system", "reestr-operator", {
    spec: {
      ...(current.spec as object),
      holderIdentity: "intruder",
      leaseDurationSeconds: 3600,
      renewTime: new Date().toISOString().replace("Z", "000Z"),
    },
  });
  await waitFor(() => !standby.operator.isLeader, { what: "the leader to step down" });
  assert.equal(standby.operator.controller, undefined, "the controller is stopped");
  await waitFor(() => fake.watchCount(RESOURCES.registries) === 0, { what: "the Registry watch to close" });
  const text = await standby.operator.metrics.registry.render();
  assert.equal(metricValue(text, "reestr_operator_leader"), 0);
  await waitFor(() => standby.logs.some((line) => line.includes("leadership lost")), {
    what: "the log line",
  });
});

test("a leader that cannot renew within the renew deadline stops reconciling, then leads again", async () => {
  const replica = await startOperator(fake, {
    leaderElection: true,
    identity: "lonely",
    leaseNamespace: "renew",
    namespace: "renew",
  });
  replicas.push(replica);
  await waitFor(() => replica.operator.isLeader, { what: "leadership" });
  let failing = true;
  fake.beforeRequest = (_method, route) => {
    if (failing && route.resource.plural === "leases") throw new Error("etcd is unhappy");
  };
  try {
    await waitFor(() => !replica.operator.isLeader, { what: "the leader to step down" });
    await waitFor(() => replica.logs.some((l) => l.includes("not renewed within the renew deadline")), {
      what: "the log line",
    });
    assert.ok(fake.requests.some((r) => r.resource === "leases" && r.status === 500));
    failing = false;
    await waitFor(() => replica.operator.isLeader, { what: "leadership again" });
  } finally {
    fake.beforeRequest = undefined;
  }
  fake.create(
    RESOURCES.registries,
    "renew",
    registry("again", { url: server.url, repository: "team/app" }, "renew"),
  );
  await waitForStatus(fake, "again", "Success", (s) => s.lastScanStatus === "Success", "renew");
});
