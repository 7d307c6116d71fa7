/**
 * kind integration (seed 003): everything a local kind cluster needs to pull from a Reestr
 * registry running in a Docker container on the same machine.
 *
 * - `kindClusterConfig` — a kind `Cluster` whose containerd reads per-registry `hosts.toml` files
 *   from `/etc/containerd/certs.d` (`config_path` patch), with that directory mounted from the
 *   host into every node (`extraMounts`).
 * - `kindHostsToml` — the hosts.toml that makes `<registryHost>` resolve to the registry
 *   container on kind's Docker network (`http://<name>:<containerPort>`).
 * - `localRegistryHostingConfigMap` — the KEP-1755 `local-registry-hosting` ConfigMap in
 *   kube-public, so tools (Tilt, Skaffold…) discover the registry.
 * - `kindSetupCommands` — the shell commands that tie it together: start the registry container
 *   from Reestr's image (`npm run image` builds it) unless it exists, then
 *   `docker network connect kind <name>`.
 *
 * @example
 * const bundle = kindIntegration({ registryHost: "localhost:5000", name: "reestr" });
 * // bundle.cluster → kind-config.yaml, bundle.configMap → kubectl apply, bundle.commands → shell
 */
import { stringify } from "yaml";
import { z } from "zod";
import { IMAGE } from "../version.ts";
import { type K8sObject, MANAGED_BY } from "./common.ts";
import { parseOrThrow } from "./schema.ts";

/** A check's message from the rejected value (zod 4 passes it to the error function as `input`). */
function naming(text: (value: string) => string) {
  return { error: (issue: { input?: unknown }) => text(String(issue.input)) };
}

const HOST_PORT = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/;
const PORT_RANGE = naming((value) => `expected 1-65535, got ${value}`);
const NON_NEGATIVE = naming((value) => `expected a non-negative integer, got ${value}`);

/** The options of the kind integration with their defaults; a bad value throws naming the option. */
const kindOptionsSchema = z.strictObject({
  /** Registry as images name it, seen from the host. */
  registryHost: z
    .string()
    .regex(
      HOST_PORT,
      naming((value) => `expected host[:port], got "${value}"`),
    )
    .default("localhost:5000"),
  /** Name of the registry's Docker container (its DNS name on kind's network). */
  name: z
    .string()
    .regex(
      /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
      naming((value) => `not a valid Docker container name: "${value}"`),
    )
    .default("reestr"),
  /** The registry container's image. */
  image: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9._/:@-]*$/i,
      naming((value) => `not an image reference: "${value}"`),
    )
    .default(IMAGE),
  /** Port the registry listens on inside its container. */
  containerPort: z.number().int(PORT_RANGE).min(1, PORT_RANGE).max(65535, PORT_RANGE).default(5000),
  /** Name of the kind cluster. */
  clusterName: z
    .string()
    .regex(
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
      naming((value) => `must be lowercase letters, digits and '-': "${value}"`),
    )
    .default("reestr"),
  /** Host directory mounted into each node at /etc/containerd/certs.d. */
  certsDir: z
    .string()
    .startsWith(
      "/",
      naming((value) => `must be an absolute path (kind mounts it into the nodes): "${value}"`),
    )
    .default("/tmp/reestr-kind/certs.d"),
  /** Worker nodes besides the control plane. */
  workers: z.number().int(NON_NEGATIVE).min(0, NON_NEGATIVE).default(0),
});

/** The integration's options, each optional (the defaults are kindOptionsSchema's). */
export type KindIntegrationOptions = z.input<typeof kindOptionsSchema>;
type Resolved = z.output<typeof kindOptionsSchema>;

export const KIND_API_VERSION = "kind.x-k8s.io/v1alpha4";
export const CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d";
export const LOCAL_REGISTRY_HOSTING_KEY = "localRegistryHosting.v1";
export const KIND_LOCAL_REGISTRY_HELP = "https://kind.sigs.k8s.io/docs/user/local-registry/";

