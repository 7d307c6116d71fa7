/**
 * What the operator tests share: the Kubernetes API stand-in (fake-kube-api.ts), a real Reestr
 * registry in-process to scan, operators wired to both with short timings, and waits on their status.
 */
import { fileURLToPath } from "node:url";
import { Operator, type OperatorOptions } from "../../src/operator/operator.ts";
import type { ReconcileResult } from "../../src/operator/reconciler.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { TrivyScanner } from "../../src/watcher/scanners/trivy.ts";
import { waitFor } from "../helpers/wait.ts";
import { type FakeKubeApi, type KubeObject, RESOURCES } from "./fake-kube-api.ts";

export const FAKE_TRIVY = fileURLToPath(new URL("../fixtures/fake-trivy/trivy", import.meta.url));

export interface RunningOperator {
  operator: Operator;
  logs: string[];
  reconciles: { key: string; result: ReconcileResult | { action: "error"; error: string } }[];
  stop(): Promise<void>;
}

/** An operator against the fake API with test timings; leader election off unless asked. */
export async function startOperator(
  fake: FakeKubeApi,
  options: Partial<OperatorOptions> = {},
): Promise<RunningOperator> {
  const logs: string[] = [];
  const reconciles: RunningOperator["reconciles"] = [];
  const logger = new JsonLogger({
    level: "debug",
    sink: {
      write(chunk: string) {
        for (const line of chunk.split("\n")) if (line) logs.push(line);
      },
    },
  });
  const operator = new Operator({
    kubeConfig: fake.kubeConfig(),
    leaderElection: false,
    scanner: new TrivyScanner({ binary: FAKE_TRIVY }),
    logger,
    failureBackoffMs: 100,
    retryBaseDelayMs: 50,
    retryMaxDelayMs: 1000,
    informerRetryDelayMs: 50,
    leaseDurationMs: 2000,
    renewDeadlineMs: 1500,
    retryPeriodMs: 100,
    onReconcile: (key, result) => reconciles.push({ key, result }),
    ...options,
  });
  await operator.start();
  return {
    operator,
    logs,
    reconciles,
    async stop() {
      await operator.stop();
      logger.flush();
    },
  };
}

export function registry(name: string, spec: Record<string, unknown>, namespace = "default"): KubeObject {
  return {
    apiVersion: "registry.kubecontroller.io/v1alpha1",
    kind: "Registry",
    metadata: { name, namespace },
    spec,
  };
}

export type RegistryStatusView = {
  lastScanStatus?: string;
  lastScanTime?: string;
  message?: string;
  observedGeneration?: number;
  imageCount?: number;
  images?: { tag: string; digest: string; size: number; vulnerabilities?: Record<string, unknown> }[];
  conditions?: {
    type: string;
    status: string;
    reason: string;
    message: string;
    observedGeneration?: number;
  }[];
};

export function statusOf(
  fake: FakeKubeApi,
  name: string,
  namespace = "default",
): RegistryStatusView | undefined {
  return fake.get(RESOURCES.registries, namespace, name)?.status as RegistryStatusView | undefined;
}

/** Waits until the Registry's status satisfies `check` and returns it. */
export function waitForStatus(
  fake: FakeKubeApi,
  name: string,
  what: string,
  check: (status: RegistryStatusView) => boolean,
  namespace = "default",
  timeoutMs?: number,
): Promise<RegistryStatusView> {
  return waitFor(
    () => {
      const status = statusOf(fake, name, namespace);
      return status !== undefined && check(status) ? status : undefined;
    },
    { what: `${namespace}/${name}: ${what}`, timeoutMs },
  );
}

/** The events.k8s.io/v1 Events about an object. */
export function eventsFor(fake: FakeKubeApi, name: string, namespace = "default"): Record<string, unknown>[] {
  return fake
    .list(RESOURCES.events, namespace)
    .filter((e) => (e.regarding as { name?: string } | undefined)?.name === name) as Record<
    string,
    unknown
  >[];
}
