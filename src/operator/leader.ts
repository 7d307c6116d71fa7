/**
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it, so
 * that of several operator replicas exactly one reconciles (and scans) at a time.
 *
 *  - A candidate reads the Lease every `retryPeriod`. It takes it when there is none (create),
 *    when it is released (empty holder), or when the holder has not renewed it for
 *    `leaseDuration` — measured on our own clock from when we last saw the record change, never
 *    by comparing the holder's timestamps with ours, so clock skew between nodes does not matter.
 *  - Every write carries the Lease's resourceVersion: of two candidates racing, one gets 409.
 *  - The leader renews every `retryPeriod`; if it cannot renew for `renewDeadline` (which must be
 *    shorter than leaseDuration), or sees another holder, it stops leading at once: the work it
 *    started is aborted before anyone else may take the Lease.
 *  - On shutdown the leader releases the Lease (empty holder), so a standby takes over without
 *    waiting for it to expire.
 */
import { type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import type { Logger } from "../util/logger.ts";
import { apiErrorText, type KubeApi, statusCodeOf } from "./kube.ts";

export interface LeaderElectorOptions {
  api: KubeApi;
  namespace: string;
  name: string;
  identity: string;
  /** Default 15000 ms. */
  leaseDurationMs?: number;
  /** Default 10000 ms. */
  renewDeadlineMs?: number;
  /** Default 2000 ms. */
  retryPeriodMs?: number;
  logger?: Logger;
  /** Called when this replica becomes leader; `signal` aborts when it stops leading. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called (and awaited) when this replica stops leading, before it may try again. */
  onStoppedLeading: () => void | Promise<void>;
  /** Called after each attempt to reach the API server (true when it answered). */
  onApiContact?: (ok: boolean) => void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** ±10% so replicas started together do not poll in lockstep. */
function jitter(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}

type Attempt = "held" | "other" | "failed";

export class LeaderElector {
  readonly #options: LeaderElectorOptions;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  #leading = false;
  /** The holder/renewTime we last saw, and when we saw it change (our clock). */
  #observed = "";
  #observedAt = 0;
  #holder = "";

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (this.#renewDeadlineMs >= this.#leaseDurationMs) {
      throw new Error("leader election: renewDeadline must be shorter than leaseDuration");
    }
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder seen in the Lease at the last attempt ("" when none). */
  get holder(): string {
    return this.#holder;
  }

  /** Campaigns, leads, and campaigns again after losing, until `signal` aborts; then releases. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.#options.logger;
    while (!signal.aborted) {
      while (!signal.aborted && (await this.#tryAcquireOrRenew()) !== "held") {
        await sleep(jitter(this.#retryPeriodMs), signal);
      }
      if (signal.aborted) break;
      this.#leading = true;
      const term = new AbortController();
      log?.info("became leader", { lease: `${this.#options.namespace}/${this.#options.name}` });
      try {
        await this.#options.onStartedLeading(term.signal);
        let renewed = Date.now();
        while (!signal.aborted) {
          await sleep(this.#retryPeriodMs, signal);
          if (signal.aborted) break;
          const attempt = await this.#tryAcquireOrRenew();
          if (attempt === "held") {
            renewed = Date.now();
            continue;
          }
          if (attempt === "other") {
            log?.warn("leadership lost: another replica holds the lease", { holder: this.#holder });
            break;
          }
          if (Date.now() - renewed >= this.#renewDeadlineMs) {
            log?.warn("leadership lost: lease not renewed within the renew deadline", {
              renewDeadlineMs: this.#renewDeadlineMs,
            });
            break;
          }
        }
      } finally {
        this.#leading = false;
        term.abort(new Error("leadership ended"));
        await this.#options.onStoppedLeading();
      }
      if (signal.aborted) await this.#release();
    }
  }

  async #tryAcquireOrRenew(): Promise<Attempt> {
    const { api, namespace, name, identity, logger } = this.#options;
    const now = Date.now();
    let lease: V1Lease;
    try {
      lease = await api.readLease(namespace, name);
      this.#options.onApiContact?.(true);
    } catch (error) {
      if (statusCodeOf(error) !== 404) {
        this.#options.onApiContact?.(statusCodeOf(error) !== 0);
        logger?.warn("cannot read the leader lease", { err: apiErrorText(error) });
        return "failed";
      }
      this.#options.onApiContact?.(true);
      try {
        await api.createLease(namespace, {
          metadata: { name, namespace },
          spec: this.#spec(undefined),
        });
        this.#holder = identity;
        this.#observe(`${identity}`, now);
        return "held";
      } catch (createError) {
        logger?.debug("lease create lost", { err: apiErrorText(createError) });
        return "failed";
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    this.#holder = holder;
    this.#observe(`${holder}|${String(spec.renewTime ?? "")}`, now);
    const durationMs = (spec.leaseDurationSeconds ?? this.#leaseDurationMs / 1000) * 1000;
    if (holder !== "" && holder !== identity && this.#observedAt + durationMs > now) return "other";
    lease.spec = this.#spec(spec);
    try {
      const written = await api.replaceLease(namespace, lease);
      this.#holder = identity;
      this.#observe(`${identity}|${String(written.spec?.renewTime ?? "")}`, now);
      return "held";
    } catch (error) {
      // 409: someone else wrote first; try again next period.
      logger?.debug("lease update refused", { err: apiErrorText(error), code: statusCodeOf(error) });
      return "failed";
    }
  }

  #observe(record: string, now: number): void {
    if (record !== this.#observed) {
      this.#observed = record;
      this.#observedAt = now;
    }
  }

  #spec(previous: V1Lease["spec"] | undefined): NonNullable<V1Lease["spec"]> {
    const ours = previous?.holderIdentity === this.#options.identity;
    const transitions = previous?.leaseTransitions ?? 0;
    return {
      holderIdentity: this.#options.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.#leaseDurationMs / 1000)),
      acquireTime: ours && previous?.acquireTime ? previous.acquireTime : new V1MicroTime(),
      renewTime: new V1MicroTime(),
      leaseTransitions: previous === undefined ? 0 : ours ? transitions : transitions + 1,
    };
  }

  /** Gives the Lease up (empty holder) if we still hold it. */
  async #release(): Promise<void> {
    const { api, namespace, name, identity, logger } = this.#options;
    try {
      const lease = await api.readLease(namespace, name);
      if (lease.spec?.holderIdentity !== identity) return;
      lease.spec = {
        ...lease.spec,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        renewTime: new V1MicroTime(),
      };
      await api.replaceLease(namespace, lease);
      logger?.info("released the leader lease", { lease: `${namespace}/${name}` });
    } catch (error) {
      logger?.warn("could not release the leader lease", { err: apiErrorText(error) });
    }
  }
}
