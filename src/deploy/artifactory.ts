/**
 * JFrog Artifactory (seed 002, "mkArtifactoryRegistry"): schema, semantic rules and renderer.
 * The builder `artifactoryRegistry(name, config)` (kinds.ts) parses a deep-partial config with
 * `artifactorySchema`, which holds every option with its default.
 *
 * `renderArtifactory(artifactory)` returns a values file for JFrog's official chart
 * (https://charts.jfrog.io): `jfrog/artifactory`, or `jfrog/artifactory-oss` when the image is an
 * `-oss` image, whose values nest the same keys under `artifactory:`. The values set the image,
 * replicas, resources, the external database (type, driver, url, user, password by Secret
 * reference), the master and join keys by Secret name, persistence and the nginx TLS
 * certificate. Around them: the Namespace, a Secret with the master and join keys (generated), a
 * database password Secret when the password is given inline. Artifactory REST API requests then
 * create the local/remote/virtual repositories of each package type, apply the security settings
 * (anonymous access, SAML, OAuth) through the YAML configuration API, and encrypt (or decrypt)
 * the stored configuration with the master key.
 *
 * @example
 * const artifactory = artifactoryRegistry("artifacts", { database: { url: "jdbc:postgresql://db:5432/artdb" } });
 * const { helm, objects, api } = renderArtifactory(artifactory);
 */
import { z } from "zod";
import {
  type ApiRequest,
  annotationsEntry,
  type BuiltMetadata,
  copyResources,
  type HelmRenderOptions,
  type K8sObject,
  namespaceObject,
  opaqueSecret,
  type Problems,
  type RenderedRegistry,
  randomHex,
  splitImage,
} from "./common.ts";
import type { Built } from "./define.ts";
import { integer, registryIdentity, workloadFields } from "./schema.ts";

const databaseType = z.enum(["postgresql", "mysql", "mariadb", "mssql", "oracle", "derby"]);

/** The repositories of one package type. */
function packageRepositories(remoteUrl: string) {
  return z
    .strictObject({
      local: z.boolean().default(true),
      remote: z.boolean().default(true),
      virtual: z.boolean().default(true),
      /** Reestr extension: URL of the remote repository; empty = no remote repository is created. */
      remoteUrl: z.string().default(remoteUrl),
    })
    .prefault({});
}

export const artifactorySchema = z.strictObject({
  ...registryIdentity("artifactory", "7.84"),
  replicas: integer.default(1),
  image: z.string().min(1).default("releases-docker.jfrog.io/jfrog/artifactory-oss:latest"),
  database: z
    .strictObject({
      /** "derby" = Artifactory's embedded database (no external database). */
      type: databaseType.default("postgresql"),
      url: z.string().default("jdbc:postgresql://postgres:5432/artdb"),
      username: z.string().default("artifactory"),
      /** Reestr extension: Secret holding the password under key `db-password`. */
      passwordSecret: z.string().default("artifactory-db-password"),
      /** Reestr extension: the password; when set, the Secret `passwordSecret` is rendered with it. */
      password: z.string().default(""),
    })
    .prefault({}),
  repositories: z
    .strictObject({
      docker: packageRepositories("https://registry-1.docker.io/"),
      maven: packageRepositories("https://repo1.maven.org/maven2/"),
      npm: packageRepositories("https://registry.npmjs.org"),
      helm: packageRepositories("https://charts.helm.sh/stable"),
      generic: packageRepositories(""),
    })
    .prefault({}),
  authentication: z
    .strictObject({
      /** false = anonymous access on. */
      enabled: z.boolean().default(true),
      saml: z
        .strictObject({ enabled: z.boolean().default(false), loginUrl: z.string().default("") })
        .prefault({}),
      /** type: the OAuth provider type ("oauth2" = generic OpenID Connect). */
      oauth: z
        .strictObject({
          enabled: z.boolean().default(false),
          type: z.enum(["oauth2", "openId", "github", "google", "cloudfoundry"]).default("oauth2"),
        })
        .prefault({}),
    })
    .prefault({}),
  security: z
    .strictObject({
      /** certificate: name of a kubernetes.io/tls Secret for nginx; empty = the chart's self-signed one. */
      ssl: z
        .strictObject({ enabled: z.boolean().default(true), certificate: z.string().default("") })
        .prefault({}),
      /** Encrypts passwords stored in Artifactory's configuration with the master key. */
      encryption: z
        .strictObject({ enabled: z.boolean().default(true), algorithm: z.enum(["AES256"]).default("AES256") })
        .prefault({}),
    })
    .prefault({}),
  ...workloadFields({
    limits: { cpu: "2000m", memory: "2048Mi" },
    requests: { cpu: "500m", memory: "1024Mi" },
  }),
  /** Reestr extension: the data volume. */
  persistence: z
    .strictObject({ size: z.string().default("20Gi"), storageClass: z.string().default("") })
    .prefault({}),
});

