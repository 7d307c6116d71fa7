/**
 * Harbor builder and renderer (seed 002, "mkHarborRegistry").
 *
 * `harborRegistry(name, config)` merges a deep-partial config over every option of the seed with
 * its default, plus documented Reestr extensions (marked below) that the official chart needs:
 * how Harbor is exposed, its external URL, the database name and TLS mode, inline passwords.
 * `renderHarbor(harbor)` returns:
 * - a values file for the official chart (goharbor/harbor-helm, repository
 *   https://helm.goharbor.io): expose, externalURL, persistence and imageChartStorage, external
 *   database and Redis with `existingSecret`, the admin password and secret key by
 *   `existingSecretAdminPassword`/`existingSecretSecretKey`, replicas and resources per
 *   component, Trivy, authentication through `core.configureUserSettings`;
 * - the Kubernetes objects around it: the Namespace, a Secret with the admin password and the
 *   encryption secret key (generated when not given), and Secrets for the database, Redis and
 *   storage credentials when their values are given inline (otherwise the chart references the
 *   Secrets by name and they must exist);
 * - Harbor API requests applied after install: the garbage-collection schedule.
 *
 * @example
 * const harbor = harborRegistry("production", {
 *   coreReplicas: 3, registryReplicas: 3, database: { host: "postgres.default.svc" }, trivy: { enabled: true },
 * });
 * const { helm, objects, api } = renderHarbor(harbor);
 */
import { z } from "zod";
import {
  type ApiRequest,
  type BuiltMetadata,
  builtMetadata,
  DEPLOY_API_VERSION,
  type DeepPartial,
  deepMerge,
  type HelmValues,
  harborCron,
  type Labels,
  namespaceObject,
  opaqueSecret,
  type Problems,
  randomSecret,
  type SecretGenerator,
  splitImage,
} from "./common.ts";
import type { K8sObject, ResourceList } from "./docker-registry.ts";
import { dnsLabel, integer, partialSchema, port } from "./schema.ts";

export type HarborAuthMode = "db_auth" | "ldap_auth" | "oidc_auth" | "uaa_auth" | "http_auth";
export type HarborExposeType = "ingress" | "clusterIP" | "nodePort" | "loadBalancer";

export interface HarborConfig {
  name: string;
  /** Harbor version ("2.10"); picks the chart version (Harbor 2.N ships in chart 1.(N+4)). */
  version: string;
  namespace: string;
  coreReplicas: number;
  jobserviceReplicas: number;
  registryReplicas: number;
  database: {
    /** "postgresql": an external PostgreSQL at host:port; Reestr extension "internal": the chart's own database. */
    type: "postgresql" | "internal";
    host: string;
    port: number;
    username: string;
    /** Name of the Secret holding the password under key `password` (the chart's existingSecret). */
    passwordSecret: string;
    /** The chart's `database.maxOpenConns` (per pod). */
    maxConnections: number;
    /** Reestr extension: the password; when set, the Secret `passwordSecret` is rendered with it. */
    password: string;
    /** Reestr extension: database name (the chart's `coreDatabase`). */
    coreDatabase: string;
    /** Reestr extension: PostgreSQL sslmode. */
    sslmode: "disable" | "require" | "verify-ca" | "verify-full";
  };
  redis: {
    /** true: the external Redis at host:port; false: the chart's own Redis. */
    enabled: boolean;
    host: string;
    port: number;
    /** Database index of Harbor core: the chart requires 0 (jobservice 1, registry 2, trivy 5). */
    db: number;
    /** Name of the Secret holding the password under key `REDIS_PASSWORD`. */
    passwordSecret: string;
    /** Reestr extension: the password; when set, the Secret `passwordSecret` is rendered with it. */
    password: string;
  };
  storage: {
    /** "s3", "azure", or the Reestr extension "filesystem" (a PersistentVolumeClaim). */
    type: "s3" | "azure" | "filesystem";
    s3: {
      /** S3-compatible endpoint (MinIO, Ceph); empty = AWS. Sets `regionendpoint` and disables redirects. */
      endpoint: string;
      accesskey: string;
      secretkey: string;
      bucket: string;
      region: string;
      secure: boolean;
      /** Reestr extension: existing Secret with REGISTRY_STORAGE_S3_ACCESSKEY/SECRETKEY instead of inline keys. */
      existingSecret: string;
    };
    azure: {
      accountname: string;
      accountkey: string;
      container: string;
      /** Reestr extension: existing Secret with AZURE_STORAGE_ACCESS_KEY instead of an inline key. */
      existingSecret: string;
    };
    /** Reestr extension: the registry's PersistentVolumeClaim (type "filesystem"). */
    filesystem: { size: string; storageClass: string };
  };
  core: {
    /** Harbor's `token_expiration` setting, in minutes (Harbor's unit; the default 30 is Harbor's default). */
    tokenExpiration: number;
    /** Robot account token lifetime, Harbor's `robot_token_duration`, in days. */
    jobServiceTokenExpiration: number;
  };
  authentication: {
    /** Harbor's `auth_mode`; an enabled LDAP or OIDC section selects ldap_auth/oidc_auth when this is db_auth. */
    mode: HarborAuthMode;
    ldap: { enabled: boolean; url: string; baseDn: string };
    oidc: { enabled: boolean; name: string; endpoint: string; clientId: string };
  };
  trivy: { enabled: boolean; image: string; skipUpdate: boolean; insecure: boolean };
  /**
   * Harbor has no global replication switch or schedule; replication runs per policy (see
   * imageReplicationPolicy). These values are kept in the spec and validated, not rendered.
   */
  replication: { enabled: boolean; schedule: string };
  garbageCollection: { enabled: boolean; schedule: string; deleteUntagged: boolean };
  /** Requests and limits of the core, jobservice and registry containers. */
  resources: { limits: ResourceList; requests: ResourceList };
  labels: Labels;
  annotations: Record<string, string>;
  /** Reestr extension: how Harbor is reached (the chart's `expose`). */
  expose: {
    type: HarborExposeType;
    /** Host name of the ingress (and the TLS certificate's common name). */
    host: string;
    ingressClassName: string;
    tls: {
      enabled: boolean;
      /** A kubernetes.io/tls Secret; empty = the chart generates a certificate. */
      secretName: string;
    };
  };
  /** Reestr extension: the URL clients use; empty = http(s)://<expose.host>. */
  externalURL: string;
  /** Reestr extension: initial admin password; empty = generated at render time. */
  adminPassword: string;
  /** Reestr extension: PVC sizes of jobservice logs and the Trivy cache. */
  persistence: { jobLogSize: string; trivySize: string };
}

