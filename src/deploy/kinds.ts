/**
 * The deploy kit's config kinds in one table: for each, its schema (options and defaults), the
 * builder's metadata, the semantic rules and the documents it renders to. The builders
 * (`dockerRegistry`, `harborRegistry`, …), validateRegistryConfig, calculateStorageRequirements,
 * renderDocuments and the `reestr deploy` CLI all come from it.
 */
import { ARTIFACTORY_APP, artifactoryProblems, artifactorySchema, renderArtifactory } from "./artifactory.ts";
import { imageBuildConfigProblems, imageBuildConfigSchema, renderImageBuildConfig } from "./build.ts";
import {
  builtMetadata,
  type DocumentRenderOptions,
  isPlainObject,
  policyMetadata,
  type RenderedDocument,
} from "./common.ts";
import { type AnyKind, type BaseMetadata, defineKind, type ValidationResult } from "./define.ts";
import {
  DOCKER_REGISTRY_APP,
  DOCKER_REGISTRY_COMPONENT,
  dockerRegistryProblems,
  dockerRegistrySchema,
  renderDockerRegistry,
} from "./docker-registry.ts";
import { buildConfigDocument, objectDocument, policyDocuments, registryDocuments } from "./documents.ts";
import { HARBOR_APP, harborProblems, harborSchema, renderHarbor } from "./harbor.ts";
import { NEXUS_APP, nexusProblems, nexusSchema, renderNexus } from "./nexus.ts";
import {
  imageReplicationPolicyProblems,
  imageReplicationPolicySchema,
  imageRetentionPolicyProblems,
  imageRetentionPolicySchema,
  imageScanPolicyProblems,
  imageScanPolicySchema,
  renderImageReplicationPolicy,
  renderImageRetentionPolicy,
  renderImageScanPolicy,
} from "./policies.ts";

export type { DocumentRenderOptions } from "./common.ts";
export type { ValidationResult } from "./define.ts";
export { documentsYaml, documentYaml } from "./documents.ts";

const KINDS = {
  DockerRegistry: defineKind({
    kind: "DockerRegistry",
    schema: dockerRegistrySchema,
    metadata: (spec) => builtMetadata(spec, DOCKER_REGISTRY_APP, DOCKER_REGISTRY_COMPONENT),
    problems: dockerRegistryProblems,
    render: (registry, options) => renderDockerRegistry(registry, options).map(objectDocument),
  }),
  HarborRegistry: defineKind({
    kind: "HarborRegistry",
    schema: harborSchema,
    metadata: (spec) => builtMetadata(spec, HARBOR_APP, "registry"),
    problems: harborProblems,
    render: (harbor, options) => registryDocuments(harbor.metadata.name, renderHarbor(harbor, options)),
  }),
  NexusRegistry: defineKind({
    kind: "NexusRegistry",
    schema: nexusSchema,
    metadata: (spec) => builtMetadata(spec, NEXUS_APP, "repository"),
    problems: nexusProblems,
    render: (nexus) => registryDocuments(nexus.metadata.name, renderNexus(nexus)),
  }),
  ArtifactoryRegistry: defineKind({
    kind: "ArtifactoryRegistry",
    schema: artifactorySchema,
    metadata: (spec) => builtMetadata(spec, ARTIFACTORY_APP, "repository"),
    problems: artifactoryProblems,
    render: (artifactory, options) =>
      registryDocuments(artifactory.metadata.name, renderArtifactory(artifactory, options)),
  }),
  ImageScanPolicy: defineKind({
    kind: "ImageScanPolicy",
    schema: imageScanPolicySchema,
    metadata: (spec) => policyMetadata("image-scan-policy", spec.name, "policy"),
    problems: imageScanPolicyProblems,
    render: (policy) => policyDocuments(policy.metadata.name, renderImageScanPolicy(policy)),
  }),
  ImageRetentionPolicy: defineKind({
    kind: "ImageRetentionPolicy",
    schema: imageRetentionPolicySchema,
    metadata: (spec) => policyMetadata("image-retention-policy", spec.name, "policy"),
    problems: imageRetentionPolicyProblems,
    render: (policy) => policyDocuments(policy.metadata.name, renderImageRetentionPolicy(policy)),
  }),
  ImageReplicationPolicy: defineKind({
    kind: "ImageReplicationPolicy",
    schema: imageReplicationPolicySchema,
    metadata: (spec) => policyMetadata("image-replication-policy", spec.name, "policy"),
    problems: imageReplicationPolicyProblems,
    render: (policy) => policyDocuments(policy.metadata.name, renderImageReplicationPolicy(policy)),
  }),
  ImageBuildConfig: defineKind({
    kind: "ImageBuildConfig",
    schema: imageBuildConfigSchema,
    metadata: (spec) => policyMetadata("image-build", spec.name, "build"),
    problems: imageBuildConfigProblems,
    render: (build) => [buildConfigDocument(build.metadata.name, renderImageBuildConfig(build))],
  }),
} satisfies { [K in ConfigKind]: AnyKind<K> };