/** What artifactoryRegistry() takes: any subset of the options, at any depth. */
export type ArtifactoryInput = z.input<typeof artifactorySchema>;
export type ArtifactoryConfig = z.output<typeof artifactorySchema>;
export type ArtifactoryDatabaseType = z.output<typeof databaseType>;
export type ArtifactoryPackageRepositories = ArtifactoryConfig["repositories"]["docker"];
export type ArtifactoryRegistry = Built<"ArtifactoryRegistry", BuiltMetadata, ArtifactoryConfig>;

export const ARTIFACTORY_DEFAULTS: ArtifactoryConfig = artifactorySchema.parse({});

export const ARTIFACTORY_APP = "artifactory";
export const JFROG_CHART_REPOSITORY = "https://charts.jfrog.io";

const JDBC_DRIVERS: Record<Exclude<ArtifactoryDatabaseType, "derby">, string> = {
  postgresql: "org.postgresql.Driver",
  mysql: "com.mysql.jdbc.Driver",
  mariadb: "org.mariadb.jdbc.Driver",
  mssql: "com.microsoft.sqlserver.jdbc.SQLServerDriver",
  oracle: "oracle.jdbc.OracleDriver",
};

/** True for the OSS image, whose chart is jfrog/artifactory-oss (values nested under `artifactory:`). */
export function isOssImage(image: string): boolean {
  return /-oss$/.test(splitImage(image).repository);
}

export function artifactoryKeysSecretName(spec: ArtifactoryConfig): string {
  return `${spec.name}-artifactory-keys`;
}

/** The chart's external `database` section; none for the embedded Derby database. */
function databaseValues(spec: ArtifactoryConfig): Record<string, unknown> {
  const database = spec.database;
  if (database.type === "derby") return {};
  return {
    database: {
      type: database.type,
      driver: JDBC_DRIVERS[database.type],
      url: database.url,
      user: database.username,
      secrets: { password: { name: database.passwordSecret, key: "db-password" } },
    },
  };
}

/** Values of jfrog/artifactory (un-nested; renderArtifactory nests them for artifactory-oss). */
export function artifactoryValues(artifactory: ArtifactoryRegistry): Record<string, unknown> {
  const spec = artifactory.spec;
  const image = splitImage(spec.image);
  const keys = artifactoryKeysSecretName(spec);
  const ssl = spec.security.ssl;
  return {
    artifactory: {
      image: { registry: image.registry, repository: image.repository, tag: image.tag },
      replicaCount: spec.replicas,
      resources: copyResources(spec.resources),
      masterKeySecretName: keys,
      joinKeySecretName: keys,
      persistence: {
        size: spec.persistence.size,
        ...(spec.persistence.storageClass ? { storageClassName: spec.persistence.storageClass } : {}),
      },
      labels: { ...artifactory.metadata.labels },
      ...annotationsEntry(artifactory.metadata.annotations),
    },
    // The bundled PostgreSQL sub-chart is off: the seed describes an external database.
    postgresql: { enabled: false },
    nginx: {
      enabled: true,
      http: { enabled: true },
      https: { enabled: ssl.enabled },
      ...(ssl.enabled && ssl.certificate ? { tlsSecretName: ssl.certificate } : {}),
    },
    ...databaseValues(spec),
  };
}

