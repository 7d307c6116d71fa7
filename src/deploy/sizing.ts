/**
 * `calculateStorageRequirements(config, kind?)`: the cluster resources a registry deployment
 * (Docker Registry, Harbor, Nexus, Artifactory) reserves and the throughput it can be expected
 * to sustain.
 *
 * Totals are replicas × resource requests of each component, in base units plus a Kubernetes
 * quantity. Throughput uses
 * seed 002's figures: a single replica handles 100–500 images/day and scales linearly with the
 * replica count.
 *
 * @example
 * calculateStorageRequirements({ replicas: 3 });
 * // totalCpu: { cores: 0.3, millicores: 300, quantity: "300m", unit: "cores" }
 * // totalMemory: { bytes: 805306368, quantity: "768Mi", unit: "bytes" }
 * // estimatedThroughput: { imagesPerDay: { min: 300, max: 1500 }, unit: "images/day" }
 */

import { ARTIFACTORY_DEFAULTS, type ArtifactoryConfig, artifactoryComponents } from "./artifactory.ts";
import { type DeepPartial, deepMerge, parseQuantity } from "./common.ts";
import {
  DOCKER_REGISTRY_COMPONENT,
  DOCKER_REGISTRY_DEFAULTS,
  type DockerRegistry,
  type DockerRegistryConfig,
} from "./docker-registry.ts";
import { HARBOR_DEFAULTS, type HarborConfig, harborComponents } from "./harbor.ts";
import { NEXUS_DEFAULTS, type NexusConfig, nexusComponents } from "./nexus.ts";

/** Seed 002, "Performance Considerations": a single replica handles 100–500 images/day. */
export const IMAGES_PER_DAY_PER_REPLICA = { min: 100, max: 500 } as const;

export interface CpuAmount {
  /** CPU cores (1 core = 1000m). */
  cores: number;
  millicores: number;
  /** The same amount as a Kubernetes quantity, e.g. "300m". */
  quantity: string;
  unit: "cores";
}

export interface MemoryAmount {
  bytes: number;
  /** The same amount as a Kubernetes quantity, e.g. "768Mi". */
  quantity: string;
  unit: "bytes";
}

export interface ComponentRequirements {
  name: string;
  replicas: number;
  /** Requests of one replica. */
  perReplica: { cpu: CpuAmount; memory: MemoryAmount };
  /** Limits of one replica (what a replica may burst to). */
  perReplicaLimits: { cpu: CpuAmount; memory: MemoryAmount };
}

export interface StorageRequirements {
  /** Sum over components of replicas × CPU request. */
  totalCpu: CpuAmount;
  /** Sum over components of replicas × memory request. */
  totalMemory: MemoryAmount;
  /** Sum over components of replicas × limits: the most the deployment may use. */
  totalLimits: { cpu: CpuAmount; memory: MemoryAmount };
  estimatedThroughput: { imagesPerDay: { min: number; max: number }; unit: "images/day" };
  components: ComponentRequirements[];
}

/** A CPU amount from millicores (rounded up to a whole millicore, as Kubernetes does); quantity in millicores. */
export function cpuAmount(millicores: number): CpuAmount {
  const m = Math.ceil(millicores - 1e-6);
  return { cores: m / 1000, millicores: m, quantity: `${m}m`, unit: "cores" };
}

/** A memory amount from bytes; quantity is the shortest exact form (binary units first): "768Mi", "2G". */
export function memoryAmount(bytes: number): MemoryAmount {
  const b = Math.ceil(bytes - 1e-6);
  let quantity = `${b}`;
  if (b !== 0) {
    for (const [suffix, size] of [
      ["Ti", 2 ** 40],
      ["Gi", 2 ** 30],
      ["Mi", 2 ** 20],
      ["Ki", 2 ** 10],
      ["T", 1e12],
      ["G", 1e9],
      ["M", 1e6],
      ["k", 1e3],
    ] as const) {
      const candidate = `${b / size}${suffix}`;
      if (b % size === 0 && candidate.length < quantity.length) quantity = candidate;
    }
  }
  return { bytes: b, quantity, unit: "bytes" };
}

