/**
 * A stand-in for the Kubernetes API server, in-process over real HTTP, speaking the real wire
 * format for the resources the operator uses. No Kubernetes API server can run on the test
 * machines (no etcd, no kube-apiserver binary), so the operator's tests talk to this instead,
 * through @kubernetes/client-node exactly as they would talk to a cluster.
 *
 * Resources: registries.registry.kubecontroller.io/v1alpha1 (with the status subresource,
 * validated, defaulted and pruned against the generated CRD schema), core/v1 Secrets (stringData
 * folded into data) and Events, events.k8s.io/v1 Events (validated like the API server: MicroTime
 * eventTime, reportingController, action, reason, regarding), coordination.k8s.io/v1 Leases.
 *
 * Semantics kept faithful:
 *  - one cluster-wide resourceVersion counter (etcd's revision), bumped by every write; a no-op
 *    update writes nothing;
 *  - list returns `metadata.resourceVersion`; watch (`?watch=true`) streams newline-delimited JSON
 *    events `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":…}` from a resourceVersion:
 *    none or "0" starts with synthetic ADDED events for what exists; a version older than the
 *    compacted history gets HTTP 200 and an ERROR event carrying a 410 Expired Status, then EOF;
 *    `allowWatchBookmarks` gets periodic BOOKMARK events; `timeoutSeconds` ends the stream;
 *  - PUT with a stale `metadata.resourceVersion` → 409 Conflict; PUT of the main resource ignores
 *    status, PUT of `/status` ignores everything but status; `metadata.generation` bumps only when
 *    the spec changes;
 *  - DELETE of an object with finalizers sets `deletionTimestamp` (MODIFIED); new finalizers may
 *    not be added then (422); removing the last finalizer deletes it (DELETED);
 *  - errors are `kind: Status` bodies with reason and code (NotFound, AlreadyExists, Conflict,
 *    Invalid, Expired, Unauthorized, MethodNotAllowed, UnsupportedMediaType, InternalError);
 *  - enough for the real kubectl: legacy discovery (/api, /apis, /api/v1, /apis/<group>/<version>,
 *    with the `reg` short name) and `Accept: …;as=Table` answered with a meta.k8s.io/v1 Table
 *    built from the CRD's additionalPrinterColumns (dates as ages, as the API server prints them);
 *    `fieldSelector=metadata.name=…` on list and watch (kubectl wait).
 * Left out: namespaces as objects (every namespace exists), label/field selectors other than
 * `metadata.name`, list pagination, server-side apply, JSON and strategic-merge patch, the
 * OpenAPI documents (kubectl needs --validate=false), Tables on watch.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";
import { applyDefaults, prune, type Schema, validate } from "./structural-schema.ts";

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** PUT/PATCH of the main resource ignores status; `/status` takes only status. */
  statusSubresource: boolean;
  /** metadata.generation is kept (and bumped on spec changes). */
  generation: boolean;
  schema?: Schema;
  validateObject?: (object: KubeObject) => string[];
  printerColumns?: PrinterColumn[];
  shortNames?: string[];
}

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
};

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KubeObject;
}

interface StoredEvent extends WatchEvent {
  rv: number;
  resource: ResourceType;
  namespace: string;
}

interface Watcher {
  resource: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  res: ServerResponse;
  bookmarks: boolean;
  /** Last resourceVersion sent, so a bookmark never goes backwards. */
  sent: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  /** e.g. `registries/status`, `leases`, `secrets`. */
  resource: string;
}

export interface FakeKubeApiOptions {
  /** Bearer token the server requires (default: any request is authorized). */
  token?: string;
  /** How often watches with allowWatchBookmarks get a BOOKMARK (default 1000 ms). */
  bookmarkIntervalMs?: number;
}

const REGISTRY_CRD_PATH = new URL("../../deploy/base/crd.yaml", import.meta.url);

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface CrdVersion {
  schema: { openAPIV3Schema: Schema };
  additionalPrinterColumns?: PrinterColumn[];
}

function registryCrdVersion(): CrdVersion {
  const crd = parse(readFileSync(REGISTRY_CRD_PATH, "utf8")) as { spec: { versions: CrdVersion[] } };
  return crd.spec.versions[0]!;
}

