/**
 * Reconcile of one Registry object (seed 000's loop), a thin adapter over the watcher's
 * ScanEngine:
 *
 *   get the object (gone → nothing to do)
 *   being deleted → cancel its scan, forget it, remove our finalizer (the API server then deletes it)
 *   no finalizer yet → add it
 *   spec invalid → Failed status naming the fields, no requeue until the spec changes
 *   scan not due yet → requeue at the time it is due
 *   scan (credentials from the Secret, Trivy when enabled) → status through /status (one retry on
 *   409 with a fresh object) → an Event → requeue after scanInterval, or after a growing backoff
 *   when the scan Failed.
 *
 * "Due": a new generation is scanned at once; otherwise at the time kept in memory from the last
 * scan. After a restart (nothing in memory) the status tells: a Success for the current generation
 * younger than scanInterval is not scanned again before it is due. So the watch events our own
 * status writes cause, and re-lists, never trigger extra scans.
 *
 * Seed 000's error table: registry unreachable → the client retries each request with backoff
 * (scanConfig.retries), then Failed, requeued with backoff; invalid credentials → Failed with the
 * registry's refusal; Trivy missing → Success with a warning, vulnerability scan skipped; Trivy
 * timeout → that image skipped, the others scanned; status conflict → retried once.
 */

import { ConfigError } from "../util/config-error.ts";
import type { Logger } from "../util/logger.ts";
import { ScanEngine } from "../watcher/engine.ts";
import type { VulnerabilityScanner } from "../watcher/scanners/scanner.ts";
import {
  parseRegistrySpec,
  parseRegistryStatus,
  type RegistrySpec,
  type RegistryStatus,
} from "../watcher/spec.ts";
import type { Condition, OperatorStatus } from "./crd.ts";
import { FINALIZER } from "./crd.ts";
import { credentialsFromSecret } from "./credentials.ts";
import type { EventRecorder } from "./events.ts";
import { type KubeApi, type RegistryObject, statusCodeOf } from "./kube.ts";
import type { OperatorMetrics } from "./metrics.ts";

export interface ReconcilerOptions {
  api: KubeApi;
  scanner?: VulnerabilityScanner;
  events?: EventRecorder;
  metrics?: OperatorMetrics;
  logger?: Logger;
  /** First requeue delay after a Failed scan, doubled per failure up to scanInterval (default 5000 ms). */
  failureBackoffMs?: number;
  now?: () => Date;
}

export interface ReconcileResult {
  /** Reconcile again after this many ms. */
  requeueAfterMs?: number;
  /** What was done, for logs and tests. */
  action: "gone" | "finalized" | "invalid" | "waiting" | "scanned" | "cancelled";
  status?: "Success" | "Failed";
}

interface Memory {
  generation: number;
  nextScanAt: number;
  failures: number;
}

export class ScanCancelledError extends Error {
  constructor(key: string) {
    super(`scan of ${key} cancelled`);
    this.name = "ScanCancelledError";
  }
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** The previous status as the engine wants it, or undefined when it does not parse. */
function previousStatus(object: RegistryObject): RegistryStatus | undefined {
  const status = object.status;
  if (!status) return undefined;
  try {
    return parseRegistryStatus({
      lastScanTime: status.lastScanTime,
      lastScanStatus: status.lastScanStatus,
      message: status.message,
      images: status.images ?? [],
    });
  } catch {
    return undefined;
  }
}

/** The Ready condition; lastTransitionTime moves only when its status does. */
function readyCondition(
  object: RegistryObject,
  ready: boolean,
  reason: string,
  message: string,
  generation: number,
  now: Date,
): Condition {
  const previous = ((object.status?.conditions as Condition[] | undefined) ?? []).find(
    (c) => c.type === "Ready",
  );
  const status = ready ? "True" : "False";
  return {
    type: "Ready",
    status,
    observedGeneration: generation,
    lastTransitionTime:
      previous && previous.status === status
        ? previous.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    reason,
    message: message.slice(0, 32768),
  };
}

export class Reconciler {
  readonly #options: ReconcilerOptions;
  readonly #memory = new Map<string, Memory>();
  readonly #scans = new Map<string, AbortController>();
  readonly #now: () => Date;

