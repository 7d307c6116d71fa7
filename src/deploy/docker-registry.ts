/**
 * Docker Registry (CNCF Distribution v2): schema, semantic rules and renderer.
 *
 * `dockerRegistrySchema` holds every option of seed 002 ("mkDockerRegistry") with its default,
 * plus a few documented Reestr extensions the seed leaves out but a working deployment needs
 * (persistence size, delete, HTTP secret, htpasswd auth, debug/health listener); the builder
 * `dockerRegistry(name, config)` (kinds.ts) parses a deep-partial config with it.
 * `renderDockerRegistry(obj)` turns the result into Kubernetes objects a user can
 * `kubectl apply`: ConfigMap (Distribution `config.yml`), Secret, PersistentVolumeClaim
 * (filesystem storage only), Deployment and Service.
 *
 * Credentials never go into the ConfigMap: S3 keys and the HTTP secret reach the container as
 * `REGISTRY_*` environment variables from the Secret (Distribution's config override mechanism),
 * and htpasswd/TLS/token files are mounted from Secrets referenced by name.
 *
 * @example
 * const registry = dockerRegistry("local", { namespace: "registry", storage: { driver: "filesystem" } });
 * const objects = renderDockerRegistry(registry); // stringify with renderYaml(objects)
 */
import { posix } from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import {
  type BuiltMetadata,
  copyResources,
  GO_DURATION,
  type K8sObject,
  objectMeta,
  type Problems,
  podMeta,
  randomSecret,
  type SecretGenerator,
  selectorLabels,
} from "./common.ts";
import type { Built } from "./define.ts";
import { integer, registryIdentity, stringList, workloadFields } from "./schema.ts";

export type { K8sObject, ResourceList } from "./common.ts";

const logLevel = z.enum(["error", "warn", "info", "debug"]);
const logFormat = z.enum(["json", "text", "logstash"]);

const middlewareEntry = z.strictObject({
  name: z.string().min(1),
  options: z.record(z.string(), z.unknown()).optional(),
});

/** One Distribution notification endpoint (`notifications.endpoints[]` of config.yml). */
const notificationEndpoint = z.strictObject({
  name: z.string().min(1),
  url: z.url(),
  headers: z.record(z.string(), z.array(z.string())).optional(),
  /** Go duration, e.g. "1s". */
  timeout: z.string().optional(),
  threshold: z.number().int().min(1).optional(),
  /** Go duration, e.g. "10s". */
  backoff: z.string().optional(),
  disabled: z.boolean().optional(),
  ignoredmediatypes: z.array(z.string()).optional(),
});

/** The seed's default token realm: Docker Hub's token service. */
export const DOCKER_HUB_TOKEN_REALM = "https://auth.docker.io/v2/token";

