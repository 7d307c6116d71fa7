/**
 * Harbor (seed 002, "mkHarborRegistry"): schema, semantic rules and renderer.
 *
 * `harborSchema` holds every option of the seed with its default, plus documented Reestr
 * extensions (marked below) that the official chart needs: how Harbor is exposed, its external
 * URL, the database name and TLS mode, inline passwords; the builder `harborRegistry(name, config)`
 * (kinds.ts) parses a deep-partial config with it. `renderHarbor(harbor)` returns:
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
  annotationsEntry,
  type BuiltMetadata,
  copyResources,
  type HelmRenderOptions,
  harborCron,
  type K8sObject,
  namespaceObject,
  opaqueSecret,
  type Problems,
  type RenderedRegistry,
  randomSecret,
  type SecretGenerator,
  splitImage,
} from "./common.ts";
import type { Built } from "./define.ts";
import { integer, port, registryIdentity, workloadFields } from "./schema.ts";

export type { HelmRenderOptions, RenderedRegistry } from "./common.ts";

const authMode = z.enum(["db_auth", "ldap_auth", "oidc_auth", "uaa_auth", "http_auth"]);
const exposeType = z.enum(["ingress", "clusterIP", "nodePort", "loadBalancer"]);

export const harborSchema = z.strictObject({
  // The Harbor version ("2.10") picks the chart version: Harbor 2.N ships in chart 1.(N+4).
  ...registryIdentity("harbor", "2.10"),
  coreReplicas: integer.default(1),
  jobserviceReplicas: integer.default(1),
  registryReplicas: integer.default(1),
  database: z
    .strictObject({
      /** "postgresql": an external PostgreSQL at host:port; Reestr extension "internal": the chart's own database. */
      type: z.enum(["postgresql", "internal"]).default("postgresql"),
      host: z.string().default("harbor-postgresql.harbor.svc.cluster.local"),
      port: port.default(5432),
      username: z.string().default("postgres"),
      /** Name of the Secret holding the password under key `password` (the chart's existingSecret). */
      passwordSecret: z.string().default("harbor-db-password"),
      /** The chart's `database.maxOpenConns` (per pod). */
      maxConnections: integer.min(1).default(1024),
      /** Reestr extension: the password; when set, the Secret `passwordSecret` is rendered with it. */
      password: z.string().default(""),
      /** Reestr extension: database name (the chart's `coreDatabase`). */
      coreDatabase: z.string().default("registry"),
      /** Reestr extension: PostgreSQL sslmode. */
      sslmode: z.enum(["disable", "require", "verify-ca", "verify-full"]).default("disable"),
    })
    .prefault({}),
  redis: z
    .strictObject({
      /** true: the external Redis at host:port; false: the chart's own Redis. */
      enabled: z.boolean().default(true),
      host: z.string().default("harbor-redis.harbor.svc.cluster.local"),
      port: port.default(6379),
      /** Database index of Harbor core: the chart requires 0 (jobservice 1, registry 2, trivy 5). */
      db: integer.min(0).default(0),
      /** Name of the Secret holding the password under key `REDIS_PASSWORD`. */
      passwordSecret: z.string().default("harbor-redis-password"),
      /** Reestr extension: the password; when set, the Secret `passwordSecret` is rendered with it. */
      password: z.string().default(""),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** "s3", "azure", or the Reestr extension "filesystem" (a PersistentVolumeClaim). */
      type: z.enum(["s3", "azure", "filesystem"]).default("s3"),
      s3: z
        .strictObject({
          /** S3-compatible endpoint (MinIO, Ceph); empty = AWS. Sets `regionendpoint` and disables redirects. */
          endpoint: z.string().default(""),
          accesskey: z.string().default(""),
          secretkey: z.string().default(""),
          bucket: z.string().default("harbor"),
          region: z.string().default("us-east-1"),
          secure: z.boolean().default(true),
          /** Reestr extension: existing Secret with REGISTRY_STORAGE_S3_ACCESSKEY/SECRETKEY instead of inline keys. */
          existingSecret: z.string().default(""),
        })
        .prefault({}),
      azure: z
        .strictObject({
          accountname: z.string().default(""),
          accountkey: z.string().default(""),
          container: z.string().default("harbor"),
          /** Reestr extension: existing Secret with AZURE_STORAGE_ACCESS_KEY instead of an inline key. */
          existingSecret: z.string().default(""),
        })
        .prefault({}),
      /** Reestr extension: the registry's PersistentVolumeClaim (type "filesystem"). */
      filesystem: z
        .strictObject({ size: z.string().default("50Gi"), storageClass: z.string().default("") })
        .prefault({}),
    })
    .prefault({}),
  core: z
    .strictObject({
      /** Harbor's `token_expiration` setting, in minutes (Harbor's unit; the default 30 is Harbor's default). */
      tokenExpiration: integer.min(1).default(30),
      /** Robot account token lifetime, Harbor's `robot_token_duration`, in days. */
      jobServiceTokenExpiration: integer.min(1).default(30),
    })
    .prefault({}),
  authentication: z
    .strictObject({
      /** Harbor's `auth_mode`; an enabled LDAP or OIDC section selects ldap_auth/oidc_auth when this is db_auth. */
      mode: authMode.default("db_auth"),
      ldap: z
        .strictObject({
          enabled: z.boolean().default(false),
          url: z.string().default(""),
          baseDn: z.string().default(""),
        })
        .prefault({}),
      oidc: z
        .strictObject({
          enabled: z.boolean().default(false),
          name: z.string().default("OIDC"),
          endpoint: z.string().default(""),
          clientId: z.string().default(""),
        })
        .prefault({}),
    })
    .prefault({}),
  trivy: z
    .strictObject({
      enabled: z.boolean().default(true),
      image: z.string().default("goharbor/trivy-adapter-scanner:latest"),
      skipUpdate: z.boolean().default(false),
      insecure: z.boolean().default(false),
    })
    .prefault({}),
  /**
   * Harbor has no global replication switch or schedule; replication runs per policy (see
   * imageReplicationPolicy). These values are kept in the spec and validated, not rendered.
   */
  replication: z
    .strictObject({ enabled: z.boolean().default(true), schedule: z.string().default("0 0 * * *") })
    .prefault({}),
  garbageCollection: z
    .strictObject({
      enabled: z.boolean().default(true),
      schedule: z.string().default("0 2 * * *"),
      deleteUntagged: z.boolean().default(true),
    })
    .prefault({}),
  // `resources`: requests and limits of the core, jobservice and registry containers.
  ...workloadFields({
    limits: { cpu: "2000m", memory: "1024Mi" },
    requests: { cpu: "500m", memory: "512Mi" },
  }),
  /** Reestr extension: how Harbor is reached (the chart's `expose`). */
  expose: z
    .strictObject({
      type: exposeType.default("ingress"),
      /** Host name of the ingress (and the TLS certificate's common name). */
      host: z.string().default("core.harbor.domain"),
      ingressClassName: z.string().default(""),
      tls: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** A kubernetes.io/tls Secret; empty = the chart generates a certificate. */
          secretName: z.string().default(""),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Reestr extension: the URL clients use; empty = http(s)://<expose.host>. */
  externalURL: z.string().default(""),
  /** Reestr extension: initial admin password; empty = generated at render time. */
  adminPassword: z.string().default(""),
  /** Reestr extension: PVC sizes of jobservice logs and the Trivy cache. */
  persistence: z
    .strictObject({ jobLogSize: z.string().default("1Gi"), trivySize: z.string().default("5Gi") })
    .prefault({}),
});

