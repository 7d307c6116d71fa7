/**
 * The Kubernetes API stand-in (fake-kube-api.ts) holds the API server's semantics the operator
 * relies on, checked through @kubernetes/client-node over HTTP as a controller sees them: these
 * are the behaviours documented for kube-apiserver (optimistic concurrency, the status
 * subresource, generation, finalizers, watch resume and expiry). If the stand-in drifted from
 * them, the operator's tests would prove nothing.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CustomObjectsApi, Watch } from "@kubernetes/client-node";
import { waitFor } from "../helpers/wait.ts";
import { FakeKubeApi, RESOURCES } from "./fake-kube-api.ts";
import { registry } from "./harness.ts";

let fake: FakeKubeApi;
let api: CustomObjectsApi;
const common = {
  group: "registry.kubecontroller.io",
  version: "v1alpha1",
  plural: "registries",
  namespace: "ns",
};

before(async () => {
  fake = await FakeKubeApi.start({ token: "t0ken", bookmarkIntervalMs: 50 });
  api = fake.kubeConfig().makeApiClient(CustomObjectsApi);
});
after(() => fake?.close());

type Obj = {
  metadata: {
    resourceVersion: string;
    generation: number;
    finalizers?: string[];
    deletionTimestamp?: string;
    uid: string;
  };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
};

test("a wrong token is 401", async () => {
  const other = fake.kubeConfig("wrong").makeApiClient(CustomObjectsApi);
  await assert.rejects(other.listNamespacedCustomObject(common), (e: { code?: number }) => e.code === 401);
});

test("create: uid, generation 1, resourceVersion, defaults; status in the body ignored", async () => {
  const body = {
    ...registry("a", { url: "https://r.example", repository: "x/y" }, "ns"),
    status: { message: "forged" },
  };
  const created = (await api.createNamespacedCustomObject({ ...common, body })) as Obj;
  assert.equal(created.metadata.generation, 1);
  assert.ok(created.metadata.uid);
  assert.equal(created.spec.scanInterval, 300);
  assert.equal(created.status, undefined);
  await assert.rejects(
    api.createNamespacedCustomObject({ ...common, body }),
    (e: { code?: number; body?: string }) => e.code === 409 && /AlreadyExists/.test(String(e.body)),
  );
});

test("update: stale resourceVersion → 409; status ignored on the main resource; spec change bumps generation", async () => {
  const current = (await api.getNamespacedCustomObject({ ...common, name: "a" })) as Obj;
  const updated = (await api.replaceNamespacedCustomObject({
    ...common,
    name: "a",
    body: { ...current, spec: { ...current.spec, scanInterval: 60 }, status: { message: "ignored" } },
  })) as Obj;
  assert.equal(updated.metadata.generation, 2);
  assert.equal(updated.status, undefined);
  assert.ok(Number(updated.metadata.resourceVersion) > Number(current.metadata.resourceVersion));
  await assert.rejects(
    api.replaceNamespacedCustomObject({ ...common, name: "a", body: current }),
    (e: { code?: number; body?: string }) =>
      e.code === 409 && /the object has been modified/.test(String(e.body)),
  );
  // A no-op update writes nothing.
  const same = (await api.replaceNamespacedCustomObject({ ...common, name: "a", body: updated })) as Obj;
  assert.equal(same.metadata.resourceVersion, updated.metadata.resourceVersion);
});

test("/status: only status is taken, generation unchanged; invalid status → 422", async () => {
  const current = (await api.getNamespacedCustomObject({ ...common, name: "a" })) as Obj;
  const written = (await api.replaceNamespacedCustomObjectStatus({
    ...common,
    name: "a",
    body: {
      ...current,
      spec: { ...current.spec, repository: "changed/here" },
      status: { lastScanStatus: "Success", images: [] },
    },
  })) as Obj;
  assert.equal(written.spec.repository, "x/y");
  assert.equal(written.metadata.generation, current.metadata.generation);
  assert.equal(written.status?.lastScanStatus, "Success");
  await assert.rejects(
    api.replaceNamespacedCustomObjectStatus({
      ...common,
      name: "a",
      body: { ...written, status: { lastScanStatus: "Maybe" } },
    }),
    (e: { code?: number }) => e.code === 422,
  );
});

test("finalizers: DELETE marks, no new finalizers while deleting, the last one removed → gone", async () => {
  const current = (await api.getNamespacedCustomObject({ ...common, name: "a" })) as Obj;
  const held = (await api.replaceNamespacedCustomObject({
    ...common,
    name: "a",
    body: { ...current, metadata: { ...current.metadata, finalizers: ["example.com/hold"] } },
  })) as Obj;
  const deleting = (await api.deleteNamespacedCustomObject({ ...common, name: "a" })) as Obj;
  assert.ok(deleting.metadata.deletionTimestamp);
  const marked = (await api.getNamespacedCustomObject({ ...common, name: "a" })) as Obj;
  assert.ok(marked.metadata.deletionTimestamp);
  await assert.rejects(
    api.replaceNamespacedCustomObject({
      ...common,
      name: "a",
      body: {
        ...marked,
        metadata: { ...marked.metadata, finalizers: ["example.com/hold", "example.com/more"] },
      },
    }),
    (e: { code?: number }) => e.code === 422,
  );
  assert.ok(held);
  await api.replaceNamespacedCustomObject({
    ...common,
    name: "a",
    body: { ...marked, metadata: { ...marked.metadata, finalizers: [] } },
  });
  await assert.rejects(
    api.getNamespacedCustomObject({ ...common, name: "a" }),
    (e: { code?: number }) => e.code === 404,
  );
});

test("watch: resume from a resourceVersion, bookmarks, and 410 after compaction", async () => {
  const list = (await api.listNamespacedCustomObject(common)) as { metadata: { resourceVersion: string } };
  const from = list.metadata.resourceVersion;
  fake.create(
    RESOURCES.registries,
    "ns",
    registry("b", { url: "https://r.example", repository: "x/y" }, "ns"),
  );
  const seen: string[] = [];
  let done: unknown = "open";
  const watch = new Watch(fake.kubeConfig());
  const controller = await watch.watch(
    "/apis/registry.kubecontroller.io/v1alpha1/namespaces/ns/registries",
    { resourceVersion: from, allowWatchBookmarks: true },
    (type, object: { metadata: { name?: string; resourceVersion: string } }) =>
      seen.push(`${type}:${object.metadata.name ?? object.metadata.resourceVersion}`),
    (error) => {
      done = error;
    },
  );
  await waitFor(() => seen.includes("ADDED:b") && seen.some((s) => s.startsWith("BOOKMARK")), {
    what: "the replayed ADDED and a BOOKMARK",
  });
  assert.equal(seen[0], "ADDED:b", "events after the list's version are replayed");
  controller.abort();

  fake.compact();
  const expired: { type: string; code?: number }[] = [];
  await watch.watch(
    "/apis/registry.kubecontroller.io/v1alpha1/namespaces/ns/registries",
    { resourceVersion: from },
    (type, object: { code?: number }) => expired.push({ type, code: object.code }),
    () => {},
  );
  await waitFor(() => expired.length > 0, { what: "the 410 ERROR event" });
  assert.deepEqual(expired, [{ type: "ERROR", code: 410 }]);
  assert.notEqual(done, "open");
});
