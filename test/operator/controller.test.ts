/**
 * The operator end to end: @kubernetes/client-node over real HTTP to the Kubernetes API stand-in
 * (fake-kube-api.ts, which speaks the real wire format: no API server can run here), scanning a
 * real Reestr registry started in-process. Each scenario of issue 6 §4 is one test.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Event } from "kubernetes-models/events.k8s.io/v1/Event";
import { FINALIZER } from "../../src/operator/crd.ts";
import { TrivyScanner } from "../../src/watcher/scanners/trivy.ts";
import { metricValue, type PushedImage, pushImage, startServer, type TestServer } from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";
import { FakeKubeApi, RESOURCES } from "./fake-kube-api.ts";
import {
  eventsFor,
  FAKE_TRIVY,
  type RunningOperator,
  registry,
  startOperator,
  statusOf,
  waitForStatus,
} from "./harness.ts";

let fake: FakeKubeApi;
let server: TestServer;
let op: RunningOperator;
const pushed = new Map<string, PushedImage>();

before(async () => {
  fake = await FakeKubeApi.start({ bookmarkIntervalMs: 100 });
  server = await startServer();
  for (const tag of ["v1", "v2", "latest"]) pushed.set(tag, await pushImage(server, "team/app", tag));
  op = await startOperator(fake, { namespace: "default" });
});

after(async () => {
  await op?.stop();
  await fake?.close();
  await server?.cleanup();
});

function sizeOf(image: PushedImage): number {
  return image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0);
}

describe("reconcile", () => {
  test("create → finalizer, status Success with the images, Ready condition, an Event", async () => {
    fake.create(
      RESOURCES.registries,
      "default",
      registry("app", { url: server.url, repository: "team/app" }),
    );
    const status = await waitForStatus(fake, "app", "Success", (s) => s.lastScanStatus === "Success");
    const object = fake.get(RESOURCES.registries, "default", "app")!;
    assert.deepEqual(object.metadata.finalizers, [FINALIZER]);
    assert.equal(status.observedGeneration, 1);
    assert.equal(status.imageCount, 3);
    const images = new Map(status.images!.map((image) => [image.tag, image]));
    assert.deepEqual([...images.keys()].sort(), ["latest", "v1", "v2"]);
    for (const [tag, image] of pushed) {
      assert.equal(images.get(tag)!.digest, image.digest, tag);
      assert.equal(images.get(tag)!.size, sizeOf(image), tag);
    }
    const ready = status.conditions!.find((c) => c.type === "Ready")!;
    assert.equal(ready.status, "True");
    assert.equal(ready.reason, "ScanSucceeded");
    assert.match(status.message!, /3 tags scanned/);
    // Requeued for the next scan after scanInterval (300 s by default); the reconcile returns
    // after the status write and the Event, so wait for it rather than race it.
    const scanned = await waitFor(
      () => op.reconciles.find((r) => r.key === "default/app" && r.result.action === "scanned"),
      { what: "the reconcile's result" },
    );
    assert.equal((scanned.result as { requeueAfterMs?: number }).requeueAfterMs, 300_000);
    await waitFor(() => op.operator.controller!.queue.delayed >= 1, {
      what: "a timer holding the next scan",
    });
    // Defaults applied by the API server from the generated CRD schema.
    assert.equal((object.spec as { scanInterval: number }).scanInterval, 300);
    const events = await waitFor(
      () => {
        const found = eventsFor(fake, "app").filter((e) => e.reason === "ScanSucceeded");
        return found.length > 0 ? found : undefined;
      },
      { what: "a ScanSucceeded event" },
    );
    assert.equal(events[0]!.type, "Normal");
    assert.equal(events[0]!.reportingController, "registry.kubecontroller.io/reestr-operator");
    assert.equal((events[0]!.regarding as { uid: string }).uid, object.metadata.uid);
    // What the operator sent is a valid events.k8s.io/v1 Event by Kubernetes' own schema.
    assert.doesNotThrow(() => new Event(events[0] as never).validate());
  });

  test("our own status write does not trigger another scan", async () => {
    const text = await op.operator.metrics.registry.render();
    const before = metricValue(text, "reestr_operator_scans_total", {
      registry: "default/app",
      status: "Success",
    });
    assert.equal(before, 1);
    // Watch events for the status and the finalizer have been seen; give the queue a bookmark round trip.
    const rv = fake.resourceVersion;
    await waitFor(() => Number(op.operator.controller!.informer.resourceVersion) >= rv, {
      what: "the informer to catch up",
    });
    const again = metricValue(await op.operator.metrics.registry.render(), "reestr_operator_scans_total", {
      registry: "default/app",
      status: "Success",
    });
    assert.equal(again, 1);
  });

  test("spec change → new generation → rescan with observedGeneration", async () => {
    fake.patch(RESOURCES.registries, "default", "app", { spec: { tagFilter: { include: ["^v"] } } });
    assert.equal(fake.get(RESOURCES.registries, "default", "app")!.metadata.generation, 2);
    const status = await waitForStatus(
      fake,
      "app",
      "observedGeneration 2",
      (s) => s.observedGeneration === 2,
    );
    assert.equal(status.lastScanStatus, "Success");
    assert.deepEqual(status.images!.map((i) => i.tag).sort(), ["v1", "v2"]);
    assert.equal(status.imageCount, 2);
  });

  test("status update conflict → retried once with a fresh object", async () => {
    let injected = 0;
    fake.beforeRequest = (method, route) => {
      if (method === "PUT" && route.subresource === "status" && route.name === "app" && injected === 0) {
        injected++;
        // Someone else writes in between: the operator's resourceVersion is now stale.
        fake.patch(RESOURCES.registries, "default", "app", { metadata: { labels: { team: "a" } } });
      }
    };
    try {
      fake.patch(RESOURCES.registries, "default", "app", { spec: { tagFilter: { include: ["^v1$"] } } });
      const status = await waitForStatus(
        fake,
        "app",
        "observedGeneration 3",
        (s) => s.observedGeneration === 3,
      );
      assert.deepEqual(
        status.images!.map((i) => i.tag),
        ["v1"],
      );
    } finally {
      fake.beforeRequest = undefined;
    }
    assert.equal(injected, 1);
    const statusPuts = fake.requests.filter((r) => r.resource === "registries/status" && r.method === "PUT");
    const conflictAt = statusPuts.findIndex((r) => r.status === 409);
    assert.ok(conflictAt >= 0, "a 409 was answered");
    assert.equal(statusPuts[conflictAt + 1]?.status, 200, "the retry succeeded");
    // The retry took the fresh object: the other writer's label is kept.
    assert.equal(fake.get(RESOURCES.registries, "default", "app")!.metadata.labels?.team, "a");
    const text = await op.operator.metrics.registry.render();
    assert.equal(metricValue(text, "reestr_operator_status_conflicts_total"), 1);
  });

  test("delete → finalizer removed, object gone", async () => {
    const deleting = fake.delete(RESOURCES.registries, "default", "app")!;
    assert.ok(deleting.metadata.deletionTimestamp, "DELETE only marks it while our finalizer is on");
    await waitFor(() => fake.get(RESOURCES.registries, "default", "app") === undefined, {
      what: "the object to disappear",
    });
    // The operator logs after the API server answered: wait for the line, do not race it.
    await waitFor(() => op.logs.some((line) => line.includes("finalizer removed")), {
      what: "the finalizer log line",
    });
  });

  test("unreachable registry → Failed with a message, requeued with a growing backoff", async () => {
    // A port nothing listens on: the fake API's own port plus nothing — take a closed one.
    const closed = await startServer();
    const url = closed.url;
    await closed.cleanup();
    fake.create(
      RESOURCES.registries,
      "default",
      registry("down", { url, repository: "team/app", scanConfig: { retries: 0, timeout: 2 } }),
    );
    const status = await waitForStatus(fake, "down", "Failed", (s) => s.lastScanStatus === "Failed");
    assert.match(status.message!, /unreachable/);
    assert.match(status.message!, new RegExp(url.replace(/[.]/g, "\\.")));
    const ready = status.conditions!.find((c) => c.type === "Ready")!;
    assert.equal(ready.status, "False");
    assert.equal(ready.reason, "ScanFailed");
    const scans = await waitFor(
      () => {
        const failed = op.reconciles.filter(
          (r) => r.key === "default/down" && r.result.action === "scanned" && r.result.status === "Failed",
        );
        return failed.length >= 3 ? failed : undefined;
      },
      { what: "three failed scans" },
    );
    const delays = scans.slice(0, 3).map((r) => (r.result as { requeueAfterMs: number }).requeueAfterMs);
    assert.deepEqual(delays, [100, 200, 400], "exponential backoff from failureBackoffMs");
    const warnings = eventsFor(fake, "down").filter((e) => e.reason === "ScanFailed");
    assert.ok(warnings.length >= 1);
    assert.equal(warnings[0]!.type, "Warning");
    fake.delete(RESOURCES.registries, "default", "down");
    await waitFor(() => fake.get(RESOURCES.registries, "default", "down") === undefined, {
      what: "down to be gone",
    });
  });

  test("missing Secret → a clear status message; the Secret appearing → Success", async () => {
    fake.create(
      RESOURCES.registries,
      "default",
      registry("private", { url: server.url, repository: "team/app", credentialsSecret: { name: "robot" } }),
    );
    const status = await waitForStatus(fake, "private", "Failed", (s) => s.lastScanStatus === "Failed");
    assert.equal(status.message, "credentials: Secret default/robot not found");
    fake.create(RESOURCES.secrets, "default", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "robot" },
      stringData: { username: "robot", password: "anything" },
    });
    await waitForStatus(
      fake,
      "private",
      "Success after the Secret appears",
      (s) => s.lastScanStatus === "Success",
    );
  });

  test("an invalid spec the CRD cannot catch → Failed naming the field, no scan", async () => {
    fake.create(
      RESOURCES.registries,
      "default",
      registry("badregex", { url: server.url, repository: "team/app", tagFilter: { include: ["("] } }),
    );
    const status = await waitForStatus(fake, "badregex", "Failed", (s) => s.lastScanStatus === "Failed");
    assert.match(status.message!, /^invalid spec: tagFilter\.include\[0\]: invalid regular expression/);
    assert.equal(status.conditions![0]!.reason, "InvalidSpec");
  });

  test("the API server rejects what the CRD schema forbids", async () => {
    const res = await fetch(
      `${fake.url}/apis/registry.kubecontroller.io/v1alpha1/namespaces/default/registries`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(registry("nope", { url: "ftp://x", repository: "UPPER", scanInterval: 1 })),
      },
    );
    assert.equal(res.status, 422);
    const body = (await res.json()) as { reason: string; message: string };
    assert.equal(body.reason, "Invalid");
    assert.match(body.message, /spec\.url/);
    assert.match(body.message, /spec\.repository/);
    assert.match(body.message, /spec\.scanInterval/);
  });
});

describe("watch", () => {
  test("bookmarks move the resourceVersion; a re-watch starts from it", async () => {
    // A write elsewhere (a Secret) moves the cluster's resourceVersion; only a bookmark tells us.
    fake.create(RESOURCES.secrets, "default", { metadata: { name: "unrelated" }, stringData: { a: "b" } });
    const target = fake.resourceVersion;
    await waitFor(() => Number(op.operator.controller!.informer.resourceVersion) >= target, {
      what: "a bookmark",
    });
    const watchesBefore = fake.requests.filter((r) => r.method === "WATCH").length;
    fake.closeWatches();
    const rewatch = await waitFor(
      () => fake.requests.filter((r) => r.method === "WATCH").slice(watchesBefore)[0],
      { what: "a new watch" },
    );
    const rv = Number(new URL(rewatch.path, fake.url).searchParams.get("resourceVersion"));
    assert.ok(rv >= target, `re-watch from ${rv}, bookmark was ${target}`);
    assert.equal(new URL(rewatch.path, fake.url).searchParams.get("allowWatchBookmarks"), "true");
  });

  test("410 Gone → list again; what changed while the watch was down is reconciled", async () => {
    const informer = op.operator.controller!.informer;
    const lists = informer.lists;
    assert.ok(informer.cache.has("default/badregex"));
    let done = false;
    fake.beforeRequest = (method, _route, url) => {
      if (done || method !== "GET" || url.searchParams.get("watch") !== "true") return;
      done = true;
      // While no watch is open: one object appears, one disappears, and etcd compacts.
      fake.create(
        RESOURCES.registries,
        "default",
        registry("meanwhile", { url: server.url, repository: "team/app" }),
      );
      fake.patch(RESOURCES.registries, "default", "badregex", { metadata: { finalizers: null } });
      fake.delete(RESOURCES.registries, "default", "badregex");
      fake.compact();
    };
    try {
      fake.closeWatches();
      await waitFor(() => informer.lists > lists, { what: "a re-list" });
    } finally {
      fake.beforeRequest = undefined;
    }
    const expired = fake.requests.filter((r) => r.method === "WATCH").at(-2);
    assert.ok(expired, "the watch that got 410");
    const text = await op.operator.metrics.registry.render();
    assert.ok((metricValue(text, "reestr_operator_relists_total") ?? 0) >= 1);
    assert.ok((metricValue(text, "reestr_operator_watch_events_total", { type: "ERROR" }) ?? 0) >= 1);
    assert.equal(informer.cache.has("default/badregex"), false, "the re-list dropped the deleted object");
    await waitForStatus(fake, "meanwhile", "Success", (s) => s.lastScanStatus === "Success");
  });
});

describe("seed 000's Trivy rows", () => {
  test("Trivy missing → Success with a warning, vulnerability scan skipped", async () => {
    const missing = await startOperator(fake, {
      namespace: "notrivy",
      scanner: new TrivyScanner({ binary: "/nonexistent/trivy" }),
    });
    try {
      fake.create(
        RESOURCES.registries,
        "notrivy",
        registry(
          "app",
          { url: server.url, repository: "team/app", vulnerabilityScanning: { enabled: true } },
          "notrivy",
        ),
      );
      const status = await waitForStatus(
        fake,
        "app",
        "Success",
        (s) => s.lastScanStatus === "Success",
        "notrivy",
      );
      assert.match(status.message!, /Trivy unavailable, vulnerability scanning skipped/);
      assert.equal(status.imageCount, 3);
      assert.ok(status.images!.every((i) => i.vulnerabilities === undefined));
    } finally {
      await missing.stop();
    }
  });

  test("Trivy timeout → the image is skipped, the others keep going", async () => {
    const slow = await startOperator(fake, {
      namespace: "slowtrivy",
      scanner: new TrivyScanner({ binary: FAKE_TRIVY, env: { FAKE_TRIVY_SLEEP: "30" }, timeoutGraceMs: 500 }),
    });
    try {
      fake.create(
        RESOURCES.registries,
        "slowtrivy",
        registry(
          "app",
          {
            url: server.url,
            repository: "team/app",
            tagFilter: { include: ["^v1$"] },
            vulnerabilityScanning: { enabled: true, timeout: 1 },
          },
          "slowtrivy",
        ),
      );
      const status = await waitForStatus(
        fake,
        "app",
        "Success",
        (s) => s.lastScanStatus === "Success",
        "slowtrivy",
      );
      assert.match(status.message!, /vulnerability scan skipped for v1 \(timed out after 1s\)/);
      assert.equal(status.images![0]!.tag, "v1");
    } finally {
      await slow.stop();
    }
  });

  test("Trivy present → vulnerability counts in the status", async () => {
    fake.create(
      RESOURCES.registries,
      "default",
      registry("scanned", {
        url: server.url,
        repository: "team/app",
        tagFilter: { include: ["^v2$"] },
        vulnerabilityScanning: { enabled: true },
      }),
    );
    const status = await waitForStatus(fake, "scanned", "Success", (s) => s.lastScanStatus === "Success");
    const summary = status.images![0]!.vulnerabilities as { scanner: string } | undefined;
    assert.ok(summary, "a vulnerability summary");
    assert.match(summary.scanner, /^trivy /);
    assert.equal(statusOf(fake, "scanned")!.imageCount, 1);
  });
});
