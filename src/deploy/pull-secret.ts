/**
 * Image pull secret: a `kubernetes.io/dockerconfigjson` Secret, the same object
 * `kubectl create secret docker-registry` makes, for Pods' `imagePullSecrets`.
 *
 * It takes one of two shapes, each a strict schema with its defaults: the flat one, or the
 * seed's ("mkImagePullSecret") with the credentials under `registry`, which normalizes to it.
 *
 * @example
 * const secret = imagePullSecret("reestr-pull", {
 *   registry: "registry.example.com", username: "ci", password: process.env.TOKEN!, namespace: "apps",
 * });
 */
import { z } from "zod";
import { isPlainObject, type K8sObject, MANAGED_BY, type ValidationError } from "./common.ts";
import { issueErrors, parseOrThrow } from "./schema.ts";

const REQUIRED = "required (a non-empty string)";
const required = z.string({ error: REQUIRED }).min(1, REQUIRED);
/** A DNS-1123 subdomain, what Kubernetes allows as a namespace or Secret name. */
const dnsName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS-1123 name (lowercase, digits, '-', '.')");

const credentialFields = {
  username: required,
  password: required,
  email: z.string().optional(),
};

/** Where the Secret goes; `name` is the seed's name of the config (the Secret's name is `secretName`). */
const placementFields = {
  name: z.string().optional(),
  /** Target namespace (seed default "default"). */
  namespace: dnsName.default("default"),
  /** The Secret's name; default: the name passed to imagePullSecret. */
  secretName: dnsName.optional(),
  labels: z.record(z.string(), z.string()).optional(),
};

const flatSchema = z.strictObject({
  /** Registry host (and port), e.g. "registry.example.com:5000". */
  registry: z.string().min(1, "required (the registry host, e.g. registry.example.com:5000)"),
  ...credentialFields,
  ...placementFields,
});

const seedSchema = z
  .strictObject({
    registry: z.strictObject({ server: z.string().min(1).default("docker.io"), ...credentialFields }),
    ...placementFields,
  })
  .transform(({ registry: { server, ...login }, ...placement }) => ({
    registry: server,
    ...login,
    ...placement,
  }));

export type ImagePullSecretConfig = z.input<typeof flatSchema>;
/** The seed's shape ("mkImagePullSecret"): credentials under `registry`, the Secret's name as `secretName`. */
export type SeedImagePullSecretConfig = z.input<typeof seedSchema>;
/** Either shape, normalized to the flat one with the defaults filled in. */
export type NormalizedPullSecretConfig = z.output<typeof flatSchema>;

/** The problems of a pull-secret config in either shape, each with its path (none when valid). */
export function pullSecretProblems(config: unknown): ValidationError[] {
  const seed = isPlainObject(config) && isPlainObject(config.registry);
  const result = (seed ? seedSchema : flatSchema).safeParse(config);
  return result.success ? [] : issueErrors(result.error);
}

/**
 * Either shape normalized to the flat one (defaults: namespace "default", the seed's server
 * "docker.io", an empty email left out); throws an Error naming each bad field.
 */
export function normalizePullSecretConfig(
  config: ImagePullSecretConfig | SeedImagePullSecretConfig,
): NormalizedPullSecretConfig {
  const seed = isPlainObject(config) && isPlainObject(config.registry);
  const { email, ...rest } = parseOrThrow(seed ? seedSchema : flatSchema, config, "imagePullSecret: ");
  return { ...rest, ...(email ? { email } : {}) };
}

export interface DockerConfigJson {
  auths: Record<string, { username: string; password: string; email?: string; auth: string }>;
}

/** The `.dockerconfigjson` document: `auths[registry].auth` is base64("username:password"). */
export function dockerConfigJson(config: {
  registry: string;
  username: string;
  password: string;
  email?: string;
}): DockerConfigJson {
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
  const json = JSON.stringify(dockerConfigJson(config));
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: config.secretName ?? name,
      namespace: config.namespace,
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
