import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { Operator } from "../operator/operator.ts";
import { JsonLogger, type LogLevel, type LogSink } from "../util/logger.ts";
import type { VulnerabilityScanner } from "../watcher/scanners/scanner.ts";
import { type Command, UsageError } from "./command.ts";
import { waitForStop } from "./stop-signal.ts";

const usage = `Usage: reestr operator [options]

Runs the Kubernetes operator: watches Registry resources (registry.kubecontroller.io/v1alpha1),
scans each registry repository on its scanInterval with the watcher engine (tags, digests, sizes,
platforms, Trivy when enabled) and writes the result to the resource's status, so
\`kubectl get registries\` shows it. Credentials come from the Secret named in
spec.credentialsSecret (username/password keys, or .dockerconfigjson).

Several replicas may run: a Lease elects one leader, the others wait. SIGTERM or Ctrl-C stops
gracefully: scans in flight are cancelled and the Lease is released.

Options:
  --kubeconfig <file>      kubeconfig to use (default: in-cluster service account when running in
                           a pod, else KUBECONFIG, else ~/.kube/config)
  --context <name>         kubeconfig context (default: its current-context)
  --namespace <ns>         watch Registries in this namespace only (default: all namespaces)
  --metrics-port <port>    port for /healthz, /readyz and /metrics (default 8080; 0 picks one)
  --metrics-host <addr>    address to listen on (default 0.0.0.0)
  --lease-name <name>      leader election Lease (default reestr-operator)
  --lease-namespace <ns>   its namespace (default: POD_NAMESPACE, the pod's namespace,
                           --namespace, else default)
  --no-leader-election     reconcile without a Lease (one replica only)
  --identity <id>          this replica's name in the Lease (default: POD_NAME or hostname + suffix)
  --workers <n>            registries reconciled at once (default 2)
  --log-level <level>      debug | info | warn | error (default info)
  --json                   log JSON lines (the default when stdout is not a terminal)
  -h, --help               show this help

Environment: REESTR_TRIVY (the Trivy binary, default trivy on PATH).

Exit status: 0 after a graceful stop; 1 when it cannot start (e.g. the metrics port is taken);
2 for bad flags or an unusable kubeconfig.

Example:
  kubectl apply -k deploy/base        # CRD, RBAC, the operator Deployment
  reestr operator --kubeconfig ~/.kube/config --namespace team-a --metrics-port 9090
  kubectl get registries -n team-a
`;

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export interface OperatorIo {
  stdout?: LogSink & { isTTY?: boolean };
  stderr?: LogSink;
  env?: NodeJS.ProcessEnv;
  /** Stops the operator when aborted (instead of SIGTERM / SIGINT). */
  signal?: AbortSignal;
  /** Called once the operator runs (health server listening, election started). */
  onStarted?: (operator: Operator) => void;
  scanner?: VulnerabilityScanner;
}

/** Log lines for people: `12:00:01 INFO  registry scanned registry=team-a/app images=3`. */
export function humanSink(out: LogSink): LogSink {
  return {
    write(chunk: string) {
      const lines: string[] = [];
      for (const line of chunk.split("\n")) {
        if (line === "") continue;
        try {
          const { time, level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
          const clock = typeof time === "string" ? time.slice(11, 19) : "";
          const extra = Object.entries(fields)
            .map(
              ([k, v]) =>
                `${k}=${typeof v === "string" ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`,
            )
            .join(" ");
          lines.push(
            `${clock} ${String(level).toUpperCase().padEnd(5)} ${String(msg)}${extra ? ` ${extra}` : ""}`,
          );
        } catch {
          lines.push(line);
        }
      }
      if (lines.length > 0) out.write(`${lines.join("\n")}\n`);
    },
  };
}

function namespaceFlag(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!DNS1123_LABEL.test(value) || value.length > 63) {
    throw new UsageError(`${flag}: "${value}" is not a Kubernetes namespace name`);
  }
  return value;
}