export const HARBOR_DEFAULTS: HarborConfig = {
  name: "harbor",
  version: "2.10",
  namespace: "harbor",
  coreReplicas: 1,
  jobserviceReplicas: 1,
  registryReplicas: 1,
  database: {
    type: "postgresql",
    host: "harbor-postgresql.harbor.svc.cluster.local",
    port: 5432,
    username: "postgres",
    passwordSecret: "harbor-db-password",
    maxConnections: 1024,
    password: "",
    coreDatabase: "registry",
    sslmode: "disable",
  },
  redis: {
    enabled: true,
    host: "harbor-redis.harbor.svc.cluster.local",
    port: 6379,
    db: 0,
    passwordSecret: "harbor-redis-password",
    password: "",
  },
  storage: {
    type: "s3",
    s3: {
      endpoint: "",
      accesskey: "",
      secretkey: "",
      bucket: "harbor",
      region: "us-east-1",
      secure: true,
      existingSecret: "",
    },
    azure: { accountname: "", accountkey: "", container: "harbor", existingSecret: "" },
    filesystem: { size: "50Gi", storageClass: "" },
  },
  core: { tokenExpiration: 30, jobServiceTokenExpiration: 30 },
  authentication: {
    mode: "db_auth",
    ldap: { enabled: false, url: "", baseDn: "" },
    oidc: { enabled: false, name: "OIDC", endpoint: "", clientId: "" },
  },
  trivy: {
    enabled: true,
    image: "goharbor/trivy-adapter-scanner:latest",
    skipUpdate: false,
    insecure: false,
  },
  replication: { enabled: true, schedule: "0 0 * * *" },
  garbageCollection: { enabled: true, schedule: "0 2 * * *", deleteUntagged: true },
  resources: {
    limits: { cpu: "2000m", memory: "1024Mi" },
    requests: { cpu: "500m", memory: "512Mi" },
  },
  labels: {},
  annotations: {},
  expose: {
    type: "ingress",
    host: "core.harbor.domain",
    ingressClassName: "",
    tls: { enabled: true, secretName: "" },
  },
  externalURL: "",
  adminPassword: "",
  persistence: { jobLogSize: "1Gi", trivySize: "5Gi" },
};

