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

import type { z } from "zod";
import { artifactoryComponents, artifactorySchema } from "./artifactory.ts";
import { parseQuantity, type Resources } from "./common.ts";
import {
  DOCKER_REGISTRY_COMPONENT,
  type DockerRegistry,
  type DockerRegistryInput,
  dockerRegistrySchema,
} from "./docker-registry.ts";
import { harborComponents, harborSchema } from "./harbor.ts";
import { isBuiltConfig } from "./kinds.ts";
import { nexusComponents, nexusSchema } from "./nexus.ts";
import { parseOrThrow } from "./schema.ts";

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

function quantityAt(path: string, value: string): number {
  try {
    return parseQuantity(value);
  } catch (error) {
    throw new Error(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

interface ComponentSpec {
  name: string;
  replicas: number;
  resources: Resources;
}

interface Sizing {
  components: ComponentSpec[];
  /** Replicas of the component serving pushes and pulls, with the path of their field. */
  throughput: { path: string; replicas: number };
}

/** How to size the deployments of one kind, from a deep-partial config or a builder's spec. */
function sizedKind<S extends z.ZodType>(schema: S, size: (spec: z.output<S>) => Sizing) {
  return (input: unknown): Sizing => size(parseOrThrow(schema, input));
}

/** The kinds that deploy something, with their components and the replica count that drives throughput. */
const SIZED_KINDS = {
  DockerRegistry: sizedKind(dockerRegistrySchema, (spec) => ({
    components: [{ name: DOCKER_REGISTRY_COMPONENT, replicas: spec.replicas, resources: spec.resources }],
    throughput: { path: "replicas", replicas: spec.replicas },
  })),
  HarborRegistry: sizedKind(harborSchema, (spec) => ({
    components: harborComponents(spec),
    // Pushes and pulls go through the registry component.
    throughput: { path: "registryReplicas", replicas: spec.registryReplicas },
  })),
  NexusRegistry: sizedKind(nexusSchema, (spec) => ({
    components: nexusComponents(spec),
    throughput: { path: "replicas", replicas: spec.replicas },
  })),
  ArtifactoryRegistry: sizedKind(artifactorySchema, (spec) => ({
    components: artifactoryComponents(spec),
    throughput: { path: "replicas", replicas: spec.replicas },
  })),
};

export type SizedKind = keyof typeof SIZED_KINDS;

function isSizedKind(kind: string): kind is SizedKind {
  return Object.keys(SIZED_KINDS).includes(kind);
}

/** The field holding a component's replica count: `replicas`, or `<component>Replicas` (Harbor). */
function replicasPath(kind: SizedKind, component: string): string {
  if (kind !== "HarborRegistry") return "replicas";
  // The Trivy adapter runs one replica, which is not an option.
  return component === "trivy" ? "trivy" : `${component}Replicas`;
}

function checkReplicas(path: string, replicas: number): number {
  if (replicas < 0) throw new Error(`${path}: expected a non-negative integer, got ${replicas}`);
  return replicas;
}

/**
 * Resource totals and throughput estimate of a registry deployment. `config` is a builder's
 * result (DockerRegistry, HarborRegistry, NexusRegistry, ArtifactoryRegistry), or a deep-partial
 * config of `kind` (default "DockerRegistry") parsed over that kind's defaults. Totals sum
 * replicas × requests (and × limits) over the components: the registry container of a Docker
 * Registry; core, jobservice, registry (and the Trivy adapter with the chart's requests, one
 * replica) of Harbor; the single Nexus or Artifactory container. Throughput is seed 002's
 * 100–500 images/day per replica of the component serving pushes and pulls, linear in replicas.
 * Throws an Error naming the field when the config does not match the kind's schema, a
 * quantity is invalid or a replica count is negative.
 */
export function calculateStorageRequirements(
  config: DockerRegistryInput | DockerRegistry | object = {},
  kind: SizedKind = "DockerRegistry",
): StorageRequirements {
  let sized = kind;
  let input: unknown = config;
  if (isBuiltConfig(config)) {
    if (!isSizedKind(config.kind)) {
      throw new Error(
        `kind: ${config.kind} deploys nothing to size (expected one of ${Object.keys(SIZED_KINDS).join(", ")})`,
      );
    }
    sized = config.kind;
    input = config.spec;
  }
  const sizing = SIZED_KINDS[sized](input);
  const components: ComponentRequirements[] = sizing.components.map((c) => {
    const base = c.name === "trivy" ? "trivy.resources" : "resources";
    const { requests, limits } = c.resources;
    return {
      name: c.name,
      replicas: checkReplicas(replicasPath(sized, c.name), c.replicas),
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
  const throughputReplicas = checkReplicas(sizing.throughput.path, sizing.throughput.replicas);
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
