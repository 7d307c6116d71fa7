/**
 * Nexus Repository Manager (seed 002, "mkNexusRegistry"): schema, semantic rules and renderer.
 * The builder `nexusRegistry(name, config)` (kinds.ts) parses a deep-partial config with
 * `nexusSchema`, which holds every option with its default.
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
  annotationsEntry,
  type BuiltMetadata,
  copyResources,
  namespaceObject,
  type Problems,
  parseQuantity,
  type RenderedRegistry,
  splitImage,
} from "./common.ts";
import type { Built } from "./define.ts";
import { integer, port, registryIdentity, workloadFields } from "./schema.ts";

const blobstore = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_', '-'"),
  /** "file" (a directory under the data volume) or "s3". */
  type: z.enum(["file", "s3"]),
  /** file: path relative to <dataPath>/blobs, or absolute. */
  path: z.string().optional(),
  /** s3: bucket, region, key prefix. */
  bucket: z.string().optional(),
  region: z.string().optional(),
  prefix: z.string().optional(),
});

/** The repositories of one format, proxying `remoteUrl`. */
function formatRepositories(remoteUrl: string) {
  return {
    hosted: z.boolean().default(true),
    proxy: z.boolean().default(true),
    group: z.boolean().default(true),
    /** Reestr extension: the proxied upstream. */
    remoteUrl: z.url().default(remoteUrl),
  };
}

export const nexusSchema = z
  .strictObject({
    ...registryIdentity("nexus", "3.68"),
    replicas: integer.default(1),
    /** Container image; by default `sonatype/nexus3:<version>` (filled in below). */
    image: z.string().min(1).default(""),
    storage: z
      .strictObject({
        /** The chart mounts its volume at /nexus-data; dataPath must be it (or below it). */
        dataPath: z.string().default("/nexus-data"),
        logPath: z.string().default("/nexus-data/log"),
        tempPath: z.string().default("/nexus-data/tmp"),
        blobstores: z.array(blobstore).prefault([]),
        /** Reestr extension: PVC size and storage class. */
        size: z.string().default("8Gi"),
        storageClass: z.string().default(""),
        /** Reestr extension: the blob store the repositories use. */
        defaultBlobstore: z.string().default("default"),
      })
      .prefault({}),
    repositories: z
      .strictObject({
        docker: z
          .strictObject({
            ...formatRepositories("https://registry-1.docker.io"),
            /** Reestr extension: Docker connector port of the hosted repository (the group gets the next one). */
            httpPort: port.max(65534).default(5000),
            /** Reestr extension: host name of the chart's Docker ingress; empty = no ingress. */
            host: z.string().default(""),
          })
          .prefault({}),
        maven: z.strictObject(formatRepositories("https://repo1.maven.org/maven2/")).prefault({}),
        npm: z.strictObject(formatRepositories("https://registry.npmjs.org")).prefault({}),
        helm: z.strictObject(formatRepositories("https://charts.helm.sh/stable")).prefault({}),
      })
      .prefault({}),
    authentication: z
      .strictObject({
        enabled: z.boolean().default(true),
        realm: z.string().default("NexusAuthenticatingRealm"),
        /** connection: LDAP URL, e.g. ldaps://ldap.example.com:636; searchBase (extension) its base DN. */
        ldap: z
          .strictObject({
            enabled: z.boolean().default(false),
            connection: z.string().default(""),
            searchBase: z.string().default(""),
          })
          .prefault({}),
      })
      .prefault({}),
    security: z
      .strictObject({
        enableAnonymousAccess: z.boolean().default(false),
        /** Kept in the spec; Nexus sets logger levels in its UI (Support → Logging), so not rendered. */
        enableRealmsLogging: z.boolean().default(false),
      })
      .prefault({}),
    /** JVM sizes in Java's syntax: "1024m", "2g". */
    jvm: z
      .strictObject({
        maxMemory: z.string().default("1024m"),
        minMemory: z.string().default("256m"),
        directMemory: z.string().default("512m"),
      })
      .prefault({}),
    ...workloadFields({
      limits: { cpu: "2000m", memory: "2048Mi" },
      requests: { cpu: "500m", memory: "1024Mi" },
    }),
  })
  // A version alone picks the matching official image.
  .transform((spec) => ({ ...spec, image: spec.image || `sonatype/nexus3:${spec.version}` }));

/** What nexusRegistry() takes: any subset of the options, at any depth. */
export type NexusInput = z.input<typeof nexusSchema>;
export type NexusConfig = z.output<typeof nexusSchema>;
export type NexusBlobstore = z.output<typeof blobstore>;
export type NexusFormatRepositories = NexusConfig["repositories"]["maven"];
export type NexusRegistry = Built<"NexusRegistry", BuiltMetadata, NexusConfig>;

export const NEXUS_DEFAULTS: NexusConfig = nexusSchema.parse({});