export interface HarborRegistry {
  apiVersion: typeof DEPLOY_API_VERSION;
  kind: "HarborRegistry";
  metadata: BuiltMetadata;
  spec: HarborConfig;
}

export const HARBOR_APP = "harbor";
export const HARBOR_CHART = { chart: "harbor", repository: "https://helm.goharbor.io" } as const;
/** Trivy adapter requests in the official chart (one replica), counted by the sizing helper. */
export const HARBOR_TRIVY_RESOURCES = {
  requests: { cpu: "200m", memory: "512Mi" },
  limits: { cpu: "1", memory: "1Gi" },
} as const;

export function harborRegistry(name: string, config: DeepPartial<HarborConfig> = {}): HarborRegistry {
  const spec = deepMerge({ ...HARBOR_DEFAULTS, name }, config);
  return {
    apiVersion: DEPLOY_API_VERSION,
    kind: "HarborRegistry",
    metadata: builtMetadata(spec, HARBOR_APP, "registry"),
    spec,
  };
}

/** The chart versions shipping Harbor `version` (2.N → 1.(N+4).x), or undefined for other versions. */
export function harborChartVersion(version: string): string | undefined {
  const match = /^2\.(\d+)(\.\d+)?$/.exec(version);
  return match ? `1.${Number(match[1]) + 4}.x` : undefined;
}

/** Harbor's auth_mode after applying the LDAP/OIDC switches. */
export function harborAuthMode(spec: HarborConfig): HarborAuthMode {
  if (spec.authentication.mode !== "db_auth") return spec.authentication.mode;
  if (spec.authentication.ldap.enabled) return "ldap_auth";
  if (spec.authentication.oidc.enabled) return "oidc_auth";
  return "db_auth";
}

/** Names of the Secrets renderHarbor creates (or references) for a Harbor called `name`. */
export function harborSecretNames(spec: HarborConfig): { core: string; s3: string; azure: string } {
  return {
    core: `${spec.name}-harbor-core`,
    s3: spec.storage.s3.existingSecret || `${spec.name}-harbor-s3`,
    azure: spec.storage.azure.existingSecret || `${spec.name}-harbor-azure`,
  };
}

/** The settings Harbor core applies at start (`CONFIG_OVERWRITE_JSON` via core.configureUserSettings). */
export function harborUserSettings(spec: HarborConfig): Record<string, unknown> {
  const auth = spec.authentication;
  const settings: Record<string, unknown> = {
    auth_mode: harborAuthMode(spec),
    token_expiration: spec.core.tokenExpiration,
    robot_token_duration: spec.core.jobServiceTokenExpiration,
  };
  if (auth.ldap.enabled) {
    settings["ldap_url"] = auth.ldap.url;
    settings["ldap_base_dn"] = auth.ldap.baseDn;
  }
  if (auth.oidc.enabled) {
    settings["oidc_name"] = auth.oidc.name;
    settings["oidc_endpoint"] = auth.oidc.endpoint;
    settings["oidc_client_id"] = auth.oidc.clientId;
    settings["oidc_scope"] = "openid,offline_access";
  }
  return settings;
}

export interface RenderedRegistry {
  objects: K8sObject[];
  helm: HelmValues;
  api: ApiRequest[];
}

export interface HelmRenderOptions {
  /** Makes generated secret values (default: random from node:crypto). */
  generateSecret?: SecretGenerator;
}

function resources(spec: { resources: { limits: ResourceList; requests: ResourceList } }) {
  return { limits: { ...spec.resources.limits }, requests: { ...spec.resources.requests } };
}