/** The seed's options with their defaults, plus the Reestr extensions (marked). */
export const dockerRegistrySchema = z
  .strictObject({
    ...registryIdentity("registry", "2.8"),
    replicas: integer.default(1),
    /** Container image; by default `registry:<version>` (filled in below). */
    image: z.string().min(1).default(""),
    storage: z
      .strictObject({
        /** "filesystem" or "s3"; `s3.enabled = true` selects S3 as well. */
        driver: z.enum(["filesystem", "s3"]).default("filesystem"),
        filesystem: z
          .strictObject({
            rootdirectory: z.string().min(1).default("/var/lib/registry"),
            maxthreads: z.number().int().min(25).default(100),
          })
          .prefault({}),
        s3: z
          .strictObject({
            enabled: z.boolean().default(false),
            accesskey: z.string().default(""),
            secretkey: z.string().default(""),
            region: z.string().default("us-east-1"),
            bucket: z.string().default("registry"),
            encrypt: z.boolean().default(true),
            secure: z.boolean().default(true),
            /** Reestr extension: S3-compatible endpoint (MinIO…); empty = AWS. */
            regionendpoint: z.string().default(""),
            /** Reestr extension: existing Secret with keys `s3-accesskey` and `s3-secretkey` (instead of inline keys). */
            existingSecret: z.string().default(""),
          })
          .prefault({}),
        /** Reestr extension: allow deleting manifests and blobs (needed by retention and GC). */
        delete: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
        /** Reestr extension: the PersistentVolumeClaim backing filesystem storage. */
        persistence: z
          .strictObject({
            enabled: z.boolean().default(true),
            size: z.string().default("10Gi"),
            storageClassName: z.string().default(""),
            accessModes: z
              .array(z.enum(["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]))
              .prefault(["ReadWriteOnce"]),
          })
          .prefault({}),
      })
      .prefault({}),
    http: z
      .strictObject({
        addr: z.string().default(":5000"),
        net: z.enum(["tcp", "unix"]).default("tcp"),
        tlsenabled: z.boolean().default(false),
        /** Path of the certificate inside the container. */
        tlscertificate: z.string().default(""),
        /** Path of the key inside the container. */
        tlskey: z.string().default(""),
        /** Reestr extension: Secret mounted at `tlsMountPath` (e.g. a kubernetes.io/tls Secret). */
        tlsSecretName: z.string().default(""),
        tlsMountPath: z.string().default("/etc/registry/tls"),
        /** Reestr extension: shared upload secret for all replicas; empty = random at render time. */
        secret: z.string().default(""),
        /** Reestr extension: debug listener (serves `/debug/health`, used by the probes). */
        debugAddr: z.string().default(":5001"),
      })
      .prefault({}),
    auth: z
      .strictObject({
        enabled: z.boolean().default(true),
        scheme: z.enum(["bearer", "htpasswd"]).default("bearer"),
        token: z
          .strictObject({
            realm: z.string().default(DOCKER_HUB_TOKEN_REALM),
            service: z.string().default("registry"),
            issuer: z.string().default("registry-token-issuer"),
            rootcertbundle: z.string().default("/etc/registry/root.crt"),
            /** Reestr extension: Secret mounted at the directory of `rootcertbundle`. */
            secretName: z.string().default(""),
          })
          .prefault({}),
        /** Reestr extension: htpasswd auth (scheme "htpasswd"). */
        htpasswd: z
          .strictObject({
            realm: z.string().default("registry"),
            path: z.string().default("/auth/htpasswd"),
            /** Existing Secret with key `htpasswd`; used when `entries` is empty. */
            secretName: z.string().default(""),
            /** bcrypt lines (`htpasswd -Bbn user pass`) rendered into the registry's Secret. */
            entries: stringList(),
          })
          .prefault({}),
      })
      .prefault({}),
    middleware: z
      .strictObject({
        storage: z.array(middlewareEntry).prefault([]),
        registry: z.array(middlewareEntry).prefault([]),
      })
      .prefault({}),
    log: z.strictObject({ level: logLevel.default("info"), format: logFormat.default("json") }).prefault({}),
    notifications: z.strictObject({ endpoints: z.array(notificationEndpoint).optional() }).prefault({}),
    ...workloadFields({
      limits: { cpu: "1000m", memory: "512Mi" },
      requests: { cpu: "100m", memory: "256Mi" },
    }),
  })
  // A version alone picks the matching official image.
  .transform((spec) => ({ ...spec, image: spec.image || `registry:${spec.version}` }));

/** What dockerRegistry() takes: any subset of the options, at any depth. */
export type DockerRegistryInput = z.input<typeof dockerRegistrySchema>;
export type DockerRegistryConfig = z.output<typeof dockerRegistrySchema>;
export type LogLevel = z.output<typeof logLevel>;
export type LogFormat = z.output<typeof logFormat>;
export type MiddlewareEntry = z.output<typeof middlewareEntry>;
export type NotificationEndpoint = z.output<typeof notificationEndpoint>;
export type DockerRegistry = Built<"DockerRegistry", BuiltMetadata, DockerRegistryConfig>;

/** The seed's defaults, plus the Reestr extensions (marked in dockerRegistrySchema). */
export const DOCKER_REGISTRY_DEFAULTS: DockerRegistryConfig = dockerRegistrySchema.parse({});

export const DOCKER_REGISTRY_APP = "docker-registry";
export const DOCKER_REGISTRY_COMPONENT = "registry";

/** True when the registry stores blobs in S3 (driver "s3" or `s3.enabled`). */
export function usesS3(spec: DockerRegistryConfig): boolean {
  return spec.storage.driver === "s3" || spec.storage.s3.enabled;
}

/** S3 keys given inline (rendered into the registry's Secret) rather than by an existing Secret. */
function inlineS3Keys(spec: DockerRegistryConfig): boolean {
  return usesS3(spec) && !spec.storage.s3.existingSecret && spec.storage.s3.accesskey !== "";
}

function usesHtpasswd(spec: DockerRegistryConfig): boolean {
  return spec.auth.enabled && spec.auth.scheme === "htpasswd";
}

/** htpasswd entries given inline (rendered into the registry's Secret). */
function inlineHtpasswd(spec: DockerRegistryConfig): boolean {
  return usesHtpasswd(spec) && spec.auth.htpasswd.entries.length > 0;
}

/** The port of a listen address like ":5000" or "0.0.0.0:5000". */
export function portOf(addr: string): number {
  const match = /:(\d+)$/.exec(addr);
  if (!match) throw new Error(`cannot find a port in listen address "${addr}"`);
  return Number(match[1]);
}

export interface RenderOptions {
  /**
   * Paths that differ when the config is used outside Kubernetes (tests run Distribution
   * directly): the htpasswd file. Defaults to the config's own paths.
   */
  htpasswdPath?: string;
  /** Makes the HTTP secret when the config has none (default: random from node:crypto). */
  generateSecret?: SecretGenerator;
}

function distributionStorage(spec: DockerRegistryConfig): Record<string, unknown> {
  const s3 = spec.storage.s3;
  const backend = usesS3(spec)
    ? {
        s3: {
          region: s3.region,
          bucket: s3.bucket,
          encrypt: s3.encrypt,
          secure: s3.secure,
          ...(s3.regionendpoint ? { regionendpoint: s3.regionendpoint } : {}),
        },
      }
    : { filesystem: { ...spec.storage.filesystem } };
  return {
    ...backend,
    delete: { enabled: spec.storage.delete.enabled },
    cache: { blobdescriptor: "inmemory" },
  };
}

function distributionHttp(spec: DockerRegistryConfig): Record<string, unknown> {
  const http = spec.http;
  return {
    addr: http.addr,
    net: http.net,
    ...(http.tlsenabled ? { tls: { certificate: http.tlscertificate, key: http.tlskey } } : {}),
    ...(http.debugAddr ? { debug: { addr: http.debugAddr } } : {}),
    headers: { "X-Content-Type-Options": ["nosniff"] },
  };
}

function distributionAuth(spec: DockerRegistryConfig, options: RenderOptions): Record<string, unknown> {
  if (!spec.auth.enabled) return {};
  if (spec.auth.scheme === "htpasswd") {
    const { realm, path } = spec.auth.htpasswd;
    return { auth: { htpasswd: { realm, path: options.htpasswdPath ?? path } } };
  }
  const { realm, service, issuer, rootcertbundle } = spec.auth.token;
  return { auth: { token: { realm, service, issuer, rootcertbundle } } };
}

function distributionMiddleware(spec: DockerRegistryConfig): Record<string, unknown> {
  const { storage, registry } = spec.middleware;
  if (storage.length === 0 && registry.length === 0) return {};
  return {
    middleware: { ...(storage.length > 0 ? { storage } : {}), ...(registry.length > 0 ? { registry } : {}) },
  };
}

function distributionNotifications(spec: DockerRegistryConfig): Record<string, unknown> {
  const endpoints = spec.notifications.endpoints ?? [];
  if (endpoints.length === 0) return {};
  return {
    notifications: {
      endpoints: endpoints.map((e) => ({
        name: e.name,
        url: e.url,
        ...(e.disabled !== undefined ? { disabled: e.disabled } : {}),
        ...(e.headers ? { headers: e.headers } : {}),
        timeout: e.timeout ?? "1s",
        threshold: e.threshold ?? 5,
        backoff: e.backoff ?? "10s",
        ...(e.ignoredmediatypes ? { ignoredmediatypes: e.ignoredmediatypes } : {}),
      })),
    },
  };
}

/**
 * The Distribution `config.yml` (version 0.1) as an object. Credentials (S3 keys, HTTP secret)
 * are left out: the Deployment passes them as environment variables from the Secret.
 */
export function distributionConfig(
  spec: DockerRegistryConfig,
  options: RenderOptions = {},
): Record<string, unknown> {
  return {
    version: 0.1,
    log: {
      level: spec.log.level,
      formatter: spec.log.format,
      fields: { service: "registry", instance: spec.name },
    },
    storage: distributionStorage(spec),
    http: distributionHttp(spec),
    ...distributionAuth(spec, options),
    ...distributionMiddleware(spec),
    ...distributionNotifications(spec),
    health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
  };
}

/** `distributionConfig` as YAML text, ready for `docker-registry serve`. */
export function distributionConfigYaml(spec: DockerRegistryConfig, options: RenderOptions = {}): string {
  return stringify(distributionConfig(spec, options));
}

const CONFIG_MOUNT = "/etc/docker/registry";

/** Names of the objects renderDockerRegistry creates for a registry called `name`. */
export function dockerRegistryObjectNames(name: string): {
  configMap: string;
  secret: string;
  pvc: string;
  deployment: string;
  service: string;
} {
  return {
    configMap: `${name}-config`,
    secret: `${name}-secret`,
    pvc: `${name}-data`,
    deployment: name,
    service: name,
  };
}

function renderConfigMap(registry: DockerRegistry): K8sObject {
  const names = dockerRegistryObjectNames(registry.spec.name);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: objectMeta(registry.metadata, names.configMap),
    data: { "config.yml": distributionConfigYaml(registry.spec) },
  };
}

/** The registry's own Secret: HTTP secret, inline S3 keys, inline htpasswd entries. */
function renderSecret(registry: DockerRegistry, options: RenderOptions): K8sObject {
  const spec = registry.spec;
  const stringData: Record<string, string> = {
    "http-secret": spec.http.secret || (options.generateSecret ?? randomSecret)("registry http secret", 32),
  };
  if (inlineS3Keys(spec)) {
    stringData["s3-accesskey"] = spec.storage.s3.accesskey;
    stringData["s3-secretkey"] = spec.storage.s3.secretkey;
  }
  if (inlineHtpasswd(spec)) stringData["htpasswd"] = `${spec.auth.htpasswd.entries.join("\n")}\n`;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: objectMeta(registry.metadata, dockerRegistryObjectNames(spec.name).secret),
    type: "Opaque",
    stringData,
  };
}

/** The claim of filesystem storage with persistence enabled; none otherwise. */
function renderPersistentVolumeClaim(registry: DockerRegistry): K8sObject[] {
  const spec = registry.spec;
  const persistence = spec.storage.persistence;
  if (usesS3(spec) || !persistence.enabled) return [];
  return [
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: objectMeta(registry.metadata, dockerRegistryObjectNames(spec.name).pvc),
      spec: {
        accessModes: [...persistence.accessModes],
        resources: { requests: { storage: persistence.size } },
        ...(persistence.storageClassName ? { storageClassName: persistence.storageClassName } : {}),
      },
    },
  ];
}

