/**
 * JFrog Artifactory builder and renderer (seed 002, "mkArtifactoryRegistry").
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
  type BuiltMetadata,
  builtMetadata,
  DEPLOY_API_VERSION,
  type DeepPartial,
  deepMerge,
  type Labels,
  namespaceObject,
  opaqueSecret,
  type Problems,
  randomHex,
  splitImage,
} from "./common.ts";
import type { K8sObject, ResourceList } from "./docker-registry.ts";
import type { HelmRenderOptions, RenderedRegistry } from "./harbor.ts";
import { dnsLabel, integer, partialSchema } from "./schema.ts";

export type ArtifactoryDatabaseType = "postgresql" | "mysql" | "mariadb" | "mssql" | "oracle" | "derby";

export interface ArtifactoryPackageRepositories {
  local: boolean;
  remote: boolean;
  virtual: boolean;
  /** Reestr extension: URL of the remote repository; empty = no remote repository is created. */
  remoteUrl: string;
}

export interface ArtifactoryConfig {
  name: string;
  version: string;
  namespace: string;
  replicas: number;
  image: string;
  database: {
    /** "derby" = Artifactory's embedded database (no external database). */
    type: ArtifactoryDatabaseType;
    url: string;
    username: string;
    /** Reestr extension: Secret holding the password under key `db-password`. */
    passwordSecret: string;
    /** Reestr extension: the password; when set, the Secret `passwordSecret` is rendered with it. */
    password: string;
  };
  repositories: {
    docker: ArtifactoryPackageRepositories;
    maven: ArtifactoryPackageRepositories;
    npm: ArtifactoryPackageRepositories;
    helm: ArtifactoryPackageRepositories;
    generic: ArtifactoryPackageRepositories;
  };
  authentication: {
    /** false = anonymous access on. */
    enabled: boolean;
    saml: { enabled: boolean; loginUrl: string };
    /** type: the OAuth provider type ("oauth2" = generic OpenID Connect). */
    oauth: { enabled: boolean; type: string };
  };
  security: {
    /** certificate: name of a kubernetes.io/tls Secret for nginx; empty = the chart's self-signed one. */
    ssl: { enabled: boolean; certificate: string };
    /** Encrypts passwords stored in Artifactory's configuration with the master key. */
    encryption: { enabled: boolean; algorithm: "AES256" };
  };
  resources: { limits: ResourceList; requests: ResourceList };
  labels: Labels;
  annotations: Record<string, string>;
  /** Reestr extension: the data volume. */
  persistence: { size: string; storageClass: string };
}

export const ARTIFACTORY_DEFAULTS: ArtifactoryConfig = {
  name: "artifactory",
  version: "7.84",
  namespace: "artifactory",
  replicas: 1,
  image: "releases-docker.jfrog.io/jfrog/artifactory-oss:latest",
  database: {
    type: "postgresql",
    url: "jdbc:postgresql://postgres:5432/artdb",
    username: "artifactory",
    passwordSecret: "artifactory-db-password",
    password: "",
  },
  repositories: {
    docker: { local: true, remote: true, virtual: true, remoteUrl: "https://registry-1.docker.io/" },
    maven: { local: true, remote: true, virtual: true, remoteUrl: "https://repo1.maven.org/maven2/" },
    npm: { local: true, remote: true, virtual: true, remoteUrl: "https://registry.npmjs.org" },
    helm: { local: true, remote: true, virtual: true, remoteUrl: "https://charts.helm.sh/stable" },
    generic: { local: true, remote: true, virtual: true, remoteUrl: "" },
  },
  authentication: {
    enabled: true,
    saml: { enabled: false, loginUrl: "" },
    oauth: { enabled: false, type: "oauth2" },
  },
  security: {
    ssl: { enabled: true, certificate: "" },
    encryption: { enabled: true, algorithm: "AES256" },
  },
  resources: {
    limits: { cpu: "2000m", memory: "2048Mi" },
    requests: { cpu: "500m", memory: "1024Mi" },
  },
  labels: {},
  annotations: {},
  persistence: { size: "20Gi", storageClass: "" },
};

