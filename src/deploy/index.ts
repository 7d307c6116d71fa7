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
export type { DockerConfigJson, ImagePullSecretConfig } from "./pull-secret.ts";
export { dockerConfigJson, imagePullSecret } from "./pull-secret.ts";
export type { ValidationError, ValidationResult } from "./validate.ts";
export { validateCron, validateRegistryConfig } from "./validate.ts";