/**
 * The builders, `builder(name, config)`: `config` (any subset of the options, at any depth;
 * arrays replace the default) parsed by the kind's schema over its defaults, `name` the default
 * of the `name` option. An unknown key or a wrong type throws an Error naming each bad field.
 */
export const dockerRegistry = KINDS.DockerRegistry.build;
export const harborRegistry = KINDS.HarborRegistry.build;
export const nexusRegistry = KINDS.NexusRegistry.build;
export const artifactoryRegistry = KINDS.ArtifactoryRegistry.build;
export const imageScanPolicy = KINDS.ImageScanPolicy.build;
export const imageRetentionPolicy = KINDS.ImageRetentionPolicy.build;
export const imageReplicationPolicy = KINDS.ImageReplicationPolicy.build;
export const imageBuildConfig = KINDS.ImageBuildConfig.build;

export const CONFIG_KINDS = [
  "DockerRegistry",
  "HarborRegistry",
  "NexusRegistry",
  "ArtifactoryRegistry",
  "ImageScanPolicy",
  "ImageRetentionPolicy",
  "ImageReplicationPolicy",
  "ImageBuildConfig",
] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];

/** Each kind's config with every option set (a builder's `spec`). */
export type ConfigTypes = { [K in ConfigKind]: ReturnType<(typeof KINDS)[K]["build"]>["spec"] };
/** Each kind's builder input: any subset of the options, at any depth. */
export type ConfigInputs = { [K in ConfigKind]: NonNullable<Parameters<(typeof KINDS)[K]["build"]>[1]> };

/** Short names accepted wherever a kind is (`kind: harbor` in a config file). */
export const KIND_ALIASES: Record<string, ConfigKind> = {
  "docker-registry": "DockerRegistry",
  docker: "DockerRegistry",
  harbor: "HarborRegistry",
  nexus: "NexusRegistry",
  artifactory: "ArtifactoryRegistry",
  "scan-policy": "ImageScanPolicy",
  "retention-policy": "ImageRetentionPolicy",
  "replication-policy": "ImageReplicationPolicy",
  "build-config": "ImageBuildConfig",
};

/** The canonical kind for a kind or alias (case-insensitive), or undefined. */
export function canonicalKind(kind: string): ConfigKind | undefined {
  const exact = CONFIG_KINDS.find((k) => k.toLowerCase() === kind.toLowerCase());
  return exact ?? KIND_ALIASES[kind.toLowerCase()];
}

/** A builder's result, whatever its kind. */
export interface BuiltConfig {
  apiVersion: string;
  kind: ConfigKind;
  metadata: BaseMetadata;
  spec: unknown;
}

export function isConfigKind(value: unknown): value is ConfigKind {
  return CONFIG_KINDS.some((kind) => kind === value);
}

/** True for a builder's result (its kind and a spec object). */
export function isBuiltConfig(value: unknown): value is BuiltConfig {
  return (
    isPlainObject(value) &&
    isConfigKind(value["kind"]) &&
    typeof value["spec"] === "object" &&
    value["spec"] !== null &&
    typeof value["apiVersion"] === "string"
  );
}

/** Builds a config of `kind`: `config` over the kind's defaults. Throws naming each bad field. */
export function buildConfig<K extends ConfigKind>(
  kind: K,
  name: string,
  config?: ConfigInputs[K],
): BuiltConfig {
  return KINDS[kind].buildUnknown(name, config ?? {});
}

/** Schema and semantic validation of a deep-partial config of `kind`. */
export function validateKind(kind: ConfigKind, config: unknown): ValidationResult {
  return KINDS[kind].validate(config);
}

/**
 * The documents a built config renders to, in apply order. The config is rebuilt from its spec
 * (the builders derive the metadata from it), so a hand-written result renders like a built one.
 */
export function renderDocuments(built: BuiltConfig, options: DocumentRenderOptions = {}): RenderedDocument[] {
  return KINDS[built.kind].renderBuilt(built, options);
}
