/**
 * Nexus Repository Manager builder and renderer (seed 002, "mkNexusRegistry").
 *
 * `renderNexus(nexus)` returns a values file for Sonatype's official chart
 * (`nexus-repository-manager` from https://sonatype.github.io/helm3-charts/): image, JVM options
 * through INSTALL4J_ADD_VM_PARAMS (heap, direct memory, data/log/temp directories), resources,
 * persistence, the Docker connector; the Namespace; and Nexus REST API requests
 * (`/service/rest/v1/...`) that create the blob stores and the hosted/proxy/group repositories of
 * each format, set the active security realms, anonymous access and the LDAP server.
 *
 * Nexus Repository OSS runs as a single instance: the chart's Deployment has one replica whatever
 * `replicas` says (validation warns); `replicas` still counts in the sizing helper.
 *
 * @example
 * const nexus = nexusRegistry("enterprise", { replicas: 2, jvm: { maxMemory: "2048m" } });
 * const { helm, objects, api } = renderNexus(nexus);
 */
import { z } from "zod";
import {
  type ApiRequest,
  type BuiltMetadata,
  builtMetadata,
  DEPLOY_API_VERSION,
  type DeepPartial,
  deepMerge,
  type Labels,
  namespaceObject,
  type Problems,
  parseQuantity,
  splitImage,
} from "./common.ts";
import type { K8sObject, ResourceList } from "./docker-registry.ts";
import type { RenderedRegistry } from "./harbor.ts";
import { dnsLabel, integer, partialSchema, port } from "./schema.ts";

export interface NexusBlobstore {
  name: string;
  /** "file" (a directory under the data volume) or "s3". */
  type: "file" | "s3";
  /** file: path relative to <dataPath>/blobs, or absolute. */
  path?: string;
  /** s3: bucket, region, key prefix. */
  bucket?: string;
  region?: string;
  prefix?: string;
}

export interface NexusFormatRepositories {
  hosted: boolean;
  proxy: boolean;
  group: boolean;
  /** Reestr extension: the proxied upstream. */
  remoteUrl: string;
}

export interface NexusConfig {
  name: string;
  version: string;
  namespace: string;
  replicas: number;
  image: string;
  storage: {
    /** The chart mounts its volume at /nexus-data; dataPath must be it (or below it). */
    dataPath: string;
    logPath: string;
    tempPath: string;
    blobstores: NexusBlobstore[];
    /** Reestr extension: PVC size and storage class. */
    size: string;
    storageClass: string;
    /** Reestr extension: the blob store the repositories use. */
    defaultBlobstore: string;
  };
  repositories: {
    docker: NexusFormatRepositories & {
      /** Reestr extension: Docker connector port of the hosted repository (the group gets the next one). */
      httpPort: number;
      /** Reestr extension: host name of the chart's Docker ingress; empty = no ingress. */
      host: string;
    };
    maven: NexusFormatRepositories;
    npm: NexusFormatRepositories;
    helm: NexusFormatRepositories;
  };
  authentication: {
    enabled: boolean;
    realm: string;
    /** connection: LDAP URL, e.g. ldaps://ldap.example.com:636; searchBase (extension) its base DN. */
    ldap: { enabled: boolean; connection: string; searchBase: string };
  };
  security: {
    enableAnonymousAccess: boolean;
    /** Kept in the spec; Nexus sets logger levels in its UI (Support → Logging), so not rendered. */
    enableRealmsLogging: boolean;
  };
  /** JVM sizes in Java's syntax: "1024m", "2g". */
  jvm: { maxMemory: string; minMemory: string; directMemory: string };
  resources: { limits: ResourceList; requests: ResourceList };
  labels: Labels;
  annotations: Record<string, string>;
}

