/**
 * Kubernetes Events (events.k8s.io/v1) about Registry objects: what `kubectl describe registry`
 * and `kubectl get events` show. An Event that cannot be written is logged and dropped; it never
 * fails a reconcile.
 */
import { type EventsV1Event, V1MicroTime } from "@kubernetes/client-node";
import type { Logger } from "../util/logger.ts";
import type { KubeApi, RegistryObject } from "./kube.ts";
import { apiErrorText } from "./kube.ts";

export const REPORTING_CONTROLLER = "registry.kubecontroller.io/reestr-operator";
/** The API server refuses notes longer than 1 kB. */
const MAX_NOTE_BYTES = 1024;

export type EventType = "Normal" | "Warning";

function truncate(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = text.slice(0, bytes);
  while (Buffer.byteLength(`${out}…`) > bytes) out = out.slice(0, -1);
  return `${out}…`;
}

export class EventRecorder {
  readonly #api: KubeApi;
  readonly #instance: string;
  readonly #logger: Logger | undefined;

  constructor(api: KubeApi, instance: string, logger?: Logger) {
    this.#api = api;
    this.#instance = instance;
    this.#logger = logger;
  }

  async record(
    object: RegistryObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
  ): Promise<void> {
    const { name, namespace, uid, resourceVersion } = object.metadata;
    const event: EventsV1Event = {
      metadata: { generateName: `${name}.`, namespace },
      eventTime: new V1MicroTime(),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.#instance,
      action,
      reason,
      type,
      note: truncate(note, MAX_NOTE_BYTES),
      regarding: { apiVersion: object.apiVersion, kind: object.kind, name, namespace, uid, resourceVersion },
    };
    try {
      await this.#api.createEvent(namespace, event);
    } catch (error) {
      this.#logger?.warn("could not record event", {
        registry: `${namespace}/${name}`,
        reason,
        err: apiErrorText(error),
      });
    }
  }
}