function secretEnv(name: string, secretName: string, key: string): Record<string, unknown> {
  return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** The container's environment: the HTTP secret and the S3 keys, from Secrets. */
function registryEnv(spec: DockerRegistryConfig): Record<string, unknown>[] {
  const names = dockerRegistryObjectNames(spec.name);
  const env = [secretEnv("REGISTRY_HTTP_SECRET", names.secret, "http-secret")];
  const s3SecretName = spec.storage.s3.existingSecret || (inlineS3Keys(spec) ? names.secret : "");
  if (usesS3(spec) && s3SecretName) {
    env.push(
      secretEnv("REGISTRY_STORAGE_S3_ACCESSKEY", s3SecretName, "s3-accesskey"),
      secretEnv("REGISTRY_STORAGE_S3_SECRETKEY", s3SecretName, "s3-secretkey"),
    );
  }
  return env;
}

interface MountedVolume {
  volume: Record<string, unknown>;
  mount: Record<string, unknown>;
}

/** The pod's volumes, each with where the container mounts it. */
function registryVolumes(spec: DockerRegistryConfig): MountedVolume[] {
  const names = dockerRegistryObjectNames(spec.name);
  const volumes: MountedVolume[] = [
    {
      volume: { name: "config", configMap: { name: names.configMap } },
      mount: { name: "config", mountPath: CONFIG_MOUNT, readOnly: true },
    },
  ];
  const secretVolume = (name: string, secret: Record<string, unknown>, mountPath: string): MountedVolume => ({
    volume: { name, secret },
    mount: { name, mountPath, readOnly: true },
  });
  if (!usesS3(spec)) {
    volumes.push({
      volume: spec.storage.persistence.enabled
        ? { name: "data", persistentVolumeClaim: { claimName: names.pvc } }
        : { name: "data", emptyDir: {} },
      mount: { name: "data", mountPath: spec.storage.filesystem.rootdirectory },
    });
  }
  if (usesHtpasswd(spec)) {
    const secretName = inlineHtpasswd(spec) ? names.secret : spec.auth.htpasswd.secretName;
    volumes.push(
      secretVolume(
        "htpasswd",
        { secretName, items: [{ key: "htpasswd", path: "htpasswd" }] },
        posix.dirname(spec.auth.htpasswd.path),
      ),
    );
  }
  if (spec.auth.enabled && spec.auth.scheme === "bearer" && spec.auth.token.secretName) {
    volumes.push(
      secretVolume(
        "token",
        { secretName: spec.auth.token.secretName },
        posix.dirname(spec.auth.token.rootcertbundle),
      ),
    );
  }
  if (spec.http.tlsenabled && spec.http.tlsSecretName) {
    volumes.push(secretVolume("tls", { secretName: spec.http.tlsSecretName }, spec.http.tlsMountPath));
  }
  return volumes;
}

function renderDeployment(registry: DockerRegistry): K8sObject {
  const spec = registry.spec;
  const debugPort = spec.http.debugAddr ? portOf(spec.http.debugAddr) : undefined;
  const ports: Record<string, unknown>[] = [
    { name: "registry", containerPort: portOf(spec.http.addr), protocol: "TCP" },
  ];
  if (debugPort !== undefined) ports.push({ name: "debug", containerPort: debugPort, protocol: "TCP" });
  // The debug listener's /debug/health answers without auth and reflects the storage health check.
  const probe = (initialDelaySeconds: number) =>
    debugPort !== undefined
      ? { httpGet: { path: "/debug/health", port: "debug" }, initialDelaySeconds, periodSeconds: 10 }
      : { tcpSocket: { port: "registry" }, initialDelaySeconds, periodSeconds: 10 };
  const volumes = registryVolumes(spec);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: objectMeta(registry.metadata, dockerRegistryObjectNames(spec.name).deployment),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorLabels(registry.metadata.labels) },
      template: {
        metadata: podMeta(registry.metadata),
        spec: {
          containers: [
            {
              name: "registry",
              image: spec.image,
              args: ["serve", `${CONFIG_MOUNT}/config.yml`],
              ports,
              env: registryEnv(spec),
              resources: copyResources(spec.resources),
              volumeMounts: volumes.map((v) => v.mount),
              readinessProbe: probe(5),
              livenessProbe: probe(15),
            },
          ],
          volumes: volumes.map((v) => v.volume),
        },
      },
    },
  };
}

