/**
 * `calculateStorageRequirements(config)`: the cluster resources a Docker Registry deployment
 * reserves and the throughput it can be expected to sustain.
 *
 * Totals are replicas × resource requests of each component (a Docker Registry has one
 * component, the registry container), in base units plus a Kubernetes quantity. Throughput uses
 * seed 002's figures: a single replica handles 100–500 images/day and scales linearly with the
 * replica count.
 *
 * @example
 * calculateStorageRequirements({ replicas: 3 });
 * // totalCpu: { cores: 0.3, millicores: 300, quantity: "300m", unit: "cores" }
 * // totalMemory: { bytes: 805306368, quantity: "768Mi", unit: "bytes" }
 * // estimatedThroughput: { imagesPerDay: { min: 300, max: 1500 }, unit: "images/day" }
 */
import { type DeepPartial, deepMerge, parseQuantity } from "./common.ts";
import {
  DOCKER_REGISTRY_COMPONENT,
  DOCKER_REGISTRY_DEFAULTS,
  type DockerRegistry,
  type DockerRegistryConfig,
} from "./docker-registry.ts";

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

/**
 * Resource totals and throughput estimate of a Docker Registry: `config` is the deep-partial
 * config of `dockerRegistry` (merged over the defaults) or a `dockerRegistry()` result. Throws an
 * Error naming the field when a quantity is invalid or replicas is not a non-negative integer.
 */
export function calculateStorageRequirements(
  config: DeepPartial<DockerRegistryConfig> | DockerRegistry = {},
): StorageRequirements {
  const input =
    (config as DockerRegistry).kind === "DockerRegistry" && (config as DockerRegistry).spec
      ? (config as DockerRegistry).spec
      : (config as DeepPartial<DockerRegistryConfig>);
  const spec = deepMerge(DOCKER_REGISTRY_DEFAULTS, input);
  const replicas = spec.replicas;
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new Error(`replicas: expected a non-negative integer, got ${String(replicas)}`);
  }
  const { requests, limits } = spec.resources;
  const cpuM = quantityAt("resources.requests.cpu", requests.cpu) * 1000;
  const memB = quantityAt("resources.requests.memory", requests.memory);
  const limCpuM = quantityAt("resources.limits.cpu", limits.cpu) * 1000;
  const limMemB = quantityAt("resources.limits.memory", limits.memory);

  const perReplica = { cpu: cpuAmount(cpuM), memory: memoryAmount(memB) };
  const perReplicaLimits = { cpu: cpuAmount(limCpuM), memory: memoryAmount(limMemB) };
  const components: ComponentRequirements[] = [
    { name: DOCKER_REGISTRY_COMPONENT, replicas, perReplica, perReplicaLimits },
  ];
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
        min: IMAGES_PER_DAY_PER_REPLICA.min * replicas,
        max: IMAGES_PER_DAY_PER_REPLICA.max * replicas,
      },
      unit: "images/day",
    },
    components,
  };
}
