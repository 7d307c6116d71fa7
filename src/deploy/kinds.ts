/**
 * The deploy kit's config kinds in one table: for each, its builder, defaults, schema, semantic
 * rules and renderer to output documents. validateRegistryConfig, calculateStorageRequirements,
 * renderDocuments and the `reestr deploy` CLI all dispatch through it.
 */
import { stringify } from "yaml";
import type { z } from "zod";
import {
  ARTIFACTORY_DEFAULTS,
  type ArtifactoryConfig,
  artifactoryProblems,
  artifactoryRegistry,
  artifactorySchema,
  renderArtifactory,
} from "./artifactory.ts";
import {
  IMAGE_BUILD_CONFIG_DEFAULTS,
  type ImageBuildConfigConfig,
  imageBuildConfig,
  imageBuildConfigProblems,
  imageBuildConfigSchema,
  renderImageBuildConfig,
} from "./build.ts";
import {
  type ApiRequest,
  type DeepPartial,
  deepMerge,
  fileSafe,
  type HelmValues,
  Problems,
  type RenderedDocument,
  type SecretGenerator,
} from "./common.ts";
import {
  DOCKER_REGISTRY_DEFAULTS,
  type DockerRegistryConfig,
  dockerRegistry,
  dockerRegistryProblems,
  dockerRegistrySchema,
  type K8sObject,
  renderDockerRegistry,
} from "./docker-registry.ts";
import {
  HARBOR_DEFAULTS,
  type HarborConfig,
  harborProblems,
  harborRegistry,
  harborSchema,
  renderHarbor,
} from "./harbor.ts";
import {
  NEXUS_DEFAULTS,
  type NexusConfig,
  nexusProblems,
  nexusRegistry,
  nexusSchema,
  renderNexus,
} from "./nexus.ts";
import {
  IMAGE_REPLICATION_POLICY_DEFAULTS,
  IMAGE_RETENTION_POLICY_DEFAULTS,
  IMAGE_SCAN_POLICY_DEFAULTS,
  type ImageReplicationPolicyConfig,
  type ImageRetentionPolicyConfig,
  type ImageScanPolicyConfig,
  imageReplicationPolicy,
  imageReplicationPolicyProblems,
  imageReplicationPolicySchema,
  imageRetentionPolicy,
  imageRetentionPolicyProblems,
  imageRetentionPolicySchema,
  imageScanPolicy,
  imageScanPolicyProblems,
  imageScanPolicySchema,
  renderImageReplicationPolicy,
  renderImageRetentionPolicy,
  renderImageScanPolicy,
} from "./policies.ts";
import { schemaErrors } from "./schema.ts";

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

export interface ConfigTypes {
  DockerRegistry: DockerRegistryConfig;
  HarborRegistry: HarborConfig;
  NexusRegistry: NexusConfig;
  ArtifactoryRegistry: ArtifactoryConfig;
  ImageScanPolicy: ImageScanPolicyConfig;
  ImageRetentionPolicy: ImageRetentionPolicyConfig;
  ImageReplicationPolicy: ImageReplicationPolicyConfig;
  ImageBuildConfig: ImageBuildConfigConfig;
}

/** A builder's result, whatever its kind. */
export interface BuiltConfig {
  apiVersion: string;
  kind: ConfigKind;
  metadata: { name: string; namespace?: string };
  spec: unknown;
}

export interface DocumentRenderOptions {
  generateSecret?: SecretGenerator;
}

interface KindEntry {
  defaults: object;
  schema: z.ZodType;
  problems: (spec: never, problems: Problems) => void;
  build: (name: string, config: never) => BuiltConfig;
  render: (built: never, options: DocumentRenderOptions) => RenderedDocument[];
}

function objectDocument(object: K8sObject): RenderedDocument {
  return { type: "object", file: fileSafe(`${object.kind}-${object.metadata.name}.yaml`), content: object };
}