/** The kubeconfig: --kubeconfig, else in-cluster, else KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(
  file: string | undefined,
  context: string | undefined,
  env: NodeJS.ProcessEnv,
): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) {
    if (!existsSync(file)) throw new UsageError(`--kubeconfig: ${file} does not exist`);
    try {
      kc.loadFromFile(file);
    } catch (error) {
      throw new UsageError(`--kubeconfig: cannot read ${file}: ${(error as Error).message}`);
    }
  } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    kc.loadFromCluster();
  } else if (env.KUBECONFIG) {
    try {
      kc.loadFromDefault();
    } catch (error) {
      throw new UsageError(`cannot load KUBECONFIG=${env.KUBECONFIG}: ${(error as Error).message}`);
    }
  } else {
    const home = join(env.HOME || homedir(), ".kube", "config");
    if (!existsSync(home)) {
      throw new UsageError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod");
    }
    try {
      kc.loadFromFile(home);
    } catch (error) {
      throw new UsageError(`cannot read ${home}: ${(error as Error).message}`);
    }
  }
  if (context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new UsageError(`--context: no context "${context}" in the kubeconfig`);
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    throw new UsageError("no Kubernetes cluster configured: pass --kubeconfig, or run in a pod");
  }
  return kc;
}

function leaseNamespace(
  explicit: string | undefined,
  watched: string | undefined,
  env: NodeJS.ProcessEnv,
): string {
  if (explicit !== undefined) return explicit;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    const fromPod = readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim();
    if (fromPod !== "") return fromPod;
  } catch {
    // not in a pod
  }
  return watched ?? "default";
}

/** `reestr operator` with injectable output and stop signal (tests); `run` is this with the process's. */
export async function runOperator(argv: string[], io: OperatorIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: "string" },
      context: { type: "string" },
      namespace: { type: "string" },
      "metrics-port": { type: "string" },
      "metrics-host": { type: "string" },
      "lease-name": { type: "string" },
      "lease-namespace": { type: "string" },
      "no-leader-election": { type: "boolean" },
      identity: { type: "string" },
      workers: { type: "string" },
      "log-level": { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const level = (values["log-level"] ?? "info") as LogLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
  }
  const portText = values["metrics-port"] ?? "8080";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new UsageError(`--metrics-port: expected a port number 0-65535, got "${portText}"`);
  }
  const workersText = values.workers ?? "2";
  const workers = Number(workersText);
  if (!/^\d+$/.test(workersText) || workers < 1 || workers > 64) {
    throw new UsageError(`--workers: expected a number from 1 to 64, got "${workersText}"`);
  }
  const namespace = namespaceFlag("--namespace", values.namespace);
  const leaseNs = leaseNamespace(
    namespaceFlag("--lease-namespace", values["lease-namespace"]),
    namespace,
    env,
  );
  const leaseName = values["lease-name"] ?? "reestr-operator";
  if (!/^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/.test(leaseName) || leaseName.length > 253) {
    throw new UsageError(`--lease-name: "${leaseName}" is not a Kubernetes object name`);
  }
  const kubeConfig = loadKubeConfig(values.kubeconfig, values.context, env);

  const json = values.json === true || !stdout.isTTY;
  const logger = new JsonLogger({
    level,
    sink: json ? stdout : humanSink(stdout),
    bindings: { component: "operator" },
  });
  const operator = new Operator({
    kubeConfig,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(values.identity !== undefined ? { identity: values.identity } : {}),
    leaderElection: values["no-leader-election"] !== true,
    leaseName,
    leaseNamespace: leaseNs,
    metricsPort: port,
    ...(values["metrics-host"] !== undefined ? { metricsHost: values["metrics-host"] } : {}),
    workers,
    logger,
    ...(io.scanner ? { scanner: io.scanner } : {}),
  });
  try {
    await operator.start();
  } catch (error) {
    stderr.write(`reestr operator: cannot start: ${(error as Error).message}\n`);
    await operator.stop();
    logger.flush();
    return 1;
  }
  logger.info("operator running", {
    server: kubeConfig.getCurrentCluster()?.server,
    namespace: namespace ?? "(all)",
    lease: values["no-leader-election"] ? "(none)" : `${leaseNs}/${leaseName}`,
    identity: operator.identity,
    metrics: operator.url,
  });
  io.onStarted?.(operator);

  const reason = await waitForStop(io.signal);
  logger.info("shutting down", { signal: reason });
  await operator.stop();
  logger.info("stopped");
  logger.flush();
  return 0;
}

async function run(argv: string[]): Promise<number> {
  return runOperator(argv);
}

export default {
  name: "operator",
  summary: "run the Kubernetes operator for Registry resources (registry.kubecontroller.io)",
  usage,
  run,
} satisfies Command;