export const NEXUS_DEFAULTS: NexusConfig = {
  name: "nexus",
  version: "3.68",
  namespace: "nexus",
  replicas: 1,
  image: "sonatype/nexus3:3.68",
  storage: {
    dataPath: "/nexus-data",
    logPath: "/nexus-data/log",
    tempPath: "/nexus-data/tmp",
    blobstores: [],
    size: "8Gi",
    storageClass: "",
    defaultBlobstore: "default",
  },
  repositories: {
    docker: {
      hosted: true,
      proxy: true,
      group: true,
      remoteUrl: "https://registry-1.docker.io",
      httpPort: 5000,
      host: "",
    },
    maven: { hosted: true, proxy: true, group: true, remoteUrl: "https://repo1.maven.org/maven2/" },
    npm: { hosted: true, proxy: true, group: true, remoteUrl: "https://registry.npmjs.org" },
    helm: { hosted: true, proxy: true, group: true, remoteUrl: "https://charts.helm.sh/stable" },
  },
  authentication: {
    enabled: true,
    realm: "NexusAuthenticatingRealm",
    ldap: { enabled: false, connection: "", searchBase: "" },
  },
  security: { enableAnonymousAccess: false, enableRealmsLogging: false },
  jvm: { maxMemory: "1024m", minMemory: "256m", directMemory: "512m" },
  resources: {
    limits: { cpu: "2000m", memory: "2048Mi" },
    requests: { cpu: "500m", memory: "1024Mi" },
  },
  labels: {},
  annotations: {},
};

export interface NexusRegistry {
  apiVersion: typeof DEPLOY_API_VERSION;
  kind: "NexusRegistry";
  metadata: BuiltMetadata;
  spec: NexusConfig;
}

export const NEXUS_APP = "nexus-repository-manager";
export const NEXUS_CHART = {
  chart: "nexus-repository-manager",
  repository: "https://sonatype.github.io/helm3-charts/",
} as const;

export function nexusRegistry(name: string, config: DeepPartial<NexusConfig> = {}): NexusRegistry {
  const defaults: NexusConfig = {
    ...NEXUS_DEFAULTS,
    name,
    image: config.version && !config.image ? `sonatype/nexus3:${config.version}` : NEXUS_DEFAULTS.image,
  };
  const spec = deepMerge(defaults, config);
  return {
    apiVersion: DEPLOY_API_VERSION,
    kind: "NexusRegistry",
    metadata: builtMetadata(spec, NEXUS_APP, "repository"),
    spec,
  };
}

/** The JVM options Nexus reads from INSTALL4J_ADD_VM_PARAMS. */
export function nexusJvmParams(spec: NexusConfig): string {
  const { minMemory, maxMemory, directMemory } = spec.jvm;
  const { dataPath, logPath, tempPath } = spec.storage;
  return [
    `-Xms${minMemory}`,
    `-Xmx${maxMemory}`,
    `-XX:MaxDirectMemorySize=${directMemory}`,
    `-Djava.util.prefs.userRoot=${dataPath}/javaprefs`,
    `-Dkaraf.data=${dataPath}`,
    `-Dkaraf.log=${logPath}`,
    `-Djava.io.tmpdir=${tempPath}`,
  ].join(" ");
}

export function nexusValues(nexus: NexusRegistry): Record<string, unknown> {
  const spec = nexus.spec;
  const image = splitImage(spec.image);
  const docker = spec.repositories.docker;
  const dockerConnector = docker.host !== "" && (docker.hosted || docker.group);
  return {
    image: {
      repository: image.registry === "docker.io" ? image.repository : `${image.registry}/${image.repository}`,
      tag: image.tag,
    },
    nexus: {
      env: [
        { name: "INSTALL4J_ADD_VM_PARAMS", value: nexusJvmParams(spec) },
        // The initial admin password is random and written to <dataPath>/admin.password.
        { name: "NEXUS_SECURITY_RANDOMPASSWORD", value: "true" },
      ],
      resources: { limits: { ...spec.resources.limits }, requests: { ...spec.resources.requests } },
      docker: {
        enabled: dockerConnector,
        ...(dockerConnector ? { registries: [{ host: docker.host, port: docker.httpPort }] } : {}),
      },
      ...(Object.keys(nexus.metadata.annotations).length > 0
        ? { podAnnotations: { ...nexus.metadata.annotations } }
        : {}),
      extraLabels: { ...nexus.metadata.labels },
    },
    persistence: {
      enabled: true,
      accessMode: "ReadWriteOnce",
      storageSize: spec.storage.size,
      ...(spec.storage.storageClass ? { storageClass: spec.storage.storageClass } : {}),
    },
    ...(Object.keys(nexus.metadata.annotations).length > 0
      ? { deployment: { annotations: { ...nexus.metadata.annotations } } }
      : {}),
    service: { type: "ClusterIP" },
  };
}

