/**
 * Reestr deploy kit: typed builders that render Kubernetes config for container registries.
 * `import { dockerRegistry, renderDockerRegistry } from "reestr/deploy"`.
 */
export type { DeepPartial, Labels } from "./common.ts";
export {
  cronError,
  DEPLOY_API_VERSION,
  deepMerge,
  isValidCron,
  isValidQuantity,
  parseQuantity,
  standardLabels,
} from "./common.ts";
export type {
  DockerRegistry,
  DockerRegistryConfig,
  K8sObject,
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
  dockerRegistry,
  dockerRegistryObjectNames,
  renderDockerRegistry,
  renderYaml,
  usesS3,
} from "./docker-registry.ts";
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
  registryEndpointFromNodes,
  renderKindIntegration,
} from "./kind.ts";
export type { DockerConfigJson, ImagePullSecretConfig } from "./pull-secret.ts";
export { dockerConfigJson, imagePullSecret } from "./pull-secret.ts";
export type { ComponentRequirements, CpuAmount, MemoryAmount, StorageRequirements } from "./sizing.ts";
export {
  calculateStorageRequirements,
  cpuAmount,
  IMAGES_PER_DAY_PER_REPLICA,
  memoryAmount,
} from "./sizing.ts";
export type { ValidationError, ValidationResult } from "./validate.ts";
export { validateCron, validateRegistryConfig } from "./validate.ts";
