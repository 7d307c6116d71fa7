/**
 * The Registry CRD: the committed files equal what scripts/gen-crd.ts generates from the watcher's
 * zod schema; the schema is structural (as apiextensions.k8s.io/v1 requires); its defaults are the
 * watcher's; every field of the spec schema but the standalone `credentials` is in it; the CRD
 * object itself passes kubernetes-models' validation.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { parse } from "yaml";
import { CRD_FILES, registryCrd, registryCrdYaml } from "../../src/operator/crd.ts";
import { parseRegistrySpec, RegistrySpecSchema } from "../../src/watcher/spec.ts";
import { REPO_ROOT } from "../helpers/reestr-process.ts";
import { applyDefaults, type Schema, structuralProblems, validate } from "./structural-schema.ts";

function openApi(): Schema {
  const crd = registryCrd() as { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

test("the committed CRD files are what the generator produces", async () => {
  const generated = registryCrdYaml();
  for (const file of CRD_FILES) {
    const committed = await readFile(join(REPO_ROOT, file), "utf8");
    assert.equal(committed, generated, `${file} is stale: run npx node scripts/gen-crd.ts`);
  }
});

test("the schema is structural and its defaults validate", () => {
  assert.deepEqual(structuralProblems(openApi()), []);
});

test("names, scope, status subresource and printer columns", () => {
  const crd = parse(registryCrdYaml()) as {
    metadata: { name: string };
    spec: {
      group: string;
      scope: string;
      names: { kind: string; plural: string };
      versions: {
        name: string;
        subresources: unknown;
        additionalPrinterColumns: { name: string; jsonPath: string }[];
      }[];
    };
  };
  assert.equal(crd.metadata.name, "registries.registry.kubecontroller.io");
  assert.equal(crd.spec.group, "registry.kubecontroller.io");
  assert.equal(crd.spec.names.kind, "Registry");
  assert.equal(crd.spec.scope, "Namespaced");
  const version = crd.spec.versions[0]!;
  assert.equal(version.name, "v1alpha1");
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c) => [c.name.toUpperCase().replace(" ", "-"), c.jsonPath]),
    [
      ["URL", ".spec.url"],
      ["REPOSITORY", ".spec.repository"],
      ["STATUS", ".status.lastScanStatus"],
      ["IMAGES", ".status.imageCount"],
      ["LAST-SCAN", ".status.lastScanTime"],
      ["AGE", ".metadata.creationTimestamp"],
    ],
  );
  new CustomResourceDefinition(crd as never).validate();
});

test("one source of truth: spec fields and defaults are the watcher's", () => {
  const schema = openApi();
  const spec = schema.properties!.spec!;
  const zodFields = Object.keys(RegistrySpecSchema.shape ?? {}).filter((f) => f !== "credentials");
  assert.deepEqual(Object.keys(spec.properties!).sort(), zodFields.sort());
  assert.deepEqual(spec.required, ["url", "repository"]);
  // Defaults applied by the API server equal the ones the watcher applies.
  const object = { spec: { url: "https://registry-1.docker.io", repository: "library/nginx" } };
  applyDefaults(schema, object);
  const parsed = parseRegistrySpec({ url: "https://registry-1.docker.io", repository: "library/nginx" });
  assert.deepEqual(object.spec, JSON.parse(JSON.stringify(parsed)));
  const status = schema.properties!.status!;
  assert.ok(status.properties!.conditions);
  assert.equal(status.properties!.conditions!["x-kubernetes-list-type"], "map");
  assert.ok(status.properties!.observedGeneration);
});

test("the schema refuses what the watcher refuses (where OpenAPI can say it)", () => {
  const schema = openApi();
  const bad = {
    spec: {
      url: "ftp://example.com",
      repository: "Not/Valid",
      scanInterval: 5,
      tagFilter: { sort: "random", limit: 0 },
      vulnerabilityScanning: { severityThreshold: "SEVERE" },
    },
  };
  const paths = validate(schema, bad)
    .map((p) => p.path)
    .sort();
  assert.deepEqual(paths, [
    "spec.repository",
    "spec.scanInterval",
    "spec.tagFilter.limit",
    "spec.tagFilter.sort",
    "spec.url",
    "spec.vulnerabilityScanning.severityThreshold",
  ]);
});