/** The values file for goharbor/harbor-helm. */
export function harborValues(harbor: HarborRegistry): Record<string, unknown> {
  const spec = harbor.spec;
  const secrets = harborSecretNames(spec);
  const expose = spec.expose;
  const tls = expose.tls.enabled;
  const exposeValues: Record<string, unknown> = {
    type: expose.type,
    tls: {
      enabled: tls,
      certSource: expose.tls.secretName ? "secret" : "auto",
      ...(expose.tls.secretName ? { secret: { secretName: expose.tls.secretName } } : {}),
      ...(!expose.tls.secretName && expose.type !== "ingress" ? { auto: { commonName: expose.host } } : {}),
    },
  };
  if (expose.type === "ingress") {
    exposeValues["ingress"] = {
      hosts: { core: expose.host },
      ...(expose.ingressClassName ? { className: expose.ingressClassName } : {}),
    };
  } else {
    exposeValues[expose.type] = { name: spec.name };
  }

  const storageType = spec.storage.type;
  const imageChartStorage: Record<string, unknown> = { type: storageType };
  if (storageType === "s3") {
    const s3 = spec.storage.s3;
    imageChartStorage["disableredirect"] = s3.endpoint !== "";
    imageChartStorage["s3"] = {
      region: s3.region,
      bucket: s3.bucket,
      secure: s3.secure,
      ...(s3.endpoint ? { regionendpoint: s3.endpoint } : {}),
      ...(s3.existingSecret || s3.accesskey ? { existingSecret: secrets.s3 } : {}),
    };
  } else if (storageType === "azure") {
    imageChartStorage["azure"] = {
      accountname: spec.storage.azure.accountname,
      container: spec.storage.azure.container,
      existingSecret: secrets.azure,
    };
  } else {
    imageChartStorage["filesystem"] = { rootdirectory: "/storage" };
  }

  const pvc: Record<string, unknown> = {
    jobservice: { jobLog: { size: spec.persistence.jobLogSize } },
    trivy: { size: spec.persistence.trivySize },
  };
  if (storageType === "filesystem") {
    pvc["registry"] = {
      size: spec.storage.filesystem.size,
      ...(spec.storage.filesystem.storageClass ? { storageClass: spec.storage.filesystem.storageClass } : {}),
    };
  }

  const trivyImage = splitImage(spec.trivy.image);
  const values: Record<string, unknown> = {
    expose: exposeValues,
    externalURL: spec.externalURL || `${tls ? "https" : "http"}://${expose.host}`,
    persistence: { enabled: true, resourcePolicy: "keep", persistentVolumeClaim: pvc, imageChartStorage },
    existingSecretAdminPassword: secrets.core,
    existingSecretAdminPasswordKey: "HARBOR_ADMIN_PASSWORD",
    existingSecretSecretKey: secrets.core,
    core: {
      replicas: spec.coreReplicas,
      resources: resources(spec),
      configureUserSettings: JSON.stringify(harborUserSettings(spec)),
    },
    jobservice: { replicas: spec.jobserviceReplicas, resources: resources(spec) },
    registry: { replicas: spec.registryReplicas, registry: { resources: resources(spec) } },
    trivy: {
      enabled: spec.trivy.enabled,
      image: {
        repository:
          trivyImage.registry === "docker.io"
            ? trivyImage.repository
            : `${trivyImage.registry}/${trivyImage.repository}`,
        tag: trivyImage.tag,
      },
      skipUpdate: spec.trivy.skipUpdate,
      insecure: spec.trivy.insecure,
    },
  };
  if (spec.database.type === "postgresql") {
    values["database"] = {
      type: "external",
      external: {
        host: spec.database.host,
        port: String(spec.database.port),
        username: spec.database.username,
        coreDatabase: spec.database.coreDatabase,
        existingSecret: spec.database.passwordSecret,
        sslmode: spec.database.sslmode,
      },
      maxOpenConns: spec.database.maxConnections,
    };
  } else {
    values["database"] = { type: "internal", maxOpenConns: spec.database.maxConnections };
  }
  if (spec.redis.enabled) {
    values["redis"] = {
      type: "external",
      external: {
        addr: `${spec.redis.host}:${spec.redis.port}`,
        coreDatabaseIndex: String(spec.redis.db),
        existingSecret: spec.redis.passwordSecret,
      },
    };
  } else {
    values["redis"] = { type: "internal" };
  }
  // The chart has no global labels value; the pods carry the builder's labels and annotations.
  const podLabels = { ...harbor.metadata.labels };
  for (const component of ["core", "jobservice", "registry", "trivy"] as const) {
    const section = values[component] as Record<string, unknown>;
    section["podLabels"] = { ...podLabels };
    if (Object.keys(harbor.metadata.annotations).length > 0) {
      section["podAnnotations"] = { ...harbor.metadata.annotations };
    }
  }
  return values;
}

/** Harbor API requests applied after install (garbage-collection schedule). */
export function harborApiRequests(spec: HarborConfig): ApiRequest[] {
  const gc = spec.garbageCollection;
  return [
    {
      target: "harbor",
      method: "PUT",
      path: "/api/v2.0/system/gc/schedule",
      contentType: "application/json",
      description: gc.enabled ? `garbage collection on "${gc.schedule}"` : "garbage collection not scheduled",
      body: gc.enabled
        ? {
            schedule: { type: "Custom", cron: harborCron(gc.schedule) },
            parameters: { delete_untagged: gc.deleteUntagged, workers: 1 },
          }
        : { schedule: { type: "None" } },
    },
  ];
}