type PackageType = "docker" | "maven" | "npm" | "helm" | "generic";
const PACKAGE_TYPES: PackageType[] = ["docker", "maven", "npm", "helm", "generic"];

/** The local, remote (when it has a URL) and virtual repository of one package type. */
function repositoryRequests(spec: ArtifactoryConfig, type: PackageType): ApiRequest[] {
  const repos = spec.repositories[type];
  const request = (rclass: "local" | "remote" | "virtual", extra: Record<string, unknown>): ApiRequest => {
    const key = `${type}-${rclass}`;
    return {
      target: "artifactory",
      method: "PUT",
      path: `/artifactory/api/repositories/${key}`,
      contentType: "application/json",
      description: `${type} ${rclass} repository "${key}"`,
      body: {
        key,
        rclass,
        packageType: type,
        ...(type === "docker" ? { dockerApiVersion: "V2" } : {}),
        ...extra,
      },
    };
  };
  const members: ("local" | "remote")[] = [];
  if (repos.local) members.push("local");
  if (repos.remote && repos.remoteUrl) members.push("remote");
  const requests = members.map((rclass) =>
    request(rclass, rclass === "remote" ? { url: repos.remoteUrl } : {}),
  );
  if (repos.virtual && members.length > 0) {
    requests.push(
      request("virtual", {
        repositories: members.map((rclass) => `${type}-${rclass}`),
        ...(repos.local ? { defaultDeploymentRepo: `${type}-local` } : {}),
      }),
    );
  }
  return requests;
}

/** Anonymous access, SAML and OAuth through the YAML configuration API. */
function securityRequest(spec: ArtifactoryConfig): ApiRequest {
  const { enabled, saml, oauth } = spec.authentication;
  const security = {
    anonAccessEnabled: !enabled,
    ...(saml.enabled
      ? {
          samlSettings: {
            enableIntegration: true,
            loginUrl: saml.loginUrl,
            serviceProviderName: spec.name,
            noAutoUserCreation: false,
            allowUserToAccessProfile: false,
          },
        }
      : {}),
    ...(oauth.enabled
      ? {
          oauthSettings: {
            enableIntegration: true,
            allowUserToAccessProfile: false,
            persistUsers: true,
            // Provider details (client id, secret, URLs) are per installation: set them in the UI.
            providers: {},
          },
        }
      : {}),
  };
  return {
    target: "artifactory",
    method: "PATCH",
    path: "/artifactory/api/system/configuration",
    contentType: "application/yaml",
    description: "security settings (anonymous access, SAML, OAuth)",
    body: { security },
  };
}

function encryptionRequest(spec: ArtifactoryConfig): ApiRequest {
  const encryption = spec.security.encryption;
  return {
    target: "artifactory",
    method: "POST",
    path: encryption.enabled ? "/artifactory/api/system/encrypt" : "/artifactory/api/system/decrypt",
    contentType: "application/json",
    description: encryption.enabled
      ? `encrypt stored passwords with the master key (${encryption.algorithm})`
      : "store passwords decrypted",
    body: null,
  };
}

/** Artifactory REST API requests: repositories, security settings, config encryption. */
export function artifactoryApiRequests(spec: ArtifactoryConfig): ApiRequest[] {
  return [
    ...PACKAGE_TYPES.flatMap((type) => repositoryRequests(spec, type)),
    securityRequest(spec),
    encryptionRequest(spec),
  ];
}