/** What harborRegistry() takes: any subset of the options, at any depth. */
export type HarborInput = z.input<typeof harborSchema>;
export type HarborConfig = z.output<typeof harborSchema>;
export type HarborAuthMode = z.output<typeof authMode>;
export type HarborExposeType = z.output<typeof exposeType>;
export type HarborRegistry = Built<"HarborRegistry", BuiltMetadata, HarborConfig>;

export const HARBOR_DEFAULTS: HarborConfig = harborSchema.parse({});

export const HARBOR_APP = "harbor";
export const HARBOR_CHART = { chart: "harbor", repository: "https://helm.goharbor.io" } as const;
/** Trivy adapter requests in the official chart (one replica), counted by the sizing helper. */
export const HARBOR_TRIVY_RESOURCES = {
  requests: { cpu: "200m", memory: "512Mi" },
  limits: { cpu: "1", memory: "1Gi" },
} as const;

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
  return {
    auth_mode: harborAuthMode(spec),
    token_expiration: spec.core.tokenExpiration,
    robot_token_duration: spec.core.jobServiceTokenExpiration,
    ...(auth.ldap.enabled ? { ldap_url: auth.ldap.url, ldap_base_dn: auth.ldap.baseDn } : {}),
    ...(auth.oidc.enabled
      ? {
          oidc_name: auth.oidc.name,
          oidc_endpoint: auth.oidc.endpoint,
          oidc_client_id: auth.oidc.clientId,
          oidc_scope: "openid,offline_access",
        }
      : {}),
  };
}

