/**
 * The operator's view of the Kubernetes API, through @kubernetes/client-node: Registry objects
 * (get, list, watch, update, status update), Secrets (get), Events (create) and Leases. Everything
 * the controller sends or receives goes through here, so the RBAC in deploy/base/rbac.yaml can be
 * checked against one file.
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type EventsV1Event,
  type KubeConfig,
  type V1Lease,
  type V1Secret,
  Watch,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION } from "./crd.ts";

/** A Registry object as the API server returns it. */
export interface RegistryObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface RegistryList {
  items: RegistryObject[];
  resourceVersion: string;
}

/** The HTTP status of a failed API call (0 when the server was not reached). */
export function statusCodeOf(error: unknown): number {
  if (error !== null && typeof error === "object") {
    const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
    if (typeof code === "number") return code;
    if (typeof statusCode === "number") return statusCode;
  }
  return 0;
}

/** One line for logs and status messages: the API server's Status message when it sent one. */
export function apiErrorText(error: unknown): string {
  if (error !== null && typeof error === "object") {
    const body = (error as { body?: unknown }).body;
    let parsed: unknown = body;
    if (typeof body === "string") {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
    }
    const message = (parsed as { message?: unknown } | undefined)?.message;
    const code = statusCodeOf(error);
    if (typeof message === "string") return `${message} (HTTP ${code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchHandle {
  abort(): void;
}

export class KubeApi {
  readonly config: KubeConfig;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #events: EventsV1Api;
  readonly #coordination: CoordinationV1Api;
  readonly #watch: Watch;

  constructor(config: KubeConfig) {
    this.config = config;
    this.#custom = config.makeApiClient(CustomObjectsApi);
    this.#core = config.makeApiClient(CoreV1Api);
    this.#events = config.makeApiClient(EventsV1Api);
    this.#coordination = config.makeApiClient(CoordinationV1Api);
    this.#watch = new Watch(config);
  }

  /** Registries in one namespace, or in all when `namespace` is undefined. */
  async listRegistries(namespace: string | undefined): Promise<RegistryList> {
    const common = { group: GROUP, version: VERSION, plural: PLURAL };
    const list = (
      namespace === undefined
        ? await this.#custom.listClusterCustomObject(common)
        : await this.#custom.listNamespacedCustomObject({ ...common, namespace })
    ) as { items?: RegistryObject[]; metadata?: { resourceVersion?: string } };
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  /** The path a watch of Registries uses. */
  registriesPath(namespace: string | undefined): string {
    return namespace === undefined
      ? `/apis/${GROUP}/${VERSION}/${PLURAL}`
      : `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}`;
  }

  /**
   * Watches Registries from a resourceVersion, with bookmarks. `onEvent` gets each event;
   * `onDone` once, when the stream ends (error undefined) or fails.
   */
  async watchRegistries(
    namespace: string | undefined,
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (type: WatchEventType, object: Record<string, unknown>) => void,
    onDone: (error: unknown) => void,
  ): Promise<WatchHandle> {
    const controller = await this.#watch.watch(
      this.registriesPath(namespace),
      { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (type: string, object: Record<string, unknown>) => onEvent(type as WatchEventType, object),
      (error: unknown) => onDone(error ?? undefined),
    );
    return { abort: () => controller.abort() };
  }

  async getRegistry(namespace: string, name: string): Promise<RegistryObject> {
    return (await this.#custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
    })) as RegistryObject;
  }

  /** PUT of the object (metadata and spec; the API server ignores status here). */
  async replaceRegistry(object: RegistryObject): Promise<RegistryObject> {
    return (await this.#custom.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: object.metadata.namespace,
      name: object.metadata.name,
      body: object,
    })) as RegistryObject;
  }

  /** PUT of /status: only status is taken; 409 when the resourceVersion is stale. */
  async replaceRegistryStatus(object: RegistryObject): Promise<RegistryObject> {
    return (await this.#custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: object.metadata.namespace,
      name: object.metadata.name,
      body: object,
    })) as RegistryObject;
  }

  async readSecret(namespace: string, name: string): Promise<V1Secret> {
    return this.#core.readNamespacedSecret({ namespace, name });
  }

  async createEvent(namespace: string, event: EventsV1Event): Promise<void> {
    await this.#events.createNamespacedEvent({ namespace, body: event });
  }

  async readLease(namespace: string, name: string): Promise<V1Lease> {
    return this.#coordination.readNamespacedLease({ namespace, name });
  }

  async createLease(namespace: string, lease: V1Lease): Promise<V1Lease> {
    return this.#coordination.createNamespacedLease({ namespace, body: lease });
  }

  async replaceLease(namespace: string, lease: V1Lease): Promise<V1Lease> {
    return this.#coordination.replaceNamespacedLease({ namespace, name: lease.metadata!.name!, body: lease });
  }
}