export interface ArtifactoryRegistry {
  apiVersion: typeof DEPLOY_API_VERSION;
  kind: "ArtifactoryRegistry";
  metadata: BuiltMetadata;
  spec: ArtifactoryConfig;
}

export const ARTIFACTORY_APP = "artifactory";
export const JFROG_CHART_REPOSITORY = "https://charts.jfrog.io";

export function artifactoryRegistry(
  name: string,
  config: DeepPartial<ArtifactoryConfig> = {},
): ArtifactoryRegistry {
  const spec = deepMerge({ ...ARTIFACTORY_DEFAULTS, name }, config);
  return {
    apiVersion: DEPLOY_API_VERSION,
    kind: "ArtifactoryRegistry",
    metadata: builtMetadata(spec, ARTIFACTORY_APP, "repository"),
    spec,
  };
}

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

/** Values of jfrog/artifactory (un-nested; renderArtifactory nests them for artifactory-oss). */
export function artifactoryValues(artifactory: ArtifactoryRegistry): Record<string, unknown> {
  const spec = artifactory.spec;
  const image = splitImage(spec.image);
  const keys = artifactoryKeysSecretName(spec);
  const external = spec.database.type !== "derby";
  const values: Record<string, unknown> = {
    artifactory: {
      image: { registry: image.registry, repository: image.repository, tag: image.tag },
      replicaCount: spec.replicas,
      resources: { limits: { ...spec.resources.limits }, requests: { ...spec.resources.requests } },
      masterKeySecretName: keys,
      joinKeySecretName: keys,
      persistence: {
        size: spec.persistence.size,
        ...(spec.persistence.storageClass ? { storageClassName: spec.persistence.storageClass } : {}),
      },
      labels: { ...artifactory.metadata.labels },
      ...(Object.keys(artifactory.metadata.annotations).length > 0
        ? { annotations: { ...artifactory.metadata.annotations } }
        : {}),
    },
    // The bundled PostgreSQL sub-chart is off: the seed describes an external database.
    postgresql: { enabled: false },
    nginx: {
      enabled: true,
      http: { enabled: true },
      https: { enabled: spec.security.ssl.enabled },
      ...(spec.security.ssl.enabled && spec.security.ssl.certificate
        ? { tlsSecretName: spec.security.ssl.certificate }
        : {}),
    },
  };
  if (external) {
    values["database"] = {
      type: spec.database.type,
      driver: JDBC_DRIVERS[spec.database.type as Exclude<ArtifactoryDatabaseType, "derby">],
      url: spec.database.url,
      user: spec.database.username,
      secrets: { password: { name: spec.database.passwordSecret, key: "db-password" } },
    };
  }
  return values;
}

type PackageType = "docker" | "maven" | "npm" | "helm" | "generic";
const PACKAGE_TYPES: PackageType[] = ["docker", "maven", "npm", "helm", "generic"];

/** Artifactory REST API requests: repositories, security settings, config encryption. */
export function artifactoryApiRequests(spec: ArtifactoryConfig): ApiRequest[] {
  const requests: ApiRequest[] = [];
  for (const type of PACKAGE_TYPES) {
    const repos = spec.repositories[type];
    const created: string[] = [];
    const add = (rclass: "local" | "remote" | "virtual", extra: Record<string, unknown>) => {
      const key = `${type}-${rclass}`;
      requests.push({
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
      });
      created.push(key);
    };
    if (repos.local) add("local", {});
    if (repos.remote && repos.remoteUrl) add("remote", { url: repos.remoteUrl });
    if (repos.virtual && created.length > 0) {
      add("virtual", {
        repositories: [...created],
        ...(repos.local ? { defaultDeploymentRepo: `${type}-local` } : {}),
      });
    }
  }
  const security: Record<string, unknown> = { anonAccessEnabled: !spec.authentication.enabled };
  if (spec.authentication.saml.enabled) {
    security["samlSettings"] = {
      enableIntegration: true,
      loginUrl: spec.authentication.saml.loginUrl,
      serviceProviderName: spec.name,
      noAutoUserCreation: false,
      allowUserToAccessProfile: false,
    };
  }
  if (spec.authentication.oauth.enabled) {
    security["oauthSettings"] = {
      enableIntegration: true,
      allowUserToAccessProfile: false,
      persistUsers: true,
      // Provider details (client id, secret, URLs) are per installation: set them in the UI.
      providers: {},
    };
  }
  requests.push({
    target: "artifactory",
    method: "PATCH",
    path: "/artifactory/api/system/configuration",
    contentType: "application/yaml",
    description: "security settings (anonymous access, SAML, OAuth)",
    body: { security },
  });
  requests.push({
    target: "artifactory",
    method: "POST",
    path: spec.security.encryption.enabled
      ? "/artifactory/api/system/encrypt"
      : "/artifactory/api/system/decrypt",
    contentType: "application/json",
    description: spec.security.encryption.enabled
      ? `encrypt stored passwords with the master key (${spec.security.encryption.algorithm})`
      : "store passwords decrypted",
    body: null,
  });
  return requests;
}

