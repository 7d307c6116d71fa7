/**
 * Reestr deploy kit: typed builders that render Kubernetes config for container registries
 * (Docker Registry, Harbor, Nexus, Artifactory), image pull secrets, registry policies and
 * image build configs. `import { harborRegistry, renderHarbor } from "reestr/deploy"`.
 * docs/deploy.md documents every builder with an example.
 */

export type {
  ArtifactoryConfig,
  ArtifactoryDatabaseType,
  ArtifactoryInput,
  ArtifactoryPackageRepositories,
  ArtifactoryRegistry,
} from "./artifactory.ts";
export {
  ARTIFACTORY_DEFAULTS,
  artifactoryApiRequests,
  artifactoryValues,
  renderArtifactory,
} from "./artifactory.ts";
export type {
  BuildConfigDocument,
  BuildConfigSpec,
  BuildSystem,
  ImageBuildConfig,
  ImageBuildConfigConfig,
  ImageBuildConfigInput,
} from "./build.ts";
export {
  BUILD_API_VERSION,
  buildSteps,
  IMAGE_BUILD_CONFIG_DEFAULTS,
  renderImageBuildConfig,
} from "./build.ts";
export type {
  ApiRequest,
  BuiltMetadata,
  DeepPartial,
  DocumentRenderOptions,
  DocumentType,
  HelmRenderOptions,
  HelmValues,
  K8sObject,
  Labels,
  RenderedDocument,
  RenderedRegistry,
  SecretGenerator,
} from "./common.ts";
export {
  cronError,
  DEPLOY_API_VERSION,
  deepMerge,
  harborCron,
  isValidCron,
  isValidQuantity,
  parseQuantity,
  randomSecret,
  standardLabels,
} from "./common.ts";
export type { Built } from "./define.ts";
export type {
  DockerRegistry,
  DockerRegistryConfig,
  DockerRegistryInput,
  LogFormat,
  LogLevel,
  MiddlewareEntry,
  NotificationEndpoint,
  RenderOptions,
  ResourceList,
} from "./docker-registry.ts";
export {
  DOCKER_REGISTRY_DEFAULTS,
  distributionConfig,
  distributionConfigYaml,
  dockerRegistryObjectNames,
  renderDockerRegistry,
  renderYaml,
  usesS3,
} from "./docker-registry.ts";
export type {
  HarborAuthMode,
  HarborConfig,
  HarborExposeType,
  HarborInput,
  HarborRegistry,
} from "./harbor.ts";
export {
  HARBOR_DEFAULTS,
  harborApiRequests,
  harborChartVersion,
  harborUserSettings,
  harborValues,
  renderHarbor,
} from "./harbor.ts";
export type { KindCluster, KindIntegration, KindIntegrationOptions, KindNode } from "./kind.ts";
export {
  CONTAINERD_CONFIG_PATH_PATCH,
  KIND_API_VERSION,
  kindClusterConfig,
  kindHostsToml,
  kindHostsTomlPath,
  kindIntegration,
  kindSetupCommands,
  localRegistryHostingConfigMap,
  registryContainerCommand,
  registryEndpointFromNodes,
  renderKindIntegration,
} from "./kind.ts";
export type { BuiltConfig, ConfigInputs, ConfigKind, ConfigTypes } from "./kinds.ts";
export {
  artifactoryRegistry,
  buildConfig,
  CONFIG_KINDS,
  canonicalKind,
  dockerRegistry,
  documentsYaml,
  documentYaml,
  harborRegistry,
  imageBuildConfig,
  imageReplicationPolicy,
  imageRetentionPolicy,
  imageScanPolicy,
  isBuiltConfig,
  KIND_ALIASES,
  nexusRegistry,
  renderDocuments,
} from "./kinds.ts";
export type {
  NexusBlobstore,
  NexusConfig,
  NexusFormatRepositories,
  NexusInput,
  NexusRegistry,
} from "./nexus.ts";
export { NEXUS_DEFAULTS, nexusApiRequests, nexusValues, renderNexus } from "./nexus.ts";
export type {
  ImageReplicationPolicy,
  ImageReplicationPolicyConfig,
  ImageReplicationPolicyInput,
  ImageRetentionPolicy,
  ImageRetentionPolicyConfig,
  ImageRetentionPolicyInput,
  ImageScanPolicy,
  ImageScanPolicyConfig,
  ImageScanPolicyInput,
  ReestrPolicy,
  ReplicationPolicySpec,
  RetentionPolicySpec,
  ScanPolicySpec,
  Severity,
  VulnerabilityAction,
} from "./policies.ts";
export {
  harborReplicationPolicy,
  harborRetentionPolicy,
  IMAGE_REPLICATION_POLICY_DEFAULTS,
  IMAGE_RETENTION_POLICY_DEFAULTS,
  IMAGE_SCAN_POLICY_DEFAULTS,
  POLICY_API_VERSION,
  renderImageReplicationPolicy,
  renderImageRetentionPolicy,
  renderImageScanPolicy,
} from "./policies.ts";
export type { DockerConfigJson, ImagePullSecretConfig, SeedImagePullSecretConfig } from "./pull-secret.ts";
export { dockerConfigJson, imagePullSecret, normalizePullSecretConfig } from "./pull-secret.ts";
export type {
  ComponentRequirements,
  CpuAmount,
  MemoryAmount,
  SizedKind,
  StorageRequirements,
} from "./sizing.ts";
export {
  calculateStorageRequirements,
  cpuAmount,
  IMAGES_PER_DAY_PER_REPLICA,
  memoryAmount,
} from "./sizing.ts";
export type { ValidationError, ValidationResult } from "./validate.ts";
export { validateCron, validateRegistryConfig } from "./validate.ts";
