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

export function imagePullSecret(name: string, config: ImagePullSecretConfig): K8sObject {
  if (!config.registry) throw new Error("imagePullSecret: registry is required");
  const json = JSON.stringify(dockerConfigJson(config));
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
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
