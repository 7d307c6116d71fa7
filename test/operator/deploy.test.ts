/**
 * deploy/: `kubectl kustomize` (the real kubectl, offline) renders the base, and every object it
 * renders is validated against its schema — built-in kinds with kubernetes-models (the
 * Kubernetes OpenAPI schemas), Registry instances from deploy/examples against the generated
 * CRD's own schema. Also: the RBAC is exactly the least privilege the operator needs, the
 * Deployments carry their probes and volume, and the Deckhouse module layout is complete, with
 * settings that validate against openapi/config-values.yaml.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parse, parseAllDocuments } from "yaml";
import { registryCrdYaml } from "../../src/operator/crd.ts";
import { parseRegistrySpec } from "../../src/watcher/spec.ts";
import { REPO_ROOT } from "../helpers/reestr-process.ts";
import { type Schema, validate } from "./structural-schema.ts";

const KUBECTL = process.env.KUBECTL ?? "/usr/bin/kubectl";
const run = promisify(execFile);

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
};

async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run(KUBECTL, ["kustomize", join(REPO_ROOT, dir)], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((doc) => doc.toJSON() as K8sObject);
}

// biome-ignore lint/suspicious/noExplicitAny: the models' constructors take their own types
type Model = new (data: any) => { validate(): void };
const MODELS: Record<string, Model> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/Secret": Secret,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "apps/v1/Deployment": Deployment,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
};

function crdSchema(crd: K8sObject): Schema {
  return (crd as unknown as { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } }).spec
    .versions[0]!.schema.openAPIV3Schema;
}

/** Validates one object: built-in kinds with kubernetes-models, Registries with the CRD schema. */
function check(object: K8sObject, registrySchema: Schema): void {
  const what = `${object.kind} ${object.metadata?.name}`;
  if (object.apiVersion === "registry.kubecontroller.io/v1alpha1" && object.kind === "Registry") {
    assert.deepEqual(validate(registrySchema, object), [], what);
    return;
  }
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  assert.ok(Model, `no schema for ${object.apiVersion} ${object.kind} (${what})`);
  assert.doesNotThrow(() => new Model(object).validate(), what);
}

test("kubectl kustomize deploy/ renders, and every object validates against its schema", async () => {
  const objects = await kustomize("deploy");
  const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  assert.deepEqual(kinds, [
    "ClusterRole/reestr-operator",
    "ClusterRoleBinding/reestr-operator",
    "CustomResourceDefinition/registries.registry.kubecontroller.io",
    "Deployment/reestr",
    "Deployment/reestr-operator",
    "Namespace/reestr-system",
    "PersistentVolumeClaim/reestr-data",
    "Role/reestr-operator-leader-election",
    "RoleBinding/reestr-operator-leader-election",
    "Service/reestr",
    "Service/reestr-operator-metrics",
    "ServiceAccount/reestr-operator",
  ]);
  const crd = objects.find((o) => o.kind === "CustomResourceDefinition")!;
  for (const object of objects) check(object, crdSchema(crd));
  // The rendered CRD is the generated one (kustomize only adds the part-of label).
  const generated = parse(registryCrdYaml()) as K8sObject;
  assert.deepEqual(crd.spec, generated.spec);
  for (const object of objects) {
    if (
      object.kind !== "Namespace" &&
      object.kind !== "CustomResourceDefinition" &&
      !object.kind.startsWith("Cluster")
    ) {
      assert.equal(object.metadata.namespace, "reestr-system", `${object.kind} ${object.metadata.name}`);
    }
  }
});

test("the validation is real: a broken object is refused", () => {
  const broken = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "x" },
    spec: { selector: { matchLabels: { a: "b" } }, template: { spec: { containers: [{ image: 42 }] } } },
  };
  assert.throws(() => new Deployment(broken as never).validate());
});

test("the examples: Registries valid against the CRD schema and accepted by the watcher's spec", async () => {
  const base = await kustomize("deploy/base");
  const schema = crdSchema(base.find((o) => o.kind === "CustomResourceDefinition")!);
  const examples = await kustomize("deploy/examples");
  const registries = examples.filter((o) => o.kind === "Registry");
  assert.equal(registries.length, 2);
  for (const object of examples) check(object, schema);
  for (const registry of registries) parseRegistrySpec(registry.spec);
  // The schema is not a rubber stamp: a bad example is refused with the field's path.
  const bad = structuredClone(registries[0]!) as K8sObject & { spec: Record<string, unknown> };
  bad.spec.scanInterval = "often";
  assert.deepEqual(
    validate(schema, bad).map((p) => p.path),
    ["spec.scanInterval"],
  );
});