function exposeValues(spec: HarborConfig): Record<string, unknown> {
  const expose = spec.expose;
  const secretName = expose.tls.secretName;
  return {
    type: expose.type,
    tls: {
      enabled: expose.tls.enabled,
      certSource: secretName ? "secret" : "auto",
      ...(secretName ? { secret: { secretName } } : {}),
      ...(!secretName && expose.type !== "ingress" ? { auto: { commonName: expose.host } } : {}),
    },
    ...(expose.type === "ingress"
      ? {
          ingress: {
            hosts: { core: expose.host },
            ...(expose.ingressClassName ? { className: expose.ingressClassName } : {}),
          },
        }
      : { [expose.type]: { name: spec.name } }),
  };
}

/** The chart's `imageChartStorage`: where the registry keeps blobs. */
function imageChartStorage(spec: HarborConfig): Record<string, unknown> {
  const storage = spec.storage;
  const secrets = harborSecretNames(spec);
  if (storage.type === "s3") {
    const s3 = storage.s3;
    return {
      type: "s3",
      disableredirect: s3.endpoint !== "",
      s3: {
        region: s3.region,
        bucket: s3.bucket,
        secure: s3.secure,
        ...(s3.endpoint ? { regionendpoint: s3.endpoint } : {}),
        ...(s3.existingSecret || s3.accesskey ? { existingSecret: secrets.s3 } : {}),
      },
    };
  }
  if (storage.type === "azure") {
    return {
      type: "azure",
      azure: {
        accountname: storage.azure.accountname,
        container: storage.azure.container,
        existingSecret: secrets.azure,
      },
    };
  }
  return { type: "filesystem", filesystem: { rootdirectory: "/storage" } };
}

function persistenceValues(spec: HarborConfig): Record<string, unknown> {
  const filesystem = spec.storage.filesystem;
  return {
    enabled: true,
    resourcePolicy: "keep",
    persistentVolumeClaim: {
      jobservice: { jobLog: { size: spec.persistence.jobLogSize } },
      trivy: { size: spec.persistence.trivySize },
      ...(spec.storage.type === "filesystem"
        ? {
            registry: {
              size: filesystem.size,
              ...(filesystem.storageClass ? { storageClass: filesystem.storageClass } : {}),
            },
          }
        : {}),
    },
    imageChartStorage: imageChartStorage(spec),
  };
}

function trivyValues(spec: HarborConfig): Record<string, unknown> {
  const image = splitImage(spec.trivy.image);
  return {
    enabled: spec.trivy.enabled,
    image: {
      repository: image.registry === "docker.io" ? image.repository : `${image.registry}/${image.repository}`,
      tag: image.tag,
    },
    skipUpdate: spec.trivy.skipUpdate,
    insecure: spec.trivy.insecure,
  };
}

function databaseValues(spec: HarborConfig): Record<string, unknown> {
  const database = spec.database;
  if (database.type === "internal") return { type: "internal", maxOpenConns: database.maxConnections };
  return {
    type: "external",
    external: {
      host: database.host,
      port: String(database.port),
      username: database.username,
      coreDatabase: database.coreDatabase,
      existingSecret: database.passwordSecret,
      sslmode: database.sslmode,
    },
    maxOpenConns: database.maxConnections,
  };
}

function redisValues(spec: HarborConfig): Record<string, unknown> {
  const redis = spec.redis;
  if (!redis.enabled) return { type: "internal" };
  return {
    type: "external",
    external: {
      addr: `${redis.host}:${redis.port}`,
      coreDatabaseIndex: String(redis.db),
      existingSecret: redis.passwordSecret,
    },
  };
}

