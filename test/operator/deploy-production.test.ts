/**
 * deploy/overlays/production: `kubectl kustomize` (the real kubectl, offline) renders it, every
 * object validates against its Kubernetes schema (kubernetes-models), the registry runs 3
 * replicas rolling one at a time with readiness on /readyz, its secrets come from Secrets, the
 * PodDisruptionBudget keeps 2 and selects the registry's pods, and the ConfigMap's reestr.yaml is
 * a configuration `reestr serve` accepts once the Secrets' variables are set. And the Deckhouse
 * module's `registry` settings: schema, defaults, and a template that says the same.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parse, parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config/config.ts";
import { REPO_ROOT } from "../helpers/reestr-process.ts";
import { applyDefaults, type Schema, structuralProblems, validate } from "./structural-schema.ts";

const KUBECTL = process.env.KUBECTL ?? "/usr/bin/kubectl";
const run = promisify(execFile);

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML, checked field by field below
  [k: string]: any;
};

// biome-ignore lint/suspicious/noExplicitAny: the models' constructors take their own types
type Model = new (data: any) => { validate(): void };
const MODELS: Record<string, Model> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
};

let rendered: Promise<K8sObject[]> | undefined;
function production(): Promise<K8sObject[]> {
  rendered ??= run(KUBECTL, ["kustomize", join(REPO_ROOT, "deploy/overlays/production")], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(({ stdout }) => parseAllDocuments(stdout).map((doc) => doc.toJSON() as K8sObject));
  return rendered;
}

const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name.startsWith(name));
  assert.ok(found, `${kind} ${name} is rendered`);
  return found;
};

test("the production overlay renders, and every object validates against its schema", async () => {
  const objects = await production();
  for (const object of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    assert.ok(Model, `no schema for ${object.apiVersion} ${object.kind}`);
    assert.doesNotThrow(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`);
    if (
      object.kind !== "Namespace" &&
      object.kind !== "CustomResourceDefinition" &&
      !object.kind.startsWith("Cluster")
    )
      assert.equal(object.metadata.namespace, "reestr-system", `${object.kind} ${object.metadata.name}`);
  }
  // The volume of the single-server base is gone: nothing would bind it, nothing mounts it.
  assert.equal(
    objects.some((o) => o.kind === "PersistentVolumeClaim"),
    false,
  );
});

test("the registry: 3 replicas rolling one at a time, spread over nodes, ready on /readyz, secrets from Secrets", async () => {
  const objects = await production();
  const deployment = find(objects, "Deployment", "reestr");
  assert.equal(deployment.metadata.name, "reestr");
  const spec = deployment.spec;
  assert.equal(spec.replicas, 3);
  assert.equal(spec.strategy.type, "RollingUpdate");
  assert.equal(spec.strategy.rollingUpdate.maxUnavailable, 1);
  const pod = spec.template.spec;
  const container = pod.containers[0];
  assert.equal(container.readinessProbe.httpGet.path, "/readyz");
  assert.equal(container.livenessProbe.httpGet.path, "/healthz");
  assert.ok(container.args.includes("--config=/etc/reestr/reestr.yaml"));
  assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
  const secrets = Object.fromEntries(
    (container.env as { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[])
      .filter((e) => e.valueFrom?.secretKeyRef)
      .map((e) => [e.name, `${e.valueFrom!.secretKeyRef!.name}/${e.valueFrom!.secretKeyRef!.key}`]),
  );
  assert.deepEqual(secrets, {
    REESTR_POSTGRES_URL: "reestr-postgres/url",
    REESTR_S3_ACCESS_KEY: "reestr-s3/accessKeyId",
    REESTR_S3_SECRET_KEY: "reestr-s3/secretAccessKey",
    REESTR_REDIS_URL: "reestr-redis/url",
  });
  const term =
    pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
  assert.equal(term.topologyKey, "kubernetes.io/hostname");
  assert.deepEqual(term.labelSelector.matchLabels, {
    "app.kubernetes.io/name": "reestr",
    "app.kubernetes.io/component": "registry",
  });
  const volumes: Record<string, K8sObject> = Object.fromEntries(
    (pod.volumes as K8sObject[]).map((v) => [v.name, v]),
  );
  assert.deepEqual(volumes.data, { name: "data", emptyDir: {} });
  const configMap = find(objects, "ConfigMap", "reestr-config");
  // The generated (hashed) name, so a changed reestr.yaml rolls the pods.
  assert.equal(volumes.config?.configMap.name, configMap.metadata.name);

  const pdb = find(objects, "PodDisruptionBudget", "reestr");
  assert.equal(pdb.spec.minAvailable, 2);
  const podLabels = spec.template.metadata.labels as Record<string, string>;
  for (const [key, value] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>))
    assert.equal(podLabels[key], value, `the PodDisruptionBudget's ${key} selects the registry's pods`);
  const operatorLabels = find(objects, "Deployment", "reestr-operator").spec.template.metadata.labels;
  assert.notEqual(
    operatorLabels["app.kubernetes.io/name"],
    pdb.spec.selector.matchLabels["app.kubernetes.io/name"],
  );
});

test("the ConfigMap's reestr.yaml is a configuration serve accepts, with the Secrets' variables", async () => {
  const objects = await production();
  const configMap = find(objects, "ConfigMap", "reestr-config");
  const dir = mkdtempSync(join(tmpdir(), "reestr-deploy-"));
  try {
    const file = join(dir, "reestr.yaml");
    writeFileSync(file, configMap.data["reestr.yaml"]);
    const env = {
      REESTR_POSTGRES_URL: "postgresql://reestr:secret@postgres:5432/reestr",
      REESTR_S3_ACCESS_KEY: "access",
      REESTR_S3_SECRET_KEY: "secret",
      REESTR_REDIS_URL: "redis://redis:6379/0",
    };
    const config = await loadConfig({ file, env });
    assert.equal(config.storage.s3?.bucket, "reestr");
    assert.equal(config.storage.s3?.accessKeyId, "access");
    assert.equal(config.storage.s3?.secretAccessKey, "secret");
    assert.equal(config.metadata?.postgres?.url, env.REESTR_POSTGRES_URL);
    assert.equal(config.redis?.url, env.REESTR_REDIS_URL);
    // Without the database's Secret the server refuses to start, naming the setting.
    await assert.rejects(
      loadConfig({ file, env: { ...env, REESTR_POSTGRES_URL: "" } }),
      /metadata\.postgres\.url/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the Deckhouse module's registry settings: schema, defaults, and a template like the overlay", async () => {
  const module = join(REPO_ROOT, "deploy/module");
  const settings = parse(await readFile(join(module, "openapi/config-values.yaml"), "utf8")) as Schema;
  assert.deepEqual(structuralProblems(settings), []);
  const defaults = applyDefaults(settings, {}) as { registry: Record<string, unknown> };
  assert.equal(defaults.registry.enabled, false, "off unless asked for: the module runs the operator");
  assert.equal(defaults.registry.replicas, 3);
  assert.deepEqual(defaults.registry.postgres, { urlSecret: "reestr-postgres", poolSize: 10 });
  const example = (settings.properties!.registry as Schema)["x-examples"] as unknown[];
  assert.deepEqual(validate(settings, { registry: example[0] }), []);
  assert.deepEqual(
    validate(settings, { registry: { replicas: 0, s3: { bucket: "" }, enabled: "yes" } })
      .map((p) => p.path)
      .sort(),
    ["registry.enabled", "registry.replicas", "registry.s3.bucket"],
  );

  const template = await readFile(join(module, "templates/registry.yaml"), "utf8");
  assert.match(template, /\{\{- if \$registry\.enabled \}\}/);
  assert.match(template, /replicas: \{\{ \$registry\.replicas \}\}/);
  assert.match(template, /kind: PodDisruptionBudget/);
  assert.match(template, /minAvailable: \{\{ sub \(int \$registry\.replicas\) 1 \}\}/);
  assert.match(template, /readinessProbe:\s+httpGet:\s+path: \/readyz/);
  // The same variables from Secrets as the overlay.
  const overlay = find(await production(), "Deployment", "reestr").spec.template.spec.containers[0];
  for (const { name } of overlay.env as { name: string }[])
    assert.match(template, new RegExp(`name: ${name}\\b`));
});