/** The containerd patch switching the CRI registry config to per-host hosts.toml files. */
export const CONTAINERD_CONFIG_PATH_PATCH = `[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "${CONTAINERD_CERTS_DIR}"
`;

export interface KindNode {
  role: "control-plane" | "worker";
  extraMounts: { hostPath: string; containerPath: string; readOnly: boolean }[];
}

export interface KindCluster {
  kind: "Cluster";
  apiVersion: typeof KIND_API_VERSION;
  name: string;
  containerdConfigPatches: string[];
  nodes: KindNode[];
}

function resolve(options: KindIntegrationOptions): Resolved {
  return parseOrThrow(kindOptionsSchema, options);
}

/** The registry's address from inside the nodes: the container on kind's Docker network. */
export function registryEndpointFromNodes(options: KindIntegrationOptions = {}): string {
  const o = resolve(options);
  return `http://${o.name}:${o.containerPort}`;
}

/** `<certsDir>/<registryHost>/hosts.toml` on the host, i.e. `/etc/containerd/certs.d/<host>/hosts.toml` in the nodes. */
export function kindHostsTomlPath(options: KindIntegrationOptions = {}): string {
  const o = resolve(options);
  return `${o.certsDir}/${o.registryHost}/hosts.toml`;
}

/** containerd hosts.toml redirecting pulls of `<registryHost>/…` to the registry container (plain HTTP). */
export function kindHostsToml(options: KindIntegrationOptions = {}): string {
  const endpoint = registryEndpointFromNodes(options);
  return `server = "${endpoint}"

[host."${endpoint}"]
  capabilities = ["pull", "resolve"]
`;
}

/**
 * containerd hosts.toml (for `/etc/containerd/certs.d/<upstreamHost>/hosts.toml`) sending pulls
 * of `<upstreamHost>/…` (docker.io) through Reestr's pull-through cache under `prefix`: the
 * path of `server` carries the prefix, which `override_path` makes containerd use as is. The
 * upstream itself stays the fallback when Reestr does not answer.
 */
export function kindMirrorHostsToml(
  options: KindIntegrationOptions,
  upstreamHost: string,
  prefix: string,
): string {
  const endpoint = registryEndpointFromNodes(options);
  const upstream = upstreamHost === "docker.io" ? "https://registry-1.docker.io" : `https://${upstreamHost}`;
  return `server = "${upstream}"

[host."${endpoint}/v2/${prefix}"]
  capabilities = ["pull", "resolve"]
  override_path = true
`;
}

/** The kind `Cluster` config (`kind create cluster --config`). */
export function kindClusterConfig(options: KindIntegrationOptions = {}): KindCluster {
  const o = resolve(options);
  const extraMounts = [{ hostPath: o.certsDir, containerPath: CONTAINERD_CERTS_DIR, readOnly: true }];
  const nodes: KindNode[] = [{ role: "control-plane", extraMounts }];
  for (let i = 0; i < o.workers; i++)
    nodes.push({ role: "worker", extraMounts: extraMounts.map((m) => ({ ...m })) });
  return {
    kind: "Cluster",
    apiVersion: KIND_API_VERSION,
    name: o.clusterName,
    containerdConfigPatches: [CONTAINERD_CONFIG_PATH_PATCH],
    nodes,
  };
}

/** The KEP-1755 ConfigMap advertising the local registry to tools. */
export function localRegistryHostingConfigMap(options: KindIntegrationOptions = {}): K8sObject {
  const o = resolve(options);
  const hosting = {
    host: o.registryHost,
    hostFromContainerRuntime: `${o.name}:${o.containerPort}`,
    help: KIND_LOCAL_REGISTRY_HELP,
  };
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "local-registry-hosting",
      namespace: "kube-public",
      labels: { "app.kubernetes.io/managed-by": MANAGED_BY },
    },
    data: { [LOCAL_REGISTRY_HOSTING_KEY]: stringify(hosting) },
  };
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The host port images name (`localhost:5001` → 5001); without one, plain HTTP's 80. */
function registryHostPort(registryHost: string): number {
  const match = /:(\d{1,5})$/.exec(registryHost);
  return match ? Number(match[1]) : 80;
}