type Format = "docker" | "maven" | "npm" | "helm";
const FORMATS: Format[] = ["docker", "maven", "npm", "helm"];

function repositoryBody(
  spec: NexusConfig,
  format: Format,
  type: "hosted" | "proxy" | "group",
): Record<string, unknown> {
  const repos = spec.repositories;
  const name = `${format}-${type}`;
  const storage: Record<string, unknown> = {
    blobStoreName: spec.storage.defaultBlobstore,
    strictContentTypeValidation: true,
    ...(type === "hosted" ? { writePolicy: format === "docker" ? "allow" : "allow_once" } : {}),
  };
  const body: Record<string, unknown> = { name, online: true, storage };
  if (type === "proxy") {
    body["proxy"] = { remoteUrl: repos[format].remoteUrl, contentMaxAge: 1440, metadataMaxAge: 1440 };
    body["negativeCache"] = { enabled: true, timeToLive: 1440 };
    body["httpClient"] = { blocked: false, autoBlock: true };
  }
  if (type === "group") {
    const members = (["hosted", "proxy"] as const)
      .filter((t) => repos[format][t])
      .map((t) => `${format}-${t}`);
    body["group"] = { memberNames: members };
  }
  if (format === "docker") {
    body["docker"] = {
      v1Enabled: false,
      forceBasicAuth: !spec.security.enableAnonymousAccess && spec.authentication.enabled,
      // Connector ports: the hosted repository (push and pull) on httpPort, the group (pull only
      // in Nexus OSS) on the next port; the proxy is reached through the group.
      ...(type === "hosted" ? { httpPort: repos.docker.httpPort } : {}),
      ...(type === "group" ? { httpPort: repos.docker.httpPort + 1 } : {}),
    };
    if (type === "proxy") body["dockerProxy"] = { indexType: "HUB" };
  }
  if (format === "maven" && type !== "group") {
    body["maven"] = { versionPolicy: "MIXED", layoutPolicy: "STRICT", contentDisposition: "INLINE" };
  }
  return body;
}

/** The LDAP server payload of POST /service/rest/v1/security/ldap. */
export function nexusLdapServer(spec: NexusConfig): Record<string, unknown> {
  const url = new URL(spec.authentication.ldap.connection);
  const ldaps = url.protocol === "ldaps:";
  return {
    name: "ldap",
    protocol: ldaps ? "ldaps" : "ldap",
    useTrustStore: ldaps,
    host: url.hostname,
    port: url.port ? Number(url.port) : ldaps ? 636 : 389,
    searchBase: spec.authentication.ldap.searchBase,
    authScheme: "NONE",
    connectionTimeoutSeconds: 30,
    connectionRetryDelaySeconds: 300,
    maxIncidentsCount: 3,
    userBaseDn: "ou=people",
    userObjectClass: "inetOrgPerson",
    userIdAttribute: "uid",
    userRealNameAttribute: "cn",
    userEmailAddressAttribute: "mail",
    ldapGroupsAsRoles: true,
    groupType: "static",
    groupBaseDn: "ou=groups",
    groupObjectClass: "groupOfNames",
    groupIdAttribute: "cn",
    groupMemberAttribute: "member",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Nexus substitutes ${dn} itself.
    groupMemberFormat: "${dn}",
  };
}