/** The namespace, the master and join keys (generated), the database password when given inline. */
function renderObjects(artifactory: ArtifactoryRegistry, options: HelmRenderOptions): K8sObject[] {
  const { spec, metadata } = artifactory;
  // Artifactory's master key is 32 bytes of hex (AES-256), the join key 16 bytes.
  const generate = options.generateSecret ?? ((_purpose: string, length: number) => randomHex(length));
  const keys = opaqueSecret(metadata, artifactoryKeysSecretName(spec), {
    "master-key": generate("artifactory master key", 64),
    "join-key": generate("artifactory join key", 32),
  });
  const inlinePassword = spec.database.type !== "derby" && spec.database.password !== "";
  return [
    namespaceObject(metadata),
    keys,
    ...(inlinePassword
      ? [opaqueSecret(metadata, spec.database.passwordSecret, { "db-password": spec.database.password })]
      : []),
  ];
}

export function renderArtifactory(
  artifactory: ArtifactoryRegistry,
  options: HelmRenderOptions = {},
): RenderedRegistry {
  const spec = artifactory.spec;
  const oss = isOssImage(spec.image);
  const values = artifactoryValues(artifactory);
  return {
    objects: renderObjects(artifactory, options),
    helm: {
      chart: oss ? "artifactory-oss" : "artifactory",
      repository: JFROG_CHART_REPOSITORY,
      release: spec.name,
      namespace: spec.namespace,
      // The artifactory-oss chart wraps jfrog/artifactory as a dependency named "artifactory".
      values: oss ? { artifactory: values } : values,
    },
    api: artifactoryApiRequests(spec),
  };
}

export function artifactoryProblems(spec: ArtifactoryConfig, problems: Problems): void {
  problems.atLeastOne("replicas", spec.replicas);
  if (spec.replicas > 1 && isOssImage(spec.image)) {
    problems.error(
      "replicas",
      "Artifactory OSS runs one node; more replicas need an Enterprise image and license",
    );
  }
  problems.resources("resources", spec.resources);
  problems.quantity("persistence.size", spec.persistence.size, "storage");
  if (spec.database.type !== "derby") {
    if (!spec.database.url) problems.error("database.url", "an external database needs a JDBC URL");
    else if (
      !spec.database.url.startsWith(
        `jdbc:${spec.database.type === "mssql" ? "sqlserver" : spec.database.type}:`,
      )
    ) {
      problems.error("database.url", `"${spec.database.url}" is not a JDBC URL for ${spec.database.type}`);
    }
    if (!spec.database.username) problems.error("database.username", "an external database needs a user");
    problems.secretReference(
      "database.passwordSecret",
      {
        secretName: spec.database.passwordSecret,
        key: "db-password",
        namespace: spec.namespace,
        inlineValue: spec.database.password,
      },
      "name the Secret holding the database password",
    );
  }
  const saml = spec.authentication.saml;
  if (saml.enabled && !saml.loginUrl) {
    problems.error("authentication.saml.loginUrl", "SAML is enabled but no login URL is set");
  } else if (saml.enabled) {
    problems.httpUrl("authentication.saml.loginUrl", saml.loginUrl);
  }
  if (spec.security.ssl.enabled && !spec.security.ssl.certificate) {
    problems.warn(
      "security.ssl.certificate",
      "TLS is enabled without a certificate Secret: the chart's nginx serves a self-signed certificate",
    );
  }
  for (const type of PACKAGE_TYPES) {
    const repos = spec.repositories[type];
    if (repos.remote && !repos.remoteUrl) {
      problems.warn(`repositories.${type}.remoteUrl`, `no URL: the ${type} remote repository is not created`);
    } else if (repos.remote) {
      problems.httpUrl(`repositories.${type}.remoteUrl`, repos.remoteUrl);
    }
  }
}

export function artifactoryComponents(spec: ArtifactoryConfig) {
  return [{ name: "artifactory", replicas: spec.replicas, resources: spec.resources }];
}
