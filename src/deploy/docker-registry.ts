/**
 * Docker Registry (CNCF Distribution v2) builder and renderer.
 *
 * `dockerRegistry(name, config)` merges a deep-partial config over the defaults of seed 002
 * ("mkDockerRegistry": every option listed there, with its default) plus a few documented Reestr
 * extensions the seed leaves out but a working deployment needs (persistence size, delete, HTTP
 * secret, htpasswd auth, debug/health listener). `renderDockerRegistry(obj)` turns the result into
 * Kubernetes objects a user can `kubectl apply`: ConfigMap (Distribution `config.yml`), Secret,
 * PersistentVolumeClaim (filesystem storage only), Deployment and Service.
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
  DEPLOY_API_VERSION,
  type DeepPartial,
  deepMerge,
  GO_DURATION,
  isValidQuantity,
  type Labels,
  type Problems,
  randomSecret,
  type SecretGenerator,
  selectorLabels,
  standardLabels,
} from "./common.ts";

export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogFormat = "json" | "text" | "logstash";

export interface MiddlewareEntry {
  name: string;
  options?: Record<string, unknown>;
}

/** One Distribution notification endpoint (`notifications.endpoints[]` of config.yml). */
export interface NotificationEndpoint {
  name: string;
  url: string;
  headers?: Record<string, string[]>;
  /** Go duration, e.g. "1s". */
  timeout?: string;
  threshold?: number;
  /** Go duration, e.g. "10s". */
  backoff?: string;
  disabled?: boolean;
  ignoredmediatypes?: string[];
}

export interface ResourceList {
  cpu: string;
  memory: string;
}

export interface DockerRegistryConfig {
  /** Registry name (object names); defaults to the builder's `name` argument. */
  name: string;
  version: string;
  namespace: string;
  replicas: number;
  /** Container image; defaults to `registry:<version>`. */
  image: string;
  storage: {
    /** "filesystem" or "s3"; `s3.enabled = true` selects S3 as well. */
    driver: "filesystem" | "s3";
    filesystem: { rootdirectory: string; maxthreads: number };
    s3: {
      enabled: boolean;
      accesskey: string;
      secretkey: string;
      region: string;
      bucket: string;
      encrypt: boolean;
      secure: boolean;
      /** Reestr extension: S3-compatible endpoint (MinIO…); empty = AWS. */
      regionendpoint: string;
      /** Reestr extension: existing Secret with keys `s3-accesskey` and `s3-secretkey` (instead of inline keys). */
      existingSecret: string;
    };
    /** Reestr extension: allow deleting manifests and blobs (needed by retention and GC). */
    delete: { enabled: boolean };
    /** Reestr extension: the PersistentVolumeClaim backing filesystem storage. */
    persistence: { enabled: boolean; size: string; storageClassName: string; accessModes: string[] };
  };
  http: {
    addr: string;
    net: "tcp" | "unix";
    tlsenabled: boolean;
    /** Path of the certificate inside the container. */
    tlscertificate: string;
    /** Path of the key inside the container. */
    tlskey: string;
    /** Reestr extension: Secret mounted at `tlsMountPath` (e.g. a kubernetes.io/tls Secret). */
    tlsSecretName: string;
    tlsMountPath: string;
    /** Reestr extension: shared upload secret for all replicas; empty = random at render time. */
    secret: string;
    /** Reestr extension: debug listener (serves `/debug/health`, used by the probes). */
    debugAddr: string;
  };
  auth: {
    enabled: boolean;
    scheme: "bearer" | "htpasswd";
    token: {
      realm: string;
      service: string;
      issuer: string;
      rootcertbundle: string;
      /** Reestr extension: Secret mounted at the directory of `rootcertbundle`. */
      secretName: string;
    };
    /** Reestr extension: htpasswd auth (scheme "htpasswd"). */
    htpasswd: {
      realm: string;
      path: string;
      /** Existing Secret with key `htpasswd`; used when `entries` is empty. */
      secretName: string;
      /** bcrypt lines (`htpasswd -Bbn user pass`) rendered into the registry's Secret. */
      entries: string[];
    };
  };
  middleware: { storage: MiddlewareEntry[]; registry: MiddlewareEntry[] };
  log: { level: LogLevel; format: LogFormat };
  notifications: { endpoints?: NotificationEndpoint[] };
  resources: { limits: ResourceList; requests: ResourceList };
  labels: Labels;
  annotations: Record<string, string>;
}