function quantityAt(path: string, value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  if (typeof value !== "string")
    throw new Error(`${path}: expected a Kubernetes quantity, got ${typeof value}`);
  try {
    return parseQuantity(value);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

type ComponentSpec = {
  name: string;
  replicas: number;
  resources: {
    limits: { cpu: string | number; memory: string | number };
    requests: { cpu: string | number; memory: string | number };
  };
};

/** The kinds that deploy something, with their components and the replica count that drives throughput. */
const SIZED_KINDS = {
  DockerRegistry: {
    defaults: DOCKER_REGISTRY_DEFAULTS,
    components: (spec: DockerRegistryConfig): ComponentSpec[] => [
      { name: DOCKER_REGISTRY_COMPONENT, replicas: spec.replicas, resources: spec.resources },
    ],
    throughputReplicas: (spec: DockerRegistryConfig) => spec.replicas,
  },
  HarborRegistry: {
    defaults: HARBOR_DEFAULTS,
    components: (spec: HarborConfig): ComponentSpec[] => harborComponents(spec),
    // Pushes and pulls go through the registry component.
    throughputReplicas: (spec: HarborConfig) => spec.registryReplicas,
  },
  NexusRegistry: {
    defaults: NEXUS_DEFAULTS,
    components: (spec: NexusConfig): ComponentSpec[] => nexusComponents(spec),
    throughputReplicas: (spec: NexusConfig) => spec.replicas,
  },
  ArtifactoryRegistry: {
    defaults: ARTIFACTORY_DEFAULTS,
    components: (spec: ArtifactoryConfig): ComponentSpec[] => artifactoryComponents(spec),
    throughputReplicas: (spec: ArtifactoryConfig) => spec.replicas,
  },
} as const;

export type SizedKind = keyof typeof SIZED_KINDS;

function checkReplicas(path: string, replicas: unknown): number {
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
    throw new Error(`${path}: expected a non-negative integer, got ${String(replicas)}`);
  }
  return replicas;
}

/**
 * Resource totals and throughput estimate of a registry deployment. `config` is a builder's
 * result (DockerRegistry, HarborRegistry, NexusRegistry, ArtifactoryRegistry), or a deep-partial
 * config of `kind` (default "DockerRegistry") merged over that kind's defaults. Totals sum
 * replicas × requests (and × limits) over the components: the registry container of a Docker
 * Registry; core, jobservice, registry (and the Trivy adapter with the chart's requests, one
 * replica) of Harbor; the single Nexus or Artifactory container. Throughput is seed 002's
 * 100–500 images/day per replica of the component serving pushes and pulls, linear in replicas.
 * Throws an Error naming the field when a quantity is invalid or a replica count is not a
 * non-negative integer.
 */
export function calculateStorageRequirements(
  config: DeepPartial<DockerRegistryConfig> | DockerRegistry | object = {},
  kind: SizedKind = "DockerRegistry",
): StorageRequirements {
  let input: unknown = config;
  let sized: SizedKind = kind;
  const built = config as { kind?: unknown; spec?: unknown; apiVersion?: unknown };
  if (
    typeof built.kind === "string" &&
    built.kind in SIZED_KINDS &&
    typeof built.spec === "object" &&
    built.spec
  ) {
    sized = built.kind as SizedKind;
    input = built.spec;
  } else if (typeof built.kind === "string" && typeof built.apiVersion === "string") {
    throw new Error(
      `kind: ${built.kind} deploys nothing to size (expected one of ${Object.keys(SIZED_KINDS).join(", ")})`,
    );
  }
  const entry = SIZED_KINDS[sized] as unknown as {
    defaults: object;
    components: (spec: unknown) => ComponentSpec[];
    throughputReplicas: (spec: unknown) => number;
  };
  const spec = deepMerge(
    entry.defaults as Record<string, unknown>,
    input as DeepPartial<Record<string, unknown>>,
  );
  const specs = entry.components(spec);
  const components: ComponentRequirements[] = specs.map((c) => {
    const replicaPath = specs.length === 1 && sized !== "HarborRegistry" ? "replicas" : `${c.name}Replicas`;
    const replicas = checkReplicas(
      sized === "HarborRegistry" && c.name === "trivy" ? "trivy" : replicaPath,
      c.replicas,
    );
    const base = c.name === "trivy" ? "trivy.resources" : "resources";
    const { requests, limits } = c.resources;
    return {
      name: c.name,
      replicas,
      perReplica: {
        cpu: cpuAmount(quantityAt(`${base}.requests.cpu`, requests.cpu) * 1000),
        memory: memoryAmount(quantityAt(`${base}.requests.memory`, requests.memory)),
      },
      perReplicaLimits: {
        cpu: cpuAmount(quantityAt(`${base}.limits.cpu`, limits.cpu) * 1000),
        memory: memoryAmount(quantityAt(`${base}.limits.memory`, limits.memory)),
      },
    };
  });
  const throughputReplicas = checkReplicas(
    sized === "HarborRegistry" ? "registryReplicas" : "replicas",
    entry.throughputReplicas(spec),
  );
  const sum = (f: (c: ComponentRequirements) => number) =>
    components.reduce((total, c) => total + c.replicas * f(c), 0);
  return {
    totalCpu: cpuAmount(sum((c) => c.perReplica.cpu.millicores)),
    totalMemory: memoryAmount(sum((c) => c.perReplica.memory.bytes)),
    totalLimits: {
      cpu: cpuAmount(sum((c) => c.perReplicaLimits.cpu.millicores)),
      memory: memoryAmount(sum((c) => c.perReplicaLimits.memory.bytes)),
    },
    estimatedThroughput: {
      imagesPerDay: {
        min: IMAGES_PER_DAY_PER_REPLICA.min * throughputReplicas,
        max: IMAGES_PER_DAY_PER_REPLICA.max * throughputReplicas,
      },
      unit: "images/day",
    },
    components,
  };
}