test("RBAC is the least privilege the operator needs", async () => {
  const objects = await kustomize("deploy/base");
  const clusterRole = objects.find((o) => o.kind === "ClusterRole")! as unknown as {
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  };
  const grants = clusterRole.rules
    .flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.map(
          (resource) => `${group || "core"}/${resource}: ${[...rule.verbs].sort().join(",")}`,
        ),
      ),
    )
    .sort();
  assert.deepEqual(grants, [
    "core/events: create",
    "core/secrets: get",
    "events.k8s.io/events: create",
    "registry.kubecontroller.io/registries/finalizers: update",
    "registry.kubecontroller.io/registries/status: patch,update",
    "registry.kubecontroller.io/registries: get,list,patch,update,watch",
  ]);
  const role = objects.find((o) => o.kind === "Role")! as unknown as {
    metadata: { namespace: string };
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  };
  assert.deepEqual(role.rules, [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
  ]);
  assert.equal(role.metadata.namespace, "reestr-system", "leases only in the operator's namespace");
  const text = JSON.stringify(objects.filter((o) => o.kind.endsWith("Role")));
  assert.doesNotMatch(text, /"\*"/, "no wildcards");
});

test("the Deployments: operator probes and leader-election env, registry volume", async () => {
  const objects = await kustomize("deploy/base");
  type Container = {
    image: string;
    args: string[];
    env?: { name: string }[];
    livenessProbe: { httpGet: { path: string } };
    readinessProbe: { httpGet: { path: string } };
    volumeMounts: { name: string; mountPath: string }[];
  };
  type Dep = {
    spec: {
      replicas: number;
      template: {
        spec: {
          containers: Container[];
          volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[];
          serviceAccountName?: string;
        };
      };
    };
  };
  const operator = objects.find(
    (o) => o.metadata.name === "reestr-operator" && o.kind === "Deployment",
  ) as unknown as Dep;
  const oc = operator.spec.template.spec.containers[0]!;
  assert.equal(oc.args[0], "operator");
  assert.equal(oc.image, "ghcr.io/reestr/reestr:0.1.0");
  assert.equal(oc.livenessProbe.httpGet.path, "/healthz");
  assert.equal(oc.readinessProbe.httpGet.path, "/readyz");
  assert.deepEqual(oc.env?.map((e) => e.name).slice(0, 2), ["POD_NAME", "POD_NAMESPACE"]);
  assert.equal(operator.spec.template.spec.serviceAccountName, "reestr-operator");
  assert.ok(operator.spec.replicas >= 2, "standby replicas behind the Lease");
  const registry = objects.find(
    (o) => o.metadata.name === "reestr" && o.kind === "Deployment",
  ) as unknown as Dep;
  const rc = registry.spec.template.spec.containers[0]!;
  assert.equal(rc.args[0], "serve");
  assert.ok(rc.volumeMounts.some((m) => m.name === "data" && m.mountPath === "/var/lib/reestr"));
  assert.deepEqual(
    registry.spec.template.spec.volumes.find((v) => v.name === "data")?.persistentVolumeClaim,
    { claimName: "reestr-data" },
  );
});

test("the Deckhouse module: layout, CRD, settings schema, RBAC like the base", async () => {
  const module = join(REPO_ROOT, "deploy/module");
  for (const file of [
    "module.yaml",
    "Chart.yaml",
    "openapi/config-values.yaml",
    "openapi/values.yaml",
    "crds/registry.yaml",
    "templates/deployment.yaml",
    "templates/rbac.yaml",
  ]) {
    assert.ok(existsSync(join(module, file)), file);
  }
  const meta = parse(await readFile(join(module, "module.yaml"), "utf8")) as { name: string };
  assert.equal(meta.name, "registry-operator");
  assert.equal(await readFile(join(module, "crds/registry.yaml"), "utf8"), registryCrdYaml());

  const settings = parse(await readFile(join(module, "openapi/config-values.yaml"), "utf8")) as Schema;
  // Seed 001's ModuleConfig settings validate; nonsense does not.
  assert.deepEqual(
    validate(settings, { logLevel: "info", nodeSelector: { "node-role": "control-plane" } }),
    [],
  );
  assert.deepEqual(validate(settings, { logLevel: "debug" }), []);
  assert.deepEqual(
    validate(settings, { logLevel: "verbose", nodeSelector: { zone: 1 } }).map((p) => p.path),
    ["logLevel", "nodeSelector.zone"],
  );
  assert.equal(settings.properties!.logLevel!.default, "info");

  // The template's RBAC (Helm directives aside) grants what the kustomize base grants.
  const template = (await readFile(join(module, "templates/rbac.yaml"), "utf8"))
    .split("\n")
    .filter((line) => !line.includes("{{"))
    .join("\n");
  const rules = (docs: K8sObject[], kind: string) =>
    (docs.find((o) => o.kind === kind) as unknown as { rules: unknown }).rules;
  const moduleDocs = parseAllDocuments(template).map((d) => d.toJSON() as K8sObject);
  const base = await kustomize("deploy/base");
  assert.deepEqual(rules(moduleDocs, "ClusterRole"), rules(base, "ClusterRole"));
  assert.deepEqual(rules(moduleDocs, "Role"), rules(base, "Role"));
  const deployment = await readFile(join(module, "templates/deployment.yaml"), "utf8");
  assert.match(deployment, /\.Values\.registryOperator/);
  assert.match(deployment, /--log-level=\{\{ \$settings\.logLevel/);
  assert.match(deployment, /with \$settings\.nodeSelector/);
});