export function renderArtifactory(
  artifactory: ArtifactoryRegistry,
  options: HelmRenderOptions = {},
): RenderedRegistry {
  const spec = artifactory.spec;
  const meta = artifactory.metadata;
  // Artifactory's master key is 32 bytes of hex (AES-256), the join key 16 bytes.
  const generate = options.generateSecret ?? ((_purpose: string, length: number) => randomHex(length));
  const objects: K8sObject[] = [
    namespaceObject(meta) as K8sObject,
    opaqueSecret(meta, artifactoryKeysSecretName(spec), {
      "master-key": generate("artifactory master key", 64),
      "join-key": generate("artifactory join key", 32),
    }) as K8sObject,
  ];
  if (spec.database.type !== "derby" && spec.database.password) {
    objects.push(
      opaqueSecret(meta, spec.database.passwordSecret, {
        "db-password": spec.database.password,
      }) as K8sObject,
    );
  }
  const oss = isOssImage(spec.image);
  const values = artifactoryValues(artifactory);
  return {
    objects,
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

const resourceList = z.strictObject({ cpu: z.string(), memory: z.string() }).partial();

export const artifactorySchema = partialSchema(ARTIFACTORY_DEFAULTS as unknown as Record<string, unknown>, {
  name: dnsLabel,
  namespace: dnsLabel,
  replicas: integer,
  image: z.string().min(1),
  "database.type": z.enum(["postgresql", "mysql", "mariadb", "mssql", "oracle", "derby"]),
  "security.encryption.algorithm": z.enum(["AES256"]),
  "authentication.oauth.type": z.enum(["oauth2", "openId", "github", "google", "cloudfoundry"]),
  "resources.limits": resourceList,
  "resources.requests": resourceList,
});

export function artifactoryProblems(spec: ArtifactoryConfig, problems: Problems): void {
  problems.replicas("replicas", spec.replicas);
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
    if (!spec.database.passwordSecret) {
      problems.error("database.passwordSecret", "name the Secret holding the database password");
    } else if (!spec.database.password) {
      problems.warn(
        "database.passwordSecret",
        `Secret "${spec.database.passwordSecret}" (key "db-password") must exist in namespace "${spec.namespace}"`,
      );
    }
  }
  if (spec.authentication.saml.enabled && !spec.authentication.saml.loginUrl) {
    problems.error("authentication.saml.loginUrl", "SAML is enabled but no login URL is set");
  } else if (spec.authentication.saml.enabled && !/^https?:\/\//.test(spec.authentication.saml.loginUrl)) {
    problems.error(
      "authentication.saml.loginUrl",
      `"${spec.authentication.saml.loginUrl}" is not an http(s) URL`,
    );
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
    } else if (repos.remote && !/^https?:\/\//.test(repos.remoteUrl)) {
      problems.error(`repositories.${type}.remoteUrl`, `"${repos.remoteUrl}" is not an http(s) URL`);
    }
  }
}

export function artifactoryComponents(spec: ArtifactoryConfig) {
  return [{ name: "artifactory", replicas: spec.replicas, resources: spec.resources }];
}