function helmDocument(helm: HelmValues): RenderedDocument {
  const version = helm.chartVersion ? ` --version ${helm.chartVersion}` : "";
  return {
    type: "helm-values",
    file: `helm/${fileSafe(`values-${helm.release}.yaml`)}`,
    comment: `Helm values: helm upgrade --install ${helm.release} ${helm.chart} --repo ${helm.repository}${version} --namespace ${helm.namespace} -f helm/values-${helm.release}.yaml`,
    content: helm.values,
  };
}

function apiDocuments(name: string, requests: ApiRequest[]): RenderedDocument[] {
  return requests.map((request, i) => ({
    type: "api-request",
    file: `api/${fileSafe(`${request.target}-${name}-${String(i + 1).padStart(2, "0")}.json`)}`,
    comment: `${request.target} API: ${request.method} ${request.path} (${request.description})`,
    content: request,
  }));
}

function registryDocuments(
  name: string,
  rendered: { objects: K8sObject[]; helm: HelmValues; api: ApiRequest[] },
): RenderedDocument[] {
  return [
    ...rendered.objects.map(objectDocument),
    helmDocument(rendered.helm),
    ...apiDocuments(name, rendered.api),
  ];
}

function policyDocuments(
  name: string,
  rendered: { policy: { kind: string; metadata: { name: string } }; api: ApiRequest[] },
): RenderedDocument[] {
  return [
    {
      type: "reestr-policy",
      file: `policy/${fileSafe(`${rendered.policy.kind}-${name}.yaml`)}`,
      comment: `Reestr policy ${rendered.policy.kind} "${name}"`,
      content: rendered.policy,
    },
    ...apiDocuments(name, rendered.api),
  ];
}

const KINDS: Record<ConfigKind, KindEntry> = {
  DockerRegistry: {
    defaults: DOCKER_REGISTRY_DEFAULTS,
    schema: dockerRegistrySchema,
    problems: dockerRegistryProblems as KindEntry["problems"],
    build: dockerRegistry as KindEntry["build"],
    render: ((built: ReturnType<typeof dockerRegistry>, options: DocumentRenderOptions) =>
      renderDockerRegistry(built, options).map(objectDocument)) as KindEntry["render"],
  },
  HarborRegistry: {
    defaults: HARBOR_DEFAULTS,
    schema: harborSchema,
    problems: harborProblems as KindEntry["problems"],
    build: harborRegistry as KindEntry["build"],
    render: ((built: ReturnType<typeof harborRegistry>, options: DocumentRenderOptions) =>
      registryDocuments(built.metadata.name, renderHarbor(built, options))) as KindEntry["render"],
  },
  NexusRegistry: {
    defaults: NEXUS_DEFAULTS,
    schema: nexusSchema,
    problems: nexusProblems as KindEntry["problems"],
    build: nexusRegistry as KindEntry["build"],
    render: ((built: ReturnType<typeof nexusRegistry>) =>
      registryDocuments(built.metadata.name, renderNexus(built))) as KindEntry["render"],
  },
  ArtifactoryRegistry: {
    defaults: ARTIFACTORY_DEFAULTS,
    schema: artifactorySchema,
    problems: artifactoryProblems as KindEntry["problems"],
    build: artifactoryRegistry as KindEntry["build"],
    render: ((built: ReturnType<typeof artifactoryRegistry>, options: DocumentRenderOptions) =>
      registryDocuments(built.metadata.name, renderArtifactory(built, options))) as KindEntry["render"],
  },
  ImageScanPolicy: {
    defaults: IMAGE_SCAN_POLICY_DEFAULTS,
    schema: imageScanPolicySchema,
    problems: imageScanPolicyProblems as KindEntry["problems"],
    build: imageScanPolicy as KindEntry["build"],
    render: ((built: ReturnType<typeof imageScanPolicy>) =>
      policyDocuments(built.metadata.name, renderImageScanPolicy(built))) as KindEntry["render"],
  },
  ImageRetentionPolicy: {
    defaults: IMAGE_RETENTION_POLICY_DEFAULTS,
    schema: imageRetentionPolicySchema,
    problems: imageRetentionPolicyProblems as KindEntry["problems"],
    build: imageRetentionPolicy as KindEntry["build"],
    render: ((built: ReturnType<typeof imageRetentionPolicy>) =>
      policyDocuments(built.metadata.name, renderImageRetentionPolicy(built))) as KindEntry["render"],
  },
  ImageReplicationPolicy: {
    defaults: IMAGE_REPLICATION_POLICY_DEFAULTS,
    schema: imageReplicationPolicySchema,
    problems: imageReplicationPolicyProblems as KindEntry["problems"],
    build: imageReplicationPolicy as KindEntry["build"],
    render: ((built: ReturnType<typeof imageReplicationPolicy>) =>
      policyDocuments(built.metadata.name, renderImageReplicationPolicy(built))) as KindEntry["render"],
  },
  ImageBuildConfig: {
    defaults: IMAGE_BUILD_CONFIG_DEFAULTS,
    schema: imageBuildConfigSchema,
    problems: imageBuildConfigProblems as KindEntry["problems"],
    build: imageBuildConfig as KindEntry["build"],
    render: ((built: ReturnType<typeof imageBuildConfig>) => [
      {
        type: "build-config",
        file: `build/${fileSafe(`${built.metadata.name}.yaml`)}`,
        comment: `Build config "${built.metadata.name}" for CI (steps run in order)`,
        content: renderImageBuildConfig(built),
      },
    ]) as KindEntry["render"],
  },
};

