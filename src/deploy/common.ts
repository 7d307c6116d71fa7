/**
 * Shared helpers of the deploy kit: the labels and metadata every rendered object carries, the
 * Kubernetes objects every registry renders (Namespace, Secrets), validators for Kubernetes
 * quantities, Go durations and cron schedules, and the public DeepPartial / deepMerge helpers.
 */
import { randomBytes } from "node:crypto";

/**
 * Every property optional, recursively; arrays and maps (string-keyed records such as labels)
 * are given as a whole. A DeepPartial of a kind's config is that kind's builder input.
 */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? string extends keyof T
      ? T
      : { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** The API version of the objects the builders return (framework metadata). */
export const DEPLOY_API_VERSION = "deploy.reestr.dev/v1alpha1";

export const MANAGED_BY = "reestr";

export type Labels = Record<string, string>;

/** A plain object (not null, not an array): config data read as a string-keyed record. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Merges `override` over `base` recursively and returns a new object: plain objects merge key by
 * key, arrays and scalars replace, `undefined` in the override keeps the base value. Neither
 * argument is modified; the result shares no objects or arrays with them.
 */
export function deepMerge<T>(base: T, override: NoInfer<DeepPartial<T>> | undefined): T {
  // The one cast of the merge: mergeValue walks plain data of any shape as `unknown`, and a merge
  // of a DeepPartial<T> over a T is a T, which TypeScript cannot follow through the recursion.
  return mergeValue(base, override) as T;
}

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = clone(v);
    return out;
  }
  return value;
}

function mergeValue(base: unknown, override: unknown): unknown {
  if (override === undefined) return clone(base);
  if (isPlainObject(base) && isPlainObject(override)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(base)) out[k] = clone(v);
    for (const [k, v] of Object.entries(override)) out[k] = mergeValue(base[k], v);
    return out;
  }
  return clone(override);
}

/**
 * The recommended Kubernetes labels applied to everything a builder renders. The selector labels
 * (`name`, `instance`) are the subset Deployments and Services select on.
 */
export function standardLabels(app: string, instance: string, component: string, version?: string): Labels {
  const labels: Labels = {
    "app.kubernetes.io/name": app,
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/managed-by": MANAGED_BY,
    "app.kubernetes.io/component": component,
  };
  // A label value is at most 63 characters of [A-Za-z0-9._-]; a version that is not one is left out.
  if (version && /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(version)) {
    labels["app.kubernetes.io/version"] = version;
  }
  return labels;
}

export function selectorLabels(labels: Labels): Labels {
  return {
    "app.kubernetes.io/name": labels["app.kubernetes.io/name"] ?? "",
    "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"] ?? "",
  };
}

/** Kubernetes resource.Quantity syntax (non-negative): `100m`, `0.5`, `512Mi`, `1e3`, `2G`. */
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

export function isValidQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

const QUANTITY_SUFFIX: Record<string, number> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * The value of a Kubernetes quantity in base units (cores for CPU, bytes for memory):
 * `parseQuantity("100m") === 0.1`, `parseQuantity("512Mi") === 536870912`,
 * `parseQuantity("2G") === 2e9`, `parseQuantity("1e3") === 1000`. Throws on invalid syntax.
 */
export function parseQuantity(value: string): number {
  const match = QUANTITY.exec(value);
  if (!match) throw new Error(`invalid Kubernetes quantity "${value}"`);
  const suffix = match[3] ?? "";
  const number = Number(match[1]);
  if (/^[eE]/.test(suffix)) return number * 10 ** Number(suffix.slice(1));
  // QUANTITY only matches the suffixes of QUANTITY_SUFFIX.
  return number * (QUANTITY_SUFFIX[suffix] ?? Number.NaN);
}

/** Field ranges of a standard 5-field cron expression (minute hour day-of-month month day-of-week). */
const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const CRON_MACROS = new Set([
  "@yearly",
  "@annually",
  "@monthly",
  "@weekly",
  "@daily",
  "@midnight",
  "@hourly",
]);

/**
 * Why `expression` is not a valid 5-field cron schedule (or `@daily`-style macro), or undefined
 * when it is. Fields accept `*`, numbers, names (months, weekdays), ranges `a-b`, steps `/n` and
 * comma lists.
 */
