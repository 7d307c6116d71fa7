/**
 * The `Registry` custom resource (registry.kubecontroller.io/v1alpha1) and its
 * CustomResourceDefinition, generated from the watcher's zod schemas (src/watcher/spec.ts): one
 * source of truth for `reestr watch`, `reestr serve` and the cluster. `scripts/gen-crd.ts` writes
 * the result to deploy/base/crd.yaml (and the Deckhouse module's crds/); a test keeps the committed
 * files equal to what this module produces.
 *
 * `z.toJSONSchema` yields JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3 schema:
 * every node typed, no `$schema`, no `additionalProperties: false` (unknown fields are pruned
 * instead), defaults allowed. `structural()` does that conversion. The operator's spec differs
 * from the standalone one in one field: credentials come from a Secret (`credentialsSecret`), so
 * the inline `credentials` block is left out of the CRD.
 */
import { stringify } from "yaml";
import { z } from "zod";
import { RegistrySpecSchema, RegistryStatusSchema } from "../watcher/spec.ts";

export const GROUP = "registry.kubecontroller.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "Registry";
export const LIST_KIND = "RegistryList";
export const PLURAL = "registries";
export const SINGULAR = "registry";
export const CRD_NAME = `${PLURAL}.${GROUP}`;
/** Held while the operator may still have work for an object (a scan in flight, metrics to drop). */
export const FINALIZER = `${GROUP}/finalizer`;

/** metav1.Condition, the shape `kubectl wait --for=condition=…` understands. */
export const ConditionSchema = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
      ),
    status: z.enum(["True", "False", "Unknown"]),
    observedGeneration: z.int().min(0).optional(),
    lastTransitionTime: z.iso.datetime({ offset: true }),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
    message: z.string().max(32768),
  })
  .strict();

/** The watcher's status plus what a Kubernetes controller reports about itself. */
export const OperatorStatusSchema = RegistryStatusSchema.extend({
  /** The `metadata.generation` the status describes: a spec change is pending while it lags. */
  observedGeneration: z.int().min(0).optional(),
  /** `images.length`, for the IMAGES printer column (JSONPath cannot count). */
  imageCount: z.int().min(0).optional(),
  conditions: z.array(ConditionSchema).optional(),
});

export type Condition = z.output<typeof ConditionSchema>;
export type OperatorStatus = z.input<typeof OperatorStatusSchema>;

/** Field descriptions for `kubectl explain`, by path under spec or status. */
const DESCRIPTIONS: Record<string, string> = {
  spec: "What to watch: a repository in a registry, how often, with which filters and scans.",
  "spec.url": "Registry base URL, e.g. https://registry-1.docker.io (http:// for plain HTTP).",
  "spec.repository": "Repository path, e.g. library/nginx.",
  "spec.scanInterval": "Seconds between scans (at least 10).",
  "spec.credentialsSecret":
    "Secret with `username` and `password` keys, or a kubernetes.io/dockerconfigjson Secret.",
  "spec.credentialsSecret.name": "The Secret's name.",
  "spec.credentialsSecret.namespace": "The Secret's namespace; defaults to the Registry's own.",
  "spec.insecureSkipVerify": "Skip TLS certificate verification for the registry.",
  "spec.scanConfig": "Registry request settings.",
  "spec.scanConfig.timeout": "Seconds for each registry request.",
  "spec.scanConfig.retries": "Retries after the first attempt on network errors, 5xx and 429.",
  "spec.scanConfig.concurrency": "Tags inspected at once.",
  "spec.tagFilter": "Which tags to keep: include/exclude regular expressions, sort, order, limit.",
  "spec.tagFilter.include": "A tag is kept when any pattern matches; none keeps every tag.",
  "spec.tagFilter.exclude": "A tag is dropped when any pattern matches.",
  "spec.tagFilter.limit": "Keep the first N tags after include, exclude and sort.",
  "spec.tagFilter.sort": "semver, alphabetical, numerical or created; none keeps the registry's order.",
  "spec.tagFilter.semverCoerce":
    "With sort semver: read partial versions as semver's coerce does (1.0 as 1.0.0, v1 as 1.0.0) instead of leaving them out.",
  "spec.tagFilter.order": "descending (newest first) or ascending.",
  "spec.vulnerabilityScanning": "Trivy scans of the kept images.",
  "spec.vulnerabilityScanning.enabled": "Run Trivy for each kept image.",
  "spec.vulnerabilityScanning.severityThreshold": "Count vulnerabilities of this severity and above.",
  "spec.vulnerabilityScanning.interval": "Seconds before an unchanged image is scanned again.",
  "spec.vulnerabilityScanning.timeout": "Seconds one image's scan may take before it is skipped.",
  status: "What the last scan found.",
  "status.lastScanTime": "When the last scan finished.",
  "status.lastScanStatus": "Success or Failed.",
  "status.message": "The cause when Failed; a summary and warnings when Success.",
  "status.images": "The kept tags with digest, size, platforms and vulnerability counts.",
  "status.imageCount": "Number of images in status.images.",
  "status.observedGeneration": "The metadata.generation this status describes.",
  "status.conditions": "Ready: the last scan succeeded for the current generation.",
};