/** Nexus REST API requests (blob stores, repositories, realms, anonymous access, LDAP), in order. */
export function nexusApiRequests(spec: NexusConfig): ApiRequest[] {
  const requests: ApiRequest[] = [];
  const json = "application/json";
  for (const store of spec.storage.blobstores) {
    requests.push({
      target: "nexus",
      method: "POST",
      path: `/service/rest/v1/blobstores/${store.type}`,
      contentType: json,
      description: `${store.type} blob store "${store.name}"`,
      body:
        store.type === "file"
          ? { name: store.name, path: store.path ?? store.name }
          : {
              name: store.name,
              bucketConfiguration: {
                bucket: {
                  region: store.region ?? "us-east-1",
                  name: store.bucket ?? "",
                  prefix: store.prefix ?? "",
                  expiration: 3,
                },
              },
            },
    });
  }
  for (const format of FORMATS) {
    for (const type of ["hosted", "proxy", "group"] as const) {
      if (!spec.repositories[format][type]) continue;
      // Nexus has no Helm group repositories (validation warns).
      if (format === "helm" && type === "group") continue;
      requests.push({
        target: "nexus",
        method: "POST",
        path: `/service/rest/v1/repositories/${format}/${type}`,
        contentType: json,
        description: `${format} ${type} repository "${format}-${type}"`,
        body: repositoryBody(spec, format, type),
      });
    }
  }
  const realms = [spec.authentication.realm];
  if (spec.repositories.docker.hosted || spec.repositories.docker.group) realms.push("DockerToken");
  if (spec.repositories.npm.hosted || spec.repositories.npm.group) realms.push("NpmToken");
  if (spec.authentication.ldap.enabled) realms.push("LdapRealm");
  requests.push({
    target: "nexus",
    method: "PUT",
    path: "/service/rest/v1/security/realms/active",
    contentType: json,
    description: "active security realms",
    body: [...new Set(realms)],
  });
  const anonymous = spec.security.enableAnonymousAccess || !spec.authentication.enabled;
  requests.push({
    target: "nexus",
    method: "PUT",
    path: "/service/rest/v1/security/anonymous",
    contentType: json,
    description: anonymous ? "anonymous read access on" : "anonymous access off",
    body: { enabled: anonymous, userId: "anonymous", realmName: "NexusAuthorizingRealm" },
  });
  if (spec.authentication.ldap.enabled && spec.authentication.ldap.connection) {
    requests.push({
      target: "nexus",
      method: "POST",
      path: "/service/rest/v1/security/ldap",
      contentType: json,
      description: `LDAP server ${spec.authentication.ldap.connection} (bind password set in the UI)`,
      body: nexusLdapServer(spec),
    });
  }
  return requests;
}

export function renderNexus(nexus: NexusRegistry): RenderedRegistry {
  const spec = nexus.spec;
  return {
    objects: [namespaceObject(nexus.metadata) as K8sObject],
    helm: { ...NEXUS_CHART, release: spec.name, namespace: spec.namespace, values: nexusValues(nexus) },
    api: nexusApiRequests(spec),
  };
}

const resourceList = z.strictObject({ cpu: z.string(), memory: z.string() }).partial();
const formatRepos = z
  .strictObject({ hosted: z.boolean(), proxy: z.boolean(), group: z.boolean(), remoteUrl: z.url() })
  .partial();

export const nexusSchema = partialSchema(NEXUS_DEFAULTS as unknown as Record<string, unknown>, {
  name: dnsLabel,
  namespace: dnsLabel,
  replicas: integer,
  image: z.string().min(1),
  "storage.blobstores": z.array(
    z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_', '-'"),
      type: z.enum(["file", "s3"]),
      path: z.string().optional(),
      bucket: z.string().optional(),
      region: z.string().optional(),
      prefix: z.string().optional(),
    }),
  ),
  "repositories.docker": formatRepos.extend({ httpPort: port.max(65534), host: z.string() }).partial(),
  "repositories.maven": formatRepos,
  "repositories.npm": formatRepos,
  "repositories.helm": formatRepos,
  "resources.limits": resourceList,
  "resources.requests": resourceList,
});

const JVM_SIZE = /^(\d+)([kKmMgG])$/;