/** The seed's defaults, plus the Reestr extensions (marked in DockerRegistryConfig). */
export const DOCKER_REGISTRY_DEFAULTS: DockerRegistryConfig = {
  name: "registry",
  version: "2.8",
  namespace: "registry",
  replicas: 1,
  image: "registry:2.8",
  storage: {
    driver: "filesystem",
    filesystem: { rootdirectory: "/var/lib/registry", maxthreads: 100 },
    s3: {
      enabled: false,
      accesskey: "",
      secretkey: "",
      region: "us-east-1",
      bucket: "registry",
      encrypt: true,
      secure: true,
      regionendpoint: "",
      existingSecret: "",
    },
    delete: { enabled: true },
    persistence: { enabled: true, size: "10Gi", storageClassName: "", accessModes: ["ReadWriteOnce"] },
  },
  http: {
    addr: ":5000",
    net: "tcp",
    tlsenabled: false,
    tlscertificate: "",
    tlskey: "",
    tlsSecretName: "",
    tlsMountPath: "/etc/registry/tls",
    secret: "",
    debugAddr: ":5001",
  },
  auth: {
    enabled: true,
    scheme: "bearer",
    token: {
      realm: "https://auth.docker.io/v2/token",
      service: "registry",
      issuer: "registry-token-issuer",
      rootcertbundle: "/etc/registry/root.crt",
      secretName: "",
    },
    htpasswd: { realm: "registry", path: "/auth/htpasswd", secretName: "", entries: [] },
  },
  middleware: { storage: [], registry: [] },
  log: { level: "info", format: "json" },
  notifications: {},
  resources: {
    limits: { cpu: "1000m", memory: "512Mi" },
    requests: { cpu: "100m", memory: "256Mi" },
  },
  labels: {},
  annotations: {},
};

export interface DockerRegistry {
  apiVersion: typeof DEPLOY_API_VERSION;
  kind: "DockerRegistry";
  metadata: { name: string; namespace: string; labels: Labels; annotations: Record<string, string> };
  spec: DockerRegistryConfig;
}

/** The seed's default token realm: Docker Hub's token service. */
export const DOCKER_HUB_TOKEN_REALM = "https://auth.docker.io/v2/token";

export const DOCKER_REGISTRY_APP = "docker-registry";
export const DOCKER_REGISTRY_COMPONENT = "registry";

/** Builds a Docker Registry definition: `config` merged over DOCKER_REGISTRY_DEFAULTS. */
export function dockerRegistry(name: string, config: DeepPartial<DockerRegistryConfig> = {}): DockerRegistry {
  const defaults: DockerRegistryConfig = {
    ...DOCKER_REGISTRY_DEFAULTS,
    name,
    // A version alone picks the matching official image.
    image: config.version && !config.image ? `registry:${config.version}` : DOCKER_REGISTRY_DEFAULTS.image,
  };
  const spec = deepMerge(defaults, config);
  return {
    apiVersion: DEPLOY_API_VERSION,
    kind: "DockerRegistry",
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      // Custom labels first: the standard ones (selectors rely on them) cannot be overridden.
      labels: {
        ...spec.labels,
        ...standardLabels(DOCKER_REGISTRY_APP, spec.name, DOCKER_REGISTRY_COMPONENT, spec.version),
      },
      annotations: { ...spec.annotations },
    },
    spec,
  };
}