export function renderHarbor(harbor: HarborRegistry, options: HelmRenderOptions = {}): RenderedRegistry {
  const spec = harbor.spec;
  const meta = harbor.metadata;
  const generate = options.generateSecret ?? randomSecret;
  const secrets = harborSecretNames(spec);
  const objects: K8sObject[] = [namespaceObject(meta) as K8sObject];
  objects.push(
    opaqueSecret(meta, secrets.core, {
      HARBOR_ADMIN_PASSWORD: spec.adminPassword || generate("harbor admin password", 24),
      // The chart requires exactly 16 characters.
      secretKey: generate("harbor secret key", 16),
    }) as K8sObject,
  );
  if (spec.database.type === "postgresql" && spec.database.password) {
    objects.push(
      opaqueSecret(meta, spec.database.passwordSecret, { password: spec.database.password }) as K8sObject,
    );
  }
  if (spec.redis.enabled && spec.redis.password) {
    objects.push(
      opaqueSecret(meta, spec.redis.passwordSecret, { REDIS_PASSWORD: spec.redis.password }) as K8sObject,
    );
  }
  if (spec.storage.type === "s3" && !spec.storage.s3.existingSecret && spec.storage.s3.accesskey) {
    objects.push(
      opaqueSecret(meta, secrets.s3, {
        REGISTRY_STORAGE_S3_ACCESSKEY: spec.storage.s3.accesskey,
        REGISTRY_STORAGE_S3_SECRETKEY: spec.storage.s3.secretkey,
      }) as K8sObject,
    );
  }
  if (spec.storage.type === "azure" && !spec.storage.azure.existingSecret && spec.storage.azure.accountkey) {
    objects.push(
      opaqueSecret(meta, secrets.azure, {
        AZURE_STORAGE_ACCESS_KEY: spec.storage.azure.accountkey,
      }) as K8sObject,
    );
  }
  const chartVersion = harborChartVersion(spec.version);
  return {
    objects,
    helm: {
      ...HARBOR_CHART,
      ...(chartVersion ? { chartVersion } : {}),
      release: spec.name,
      namespace: spec.namespace,
      values: harborValues(harbor),
    },
    api: harborApiRequests(spec),
  };
}

const resourceList = z.strictObject({ cpu: z.string(), memory: z.string() }).partial();

export const harborSchema = partialSchema(HARBOR_DEFAULTS as unknown as Record<string, unknown>, {
  name: dnsLabel,
  namespace: dnsLabel,
  coreReplicas: integer,
  jobserviceReplicas: integer,
  registryReplicas: integer,
  "database.type": z.enum(["postgresql", "internal"]),
  "database.port": port,
  "database.maxConnections": integer.min(1),
  "database.sslmode": z.enum(["disable", "require", "verify-ca", "verify-full"]),
  "redis.port": port,
  "redis.db": integer.min(0),
  "storage.type": z.enum(["s3", "azure", "filesystem"]),
  "core.tokenExpiration": integer.min(1),
  "core.jobServiceTokenExpiration": integer.min(1),
  "authentication.mode": z.enum(["db_auth", "ldap_auth", "oidc_auth", "uaa_auth", "http_auth"]),
  "resources.limits": resourceList,
  "resources.requests": resourceList,
  "expose.type": z.enum(["ingress", "clusterIP", "nodePort", "loadBalancer"]),
});