export function cronError(expression: string): string | undefined {
  const trimmed = expression.trim();
  if (trimmed.startsWith("@")) {
    return CRON_MACROS.has(trimmed) ? undefined : `unknown cron macro "${trimmed}"`;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `expected 5 fields (minute hour day month weekday), got ${fields.length}`;
  for (let i = 0; i < 5; i++) {
    const spec = CRON_FIELDS[i]!;
    const error = cronFieldError(fields[i]!, spec);
    if (error) return `${spec.name} field "${fields[i]}": ${error}`;
  }
  return undefined;
}

export function isValidCron(expression: string): boolean {
  return cronError(expression) === undefined;
}

function cronValue(token: string, spec: { min: number; max: number; names?: string[] }): number | undefined {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const index = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  if (index < 0) return undefined;
  return spec.min + index;
}

function cronFieldError(
  field: string,
  spec: { min: number; max: number; names?: string[] },
): string | undefined {
  for (const part of field.split(",")) {
    const [range, step, extra] = part.split("/");
    if (extra !== undefined || range === undefined || range === "") return "malformed";
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `bad step "${step}"`;
    if (range === "*") continue;
    const bounds = range.split("-");
    if (bounds.length > 2) return `bad range "${range}"`;
    const values = bounds.map((b) => cronValue(b, spec));
    if (values.some((v) => v === undefined))
      return `value out of range ${spec.min}-${spec.max} in "${range}"`;
    if (values.length === 2 && values[0]! > values[1]!) return `descending range "${range}"`;
  }
  return undefined;
}

/** One problem found by validation: the dotted path of the field and what is wrong with it. */
export interface ValidationError {
  /** Dotted path, array indices in brackets: `storage.s3.bucket`, `notifications.endpoints[0].url`. */
  path: string;
  message: string;
}

/**
 * Collects the problems of one config: errors make it invalid, warnings point at something the
 * rendered output cannot do (or leaves to the user) without making the config unusable.
 */
export class Problems {
  errors: ValidationError[] = [];
  warnings: ValidationError[] = [];

  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }

  /** A Kubernetes quantity (CPU, memory, storage). */
  quantity(path: string, value: string, what: string): void {
    if (!isValidQuantity(value)) this.error(path, `invalid ${what} quantity "${value}"`);
  }

  /** requests/limits of CPU and memory under `path`. */
  resources(path: string, resources: Resources): void {
    for (const group of ["limits", "requests"] as const) {
      for (const key of ["cpu", "memory"] as const) {
        this.quantity(`${path}.${group}.${key}`, resources[group][key], key);
      }
    }
  }

  /**
   * A Secret the output references by name: the error `unnamed` when it has no name (optional
   * Secrets pass none), else a warning that it must already exist unless its value is given
   * inline (then the Secret is rendered).
   */
  secretReference(
    path: string,
    reference: { secretName: string; key: string; namespace: string; inlineValue: string },
    unnamed?: string,
  ): void {
    if (!reference.secretName) {
      if (unnamed) this.error(path, unnamed);
    } else if (!reference.inlineValue) {
      this.warn(
        path,
        `Secret "${reference.secretName}" (key "${reference.key}") must exist in namespace "${reference.namespace}"`,
      );
    }
  }

  /** S3 credentials: both keys or neither. */
  keyPair(path: string, accesskey: string, secretkey: string): void {
    if (Boolean(accesskey) !== Boolean(secretkey)) {
      this.error(path, "accesskey and secretkey must be set together");
    }
  }

  /** An http:// or https:// URL (empty values are left to the caller). */
  httpUrl(path: string, value: string): void {
    if (!/^https?:\/\//.test(value)) this.error(path, `"${value}" is not an http(s) URL`);
  }

  cron(path: string, expression: string): void {
    const problem = cronError(expression);
    if (problem) this.error(path, `invalid cron schedule "${expression}": ${problem}`);
  }

  /** Replica counts, days: at least 1. */
  atLeastOne(path: string, value: number): void {
    if (value < 1) this.error(path, `must be at least 1, got ${value}`);
  }
}

/** Go duration syntax ("10s", "1m30s", "24h"), as Distribution and Harbor parse it. */
export const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

const GO_DURATION_UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** The seconds in a Go duration; throws on invalid syntax. */
export function goDurationSeconds(value: string): number {
  if (!GO_DURATION.test(value)) throw new Error(`invalid duration "${value}"`);
  let total = 0;
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    // GO_DURATION only matches the units of GO_DURATION_UNIT_SECONDS.
    total += Number(match[1]) * (GO_DURATION_UNIT_SECONDS[match[2] ?? ""] ?? Number.NaN);
  }
  return total;
}

/**
 * Harbor's schedules are 6-field cron expressions with seconds first (robfig/cron): a standard
 * 5-field schedule gets second 0, a macro its 6-field equivalent.
 */
export function harborCron(expression: string): string {
  const macros: Record<string, string> = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
  };
  const trimmed = expression.trim();
  return macros[trimmed] ?? `0 ${trimmed.split(/\s+/).join(" ")}`;
}

/** Makes a secret value (admin password, encryption key) at render time. */
export type SecretGenerator = (purpose: string, length: number) => string;

const SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Random letters and digits from node:crypto (no modulo bias: 62 of 256 values rejected). */
export const randomSecret: SecretGenerator = (_purpose, length) => {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += SECRET_ALPHABET[byte % 62];
    }
  }
  return out;
};

/** Random hex of `length` characters (Artifactory master/join keys). */
export function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2))
    .toString("hex")
    .slice(0, length);
}

/** How the rendered documents are meant to be used. */
export type DocumentType = "object" | "helm-values" | "api-request" | "reestr-policy" | "build-config";