/** True when the registry stores blobs in S3 (driver "s3" or `s3.enabled`). */
export function usesS3(spec: DockerRegistryConfig): boolean {
  return spec.storage.driver === "s3" || spec.storage.s3.enabled;
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

/**
 * The Distribution `config.yml` (version 0.1) as an object. Credentials (S3 keys, HTTP secret)
 * are left out: the Deployment passes them as environment variables from the Secret.
 */
export function distributionConfig(
  spec: DockerRegistryConfig,
  options: RenderOptions = {},
): Record<string, unknown> {
  const storage: Record<string, unknown> = {};
  if (usesS3(spec)) {
    const s3 = spec.storage.s3;
    storage["s3"] = {
      region: s3.region,
      bucket: s3.bucket,
      encrypt: s3.encrypt,
      secure: s3.secure,
      ...(s3.regionendpoint ? { regionendpoint: s3.regionendpoint } : {}),
    };
  } else {
    storage["filesystem"] = { ...spec.storage.filesystem };
  }
  storage["delete"] = { enabled: spec.storage.delete.enabled };
  storage["cache"] = { blobdescriptor: "inmemory" };

  const http: Record<string, unknown> = { addr: spec.http.addr, net: spec.http.net };
  if (spec.http.tlsenabled) {
    http["tls"] = { certificate: spec.http.tlscertificate, key: spec.http.tlskey };
  }
  if (spec.http.debugAddr) http["debug"] = { addr: spec.http.debugAddr };
  http["headers"] = { "X-Content-Type-Options": ["nosniff"] };

  const config: Record<string, unknown> = {
    version: 0.1,
    log: {
      level: spec.log.level,
      formatter: spec.log.format,
      fields: { service: "registry", instance: spec.name },
    },
    storage,
    http,
  };

  if (spec.auth.enabled) {
    if (spec.auth.scheme === "htpasswd") {
      config["auth"] = {
        htpasswd: { realm: spec.auth.htpasswd.realm, path: options.htpasswdPath ?? spec.auth.htpasswd.path },
      };
    } else {
      const { realm, service, issuer, rootcertbundle } = spec.auth.token;
      config["auth"] = { token: { realm, service, issuer, rootcertbundle } };
    }
  }

  const middleware: Record<string, unknown> = {};
  if (spec.middleware.storage.length > 0) middleware["storage"] = spec.middleware.storage;
  if (spec.middleware.registry.length > 0) middleware["registry"] = spec.middleware.registry;
  if (Object.keys(middleware).length > 0) config["middleware"] = middleware;

  const endpoints = spec.notifications.endpoints ?? [];
  if (endpoints.length > 0) {
    config["notifications"] = {
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
    };
  }

  config["health"] = { storagedriver: { enabled: true, interval: "10s", threshold: 3 } };
  return config;
}

/** `distributionConfig` as YAML text, ready for `docker-registry serve`. */
export function distributionConfigYaml(spec: DockerRegistryConfig, options: RenderOptions = {}): string {
  return stringify(distributionConfig(spec, options));
}

/** A Kubernetes object as rendered (plain JSON-compatible data). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Labels;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
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

/**
 * Kubernetes objects for the registry, in apply order: ConfigMap, Secret, PersistentVolumeClaim
 * (filesystem storage with persistence enabled), Deployment, Service.
 */
export function renderDockerRegistry(registry: DockerRegistry, options: RenderOptions = {}): K8sObject[] {
  const spec = registry.spec;
  const names = dockerRegistryObjectNames(spec.name);
  const labels = registry.metadata.labels;
  const selector = selectorLabels(labels);
  const meta = (name: string) => ({
    name,
    namespace: spec.namespace,
    labels: { ...labels },
    ...(Object.keys(registry.metadata.annotations).length > 0
      ? { annotations: { ...registry.metadata.annotations } }
      : {}),
  });
  const s3 = usesS3(spec);
  const port = portOf(spec.http.addr);
  const debugPort = spec.http.debugAddr ? portOf(spec.http.debugAddr) : undefined;

  const configMap: K8sObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(names.configMap),
    data: { "config.yml": distributionConfigYaml(spec) },
  };

  // The registry's own Secret: HTTP secret, inline S3 keys, inline htpasswd entries.
  const secretData: Record<string, string> = {
    "http-secret": spec.http.secret || (options.generateSecret ?? randomSecret)("registry http secret", 32),
  };
  const inlineS3Keys = s3 && !spec.storage.s3.existingSecret && spec.storage.s3.accesskey !== "";
  if (inlineS3Keys) {
    secretData["s3-accesskey"] = spec.storage.s3.accesskey;
    secretData["s3-secretkey"] = spec.storage.s3.secretkey;
  }
  const htpasswd = spec.auth.enabled && spec.auth.scheme === "htpasswd";
  const inlineHtpasswd = htpasswd && spec.auth.htpasswd.entries.length > 0;
  if (inlineHtpasswd) secretData["htpasswd"] = `${spec.auth.htpasswd.entries.join("\n")}\n`;
  const secret: K8sObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(names.secret),
    type: "Opaque",
    stringData: secretData,
  };

  const env: Record<string, unknown>[] = [
    { name: "REGISTRY_HTTP_SECRET", valueFrom: { secretKeyRef: { name: names.secret, key: "http-secret" } } },
  ];
  const s3SecretName = spec.storage.s3.existingSecret || (inlineS3Keys ? names.secret : "");
  if (s3 && s3SecretName) {
    env.push(
      {
        name: "REGISTRY_STORAGE_S3_ACCESSKEY",
        valueFrom: { secretKeyRef: { name: s3SecretName, key: "s3-accesskey" } },
      },
      {
        name: "REGISTRY_STORAGE_S3_SECRETKEY",
        valueFrom: { secretKeyRef: { name: s3SecretName, key: "s3-secretkey" } },
      },
    );
  }

  const volumes: Record<string, unknown>[] = [{ name: "config", configMap: { name: names.configMap } }];
  const mounts: Record<string, unknown>[] = [{ name: "config", mountPath: CONFIG_MOUNT, readOnly: true }];
  const objects: K8sObject[] = [configMap, secret];

  if (!s3) {
    if (spec.storage.persistence.enabled) {
      const persistence = spec.storage.persistence;
      objects.push({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: meta(names.pvc),
        spec: {
          accessModes: [...persistence.accessModes],
          resources: { requests: { storage: persistence.size } },
          ...(persistence.storageClassName ? { storageClassName: persistence.storageClassName } : {}),
        },
      });
      volumes.push({ name: "data", persistentVolumeClaim: { claimName: names.pvc } });
    } else {
      volumes.push({ name: "data", emptyDir: {} });
    }
    mounts.push({ name: "data", mountPath: spec.storage.filesystem.rootdirectory });
  }
  if (htpasswd) {
    const secretName = inlineHtpasswd ? names.secret : spec.auth.htpasswd.secretName;
    volumes.push({
      name: "htpasswd",
      secret: { secretName, items: [{ key: "htpasswd", path: "htpasswd" }] },
    });
    mounts.push({ name: "htpasswd", mountPath: posix.dirname(spec.auth.htpasswd.path), readOnly: true });
  }
  if (spec.auth.enabled && spec.auth.scheme === "bearer" && spec.auth.token.secretName) {
    volumes.push({ name: "token", secret: { secretName: spec.auth.token.secretName } });
    mounts.push({ name: "token", mountPath: posix.dirname(spec.auth.token.rootcertbundle), readOnly: true });
  }
  if (spec.http.tlsenabled && spec.http.tlsSecretName) {
    volumes.push({ name: "tls", secret: { secretName: spec.http.tlsSecretName } });
    mounts.push({ name: "tls", mountPath: spec.http.tlsMountPath, readOnly: true });
  }

  const ports: Record<string, unknown>[] = [{ name: "registry", containerPort: port, protocol: "TCP" }];
  if (debugPort !== undefined) ports.push({ name: "debug", containerPort: debugPort, protocol: "TCP" });
  // The debug listener's /debug/health answers without auth and reflects the storage health check.
  const probe = (initialDelaySeconds: number) =>
    debugPort !== undefined
      ? { httpGet: { path: "/debug/health", port: "debug" }, initialDelaySeconds, periodSeconds: 10 }
      : { tcpSocket: { port: "registry" }, initialDelaySeconds, periodSeconds: 10 };

  objects.push({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(names.deployment),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels: { ...labels },
          ...(Object.keys(registry.metadata.annotations).length > 0
            ? { annotations: { ...registry.metadata.annotations } }
            : {}),
        },
        spec: {
          containers: [
            {
              name: "registry",
              image: spec.image,
              args: ["serve", `${CONFIG_MOUNT}/config.yml`],
              ports,
              env,
              resources: {
                limits: { ...spec.resources.limits },
                requests: { ...spec.resources.requests },
              },
              volumeMounts: mounts,
              readinessProbe: probe(5),
              livenessProbe: probe(15),
            },
          ],
          volumes,
        },
      },
    },
  });

  objects.push({
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(names.service),
    spec: {
      type: "ClusterIP",
      selector,
      ports: [{ name: "registry", port, targetPort: "registry", protocol: "TCP" }],
    },
  });
  return objects;
}