/** Semantic rules of a merged Harbor config. */
export function harborProblems(spec: HarborConfig, problems: Problems): void {
  problems.replicas("coreReplicas", spec.coreReplicas);
  problems.replicas("jobserviceReplicas", spec.jobserviceReplicas);
  problems.replicas("registryReplicas", spec.registryReplicas);
  problems.resources("resources", spec.resources);
  problems.cron("replication.schedule", spec.replication.schedule);
  problems.cron("garbageCollection.schedule", spec.garbageCollection.schedule);

  if (spec.database.type === "postgresql") {
    if (!spec.database.host) problems.error("database.host", "an external PostgreSQL needs a host");
    if (!spec.database.passwordSecret) {
      problems.error("database.passwordSecret", "name the Secret holding the database password");
    } else if (!spec.database.password) {
      problems.warn(
        "database.passwordSecret",
        `Secret "${spec.database.passwordSecret}" (key "password") must exist in namespace "${spec.namespace}"`,
      );
    }
  }
  if (spec.redis.enabled) {
    if (!spec.redis.host) problems.error("redis.host", "an external Redis needs a host");
    if (spec.redis.db !== 0) {
      problems.error("redis.db", "Harbor core only uses Redis database 0 (the chart's coreDatabaseIndex)");
    }
    if (spec.redis.passwordSecret && !spec.redis.password) {
      problems.warn(
        "redis.passwordSecret",
        `Secret "${spec.redis.passwordSecret}" (key "REDIS_PASSWORD") must exist in namespace "${spec.namespace}"`,
      );
    }
  }

  const storage = spec.storage;
  if (storage.type === "s3") {
    if (!storage.s3.bucket)
      problems.error("storage.s3.bucket", "S3 storage is selected but no bucket is set");
    if (!storage.s3.region && !storage.s3.endpoint) {
      problems.error("storage.s3.region", "S3 storage needs a region (or an endpoint)");
    }
    if (Boolean(storage.s3.accesskey) !== Boolean(storage.s3.secretkey)) {
      problems.error("storage.s3.secretkey", "accesskey and secretkey must be set together");
    }
    if (storage.s3.endpoint && !/^https?:\/\//.test(storage.s3.endpoint)) {
      problems.error("storage.s3.endpoint", `"${storage.s3.endpoint}" is not an http(s) URL`);
    }
  } else if (storage.type === "azure") {
    if (!storage.azure.accountname)
      problems.error("storage.azure.accountname", "Azure storage needs an account name");
    if (!storage.azure.container)
      problems.error("storage.azure.container", "Azure storage needs a container");
    if (!storage.azure.accountkey && !storage.azure.existingSecret) {
      problems.error("storage.azure.accountkey", "Azure storage needs an account key or an existingSecret");
    }
  } else {
    problems.quantity("storage.filesystem.size", storage.filesystem.size, "storage");
  }
  problems.quantity("persistence.jobLogSize", spec.persistence.jobLogSize, "storage");
  problems.quantity("persistence.trivySize", spec.persistence.trivySize, "storage");

  const auth = spec.authentication;
  if (auth.ldap.enabled && !auth.ldap.url)
    problems.error("authentication.ldap.url", "LDAP is enabled but no URL is set");
  if (auth.ldap.enabled && auth.ldap.url && !/^ldaps?:\/\//.test(auth.ldap.url)) {
    problems.error("authentication.ldap.url", `"${auth.ldap.url}" is not an ldap:// or ldaps:// URL`);
  }
  if (auth.oidc.enabled && !auth.oidc.endpoint) {
    problems.error("authentication.oidc.endpoint", "OIDC is enabled but no endpoint is set");
  }
  if (auth.oidc.enabled && !auth.oidc.clientId) {
    problems.error("authentication.oidc.clientId", "OIDC is enabled but no client ID is set");
  }
  if (auth.ldap.enabled && auth.oidc.enabled) {
    problems.error("authentication", "LDAP and OIDC cannot both be enabled (Harbor has one auth_mode)");
  }
  const mode = harborAuthMode(spec);
  if (mode === "ldap_auth" && !auth.ldap.enabled) {
    problems.error("authentication.ldap.enabled", 'mode is "ldap_auth" but LDAP is not enabled');
  }
  if (mode === "oidc_auth" && !auth.oidc.enabled) {
    problems.error("authentication.oidc.enabled", 'mode is "oidc_auth" but OIDC is not enabled');
  }

  if (spec.expose.type === "ingress" && !spec.expose.host)
    problems.error("expose.host", "an ingress needs a host name");
  if (spec.externalURL && !/^https?:\/\//.test(spec.externalURL)) {
    problems.error("externalURL", `"${spec.externalURL}" is not an http(s) URL`);
  }
  if (spec.adminPassword && spec.adminPassword.length < 8) {
    problems.error("adminPassword", "Harbor requires at least 8 characters");
  }
  if (!harborChartVersion(spec.version)) {
    problems.warn("version", `no known chart version for Harbor "${spec.version}" (expected 2.N)`);
  }
}

/** Per-component replicas and resources, for calculateStorageRequirements. */
export function harborComponents(spec: HarborConfig) {
  const components = [
    { name: "core", replicas: spec.coreReplicas, resources: spec.resources },
    { name: "jobservice", replicas: spec.jobserviceReplicas, resources: spec.resources },
    { name: "registry", replicas: spec.registryReplicas, resources: spec.resources },
  ];
  if (spec.trivy.enabled) components.push({ name: "trivy", replicas: 1, resources: HARBOR_TRIVY_RESOURCES });
  return components;
}
