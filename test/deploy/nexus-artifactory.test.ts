import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  artifactoryRegistry,
  nexusRegistry,
  renderArtifactory,
  renderDocuments,
  renderNexus,
} from "../../src/deploy/index.ts";
import { assertValidDocuments } from "./k8s-schema.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered values are free-form JSON, read field by field
type Values = Record<string, any>;

describe("nexusRegistry", () => {
  test("every seed option with its default", () => {
    const s = nexusRegistry("nexus").spec;
    assert.deepEqual(
      [s.name, s.version, s.namespace, s.replicas, s.image],
      ["nexus", "3.68", "nexus", 1, "sonatype/nexus3:3.68"],
    );
    assert.deepEqual(
      [s.storage.dataPath, s.storage.logPath, s.storage.tempPath, s.storage.blobstores],
      ["/nexus-data", "/nexus-data/log", "/nexus-data/tmp", []],
    );
    for (const format of ["docker", "maven", "npm", "helm"] as const) {
      const r = s.repositories[format];
      assert.deepEqual([r.hosted, r.proxy, r.group], [true, true, true], format);
    }
    assert.deepEqual(
      { ...s.authentication, ldap: { ...s.authentication.ldap, searchBase: undefined } },
      {
        enabled: true,
        realm: "NexusAuthenticatingRealm",
        ldap: { enabled: false, connection: "", searchBase: undefined },
      },
    );
    assert.deepEqual(s.security, { enableAnonymousAccess: false, enableRealmsLogging: false });
    assert.deepEqual(s.jvm, { maxMemory: "1024m", minMemory: "256m", directMemory: "512m" });
    assert.deepEqual(s.resources, {
      limits: { cpu: "2000m", memory: "2048Mi" },
      requests: { cpu: "500m", memory: "1024Mi" },
    });
    // A version alone picks the image.
    assert.equal(nexusRegistry("n", { version: "3.70.1" }).spec.image, "sonatype/nexus3:3.70.1");
  });

  test("values for Sonatype's chart: JVM options, resources, persistence, Docker connector", () => {
    const n = nexusRegistry("enterprise", {
      replicas: 2,
      jvm: { maxMemory: "2048m" },
      repositories: { docker: { host: "docker.example.com" } },
      storage: { size: "100Gi" },
    });
    const { helm, objects } = renderNexus(n);
    assert.equal(helm.chart, "nexus-repository-manager");
    assert.equal(helm.repository, "https://sonatype.github.io/helm3-charts/");
    const v = helm.values as Values;
    assert.deepEqual(v.image, { repository: "sonatype/nexus3", tag: "3.68" });
    const env = Object.fromEntries(
      (v.nexus.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
    );
    assert.equal(
      env.INSTALL4J_ADD_VM_PARAMS,
      "-Xms256m -Xmx2048m -XX:MaxDirectMemorySize=512m -Djava.util.prefs.userRoot=/nexus-data/javaprefs -Dkaraf.data=/nexus-data -Dkaraf.log=/nexus-data/log -Djava.io.tmpdir=/nexus-data/tmp",
    );
    assert.deepEqual(v.nexus.docker, {
      enabled: true,
      registries: [{ host: "docker.example.com", port: 5000 }],
    });
    assert.deepEqual(v.nexus.resources.limits, { cpu: "2000m", memory: "2048Mi" });
    assert.equal(v.persistence.storageSize, "100Gi");
    assert.deepEqual(
      objects.map((o) => o.kind),
      ["Namespace"],
    );
  });

  test("API requests: blob stores, repositories per format (no Helm group), realms, anonymous, LDAP", () => {
    const n = nexusRegistry("n", {
      storage: { blobstores: [{ name: "docker", type: "file" }], defaultBlobstore: "docker" },
      repositories: { maven: { hosted: false, proxy: false, group: false }, npm: { group: false } },
      authentication: {
        ldap: { enabled: true, connection: "ldaps://ldap.example.com", searchBase: "dc=example" },
      },
      security: { enableAnonymousAccess: true },
    });
    const api = renderNexus(n).api;
    assert.deepEqual(
      api.map((r) => `${r.method} ${r.path}`),
      [
        "POST /service/rest/v1/blobstores/file",
        "POST /service/rest/v1/repositories/docker/hosted",
        "POST /service/rest/v1/repositories/docker/proxy",
        "POST /service/rest/v1/repositories/docker/group",
        "POST /service/rest/v1/repositories/npm/hosted",
        "POST /service/rest/v1/repositories/npm/proxy",
        "POST /service/rest/v1/repositories/helm/hosted",
        "POST /service/rest/v1/repositories/helm/proxy",
        "PUT /service/rest/v1/security/realms/active",
        "PUT /service/rest/v1/security/anonymous",
        "POST /service/rest/v1/security/ldap",
      ],
    );
    const group = api[3]!.body as Values;
    assert.deepEqual(group.group, { memberNames: ["docker-hosted", "docker-proxy"] });
    assert.equal(group.storage.blobStoreName, "docker");
    assert.equal(group.docker.httpPort, 5001);
    assert.equal((api[1]!.body as Values).docker.httpPort, 5000);
    assert.equal((api[1]!.body as Values).storage.writePolicy, "allow");
    assert.equal((api[2]!.body as Values).proxy.remoteUrl, "https://registry-1.docker.io");
    assert.deepEqual(api[8]!.body, ["NexusAuthenticatingRealm", "DockerToken", "NpmToken", "LdapRealm"]);
    assert.equal((api[9]!.body as Values).enabled, true);
    const ldap = api[10]!.body as Values;
    assert.deepEqual(
      [ldap.protocol, ldap.host, ldap.port, ldap.searchBase],
      ["ldaps", "ldap.example.com", 636, "dc=example"],
    );
  });

  test("documents validate", () => {
    assertValidDocuments(renderDocuments(nexusRegistry("enterprise", { replicas: 2 })));
  });
});

describe("artifactoryRegistry", () => {
  test("every seed option with its default", () => {
    const s = artifactoryRegistry("artifactory").spec;
    assert.deepEqual(
      [s.name, s.version, s.namespace, s.replicas, s.image],
      ["artifactory", "7.84", "artifactory", 1, "releases-docker.jfrog.io/jfrog/artifactory-oss:latest"],
    );
    assert.deepEqual(
      [s.database.type, s.database.url, s.database.username],
      ["postgresql", "jdbc:postgresql://postgres:5432/artdb", "artifactory"],
    );
    for (const type of ["docker", "maven", "npm", "helm", "generic"] as const) {
      const r = s.repositories[type];
      assert.deepEqual([r.local, r.remote, r.virtual], [true, true, true], type);
    }
    assert.deepEqual(s.authentication, {
      enabled: true,
      saml: { enabled: false, loginUrl: "" },
      oauth: { enabled: false, type: "oauth2" },
    });
    assert.deepEqual(s.security, {
      ssl: { enabled: true, certificate: "" },
      encryption: { enabled: true, algorithm: "AES256" },
    });
    assert.deepEqual(s.resources.requests, { cpu: "500m", memory: "1024Mi" });
  });

  test("OSS image: jfrog/artifactory-oss chart with values under artifactory:", () => {
    const a = artifactoryRegistry("artifacts", { database: { password: "s3cr3t-db-value" } });
    const { helm, objects } = renderArtifactory(a, { generateSecret: (_p, n) => "f".repeat(n) });
    assert.equal(helm.chart, "artifactory-oss");
    assert.equal(helm.repository, "https://charts.jfrog.io");
    const v = (helm.values as Values).artifactory as Values;
    assert.deepEqual(v.artifactory.image, {
      registry: "releases-docker.jfrog.io",
      repository: "jfrog/artifactory-oss",
      tag: "latest",
    });
    assert.equal(v.artifactory.masterKeySecretName, "artifacts-artifactory-keys");
    assert.equal(v.artifactory.joinKeySecretName, "artifacts-artifactory-keys");
    assert.deepEqual(v.postgresql, { enabled: false });
    assert.deepEqual(v.database, {
      type: "postgresql",
      driver: "org.postgresql.Driver",
      url: "jdbc:postgresql://postgres:5432/artdb",
      user: "artifactory",
      secrets: { password: { name: "artifactory-db-password", key: "db-password" } },
    });
    assert.deepEqual(v.nginx.https, { enabled: true });
    assert.ok(!JSON.stringify(helm.values).includes("s3cr3t-db-value"));
    const secrets = objects.filter((o) => o.kind === "Secret") as Values[];
    assert.deepEqual(secrets[0]!.stringData, { "master-key": "f".repeat(64), "join-key": "f".repeat(32) });
    assert.deepEqual(secrets[1]!.stringData, { "db-password": "s3cr3t-db-value" });
  });

  test("Pro image: jfrog/artifactory chart, values at the top; replicas; TLS secret; derby", () => {
    const a = artifactoryRegistry("a", {
      image: "releases-docker.jfrog.io/jfrog/artifactory-pro:7.84.10",
      replicas: 3,
      database: { type: "derby" },
      security: { ssl: { certificate: "a-tls" } },
    });
    const { helm } = renderArtifactory(a);
    assert.equal(helm.chart, "artifactory");
    const v = helm.values as Values;
    assert.equal(v.artifactory.replicaCount, 3);
    assert.equal(v.artifactory.image.tag, "7.84.10");
    assert.equal(v.nginx.tlsSecretName, "a-tls");
    assert.equal(v.database, undefined);
  });

  test("API requests: repositories (local, remote, virtual), security settings, encryption", () => {
    const a = artifactoryRegistry("a", {
      repositories: {
        maven: { local: false, remote: false, virtual: false },
        npm: { local: false, remote: false, virtual: false },
        helm: { local: false, remote: false, virtual: false },
        generic: { remote: false, virtual: false },
      },
      authentication: { enabled: false, saml: { enabled: true, loginUrl: "https://idp.example.com/sso" } },
    });
    const api = renderArtifactory(a).api;
    assert.deepEqual(
      api.map((r) => `${r.method} ${r.path}`),
      [
        "PUT /artifactory/api/repositories/docker-local",
        "PUT /artifactory/api/repositories/docker-remote",
        "PUT /artifactory/api/repositories/docker-virtual",
        "PUT /artifactory/api/repositories/generic-local",
        "PATCH /artifactory/api/system/configuration",
        "POST /artifactory/api/system/encrypt",
      ],
    );
    assert.deepEqual(api[2]!.body, {
      key: "docker-virtual",
      rclass: "virtual",
      packageType: "docker",
      dockerApiVersion: "V2",
      repositories: ["docker-local", "docker-remote"],
      defaultDeploymentRepo: "docker-local",
    });
    const security = (api[4]!.body as Values).security;
    assert.equal(security.anonAccessEnabled, true);
    assert.equal(security.samlSettings.loginUrl, "https://idp.example.com/sso");
    assert.equal(api[4]!.contentType, "application/yaml");
  });

  test("documents validate", () => {
    assertValidDocuments(renderDocuments(artifactoryRegistry("artifactory")));
  });
});
