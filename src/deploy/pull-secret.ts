/**
 * Image pull secret: a `kubernetes.io/dockerconfigjson` Secret, the same object
 * `kubectl create secret docker-registry` makes, for Pods' `imagePullSecrets`.
 *
 * @example
 * const secret = imagePullSecret("reestr-pull", {
 *   registry: "registry.example.com", username: "ci", password: process.env.TOKEN!, namespace: "apps",
 * });
 */
import { MANAGED_BY } from "./common.ts";
import type { K8sObject } from "./docker-registry.ts";

export interface ImagePullSecretConfig {
  /** Registry host (and port), e.g. "registry.example.com:5000"; the seed's default is "docker.io". */
  registry: string;
  username: string;
  password: string;
  email?: string;
  /** Target namespace (seed default "default"). */
  namespace?: string;
  labels?: Record<string, string>;
}

/** The seed's shape ("mkImagePullSecret"): credentials under `registry`, the Secret's name as `secretName`. */
export interface SeedImagePullSecretConfig {
  name?: string;
  registry: { server?: string; username: string; password: string; email?: string };
  namespace?: string;
  secretName?: string;
  labels?: Record<string, string>;
}

/** Converts the seed's shape to the flat one (defaults: server "docker.io", email ""); the flat shape passes through. */
export function normalizePullSecretConfig(
  config: ImagePullSecretConfig | SeedImagePullSecretConfig,
): ImagePullSecretConfig & { secretName?: string } {
  if (typeof config.registry === "object" && config.registry !== null) {
    const seed = config as SeedImagePullSecretConfig;
    return {
      registry: seed.registry.server ?? "docker.io",
      username: seed.registry.username,
      password: seed.registry.password,
      ...(seed.registry.email ? { email: seed.registry.email } : {}),
      namespace: seed.namespace ?? "default",
      ...(seed.labels ? { labels: seed.labels } : {}),
      ...(seed.secretName ? { secretName: seed.secretName } : {}),
    };
  }
  return config as ImagePullSecretConfig;
}

export interface DockerConfigJson {
  auths: Record<string, { username: string; password: string; email?: string; auth: string }>;
}

/** The `.dockerconfigjson` document: `auths[registry].auth` is base64("username:password"). */
export function dockerConfigJson(config: ImagePullSecretConfig): DockerConfigJson {
  const auth = Buffer.from(`${config.username}:${config.password}`, "utf8").toString("base64");
  return {
    auths: {
      [config.registry]: {
        username: config.username,
        password: config.password,
        ...(config.email ? { email: config.email } : {}),
        auth,
      },
    },
  };
}

export function imagePullSecret(
  name: string,
  input: ImagePullSecretConfig | SeedImagePullSecretConfig,
): K8sObject {
  const config = normalizePullSecretConfig(input);
  if (!config.registry) throw new Error("imagePullSecret: registry is required");
  const json = JSON.stringify(dockerConfigJson(config));
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: config.secretName ?? name,
      namespace: config.namespace ?? "default",
      labels: {
        ...config.labels,
        "app.kubernetes.io/name": "image-pull-secret",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": "credentials",
      },
    },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(json, "utf8").toString("base64") },
  };
}