function renderService(registry: DockerRegistry): K8sObject {
  const spec = registry.spec;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta(registry.metadata, dockerRegistryObjectNames(spec.name).service),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(registry.metadata.labels),
      ports: [{ name: "registry", port: portOf(spec.http.addr), targetPort: "registry", protocol: "TCP" }],
    },
  };
}

/**
 * Kubernetes objects for the registry, in apply order: ConfigMap, Secret, PersistentVolumeClaim
 * (filesystem storage with persistence enabled), Deployment, Service.
 */
export function renderDockerRegistry(registry: DockerRegistry, options: RenderOptions = {}): K8sObject[] {
  return [
    renderConfigMap(registry),
    renderSecret(registry, options),
    ...renderPersistentVolumeClaim(registry),
    renderDeployment(registry),
    renderService(registry),
  ];
}

/**
 * Semantic rules of a parsed Docker Registry config: S3 without bucket, TLS without certificate
 * and key, bearer-token auth without the token server's realm and certificate bundle, invalid
 * quantities, replicas < 1, bad listen addresses and durations.
 */
export function dockerRegistryProblems(spec: DockerRegistryConfig, problems: Problems): void {
  problems.atLeastOne("replicas", spec.replicas);

  const s3 = spec.storage.s3;
  if (usesS3(spec)) {
    if (!s3.bucket) problems.error("storage.s3.bucket", "S3 storage is enabled but no bucket is set");
    if (!s3.region && !s3.regionendpoint) {
      problems.error("storage.s3.region", "S3 storage needs a region (or a regionendpoint)");
    }
    problems.keyPair("storage.s3.secretkey", s3.accesskey, s3.secretkey);
  } else if (spec.storage.persistence.enabled) {
    problems.quantity("storage.persistence.size", spec.storage.persistence.size, "storage");
  }

  if (spec.http.tlsenabled) {
    if (!spec.http.tlscertificate) {
      problems.error("http.tlscertificate", "TLS is enabled but no certificate path is set");
    }
    if (!spec.http.tlskey) problems.error("http.tlskey", "TLS is enabled but no key path is set");
  }
  for (const key of ["addr", "debugAddr"] as const) {
    const addr = spec.http[key];
    if (key === "debugAddr" && addr === "") continue;
    try {
      const port = portOf(addr);
      if (port < 1 || port > 65535) problems.error(`http.${key}`, `port ${port} out of range`);
    } catch {
      problems.error(`http.${key}`, `"${addr}" is not a listen address like ":5000"`);
    }
  }

  if (spec.auth.enabled && spec.auth.scheme === "bearer") tokenAuthProblems(spec, problems);
  if (usesHtpasswd(spec) && spec.auth.htpasswd.entries.length === 0 && !spec.auth.htpasswd.secretName) {
    problems.error("auth.htpasswd", "htpasswd auth needs entries or the name of a Secret holding them");
  }

  problems.resources("resources", spec.resources);

  (spec.notifications.endpoints ?? []).forEach((endpoint, i) => {
    for (const key of ["timeout", "backoff"] as const) {
      const value = endpoint[key];
      if (value !== undefined && !GO_DURATION.test(value)) {
        problems.error(
          `notifications.endpoints[${i}].${key}`,
          `invalid duration "${value}" (e.g. "1s", "500ms")`,
        );
      }
    }
  });
}