/** Reads the openAPIV3Schema of the committed CRD (what `kubectl apply` would install). */
export function registrySchema(): Schema {
  return registryCrdVersion().schema.openAPIV3Schema;
}

/** apimachinery's duration.HumanDuration, as the API server prints `date` columns. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 192) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

/** A simple JSONPath (`.status.lastScanTime`) of a printer column. */
function jsonPathValue(object: unknown, path: string): unknown {
  let current: unknown = object;
  for (const part of path.split(".").filter((p) => p !== "")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

function validateEventV1(event: KubeObject): string[] {
  const problems: string[] = [];
  const e = event as Record<string, unknown>;
  if (typeof e.eventTime !== "string" || !MICRO_TIME.test(e.eventTime)) {
    problems.push(
      `eventTime: Invalid value: ${JSON.stringify(e.eventTime)}: must be a MicroTime (RFC 3339, 6 fractional digits)`,
    );
  }
  for (const field of ["reportingController", "reportingInstance", "action", "reason"]) {
    if (typeof e[field] !== "string" || e[field] === "") problems.push(`${field}: Required value`);
  }
  if (e.type !== "Normal" && e.type !== "Warning")
    problems.push(`type: Unsupported value: ${JSON.stringify(e.type)}`);
  if (typeof e.note === "string" && Buffer.byteLength(e.note) > 1024)
    problems.push("note: Too long: must have at most 1024 bytes");
  const regarding = e.regarding as Record<string, unknown> | undefined;
  if (!regarding || typeof regarding.name !== "string" || typeof regarding.kind !== "string") {
    problems.push("regarding: Required value");
  }
  return problems;
}

export const RESOURCES = {
  registries: {
    group: "registry.kubecontroller.io",
    version: "v1alpha1",
    plural: "registries",
    kind: "Registry",
    statusSubresource: true,
    generation: true,
  },
  secrets: {
    group: "",
    version: "v1",
    plural: "secrets",
    kind: "Secret",
    statusSubresource: false,
    generation: false,
  },
  coreEvents: {
    group: "",
    version: "v1",
    plural: "events",
    kind: "Event",
    statusSubresource: false,
    generation: false,
  },
  events: {
    group: "events.k8s.io",
    version: "v1",
    plural: "events",
    kind: "Event",
    statusSubresource: false,
    generation: false,
    validateObject: validateEventV1,
  },
  leases: {
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    kind: "Lease",
    statusSubresource: false,
    generation: false,
  },
} satisfies Record<string, ResourceType>;

class HttpError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function qualified(resource: ResourceType): string {
  return resource.group === "" ? resource.plural : `${resource.plural}.${resource.group}`;
}

function apiVersionOf(resource: ResourceType): string {
  return resource.group === "" ? resource.version : `${resource.group}/${resource.version}`;
}

/** Kubernetes metav1.Time: RFC 3339 in whole seconds. */
function nowTime(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export interface Route {
  resource: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

export class FakeKubeApi {
  readonly server: Server;
  /** Every request answered, in order. */
  readonly requests: RequestRecord[] = [];
  /** Called before a request is handled (after routing): lets a test change state in between. */
  beforeRequest: ((method: string, route: Route, url: URL) => void | Promise<void>) | undefined;
  #url = "";
  #rv = 100;
  /** Events at or below this resourceVersion are gone: older watches get 410. */
  #compactedRv = 100;
  readonly #objects = new Map<string, KubeObject>();
  readonly #history: StoredEvent[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #resources: ResourceType[];
  readonly #options: FakeKubeApiOptions;
  #bookmarkTimer: NodeJS.Timeout | undefined;

  constructor(options: FakeKubeApiOptions = {}) {
    this.#options = options;
    const version = registryCrdVersion();
    const registries: ResourceType = {
      ...RESOURCES.registries,
      schema: version.schema.openAPIV3Schema,
      printerColumns: version.additionalPrinterColumns ?? [],
      shortNames: ["reg"],
    };
    this.#resources = [
      registries,
      RESOURCES.secrets,
      RESOURCES.coreEvents,
      RESOURCES.events,
      RESOURCES.leases,
    ];
    this.server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.#send(req, res, 500, statusBody(500, "InternalError", String(error)), "?");
        else res.destroy();
      });
    });
  }

  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(options);
    await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
    api.#url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    api.#bookmarkTimer = setInterval(() => api.bookmark(), options.bookmarkIntervalMs ?? 1000);
    return api;
  }

  get url(): string {
    return this.#url;
  }

  /** The current resourceVersion (etcd revision). */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** A KubeConfig pointing at this server, built in code as a user's kubeconfig file would be. */
  kubeConfig(token = this.#options.token ?? "test-token"): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "fake", server: this.#url, skipTLSVerify: true }],
      users: [{ name: "tester", token }],
      contexts: [{ name: "fake", cluster: "fake", user: "tester", namespace: "default" }],
      currentContext: "fake",
    });
    return kc;
  }

  /** A kubeconfig file's YAML for this server (for the CLI). */
  kubeConfigYaml(token = this.#options.token ?? "test-token"): string {
    return this.kubeConfig(token).exportConfig();
  }

  async close(): Promise<void> {
    clearInterval(this.#bookmarkTimer);
    for (const watcher of this.#watchers) watcher.res.end();
    this.#watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- direct access for tests (same code paths as HTTP) ----------------------------

  get(resource: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const object = this.#objects.get(this.#key(resource, namespace, name));
    return object ? clone(object) : undefined;
  }

  list(resource: ResourceType, namespace?: string): KubeObject[] {
    return this.#list(resource, namespace).map(clone);
  }

  create(resource: ResourceType, namespace: string, object: KubeObject): KubeObject {
    return clone(this.#create(this.#resolve(resource), namespace, clone(object)));
  }

  /** Applies a merge patch (as `kubectl patch --type merge`), optionally to /status. */
  patch(resource: ResourceType, namespace: string, name: string, patch: unknown, status = false): KubeObject {
    return clone(this.#patch(this.#resolve(resource), namespace, name, patch, status ? "status" : undefined));
  }

  delete(resource: ResourceType, namespace: string, name: string): KubeObject | undefined {
    return clone(this.#delete(this.#resolve(resource), namespace, name));
  }

  /** Drops the event history: watches from any resourceVersion up to now get 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history.length = 0;
  }

  /** Ends every open watch stream (as an API server restart or a load balancer would). */
  closeWatches(): void {
    for (const watcher of this.#watchers) watcher.res.end();
    this.#watchers.clear();
  }

  /** Number of open watch streams on a resource. */
  watchCount(resource: ResourceType): number {
    return [...this.#watchers].filter(
      (w) => w.resource.plural === resource.plural && w.resource.group === resource.group,
    ).length;
  }

  /** Sends a BOOKMARK to every watch that asked for them. */
  bookmark(): void {
    for (const watcher of this.#watchers) {
      if (!watcher.bookmarks || watcher.res.writableEnded) continue;
      watcher.sent = Math.max(watcher.sent, this.#rv);
      watcher.res.write(
        `${JSON.stringify({
          type: "BOOKMARK",
          object: {
            kind: watcher.resource.kind,
            apiVersion: apiVersionOf(watcher.resource),
            metadata: { resourceVersion: String(watcher.sent) },
          },
        })}\n`,
      );
    }
  }

  // ---- storage ------------------------------------------------------------------------

  #resolve(resource: ResourceType): ResourceType {
    return (
      this.#resources.find((r) => r.group === resource.group && r.plural === resource.plural) ?? resource
    );
  }

  #key(resource: ResourceType, namespace: string, name: string): string {
    return `${resource.group}/${resource.plural}/${namespace}/${name}`;
  }

  #list(resource: ResourceType, namespace: string | undefined): KubeObject[] {
    const prefix = `${resource.group}/${resource.plural}/${namespace === undefined ? "" : `${namespace}/`}`;
    return [...this.#objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .map(([, object]) => object)
      .sort((a, b) =>
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace}/${b.metadata.name}`,
        ),
      );
  }

  #record(resource: ResourceType, type: WatchEvent["type"], object: KubeObject): void {
    const rv = Number(object.metadata.resourceVersion);
    const namespace = object.metadata.namespace ?? "";
    this.#history.push({ rv, resource, namespace, type, object: clone(object) });
    for (const watcher of this.#watchers) this.#deliver(watcher, { rv, resource, namespace, type, object });
  }

  #matches(watcher: Watcher, event: StoredEvent): boolean {
    return (
      event.resource.plural === watcher.resource.plural &&
      event.resource.group === watcher.resource.group &&
      (watcher.namespace === undefined || watcher.namespace === event.namespace) &&
      (watcher.name === undefined || watcher.name === event.object.metadata.name)
    );
  }

  #deliver(watcher: Watcher, event: StoredEvent): void {
    if (!this.#matches(watcher, event) || watcher.res.writableEnded) return;
    watcher.sent = Math.max(watcher.sent, event.rv);
    watcher.res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
  }

  #prepare(resource: ResourceType, object: KubeObject): void {
    if (resource.schema) {
      prune(resource.schema, object);
      applyDefaults(resource.schema, object);
      const problems = validate(resource.schema, object).filter((p) => !p.path.startsWith("metadata"));
      if (problems.length > 0)
        this.#invalid(
          resource,
          object.metadata.name ?? "",
          problems.map((p) => `${p.path}: ${p.message}`),
        );
    }
    const problems = resource.validateObject?.(object) ?? [];
    if (problems.length > 0) this.#invalid(resource, object.metadata.name ?? "", problems);
    if (resource.plural === "secrets" && resource.group === "") {
      const secret = object as KubeObject & {
        data?: Record<string, string>;
        stringData?: Record<string, string>;
      };
      if (secret.stringData) {
        secret.data = { ...(secret.data ?? {}) };
        for (const [k, v] of Object.entries(secret.stringData))
          secret.data[k] = Buffer.from(v).toString("base64");
        delete secret.stringData;
      }
      secret.type ??= "Opaque";
    }
  }

  #invalid(resource: ResourceType, name: string, causes: string[]): never {
    throw new HttpError(
      422,
      "Invalid",
      `${resource.kind}.${resource.group || "core"} "${name}" is invalid: ${causes.join(", ")}`,
      {
        name,
        group: resource.group,
        kind: resource.kind,
        causes: causes.map((message) => ({
          reason: "FieldValueInvalid",
          message,
          field: message.split(":")[0],
        })),
      },
    );
  }

  #notFound(resource: ResourceType, name: string): never {
    throw new HttpError(404, "NotFound", `${qualified(resource)} "${name}" not found`, {
      name,
      group: resource.group,
      kind: resource.plural,
    });
  }

  #create(resource: ResourceType, namespace: string, object: KubeObject): KubeObject {
    if (object === null || typeof object !== "object" || typeof object.metadata !== "object") {
      throw new HttpError(400, "BadRequest", "the object has no metadata");
    }
    const meta = object.metadata;
    if (meta.namespace !== undefined && meta.namespace !== namespace) {
      throw new HttpError(
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    if (!meta.name && meta.generateName)
      meta.name = `${meta.generateName}${randomBytes(3).toString("hex").slice(0, 5)}`;
    if (!meta.name)
      this.#invalid(resource, "", ["metadata.name: Required value: name or generateName is required"]);
    const key = this.#key(resource, namespace, meta.name!);
    if (this.#objects.has(key)) {
      throw new HttpError(409, "AlreadyExists", `${qualified(resource)} "${meta.name}" already exists`, {
        name: meta.name,
        group: resource.group,
        kind: resource.plural,
      });
    }
    if (resource.statusSubresource) delete object.status;
    object.apiVersion = apiVersionOf(resource);
    object.kind = resource.kind;
    this.#prepare(resource, object);
    meta.namespace = namespace;
    meta.uid = randomUUID();
    meta.creationTimestamp = nowTime();
    delete meta.deletionTimestamp;
    if (resource.generation) meta.generation = 1;
    else delete meta.generation;
    meta.resourceVersion = String(++this.#rv);
    this.#objects.set(key, object);
    this.#record(resource, "ADDED", object);
    return object;
  }

  #update(
    resource: ResourceType,
    namespace: string,
    name: string,
    body: KubeObject,
    subresource: string | undefined,
  ): KubeObject {
    if (body === null || typeof body !== "object" || typeof body.metadata !== "object") {
      throw new HttpError(400, "BadRequest", "the object has no metadata");
    }
    if (body.metadata.name !== undefined && body.metadata.name !== name) {
      throw new HttpError(400, "BadRequest", "the name of the object does not match the name on the URL");
    }
    const key = this.#key(resource, namespace, name);
    const old = this.#objects.get(key);
    if (!old) this.#notFound(resource, name);
    const wanted = body.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== "" && wanted !== old.metadata.resourceVersion) {
      throw new HttpError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${qualified(resource)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, group: resource.group, kind: resource.plural },
      );
    }
    let next: KubeObject;
    if (subresource === "status") {
      next = { ...clone(old), status: clone(body.status) };
    } else {
      next = clone(body);
      if (resource.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
    }
    next.apiVersion = apiVersionOf(resource);
    next.kind = resource.kind;
    this.#prepare(resource, next);
    // Fields the client may not change.
    const meta = next.metadata;
    for (const field of [
      "uid",
      "creationTimestamp",
      "deletionTimestamp",
      "deletionGracePeriodSeconds",
      "namespace",
      "generation",
    ]) {
      if (old.metadata[field] === undefined) delete meta[field];
      else meta[field] = old.metadata[field];
    }
    meta.name = name;
    if (old.metadata.deletionTimestamp !== undefined) {
      const before = new Set(old.metadata.finalizers ?? []);
      const added = (meta.finalizers ?? []).filter((f) => !before.has(f));
      if (added.length > 0) {
        throw new HttpError(
          422,
          "Forbidden",
          `${qualified(resource)} "${name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        );
      }
    }
    if (resource.generation && subresource !== "status" && !sameJson(old.spec, next.spec)) {
      meta.generation = (old.metadata.generation ?? 0) + 1;
    }
    meta.resourceVersion = old.metadata.resourceVersion;
    if (sameJson(old, next)) return old; // a no-op update writes nothing
    meta.resourceVersion = String(++this.#rv);
    if (meta.deletionTimestamp !== undefined && (meta.finalizers ?? []).length === 0) {
      this.#objects.delete(key);
      this.#record(resource, "DELETED", next);
      return next;
    }
    this.#objects.set(key, next);
    this.#record(resource, "MODIFIED", next);
    return next;
  }

  #patch(
    resource: ResourceType,
    namespace: string,
    name: string,
    patch: unknown,
    subresource: string | undefined,
  ): KubeObject {
    const old = this.#objects.get(this.#key(resource, namespace, name));
    if (!old) this.#notFound(resource, name);
    const merged = mergePatch(clone(old), patch) as KubeObject;
    // Without a resourceVersion in the patch there is no precondition.
    const precondition = (patch as { metadata?: { resourceVersion?: string } } | null)?.metadata
      ?.resourceVersion;
    merged.metadata.resourceVersion = precondition ?? old.metadata.resourceVersion;
    return this.#update(resource, namespace, name, merged, subresource);
  }

  #delete(resource: ResourceType, namespace: string, name: string): KubeObject {
    const key = this.#key(resource, namespace, name);
    const old = this.#objects.get(key);
    if (!old) this.#notFound(resource, name);
    if ((old.metadata.finalizers ?? []).length > 0) {
      if (old.metadata.deletionTimestamp !== undefined) return old;
      const next = clone(old);
      next.metadata.deletionTimestamp = nowTime();
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.resourceVersion = String(++this.#rv);
      this.#objects.set(key, next);
      this.#record(resource, "MODIFIED", next);
      return next;
    }
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#objects.delete(key);
    this.#record(resource, "DELETED", gone);
    return gone;
  }

  // ---- HTTP ---------------------------------------------------------------------------

  #route(pathname: string): Route | undefined {
    const parts = pathname
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === "api") {
      group = "";
      version = parts[1] ?? "";
      rest = parts.slice(2);
    } else if (parts[0] === "apis") {
      group = parts[1] ?? "";
      version = parts[2] ?? "";
      rest = parts.slice(3);
    } else {
      return undefined;
    }
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const resource = this.#resources.find(
      (r) => r.group === group && r.version === version && r.plural === rest[0],
    );
    if (!resource || rest.length > 3) return undefined;
    return { resource, namespace, name: rest[1], subresource: rest[2] };
  }

  async #body(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpError(
        400,
        "BadRequest",
        `the body of the request was in an unknown format: ${text.slice(0, 100)}`,
      );
    }
  }

  #send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, resource: string): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
    this.requests.push({ method: req.method ?? "?", path: req.url ?? "", status, resource });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    if (this.#options.token !== undefined && req.headers.authorization !== `Bearer ${this.#options.token}`) {
      this.#send(req, res, 401, statusBody(401, "Unauthorized", "Unauthorized"), "?");
      return;
    }
    const discovery = method === "GET" ? this.#discovery(url.pathname) : undefined;
    if (discovery) {
      this.#send(req, res, 200, discovery, "discovery");
      return;
    }
    const route = this.#route(url.pathname);
    if (!route) {
      this.#send(
        req,
        res,
        404,
        statusBody(404, "NotFound", "the server could not find the requested resource"),
        "?",
      );
      return;
    }
    const { resource, namespace, name, subresource } = route;
    const label = subresource ? `${resource.plural}/${subresource}` : resource.plural;
    try {
      if (subresource !== undefined && !(subresource === "status" && resource.statusSubresource)) {
        this.#notFound(resource, `${name}/${subresource}`);
      }
      await this.beforeRequest?.(method, route, url);
      if (method === "GET" && url.searchParams.get("watch") === "true") {
        this.#watch(req, res, route, url.searchParams);
        return;
      }
      const table = /;\s*as=Table/.test(String(req.headers.accept ?? ""));
      if (method === "GET" && name === undefined) {
        const nameSelector = /^metadata\.name=(.+)$/.exec(url.searchParams.get("fieldSelector") ?? "")?.[1];
        const items = this.#list(resource, namespace)
          .filter((o) => nameSelector === undefined || o.metadata.name === nameSelector)
          .map(clone);
        if (table) {
          this.#send(req, res, 200, this.#table(resource, items), label);
          return;
        }
        this.#send(
          req,
          res,
          200,
          {
            apiVersion: apiVersionOf(resource),
            kind: `${resource.kind}List`,
            metadata: { resourceVersion: String(this.#rv) },
            items,
          },
          label,
        );
        return;
      }
      if (namespace === undefined)
        throw new HttpError(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        );
      if (method === "GET") {
        const object = this.#objects.get(this.#key(resource, namespace, name!));
        if (!object) this.#notFound(resource, name!);
        this.#send(
          req,
          res,
          200,
          table && subresource === undefined ? this.#table(resource, [object]) : object,
          label,
        );
        return;
      }
      if (method === "POST" && name === undefined) {
        const created = this.#create(resource, namespace, (await this.#body(req)) as KubeObject);
        this.#send(req, res, 201, created, label);
        return;
      }
      if (method === "PUT" && name !== undefined) {
        const updated = this.#update(
          resource,
          namespace,
          name,
          (await this.#body(req)) as KubeObject,
          subresource,
        );
        this.#send(req, res, 200, updated, label);
        return;
      }
      if (method === "PATCH" && name !== undefined) {
        const type = String(req.headers["content-type"] ?? "")
          .split(";")[0]!
          .trim();
        if (type !== "application/merge-patch+json") {
          throw new HttpError(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json`,
          );
        }
        const patched = this.#patch(resource, namespace, name, await this.#body(req), subresource);
        this.#send(req, res, 200, patched, label);
        return;
      }
      if (method === "DELETE" && name !== undefined) {
        const result = this.#delete(resource, namespace, name);
        this.#send(req, res, 200, result, label);
        return;
      }
      throw new HttpError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
      );
    } catch (error) {
      if (!(error instanceof HttpError)) {
        if (res.headersSent) throw error;
        const message = `Internal error occurred: ${String(error)}`;
        this.#send(req, res, 500, statusBody(500, "InternalError", message), label);
        return;
      }
      this.#send(
        req,
        res,
        error.code,
        statusBody(error.code, error.reason, error.message, error.details),
        label,
      );
    }
  }

  /** Legacy discovery documents (kubectl falls back to them from aggregated discovery). */
  #discovery(pathname: string): unknown {
    const path = pathname.replace(/\/+$/, "");
    const groups = new Map<string, ResourceType[]>();
    for (const resource of this.#resources) {
      const gv = apiVersionOf(resource);
      if (!groups.has(gv)) groups.set(gv, []);
      if (!groups.get(gv)!.some((r) => r.plural === resource.plural)) groups.get(gv)!.push(resource);
    }
    if (path === "/version") {
      return { major: "1", minor: "32", gitVersion: "v1.32.0-reestr-fake", platform: "linux/amd64" };
    }
    if (path === "/api") {
      return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
    }
    if (path === "/apis") {
      const named = [...groups.keys()].filter((gv) => gv.includes("/"));
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: named.map((gv) => {
          const [name, version] = gv.split("/") as [string, string];
          const versions = [{ groupVersion: gv, version }];
          return { name, versions, preferredVersion: versions[0] };
        }),
      };
    }
    const gv = path.startsWith("/api/")
      ? path.slice(5)
      : path.startsWith("/apis/")
        ? path.slice(6)
        : undefined;
    const resources = gv === undefined ? undefined : groups.get(gv);
    if (!resources) return undefined;
    const verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: gv,
      resources: resources.flatMap((r) => [
        {
          name: r.plural,
          singularName: r.kind.toLowerCase(),
          namespaced: true,
          kind: r.kind,
          verbs,
          ...(r.shortNames ? { shortNames: r.shortNames } : {}),
        },
        ...(r.statusSubresource
          ? [
              {
                name: `${r.plural}/status`,
                singularName: "",
                namespaced: true,
                kind: r.kind,
                verbs: ["get", "patch", "update"],
              },
            ]
          : []),
      ]),
    };
  }

  /**
   * A meta.k8s.io/v1 Table, as the API server answers `Accept: …;as=Table` (kubectl get): a Name
   * column, then the CRD's additionalPrinterColumns (dates as ages), else just Name and Age.
   */
  #table(resource: ResourceType, objects: KubeObject[]): unknown {
    const columns = resource.printerColumns ?? [
      { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ];
    const now = Date.now();
    return {
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      metadata: { resourceVersion: String(this.#rv) },
      columnDefinitions: [
        { name: "Name", type: "string", format: "name", description: "Name of the object", priority: 0 },
        ...columns.map((c) => ({
          name: c.name,
          type: c.type,
          format: "",
          description: c.description ?? "",
          priority: c.priority ?? 0,
        })),
      ],
      rows: objects.map((object) => ({
        cells: [
          object.metadata.name,
          ...columns.map((c) => {
            const value = jsonPathValue(object, c.jsonPath);
            if (value === undefined || value === null) return null;
            if (c.type === "date") {
              const time = Date.parse(String(value));
              return Number.isNaN(time) ? null : humanDuration(now - time);
            }
            return value;
          }),
        ],
        object: {
          kind: "PartialObjectMetadata",
          apiVersion: "meta.k8s.io/v1",
          metadata: clone(object.metadata),
        },
      })),
    };
  }

  #watch(req: IncomingMessage, res: ServerResponse, route: Route, params: URLSearchParams): void {
    const { resource, namespace } = route;
    const fieldSelector = params.get("fieldSelector") ?? "";
    const nameMatch = /^metadata\.name=(.+)$/.exec(fieldSelector);
    const name = route.name ?? nameMatch?.[1];
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    this.requests.push({ method: "WATCH", path: req.url ?? "", status: 200, resource: resource.plural });
    const requested = params.get("resourceVersion");
    const watcher: Watcher = {
      resource,
      namespace,
      name,
      res,
      bookmarks: params.get("allowWatchBookmarks") === "true",
      sent: 0,
    };
    if (requested === null || requested === "" || requested === "0") {
      for (const object of this.#list(resource, namespace)) {
        if (name !== undefined && object.metadata.name !== name) continue;
        res.write(`${JSON.stringify({ type: "ADDED", object })}\n`);
      }
      watcher.sent = this.#rv;
    } else {
      const from = Number(requested);
      if (!Number.isInteger(from) || from < 0) {
        res.end(
          `${JSON.stringify({ type: "ERROR", object: statusBody(400, "BadRequest", `invalid resource version "${requested}"`) })}\n`,
        );
        return;
      }
      if (from < this.#compactedRv) {
        const status = statusBody(410, "Expired", `too old resource version: ${from} (${this.#compactedRv})`);
        res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
        return;
      }
      watcher.sent = from;
      for (const event of this.#history) if (event.rv > from) this.#deliver(watcher, event);
    }
    this.#watchers.add(watcher);
    const timeout = Number(params.get("timeoutSeconds") ?? "0");
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const forget = () => {
      clearTimeout(timer);
      this.#watchers.delete(watcher);
    };
    res.on("close", forget);
    res.on("finish", forget);
    req.on("close", forget);
  }
}