/** The values file for goharbor/harbor-helm. */
export function harborValues(harbor: HarborRegistry): Record<string, unknown> {
  const spec = harbor.spec;
  const secrets = harborSecretNames(spec);
  // The chart has no global labels value; the pods carry the builder's labels and annotations.
  const pods = () => ({
    podLabels: { ...harbor.metadata.labels },
    ...annotationsEntry(harbor.metadata.annotations, "podAnnotations"),
  });
  return {
    expose: exposeValues(spec),
    externalURL: spec.externalURL || `${spec.expose.tls.enabled ? "https" : "http"}://${spec.expose.host}`,
    persistence: persistenceValues(spec),
    existingSecretAdminPassword: secrets.core,
    existingSecretAdminPasswordKey: "HARBOR_ADMIN_PASSWORD",
    existingSecretSecretKey: secrets.core,
    core: {
      replicas: spec.coreReplicas,
      resources: copyResources(spec.resources),
      configureUserSettings: JSON.stringify(harborUserSettings(spec)),
      ...pods(),
    },
    jobservice: { replicas: spec.jobserviceReplicas, resources: copyResources(spec.resources), ...pods() },
    registry: {
      replicas: spec.registryReplicas,
      registry: { resources: copyResources(spec.resources) },
      ...pods(),
    },
    trivy: { ...trivyValues(spec), ...pods() },
    database: databaseValues(spec),
    redis: redisValues(spec),
  };
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

/** The admin password and the encryption secret key the chart reads from `existingSecret…`. */
function renderCoreSecret(harbor: HarborRegistry, generate: SecretGenerator): K8sObject {
  return opaqueSecret(harbor.metadata, harborSecretNames(harbor.spec).core, {
    HARBOR_ADMIN_PASSWORD: harbor.spec.adminPassword || generate("harbor admin password", 24),
    // The chart requires exactly 16 characters.
    secretKey: generate("harbor secret key", 16),
  });
}

/** Secrets for the credentials given inline; the others are referenced by name and must exist. */
function renderCredentialSecrets(harbor: HarborRegistry): K8sObject[] {
  const { database, redis, storage } = harbor.spec;
  const secrets = harborSecretNames(harbor.spec);
  const credentials: { given: boolean; name: string; data: Record<string, string> }[] = [
    {
      given: database.type === "postgresql" && database.password !== "",
      name: database.passwordSecret,
      data: { password: database.password },
    },
    {
      given: redis.enabled && redis.password !== "",
      name: redis.passwordSecret,
      data: { REDIS_PASSWORD: redis.password },
    },
    {
      given: storage.type === "s3" && !storage.s3.existingSecret && storage.s3.accesskey !== "",
      name: secrets.s3,
      data: {
        REGISTRY_STORAGE_S3_ACCESSKEY: storage.s3.accesskey,
        REGISTRY_STORAGE_S3_SECRETKEY: storage.s3.secretkey,
      },
    },
    {
      given: storage.type === "azure" && !storage.azure.existingSecret && storage.azure.accountkey !== "",
      name: secrets.azure,
      data: { AZURE_STORAGE_ACCESS_KEY: storage.azure.accountkey },
    },
  ];
  return credentials
    .filter((credential) => credential.given)
    .map((credential) => opaqueSecret(harbor.metadata, credential.name, credential.data));
}

export function renderHarbor(harbor: HarborRegistry, options: HelmRenderOptions = {}): RenderedRegistry {
  const spec = harbor.spec;
  const chartVersion = harborChartVersion(spec.version);
  return {
    objects: [
      namespaceObject(harbor.metadata),
      renderCoreSecret(harbor, options.generateSecret ?? randomSecret),
      ...renderCredentialSecrets(harbor),
    ],
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

/** Semantic rules of a parsed Harbor config. */
export function harborProblems(spec: HarborConfig, problems: Problems): void {
  problems.atLeastOne("coreReplicas", spec.coreReplicas);
  problems.atLeastOne("jobserviceReplicas", spec.jobserviceReplicas);
  problems.atLeastOne("registryReplicas", spec.registryReplicas);
  problems.resources("resources", spec.resources);
  problems.cron("replication.schedule", spec.replication.schedule);
  problems.cron("garbageCollection.schedule", spec.garbageCollection.schedule);

  const { database, redis } = spec;
  if (database.type === "postgresql") {
    if (!database.host) problems.error("database.host", "an external PostgreSQL needs a host");
    problems.secretReference(
      "database.passwordSecret",
      {
        secretName: database.passwordSecret,
        key: "password",
        namespace: spec.namespace,
        inlineValue: database.password,
      },
      "name the Secret holding the database password",
    );
  }
  if (redis.enabled) {
    if (!redis.host) problems.error("redis.host", "an external Redis needs a host");
    if (redis.db !== 0) {
      problems.error("redis.db", "Harbor core only uses Redis database 0 (the chart's coreDatabaseIndex)");
    }
    problems.secretReference("redis.passwordSecret", {
      secretName: redis.passwordSecret,
      key: "REDIS_PASSWORD",
      namespace: spec.namespace,
      inlineValue: redis.password,
    });
  }

  storageProblems(spec, problems);
  problems.quantity("persistence.jobLogSize", spec.persistence.jobLogSize, "storage");
  problems.quantity("persistence.trivySize", spec.persistence.trivySize, "storage");
  authenticationProblems(spec, problems);

  if (spec.expose.type === "ingress" && !spec.expose.host) {
    problems.error("expose.host", "an ingress needs a host name");
  }
  if (spec.externalURL) problems.httpUrl("externalURL", spec.externalURL);
  if (spec.adminPassword && spec.adminPassword.length < 8) {
    problems.error("adminPassword", "Harbor requires at least 8 characters");
  }
  if (!harborChartVersion(spec.version)) {
    problems.warn("version", `no known chart version for Harbor "${spec.version}" (expected 2.N)`);
  }
}

function storageProblems(spec: HarborConfig, problems: Problems): void {
  const { s3, azure, filesystem } = spec.storage;
  if (spec.storage.type === "s3") {
    if (!s3.bucket) problems.error("storage.s3.bucket", "S3 storage is selected but no bucket is set");
    if (!s3.region && !s3.endpoint) {
      problems.error("storage.s3.region", "S3 storage needs a region (or an endpoint)");
    }
    problems.keyPair("storage.s3.secretkey", s3.accesskey, s3.secretkey);
    if (s3.endpoint) problems.httpUrl("storage.s3.endpoint", s3.endpoint);
  } else if (spec.storage.type === "azure") {
    if (!azure.accountname)
      problems.error("storage.azure.accountname", "Azure storage needs an account name");
    if (!azure.container) problems.error("storage.azure.container", "Azure storage needs a container");
    if (!azure.accountkey && !azure.existingSecret) {
      problems.error("storage.azure.accountkey", "Azure storage needs an account key or an existingSecret");
    }
  } else {
    problems.quantity("storage.filesystem.size", filesystem.size, "storage");
  }
}

function authenticationProblems(spec: HarborConfig, problems: Problems): void {
  const { ldap, oidc } = spec.authentication;
  if (ldap.enabled && !ldap.url)
    problems.error("authentication.ldap.url", "LDAP is enabled but no URL is set");
  if (ldap.enabled && ldap.url && !/^ldaps?:\/\//.test(ldap.url)) {
    problems.error("authentication.ldap.url", `"${ldap.url}" is not an ldap:// or ldaps:// URL`);
  }
  if (oidc.enabled && !oidc.endpoint) {
    problems.error("authentication.oidc.endpoint", "OIDC is enabled but no endpoint is set");
  }
  if (oidc.enabled && !oidc.clientId) {
    problems.error("authentication.oidc.clientId", "OIDC is enabled but no client ID is set");
  }
  if (ldap.enabled && oidc.enabled) {
    problems.error("authentication", "LDAP and OIDC cannot both be enabled (Harbor has one auth_mode)");
  }
  const mode = harborAuthMode(spec);
  if (mode === "ldap_auth" && !ldap.enabled) {
    problems.error("authentication.ldap.enabled", 'mode is "ldap_auth" but LDAP is not enabled');
  }
  if (mode === "oidc_auth" && !oidc.enabled) {
    problems.error("authentication.oidc.enabled", 'mode is "oidc_auth" but OIDC is not enabled');
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