export function isConfigKind(value: unknown): value is ConfigKind {
  return typeof value === "string" && (CONFIG_KINDS as readonly string[]).includes(value);
}

/** True for a builder's result (its kind and a spec object). */
export function isBuiltConfig(value: unknown): value is BuiltConfig {
  return (
    typeof value === "object" &&
    value !== null &&
    isConfigKind((value as { kind?: unknown }).kind) &&
    typeof (value as { spec?: unknown }).spec === "object" &&
    (value as { spec?: unknown }).spec !== null &&
    typeof (value as { apiVersion?: unknown }).apiVersion === "string"
  );
}

/** Builds a config of `kind`: `config` merged over the kind's defaults. */
export function buildConfig<K extends ConfigKind>(
  kind: K,
  name: string,
  config: DeepPartial<ConfigTypes[K]> = {} as DeepPartial<ConfigTypes[K]>,
): BuiltConfig {
  return (KINDS[kind].build as (name: string, config: unknown) => BuiltConfig)(name, config);
}

export interface ValidationResult {
  valid: boolean;
  errors: { path: string; message: string }[];
  /** Things the rendered output leaves to the user or cannot express; they do not make the config invalid. */
  warnings: { path: string; message: string }[];
}

/** Schema and semantic validation of a deep-partial config of `kind`. */
export function validateKind(kind: ConfigKind, config: unknown): ValidationResult {
  const entry = KINDS[kind];
  const parsed = schemaErrors(entry.schema, config ?? {});
  if (!parsed.ok) return { valid: false, errors: parsed.errors, warnings: [] };
  const spec = deepMerge(
    entry.defaults as Record<string, unknown>,
    parsed.data as DeepPartial<Record<string, unknown>>,
  );
  const problems = new Problems();
  (entry.problems as (spec: unknown, problems: Problems) => void)(spec, problems);
  return { valid: problems.errors.length === 0, errors: problems.errors, warnings: problems.warnings };
}

/** The documents a built config renders to, in apply order. */
export function renderDocuments(built: BuiltConfig, options: DocumentRenderOptions = {}): RenderedDocument[] {
  return (
    KINDS[built.kind].render as (built: BuiltConfig, options: DocumentRenderOptions) => RenderedDocument[]
  )(built, options);
}

/** One document as YAML; documents other than Kubernetes objects start with a "# ..." line saying what they are. */
export function documentYaml(document: RenderedDocument): string {
  const comment = document.comment ? `# ${document.comment}\n` : "";
  // No anchors/aliases: each document stands alone, as kubectl and helm expect.
  return comment + stringify(document.content, { aliasDuplicateObjects: false });
}

/** Documents as one multi-document YAML stream. */
export function documentsYaml(documents: readonly RenderedDocument[]): string {
  return documents.map(documentYaml).join("---\n");
}