/** A request to a registry's REST API that applies part of a config (after install). */
export interface ApiRequest {
  /** Which product's API: "harbor", "nexus", "artifactory". */
  target: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below the product's base URL, e.g. "/api/v2.0/retentions". */
  path: string;
  contentType: string;
  /** What the request does, for people reading the output. */
  description: string;
  body: unknown;
}

/** A values file for a vendor's Helm chart, with how to install it. */
export interface HelmValues {
  /** Chart reference as `helm install` takes it with --repo: "harbor". */
  chart: string;
  /** Chart repository URL. */
  repository: string;
  /** Chart version matching the product version, when known. */
  chartVersion?: string;
  release: string;
  namespace: string;
  values: Record<string, unknown>;
}

/** A registry rendered for a vendor's chart: objects around the chart, its values, API requests after install. */
export interface RenderedRegistry {
  objects: K8sObject[];
  helm: HelmValues;
  api: ApiRequest[];
}

export interface DocumentRenderOptions {
  /** Makes generated secret values (default: random from node:crypto). */
  generateSecret?: SecretGenerator;
}

export type HelmRenderOptions = DocumentRenderOptions;

/** One output document of `renderDocuments`: what it is, the file it goes to with -o, its content. */
export interface RenderedDocument {
  type: DocumentType;
  /**
   * Path with -o: `<kind>-<name>.yaml` for objects at the top (so `kubectl apply -f <dir>` applies
   * exactly the objects), the rest in subdirectories: `helm/values-<release>.yaml`,
   * `api/<product>-<name>-NN.json`, `policy/<kind>-<name>.yaml`, `build/<name>.yaml`.
   */
  file: string;
  /** One-line explanation printed above the document in YAML output (for non-objects). */
  comment?: string;
  content: unknown;
}

/** The file-name-safe form of a string: lowercase letters, digits, '.', '-'. */
export function fileSafe(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9.-]+/g, "-");
}

/** Splits an image reference into registry, repository and tag ("docker.io" when no registry). */
export function splitImage(image: string): { registry: string; repository: string; tag: string } {
  let rest = image;
  let tag = "latest";
  const at = rest.indexOf("@");
  if (at >= 0) {
    tag = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon > rest.lastIndexOf("/")) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    return { registry: first, repository: rest.slice(slash + 1), tag };
  }
  return { registry: "docker.io", repository: rest, tag };
}

/** DNS-1123 label: lowercase letters, digits and '-', at most 63 characters. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A Kubernetes object as rendered (plain JSON-compatible data). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Labels;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

/** CPU and memory as Kubernetes quantities. */
export interface ResourceList {
  cpu: string;
  memory: string;
}

/** CPU and memory requests and limits of a container. */
export interface Resources {
  limits: ResourceList;
  requests: ResourceList;
}

/** A copy of `resources` for a rendered object (rendered objects share nothing with the spec). */
export function copyResources(resources: Resources): Resources {
  return { limits: { ...resources.limits }, requests: { ...resources.requests } };
}

/** Metadata of a builder's result: custom labels first, so the standard ones cannot be overridden. */
export interface BuiltMetadata {
  name: string;
  namespace: string;
  labels: Labels;
  annotations: Record<string, string>;
}

export function builtMetadata(
  spec: {
    name: string;
    namespace: string;
    version?: string;
    labels: Labels;
    annotations: Record<string, string>;
  },
  app: string,
  component: string,
): BuiltMetadata {
  return {
    name: spec.name,
    namespace: spec.namespace,
    labels: { ...spec.labels, ...standardLabels(app, spec.name, component, spec.version) },
    annotations: { ...spec.annotations },
  };
}

/** Metadata of a builder's result that deploys nothing itself (policies, build configs). */
export interface PolicyMetadata {
  name: string;
  labels: Labels;
}

export function policyMetadata(app: string, name: string, component: string): PolicyMetadata {
  return { name, labels: standardLabels(app, name, component) };
}

/** The builder's annotations, when there are any, under `key` (for spreading into an object). */
export function annotationsEntry(
  annotations: Record<string, string>,
  key = "annotations",
): Record<string, Record<string, string>> {
  return Object.keys(annotations).length > 0 ? { [key]: { ...annotations } } : {};
}

/** Pod template metadata: the builder's labels, annotations when there are any. */
export function podMeta(meta: BuiltMetadata): { labels: Labels; annotations?: Record<string, string> } {
  return { labels: { ...meta.labels }, ...annotationsEntry(meta.annotations) };
}

/** Object metadata for a rendered object: the builder's labels, annotations when there are any. */
export function objectMeta(meta: BuiltMetadata, name: string): K8sObject["metadata"] {
  return { name, namespace: meta.namespace, ...podMeta(meta) };
}

/** The Namespace a registry deploys into, labelled like the rest of its objects. */
export function namespaceObject(meta: BuiltMetadata): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: meta.namespace, labels: { ...meta.labels } },
  };
}

/** An Opaque Secret from string values (stringData: never logged, only rendered). */
export function opaqueSecret(meta: BuiltMetadata, name: string, data: Record<string, string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: objectMeta(meta, name),
    type: "Opaque",
    stringData: data,
  };
}
