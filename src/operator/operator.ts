/**
 * `reestr operator` as a library: leader election (or none), the controller while leading, and an
 * HTTP server on the shared pipeline with the ops module: /healthz (the process is alive),
 * /readyz (the API server answered us) and /metrics (Prometheus). `stop()` is the graceful
 * shutdown SIGTERM triggers: the controller stops (scans in flight are cancelled), the Lease is
 * released, the HTTP server closes.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import { type Listening, listen } from "../http/listen.ts";
import { createOpsModule } from "../http/ops.ts";
import { HttpPipeline } from "../http/pipeline.ts";
import { Router } from "../http/router.ts";
import { JsonLogger, type Logger } from "../util/logger.ts";
import { VERSION } from "../version.ts";
import type { VulnerabilityScanner } from "../watcher/scanners/scanner.ts";
import { Controller, type ControllerOptions } from "./controller.ts";
import { EventRecorder } from "./events.ts";
import { KubeApi } from "./kube.ts";
import { LeaderElector } from "./leader.ts";
import { OperatorMetrics } from "./metrics.ts";
import { Reconciler } from "./reconciler.ts";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Watch Registries in this namespace only (default: all namespaces). */
  namespace?: string;
  /** This replica's name in the Lease (default: POD_NAME, else hostname, plus a random suffix). */
  identity?: string;
  /** Default true. Off: this replica reconciles at once (a single replica, or tests). */
  leaderElection?: boolean;
  leaseName?: string;
  leaseNamespace?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  scanner?: VulnerabilityScanner;
  logger?: Logger;
  /** Port for /healthz, /readyz and /metrics; undefined: no HTTP server. 0 picks a free port. */
  metricsPort?: number;
  metricsHost?: string;
  workers?: number;
  /** First requeue delay after a Failed scan (default 5000 ms). */
  failureBackoffMs?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  watchTimeoutSeconds?: number;
  informerRetryDelayMs?: number;
  onReconcile?: ControllerOptions["onReconcile"];
}

export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  return `${env.POD_NAME || hostname()}_${randomUUID().slice(0, 8)}`;
}

export class Operator {
  readonly api: KubeApi;
  readonly metrics: OperatorMetrics;
  readonly identity: string;
  readonly reconciler: Reconciler;
  readonly #options: OperatorOptions;
  readonly #stop = new AbortController();
  #controller: Controller | undefined;
  #elector: LeaderElector | undefined;
  #running: Promise<void> | undefined;
  #listening: Listening | undefined;
  #ready = false;
  #stopping: Promise<void> | undefined;

  constructor(options: OperatorOptions) {
    this.#options = options;
    this.api = new KubeApi(options.kubeConfig);
    this.identity = options.identity ?? defaultIdentity();
    this.metrics = new OperatorMetrics(() => this.#controller?.queue.length ?? 0);
    const logger = options.logger;
    this.reconciler = new Reconciler({
      api: this.api,
      ...(options.scanner ? { scanner: options.scanner } : {}),
      events: new EventRecorder(this.api, this.identity, logger),
      metrics: this.metrics,
      ...(logger ? { logger } : {}),
      ...(options.failureBackoffMs !== undefined ? { failureBackoffMs: options.failureBackoffMs } : {}),
    });
  }

  /** True while this replica reconciles (leader, or leader election off and started). */
  get isLeader(): boolean {
    return this.#controller !== undefined;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** The current leadership term's controller, if leading. */
  get controller(): Controller | undefined {
    return this.#controller;
  }

  /** Base URL of the health/metrics server, when it runs. */
  get url(): string | undefined {
    return this.#listening?.url;
  }

  /** Starts the HTTP server and the election (or the controller directly); returns at once. */
  async start(): Promise<void> {
    if (this.#options.metricsPort !== undefined) await this.#listen(this.#options.metricsPort);
    const signal = this.#stop.signal;
    if (this.#options.leaderElection === false) {
      await this.#lead();
      this.#ready = true;
      return;
    }
    const leaseNamespace = this.#options.leaseNamespace ?? this.#options.namespace ?? "default";
    this.#elector = new LeaderElector({
      api: this.api,
      namespace: leaseNamespace,
      name: this.#options.leaseName ?? "reestr-operator",
      identity: this.identity,
      ...(this.#options.leaseDurationMs !== undefined
        ? { leaseDurationMs: this.#options.leaseDurationMs }
        : {}),
      ...(this.#options.renewDeadlineMs !== undefined
        ? { renewDeadlineMs: this.#options.renewDeadlineMs }
        : {}),
      ...(this.#options.retryPeriodMs !== undefined ? { retryPeriodMs: this.#options.retryPeriodMs } : {}),
      ...(this.#options.logger ? { logger: this.#options.logger } : {}),
      onStartedLeading: () => this.#lead(),
      onStoppedLeading: () => this.#unlead(),
      onApiContact: (ok) => {
        if (ok) this.#ready = true;
      },
    });
    this.#running = this.#elector.run(signal).catch((error: unknown) => {
      this.#options.logger?.error("leader election stopped", { err: error });
    });
  }

  async #lead(): Promise<void> {
    this.metrics.leader.set(1);
    const o = this.#options;
    const controller = new Controller({
      api: this.api,
      reconciler: this.reconciler,
      ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      metrics: this.metrics,
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: o.retryBaseDelayMs } : {}),
      ...(o.retryMaxDelayMs !== undefined ? { retryMaxDelayMs: o.retryMaxDelayMs } : {}),
      ...(o.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: o.watchTimeoutSeconds } : {}),
      ...(o.informerRetryDelayMs !== undefined ? { informerRetryDelayMs: o.informerRetryDelayMs } : {}),
      ...(o.onReconcile ? { onReconcile: o.onReconcile } : {}),
    });
    this.#controller = controller;
    o.logger?.info("controller started", { namespace: o.namespace ?? "(all)", identity: this.identity });
    // Do not wait for the first list: the elector must keep renewing meanwhile.
    void controller.start().catch(() => {});
  }

  async #unlead(): Promise<void> {
    const controller = this.#controller;
    this.#controller = undefined;
    this.metrics.leader.set(0);
    if (!controller) return;
    await controller.stop();
    this.#options.logger?.info("controller stopped", { identity: this.identity });
  }

  /** Graceful shutdown; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stop.abort();
      await this.#running;
      await this.#unlead();
      this.#ready = false;
      await this.#listening?.close(0);
    })();
    return this.#stopping;
  }

  async #listen(port: number): Promise<void> {
    const ops = createOpsModule({
      version: VERSION,
      metrics: this.metrics.registry,
      checks: async () => [
        {
          name: "kubernetes",
          status: this.#ready ? "healthy" : "unhealthy",
          durationMs: 0,
          ...(this.#ready ? {} : { message: "the API server has not answered" }),
        },
      ],
      stopping: () => this.#stop.signal.aborted,
    });
    const router = new Router().add(...ops.routes, { ...ops.routes[0]!, path: "/livez", name: "/livez" });
    const pipeline = new HttpPipeline({
      router,
      logger: this.#options.logger ?? new JsonLogger({ level: "warn" }),
      accessLog: false,
      metrics: this.metrics.registry,
    });
    this.#listening = await listen({ host: this.#options.metricsHost ?? "0.0.0.0", port, pipeline });
  }
}