  constructor(options: ReconcilerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Aborts the key's scan in flight, if any (the object is being deleted, or we stop leading). */
  cancel(key: string): void {
    this.#scans.get(key)?.abort(new ScanCancelledError(key));
  }

  cancelAll(): void {
    for (const key of this.#scans.keys()) this.cancel(key);
  }

  /** Scans in flight. */
  get scanning(): number {
    return this.#scans.size;
  }

  forget(key: string): void {
    this.#memory.delete(key);
    this.#options.metrics?.forgetRegistry(key);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { api } = this.#options;
    const [namespace, name] = splitKey(key);
    let object: RegistryObject;
    try {
      object = await api.getRegistry(namespace, name);
    } catch (error) {
      if (statusCodeOf(error) === 404) {
        this.forget(key);
        return { action: "gone" };
      }
      throw error;
    }
    if (object.metadata.deletionTimestamp) return this.#finalize(key, object);
    if (!(object.metadata.finalizers ?? []).includes(FINALIZER)) {
      const added = await this.#addFinalizer(object);
      if (!added) return { action: "gone" };
      object = added;
    }
    const generation = object.metadata.generation ?? 0;

    let spec: RegistrySpec;
    try {
      const input = { ...object.spec };
      // Standalone-only; the CRD has no such field (a pruned cluster never sends it).
      delete input.credentials;
      spec = parseRegistrySpec(input);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return this.#invalidSpec(key, object, generation, error);
    }

    const now = this.#now().getTime();
    const memory = this.#memory.get(key);
    if (memory && memory.generation === generation) {
      if (now < memory.nextScanAt) return { action: "waiting", requeueAfterMs: memory.nextScanAt - now };
    } else if (!memory) {
      const due = this.#dueFromStatus(object, generation, spec);
      if (due !== undefined && due > now) {
        this.#memory.set(key, { generation, nextScanAt: due, failures: 0 });
        return { action: "waiting", requeueAfterMs: due - now };
      }
    }
    const failures = memory && memory.generation === generation ? memory.failures : 0;
    return this.#scan(key, object, spec, generation, failures);
  }

  /** When a Success for this generation in the status makes the next scan due, if it does. */
  #dueFromStatus(object: RegistryObject, generation: number, spec: RegistrySpec): number | undefined {
    const status = object.status;
    if (!status || status.observedGeneration !== generation || status.lastScanStatus !== "Success")
      return undefined;
    const last = Date.parse(String(status.lastScanTime ?? ""));
    return Number.isNaN(last) ? undefined : last + spec.scanInterval * 1000;
  }

  async #scan(
    key: string,
    object: RegistryObject,
    spec: RegistrySpec,
    generation: number,
    failures: number,
  ): Promise<ReconcileResult> {
    const { api, logger, metrics, events } = this.#options;
    const namespace = object.metadata.namespace;
    const controller = new AbortController();
    this.#scans.set(key, controller);
    const engine = new ScanEngine({
      ...(this.#options.scanner ? { scanner: this.#options.scanner } : {}),
      ...(logger ? { logger: logger.child({ registry: key }) } : {}),
      credentials: async (s) =>
        s.credentialsSecret ? credentialsFromSecret(api, s.credentialsSecret, namespace, s.url) : undefined,
      now: this.#now,
    });
    let result: Awaited<ReturnType<ScanEngine["run"]>>;
    try {
      result = await engine.run(spec, previousStatus(object), controller.signal);
    } catch (error) {
      if (controller.signal.aborted) return { action: "cancelled" };
      throw error;
    } finally {
      this.#scans.delete(key);
    }
    const scanned = result.status;
    metrics?.recordScan(key, scanned, result.stats.durationMs);
    const success = scanned.lastScanStatus === "Success";
    const now = this.#now();
    const status: OperatorStatus = {
      ...scanned,
      observedGeneration: generation,
      imageCount: scanned.images.length,
      conditions: [
        readyCondition(
          object,
          success,
          success ? "ScanSucceeded" : "ScanFailed",
          scanned.message ?? "",
          generation,
          now,
        ),
      ],
    };
    const written = await this.#writeStatus(object, status);

    const nextFailures = success ? 0 : failures + 1;
    const intervalMs = spec.scanInterval * 1000;
    const base = this.#options.failureBackoffMs ?? 5000;
    const delay = success ? intervalMs : Math.min(intervalMs, base * 2 ** Math.min(nextFailures - 1, 20));
    this.#memory.set(key, { generation, nextScanAt: now.getTime() + delay, failures: nextFailures });

    if (written) {
      const previous = object.status?.lastScanStatus;
      if (!success) {
        await events?.record(written, "Warning", "ScanFailed", "Scan", scanned.message ?? "scan failed");
      } else if (previous !== "Success" || result.stats.changed > 0 || result.stats.removed > 0) {
        // A steady Success every scanInterval would only add noise; changes and recoveries are news.
        await events?.record(written, "Normal", "ScanSucceeded", "Scan", scanned.message ?? "scanned");
      }
    }
    logger?.info(success ? "registry scanned" : "registry scan failed", {
      registry: key,
      generation,
      images: scanned.images.length,
      message: scanned.message,
      requeueAfterMs: delay,
      ...(success ? {} : { failures: nextFailures }),
    });
    return { action: "scanned", status: success ? "Success" : "Failed", requeueAfterMs: delay };
  }

  /**
   * PUT /status with the resourceVersion the reconcile read; on 409 once more with a fresh object
   * (the status replaced, nothing else of ours carried over). Undefined when the object is gone.
   */
  async #writeStatus(object: RegistryObject, status: OperatorStatus): Promise<RegistryObject | undefined> {
    const { api, metrics, logger } = this.#options;
    try {
      return await api.replaceRegistryStatus({ ...object, status: status as Record<string, unknown> });
    } catch (error) {
      const code = statusCodeOf(error);
      if (code === 404) return undefined;
      if (code !== 409) throw error;
      metrics?.statusConflicts.inc();
      logger?.info("status update conflict: retrying with a fresh object", {
        registry: `${object.metadata.namespace}/${object.metadata.name}`,
      });
    }
    let fresh: RegistryObject;
    try {
      fresh = await api.getRegistry(object.metadata.namespace, object.metadata.name);
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
    return api.replaceRegistryStatus({ ...fresh, status: status as Record<string, unknown> });
  }

  async #invalidSpec(
    key: string,
    object: RegistryObject,
    generation: number,
    error: ConfigError,
  ): Promise<ReconcileResult> {
    const message = `invalid spec: ${error.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`;
    const memory = this.#memory.get(key);
    if (memory?.generation === generation) return { action: "invalid" };
    const now = this.#now();
    const previous = previousStatus(object);
    const written = await this.#writeStatus(object, {
      lastScanTime: now.toISOString(),
      lastScanStatus: "Failed",
      message,
      images: previous?.images ?? [],
      observedGeneration: generation,
      imageCount: previous?.images.length ?? 0,
      conditions: [readyCondition(object, false, "InvalidSpec", message, generation, now)],
    });
    // Nothing to retry until the spec changes (a new generation).
    this.#memory.set(key, { generation, nextScanAt: Number.POSITIVE_INFINITY, failures: 0 });
    if (written) await this.#options.events?.record(written, "Warning", "InvalidSpec", "Validate", message);
    this.#options.logger?.warn("invalid Registry spec", { registry: key, message });
    return { action: "invalid" };
  }

  /** Adds our finalizer (one retry on 409 with a fresh object). Undefined when the object is gone. */
  async #addFinalizer(object: RegistryObject): Promise<RegistryObject | undefined> {
    const { api } = this.#options;
    const withFinalizer = (o: RegistryObject): RegistryObject => ({
      ...o,
      metadata: { ...o.metadata, finalizers: [...(o.metadata.finalizers ?? []), FINALIZER] },
    });
    try {
      return await api.replaceRegistry(withFinalizer(object));
    } catch (error) {
      if (statusCodeOf(error) !== 409) throw error;
    }
    let fresh: RegistryObject;
    try {
      fresh = await api.getRegistry(object.metadata.namespace, object.metadata.name);
    } catch (error) {
      if (statusCodeOf(error) === 404) return undefined;
      throw error;
    }
    if (fresh.metadata.deletionTimestamp) return undefined;
    if ((fresh.metadata.finalizers ?? []).includes(FINALIZER)) return fresh;
    return api.replaceRegistry(withFinalizer(fresh));
  }

  /** Cleanup, then our finalizer off; the API server deletes the object when none remain. */
  async #finalize(key: string, object: RegistryObject): Promise<ReconcileResult> {
    this.cancel(key);
    this.forget(key);
    const { api, logger } = this.#options;
    let current = object;
    for (let attempt = 0; attempt < 2; attempt++) {
      const finalizers = current.metadata.finalizers ?? [];
      if (!finalizers.includes(FINALIZER)) return { action: "finalized" };
      try {
        await api.replaceRegistry({
          ...current,
          metadata: { ...current.metadata, finalizers: finalizers.filter((f) => f !== FINALIZER) },
        });
        logger?.info("finalizer removed", { registry: key });
        return { action: "finalized" };
      } catch (error) {
        const code = statusCodeOf(error);
        if (code === 404) return { action: "finalized" };
        if (code !== 409 || attempt === 1) throw error;
        try {
          current = await api.getRegistry(object.metadata.namespace, object.metadata.name);
        } catch (getError) {
          if (statusCodeOf(getError) === 404) return { action: "finalized" };
          throw getError;
        }
      }
    }
    throw new Error(`could not remove the finalizer of ${key}`);
  }
}