type JsonSchema = Record<string, unknown>;

/** JSON Schema from zod → a structural OpenAPI v3 schema (see the header). */
export function structural(node: unknown, path = ""): JsonSchema {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    throw new Error(`schema node at ${path || "(root)"} is not an object`);
  }
  const out: JsonSchema = {};
  const description = DESCRIPTIONS[path];
  if (description !== undefined) out.description = description;
  for (const [key, value] of Object.entries(node as JsonSchema)) {
    if (key === "$schema" || key === "id" || key === "$id") continue;
    if (key === "additionalProperties" && value === false) continue;
    // JavaScript's safe-integer bound is zod's, not a limit of the field.
    if (key === "maximum" && value === Number.MAX_SAFE_INTEGER) continue;
    if (key === "minimum" && value === Number.MIN_SAFE_INTEGER) continue;
    if (key === "properties") {
      const properties: Record<string, JsonSchema> = {};
      for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
        properties[name] = structural(child, path === "" ? name : `${path}.${name}`);
      }
      out.properties = properties;
      continue;
    }
    if (key === "items") {
      out.items = structural(value, `${path}[]`);
      continue;
    }
    out[key] = value;
  }
  // The date-time format says it all; zod's long leap-year pattern adds nothing for the API server.
  if (out.format === "date-time") delete out.pattern;
  if (out.type === "integer") out.format = "int64";
  if (out.type === undefined) throw new Error(`schema node at ${path || "(root)"} has no type`);
  return out;
}

/** The spec's OpenAPI schema: the watcher's spec without the standalone `credentials`. */
export function specSchema(): JsonSchema {
  const json = z.toJSONSchema(RegistrySpecSchema, { io: "input", unrepresentable: "throw" }) as JsonSchema;
  const properties = { ...(json.properties as Record<string, unknown>) };
  delete properties.credentials;
  const schema = structural({ ...json, properties }, "spec");
  // zod's URL protocol check does not survive toJSONSchema; say it as a pattern.
  const url = (schema.properties as Record<string, JsonSchema>).url!;
  url.pattern = "^https?://";
  return schema;
}

/** The status's OpenAPI schema; `conditions` is a list-map keyed by type, as metav1.Condition lists are. */
export function statusSchema(): JsonSchema {
  const json = z.toJSONSchema(OperatorStatusSchema, { io: "input", unrepresentable: "throw" });
  const schema = structural(json, "status");
  const conditions = (schema.properties as Record<string, JsonSchema>).conditions!;
  conditions["x-kubernetes-list-type"] = "map";
  conditions["x-kubernetes-list-map-keys"] = ["type"];
  return schema;
}

/** The CustomResourceDefinition object. */
export function registryCrd(): Record<string, unknown> {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: CRD_NAME,
      labels: { "app.kubernetes.io/name": "reestr", "app.kubernetes.io/component": "operator" },
    },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: ["reg"] },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "URL", type: "string", jsonPath: ".spec.url" },
            { name: "Repository", type: "string", jsonPath: ".spec.repository" },
            { name: "Status", type: "string", jsonPath: ".status.lastScanStatus" },
            { name: "Images", type: "integer", jsonPath: ".status.imageCount" },
            { name: "Last Scan", type: "date", jsonPath: ".status.lastScanTime" },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              description: "A container registry repository the operator scans (seed 000/001).",
              type: "object",
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: specSchema(),
                status: statusSchema(),
              },
              required: ["spec"],
            },
          },
        },
      ],
    },
  };
}

/** The CRD as the YAML file committed under deploy/. */
export function registryCrdYaml(): string {
  const header =
    "# Generated by scripts/gen-crd.ts from src/watcher/spec.ts and src/operator/crd.ts. Do not edit.\n";
  return header + stringify(registryCrd(), { lineWidth: 0 });
}

/** Where the generated CRD is committed, relative to the repository root. */
export const CRD_FILES = ["deploy/base/crd.yaml", "deploy/module/crds/registry.yaml"] as const;
