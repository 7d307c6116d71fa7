/**
 * Checks rendered Kubernetes objects against the Kubernetes OpenAPI schemas (kubernetes-models,
 * generated from the Kubernetes API's OpenAPI spec), and the other deploy-kit documents against
 * their documented shapes. Every deploy test that renders something goes through here.
 */
import assert from "node:assert/strict";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import type { RenderedDocument } from "../../src/deploy/common.ts";

type Model = new (data: never) => { validate(): void };

/** apiVersion/kind → model; a kind the deploy kit starts rendering must be added here. */
const MODELS: Record<string, Model> = {
  "v1/Namespace": Namespace as unknown as Model,
  "v1/Secret": Secret as unknown as Model,
  "v1/ConfigMap": ConfigMap as unknown as Model,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim as unknown as Model,
  "v1/Service": Service as unknown as Model,
  "apps/v1/Deployment": Deployment as unknown as Model,
};

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Throws (naming the object) unless `object` is valid for its apiVersion/kind's OpenAPI schema. */
export function assertValidK8sObject(object: unknown): void {
  const o = object as {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; labels?: Record<string, string> };
  };
  const key = `${o.apiVersion}/${o.kind}`;
  const model = MODELS[key];
  assert.ok(model, `no schema registered for ${key}`);
  const what = `${o.kind} ${o.metadata?.name}`;
  try {
    new model(object as never).validate();
  } catch (error) {
    assert.fail(`${what} does not match the Kubernetes schema: ${(error as Error).message}`);
  }
  // The OpenAPI schema does not check names and label values; the API server does.
  assert.match(o.metadata?.name ?? "", DNS_SUBDOMAIN, `${what}: metadata.name`);
  for (const [k, v] of Object.entries(o.metadata?.labels ?? {})) {
    assert.match(v, LABEL_VALUE, `${what}: label ${k}=${v}`);
    assert.ok(v.length <= 63, `${what}: label ${k} longer than 63`);
  }
}

/** Validates every document: objects against the schemas, the others against their shape. */
export function assertValidDocuments(documents: readonly RenderedDocument[]): void {
  const files = new Set<string>();
  for (const document of documents) {
    assert.match(
      document.file,
      /^((helm|api|policy|build)\/)?[a-z0-9.-]+\.(yaml|json)$/,
      `file name ${document.file}`,
    );
    assert.equal(
      document.file.includes("/"),
      document.type !== "object",
      `objects (only) at the top: ${document.file}`,
    );
    assert.ok(!files.has(document.file), `two documents for ${document.file}`);
    files.add(document.file);
    const content = document.content as Record<string, unknown>;
    switch (document.type) {
      case "object":
        assertValidK8sObject(content);
        break;
      case "helm-values":
        assert.equal(typeof content, "object");
        assert.match(
          document.comment ?? "",
          /helm upgrade --install \S+ \S+ --repo https:\/\/.* -f helm\/values-/,
        );
        break;
      case "api-request":
        assert.match(String(content.method), /^(GET|POST|PUT|PATCH|DELETE)$/);
        assert.match(String(content.path), /^\//);
        assert.ok(["harbor", "nexus", "artifactory"].includes(String(content.target)));
        assert.ok("body" in content);
        break;
      case "reestr-policy":
        assert.equal(content.apiVersion, "policy.reestr.dev/v1alpha1");
        assert.match(String(content.kind), /^(Scan|Retention|Replication)Policy$/);
        break;
      case "build-config":
        assert.equal(content.apiVersion, "build.reestr.dev/v1alpha1");
        assert.equal(content.kind, "BuildConfig");
        break;
      default:
        assert.fail(`unknown document type ${document.type}`);
    }
  }
}

/** A deterministic SecretGenerator for golden files: "golden-<purpose>" padded to the length. */
export function goldenSecret(purpose: string, length: number): string {
  return `golden-${purpose.replace(/[^a-z0-9]+/gi, "-")}`.padEnd(length, "0").slice(0, length);
}