/** Bytes of a Java memory size ("1024m", "2g"), or undefined when invalid. */
export function jvmBytes(value: string): number | undefined {
  const match = JVM_SIZE.exec(value);
  if (!match) return undefined;
  const unit = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[match[2]!.toLowerCase() as "k" | "m" | "g"];
  return Number(match[1]) * unit;
}

export function nexusProblems(spec: NexusConfig, problems: Problems): void {
  problems.replicas("replicas", spec.replicas);
  if (spec.replicas > 1) {
    problems.warn("replicas", "Nexus Repository OSS runs one instance; the chart's Deployment has 1 replica");
  }
  problems.resources("resources", spec.resources);
  problems.quantity("storage.size", spec.storage.size, "storage");

  const data = spec.storage.dataPath.replace(/\/+$/, "");
  if (data !== "/nexus-data" && !data.startsWith("/nexus-data/")) {
    problems.error("storage.dataPath", "the chart mounts its volume at /nexus-data: dataPath must be on it");
  }
  for (const key of ["logPath", "tempPath"] as const) {
    if (!spec.storage[key].startsWith("/")) problems.error(`storage.${key}`, "must be an absolute path");
  }
  const names = new Set<string>(["default"]);
  spec.storage.blobstores.forEach((store, i) => {
    if (names.has(store.name))
      problems.error(`storage.blobstores[${i}].name`, `duplicate blob store "${store.name}"`);
    names.add(store.name);
    if (store.type === "s3" && !store.bucket) {
      problems.error(`storage.blobstores[${i}].bucket`, "an S3 blob store needs a bucket");
    }
  });
  if (!names.has(spec.storage.defaultBlobstore)) {
    problems.error("storage.defaultBlobstore", `no blob store named "${spec.storage.defaultBlobstore}"`);
  }

  const sizes: Record<string, number | undefined> = {};
  for (const key of ["maxMemory", "minMemory", "directMemory"] as const) {
    sizes[key] = jvmBytes(spec.jvm[key]);
    if (sizes[key] === undefined)
      problems.error(`jvm.${key}`, `invalid JVM size "${spec.jvm[key]}" (e.g. "1024m", "2g")`);
  }
  const { maxMemory, minMemory, directMemory } = sizes;
  if (maxMemory !== undefined && minMemory !== undefined && minMemory > maxMemory) {
    problems.error("jvm.minMemory", "must not exceed jvm.maxMemory");
  }
  let limit: number | undefined;
  try {
    limit = parseQuantity(spec.resources.limits.memory);
  } catch {
    limit = undefined;
  }
  if (
    maxMemory !== undefined &&
    directMemory !== undefined &&
    limit !== undefined &&
    maxMemory + directMemory > limit
  ) {
    problems.error(
      "jvm.maxMemory",
      `heap + direct memory (${spec.jvm.maxMemory} + ${spec.jvm.directMemory}) exceed the memory limit ${spec.resources.limits.memory}`,
    );
  }

  const ldap = spec.authentication.ldap;
  if (ldap.enabled && !ldap.connection) {
    problems.error("authentication.ldap.connection", "LDAP is enabled but no connection URL is set");
  } else if (ldap.enabled && !/^ldaps?:\/\/[^/]+/.test(ldap.connection)) {
    problems.error(
      "authentication.ldap.connection",
      `"${ldap.connection}" is not an ldap:// or ldaps:// URL`,
    );
  }
  if (ldap.enabled && !ldap.searchBase) {
    problems.error("authentication.ldap.searchBase", "LDAP is enabled but no search base (base DN) is set");
  }
  if (spec.repositories.helm.group) {
    problems.warn("repositories.helm.group", "Nexus has no Helm group repositories; none is created");
  }
  if (!spec.repositories.docker.host && (spec.repositories.docker.hosted || spec.repositories.docker.group)) {
    problems.warn(
      "repositories.docker.host",
      "no host for the Docker connector: the chart exposes no Docker ingress (the port is still served in the pod)",
    );
  }
}

export function nexusComponents(spec: NexusConfig) {
  return [{ name: "nexus", replicas: spec.replicas, resources: spec.resources }];
}