const resourceList = z.strictObject({ cpu: z.string(), memory: z.string() }).partial();
const middlewareEntry = z.strictObject({
  name: z.string().min(1),
  options: z.record(z.string(), z.unknown()).optional(),
});
const stringMap = z.record(z.string(), z.string());

/** DeepPartial<DockerRegistryConfig>, strict (unknown keys are errors). */
export const dockerRegistrySchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label (lowercase, digits, '-')"),
    version: z.string(),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label (lowercase, digits, '-')"),
    replicas: z.number().int(),
    image: z.string().min(1),
    storage: z
      .strictObject({
        driver: z.enum(["filesystem", "s3"]),
        filesystem: z
          .strictObject({ rootdirectory: z.string().min(1), maxthreads: z.number().int().min(25) })
          .partial(),
        s3: z
          .strictObject({
            enabled: z.boolean(),
            accesskey: z.string(),
            secretkey: z.string(),
            region: z.string(),
            bucket: z.string(),
            encrypt: z.boolean(),
            secure: z.boolean(),
            regionendpoint: z.string(),
            existingSecret: z.string(),
          })
          .partial(),
        delete: z.strictObject({ enabled: z.boolean() }).partial(),
        persistence: z
          .strictObject({
            enabled: z.boolean(),
            size: z.string(),
            storageClassName: z.string(),
            accessModes: z.array(
              z.enum(["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]),
            ),
          })
          .partial(),
      })
      .partial(),
    http: z
      .strictObject({
        addr: z.string(),
        net: z.enum(["tcp", "unix"]),
        tlsenabled: z.boolean(),
        tlscertificate: z.string(),
        tlskey: z.string(),
        tlsSecretName: z.string(),
        tlsMountPath: z.string(),
        secret: z.string(),
        debugAddr: z.string(),
      })
      .partial(),
    auth: z
      .strictObject({
        enabled: z.boolean(),
        scheme: z.enum(["bearer", "htpasswd"]),
        token: z
          .strictObject({
            realm: z.string(),
            service: z.string(),
            issuer: z.string(),
            rootcertbundle: z.string(),
            secretName: z.string(),
          })
          .partial(),
        htpasswd: z
          .strictObject({
            realm: z.string(),
            path: z.string(),
            secretName: z.string(),
            entries: z.array(z.string()),
          })
          .partial(),
      })
      .partial(),
    middleware: z
      .strictObject({ storage: z.array(middlewareEntry), registry: z.array(middlewareEntry) })
      .partial(),
    log: z
      .strictObject({
        level: z.enum(["error", "warn", "info", "debug"]),
        format: z.enum(["json", "text", "logstash"]),
      })
      .partial(),
    notifications: z
      .strictObject({
        endpoints: z.array(
          z.strictObject({
            name: z.string().min(1),
            url: z.url(),
            headers: z.record(z.string(), z.array(z.string())).optional(),
            timeout: z.string().optional(),
            threshold: z.number().int().min(1).optional(),
            backoff: z.string().optional(),
            disabled: z.boolean().optional(),
            ignoredmediatypes: z.array(z.string()).optional(),
          }),
        ),
      })
      .partial(),
    resources: z.strictObject({ limits: resourceList, requests: resourceList }).partial(),
    labels: stringMap,
    annotations: stringMap,
  })
  .partial();