/** `docker run` for the registry container, unless one of that name exists already. */
export function registryContainerCommand(options: KindIntegrationOptions = {}): string {
  const o = resolve(options);
  const publish = `127.0.0.1:${registryHostPort(o.registryHost)}:${o.containerPort}`;
  return (
    `docker inspect ${shellQuote(o.name)} >/dev/null 2>&1 || docker run -d --restart=always --name ${shellQuote(o.name)} ` +
    `-p ${shellQuote(publish)} -v ${shellQuote(`${o.name}-data:/data`)} ${shellQuote(o.image)} ` +
    `serve --host 0.0.0.0 --port ${o.containerPort}`
  );
}

/**
 * Shell commands, in order: start the registry container, write hosts.toml, create the cluster,
 * connect the registry, apply the ConfigMap.
 */
export function kindSetupCommands(options: KindIntegrationOptions = {}): string[] {
  const o = resolve(options);
  const tomlPath = kindHostsTomlPath(options);
  const dir = tomlPath.slice(0, tomlPath.lastIndexOf("/"));
  const flags = [
    `--registry-host ${shellQuote(o.registryHost)}`,
    `--name ${shellQuote(o.name)}`,
    `--container-port ${o.containerPort}`,
    `--cluster-name ${o.clusterName}`,
    `--certs-dir ${shellQuote(o.certsDir)}`,
    `--workers ${o.workers}`,
  ].join(" ");
  return [
    registryContainerCommand(options),
    `mkdir -p ${shellQuote(dir)}`,
    `cat > ${shellQuote(tomlPath)} <<'EOF'\n${kindHostsToml(options)}EOF`,
    `reestr kind config ${flags} --only cluster > kind-config.yaml`,
    `kind create cluster --config kind-config.yaml`,
    `if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' ${shellQuote(o.name)})" = 'null' ]; then docker network connect kind ${shellQuote(o.name)}; fi`,
    `reestr kind config ${flags} --only configmap | kubectl --context kind-${o.clusterName} apply -f -`,
  ];
}

export interface KindIntegration {
  cluster: KindCluster;
  configMap: K8sObject;
  hostsToml: { path: string; content: string };
  commands: string[];
}

export function kindIntegration(options: KindIntegrationOptions = {}): KindIntegration {
  return {
    cluster: kindClusterConfig(options),
    configMap: localRegistryHostingConfigMap(options),
    hostsToml: { path: kindHostsTomlPath(options), content: kindHostsToml(options) },
    commands: kindSetupCommands(options),
  };
}

function comment(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => (line === "" ? "#" : `# ${line}`))
    .join("\n");
}

/**
 * The whole integration as one YAML stream with comments: the Cluster document, the ConfigMap
 * document, then hosts.toml and the setup commands as comments (so the text still parses as YAML).
 */
export function renderKindIntegration(options: KindIntegrationOptions = {}): string {
  const bundle = kindIntegration(options);
  const o = resolve(options);
  return [
    comment(
      `1. kind Cluster config: save as kind-config.yaml (or: reestr kind config --only cluster).\n` +
        `containerd reads ${CONTAINERD_CERTS_DIR}/<host>/hosts.toml, mounted from ${o.certsDir} on this machine.`,
    ),
    stringify(bundle.cluster).trimEnd(),
    "---",
    comment(
      "2. local-registry-hosting ConfigMap (KEP-1755): apply after the cluster is up\n" +
        "(or: reestr kind config --only configmap | kubectl apply -f -).",
    ),
    stringify(bundle.configMap).trimEnd(),
    comment(
      `3. ${bundle.hostsToml.path} (must exist before \`kind create cluster\`):\n\n${bundle.hostsToml.content}`,
    ),
    comment(
      `4. Commands: the registry runs in a Docker container named "${o.name}" (image ${o.image}) listening on ${o.containerPort}:\n\n` +
        bundle.commands.join("\n"),
    ),
    "",
  ].join("\n");
}