export const NEXUS_APP = "nexus-repository-manager";
export const NEXUS_CHART = {
  chart: "nexus-repository-manager",
  repository: "https://sonatype.github.io/helm3-charts/",
} as const;

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
  const annotations = nexus.metadata.annotations;
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
      resources: copyResources(spec.resources),
      docker: {
        enabled: dockerConnector,
        ...(dockerConnector ? { registries: [{ host: docker.host, port: docker.httpPort }] } : {}),
      },
      ...annotationsEntry(annotations, "podAnnotations"),
      extraLabels: { ...nexus.metadata.labels },
    },
    persistence: {
      enabled: true,
      accessMode: "ReadWriteOnce",
      storageSize: spec.storage.size,
      ...(spec.storage.storageClass ? { storageClass: spec.storage.storageClass } : {}),
    },
    ...(Object.keys(annotations).length > 0 ? { deployment: annotationsEntry(annotations) } : {}),
    service: { type: "ClusterIP" },
  };
}

type Format = "docker" | "maven" | "npm" | "helm";
const FORMATS: Format[] = ["docker", "maven", "npm", "helm"];
type RepositoryType = "hosted" | "proxy" | "group";
const REPOSITORY_TYPES: RepositoryType[] = ["hosted", "proxy", "group"];

function repositoryBody(spec: NexusConfig, format: Format, type: RepositoryType): Record<string, unknown> {
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
    const members = REPOSITORY_TYPES.filter((t) => t !== "group" && repos[format][t]).map(
      (t) => `${format}-${t}`,
    );
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

function nexusRequest(
  method: ApiRequest["method"],
  path: string,
  description: string,
  body: unknown,
): ApiRequest {
  return { target: "nexus", method, path, contentType: "application/json", description, body };
}

function blobstoreRequests(spec: NexusConfig): ApiRequest[] {
  return spec.storage.blobstores.map((store) =>
    nexusRequest(
      "POST",
      `/service/rest/v1/blobstores/${store.type}`,
      `${store.type} blob store "${store.name}"`,
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
    ),
  );
}

function repositoryRequests(spec: NexusConfig): ApiRequest[] {
  return FORMATS.flatMap((format) =>
    REPOSITORY_TYPES.filter(
      // Nexus has no Helm group repositories (validation warns).
      (type) => spec.repositories[format][type] && !(format === "helm" && type === "group"),
    ).map((type) =>
      nexusRequest(
        "POST",
        `/service/rest/v1/repositories/${format}/${type}`,
        `${format} ${type} repository "${format}-${type}"`,
        repositoryBody(spec, format, type),
      ),
    ),
  );
}

/** Active realms, anonymous access and the LDAP server. */
function securityRequests(spec: NexusConfig): ApiRequest[] {
  const { repositories, authentication } = spec;
  const realms = [authentication.realm];
  if (repositories.docker.hosted || repositories.docker.group) realms.push("DockerToken");
  if (repositories.npm.hosted || repositories.npm.group) realms.push("NpmToken");
  if (authentication.ldap.enabled) realms.push("LdapRealm");
  const anonymous = spec.security.enableAnonymousAccess || !authentication.enabled;
  const requests = [
    nexusRequest("PUT", "/service/rest/v1/security/realms/active", "active security realms", [
      ...new Set(realms),
    ]),
    nexusRequest(
      "PUT",
      "/service/rest/v1/security/anonymous",
      anonymous ? "anonymous read access on" : "anonymous access off",
      { enabled: anonymous, userId: "anonymous", realmName: "NexusAuthorizingRealm" },
    ),
  ];
  if (authentication.ldap.enabled && authentication.ldap.connection) {
    requests.push(
      nexusRequest(
        "POST",
        "/service/rest/v1/security/ldap",
        `LDAP server ${authentication.ldap.connection} (bind password set in the UI)`,
        nexusLdapServer(spec),
      ),
    );
  }
  return requests;
}

/** Nexus REST API requests (blob stores, repositories, realms, anonymous access, LDAP), in order. */
export function nexusApiRequests(spec: NexusConfig): ApiRequest[] {
  return [...blobstoreRequests(spec), ...repositoryRequests(spec), ...securityRequests(spec)];
}

export function renderNexus(nexus: NexusRegistry): RenderedRegistry {
  const spec = nexus.spec;
  return {
    objects: [namespaceObject(nexus.metadata)],
    helm: { ...NEXUS_CHART, release: spec.name, namespace: spec.namespace, values: nexusValues(nexus) },
    api: nexusApiRequests(spec),
  };
}

const JVM_SIZE = /^(\d+)([kKmMgG])$/;
const JVM_UNIT_BYTES: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** Bytes of a Java memory size ("1024m", "2g"), or undefined when invalid. */
export function jvmBytes(value: string): number | undefined {
  const match = JVM_SIZE.exec(value);
  const unit = JVM_UNIT_BYTES[match?.[2]?.toLowerCase() ?? ""];
  return match && unit !== undefined ? Number(match[1]) * unit : undefined;
}

export function nexusProblems(spec: NexusConfig, problems: Problems): void {
  problems.atLeastOne("replicas", spec.replicas);
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