/**
 * Semantic rules of a merged Docker Registry config: S3 without bucket, TLS without certificate
 * and key, bearer-token auth without the token server's realm and certificate bundle, invalid
 * quantities, replicas < 1, bad listen addresses and durations.
 */
export function dockerRegistryProblems(spec: DockerRegistryConfig, problems: Problems): void {
  const add = (path: string, message: string) => problems.error(path, message);

  if (spec.replicas < 1) add("replicas", `must be at least 1, got ${spec.replicas}`);

  if (usesS3(spec)) {
    if (!spec.storage.s3.bucket) add("storage.s3.bucket", "S3 storage is enabled but no bucket is set");
    if (!spec.storage.s3.region && !spec.storage.s3.regionendpoint) {
      add("storage.s3.region", "S3 storage needs a region (or a regionendpoint)");
    }
    if (Boolean(spec.storage.s3.accesskey) !== Boolean(spec.storage.s3.secretkey)) {
      add("storage.s3.secretkey", "accesskey and secretkey must be set together");
    }
  }
  if (!usesS3(spec) && spec.storage.persistence.enabled) {
    const size = spec.storage.persistence.size;
    if (!isValidQuantity(size)) add("storage.persistence.size", `invalid storage quantity "${size}"`);
  }

  if (spec.http.tlsenabled) {
    if (!spec.http.tlscertificate)
      add("http.tlscertificate", "TLS is enabled but no certificate path is set");
    if (!spec.http.tlskey) add("http.tlskey", "TLS is enabled but no key path is set");
  }
  for (const key of ["addr", "debugAddr"] as const) {
    const addr = spec.http[key];
    if (key === "debugAddr" && addr === "") continue;
    try {
      const port = portOf(addr);
      if (port < 1 || port > 65535) add(`http.${key}`, `port ${port} out of range`);
    } catch {
      add(`http.${key}`, `"${addr}" is not a listen address like ":5000"`);
    }
  }

  if (spec.auth.enabled) {
    if (spec.auth.scheme === "bearer") {
      for (const key of ["realm", "service", "issuer", "rootcertbundle"] as const) {
        if (!spec.auth.token[key]) add(`auth.token.${key}`, `token auth is enabled but ${key} is empty`);
      }
      // The seed's default realm is Docker Hub's token service, which never issues tokens for this
      // registry; and without a Secret the root certificate bundle does not exist in the container,
      // so Distribution exits at start. Both mean the token server is not configured.
      if (spec.auth.token.realm === DOCKER_HUB_TOKEN_REALM) {
        add(
          "auth.token.realm",
          "bearer-token auth points at Docker Hub's token service, which does not issue tokens for this registry: set your token server's URL (or use auth.scheme htpasswd, or auth.enabled false)",
        );
      }
      if (!spec.auth.token.secretName) {
        add(
          "auth.token.secretName",
          `bearer-token auth needs the token issuer's root certificate bundle: name the Secret mounted at ${posix.dirname(spec.auth.token.rootcertbundle)} (or use auth.scheme htpasswd, or auth.enabled false)`,
        );
      }
    } else if (spec.auth.htpasswd.entries.length === 0 && !spec.auth.htpasswd.secretName) {
      add("auth.htpasswd", "htpasswd auth needs entries or the name of a Secret holding them");
    }
  }

  problems.resources("resources", spec.resources);

  (spec.notifications.endpoints ?? []).forEach((endpoint, i) => {
    for (const key of ["timeout", "backoff"] as const) {
      const value = endpoint[key];
      if (value !== undefined && !GO_DURATION.test(value)) {
        add(`notifications.endpoints[${i}].${key}`, `invalid duration "${value}" (e.g. "1s", "500ms")`);
      }
    }
  });
}

/** Objects as one multi-document YAML stream (`kubectl apply -f -`). */
export function renderYaml(objects: readonly K8sObject[]): string {
  return objects.map((o) => stringify(o, { aliasDuplicateObjects: false })).join("---\n");
}