function tokenAuthProblems(spec: DockerRegistryConfig, problems: Problems): void {
  const token = spec.auth.token;
  for (const key of ["realm", "service", "issuer", "rootcertbundle"] as const) {
    if (!token[key]) problems.error(`auth.token.${key}`, `token auth is enabled but ${key} is empty`);
  }
  // The seed's default realm is Docker Hub's token service, which never issues tokens for this
  // registry; and without a Secret the root certificate bundle does not exist in the container,
  // so Distribution exits at start. Both mean the token server is not configured.
  if (token.realm === DOCKER_HUB_TOKEN_REALM) {
    problems.error(
      "auth.token.realm",
      "bearer-token auth points at Docker Hub's token service, which does not issue tokens for this registry: set your token server's URL (or use auth.scheme htpasswd, or auth.enabled false)",
    );
  }
  if (!token.secretName) {
    problems.error(
      "auth.token.secretName",
      `bearer-token auth needs the token issuer's root certificate bundle: name the Secret mounted at ${posix.dirname(token.rootcertbundle)} (or use auth.scheme htpasswd, or auth.enabled false)`,
    );
  }
}

/** Objects as one multi-document YAML stream (`kubectl apply -f -`). */
export function renderYaml(objects: readonly K8sObject[]): string {
  return objects.map((o) => stringify(o, { aliasDuplicateObjects: false })).join("---\n");
}
