import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  HARBOR_DEFAULTS,
  harborChartVersion,
  harborRegistry,
  renderDocuments,
  renderHarbor,
} from "../../src/deploy/index.ts";
import { assertValidDocuments, assertValidK8sObject } from "./k8s-schema.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered values are free-form JSON, read field by field
type Values = Record<string, any>;

describe("harborRegistry builder", () => {
  test("every seed option with its default; name from the argument", () => {
    const h = harborRegistry("production");
    assert.equal(h.kind, "HarborRegistry");
    assert.equal(h.apiVersion, "deploy.reestr.dev/v1alpha1");
    const s = h.spec;
    assert.equal(s.name, "production");
    assert.equal(s.version, "2.10");
    assert.equal(s.namespace, "harbor");
    assert.deepEqual([s.coreReplicas, s.jobserviceReplicas, s.registryReplicas], [1, 1, 1]);
    assert.deepEqual(
      { ...s.database, password: undefined, coreDatabase: undefined, sslmode: undefined },
      {
        type: "postgresql",
        host: "harbor-postgresql.harbor.svc.cluster.local",
        port: 5432,
        username: "postgres",
        passwordSecret: "harbor-db-password",
        maxConnections: 1024,
        password: undefined,
        coreDatabase: undefined,
        sslmode: undefined,
      },
    );
    assert.deepEqual(
      { ...s.redis, password: undefined },
      {
        enabled: true,
        host: "harbor-redis.harbor.svc.cluster.local",
        port: 6379,
        db: 0,
        passwordSecret: "harbor-redis-password",
        password: undefined,
      },
    );
    assert.equal(s.storage.type, "s3");
    assert.deepEqual(
      { ...s.storage.s3, existingSecret: undefined },
      {
        endpoint: "",
        accesskey: "",
        secretkey: "",
        bucket: "harbor",
        region: "us-east-1",
        secure: true,
        existingSecret: undefined,
      },
    );
    assert.deepEqual(
      [s.storage.azure.accountname, s.storage.azure.accountkey, s.storage.azure.container],
      ["", "", "harbor"],
    );
    assert.deepEqual(s.core, { tokenExpiration: 30, jobServiceTokenExpiration: 30 });
    assert.deepEqual(s.authentication, {
      mode: "db_auth",
      ldap: { enabled: false, url: "", baseDn: "" },
      oidc: { enabled: false, name: "OIDC", endpoint: "", clientId: "" },
    });
    assert.deepEqual(s.trivy, {
      enabled: true,
      image: "goharbor/trivy-adapter-scanner:latest",
      skipUpdate: false,
      insecure: false,
    });
    assert.deepEqual(s.replication, { enabled: true, schedule: "0 0 * * *" });
    assert.deepEqual(s.garbageCollection, { enabled: true, schedule: "0 2 * * *", deleteUntagged: true });
    assert.deepEqual(s.resources, {
      limits: { cpu: "2000m", memory: "1024Mi" },
      requests: { cpu: "500m", memory: "512Mi" },
    });
    assert.deepEqual([s.labels, s.annotations], [{}, {}]);
    // The defaults object is not modified by building.
    assert.equal(HARBOR_DEFAULTS.name, "harbor");
  });

  test("the seed's example merges over the defaults; labels are auto-applied and win", () => {
    const h = harborRegistry("production", {
      coreReplicas: 3,
      registryReplicas: 3,
      database: { host: "postgres.default.svc" },
      trivy: { enabled: true },
      labels: { team: "platform", "app.kubernetes.io/instance": "other" },
    });
    assert.equal(h.spec.coreReplicas, 3);
    assert.equal(h.spec.jobserviceReplicas, 1);
    assert.equal(h.spec.database.host, "postgres.default.svc");
    assert.equal(h.spec.database.port, 5432);
    assert.deepEqual(h.metadata.labels, {
      team: "platform",
      "app.kubernetes.io/name": "harbor",
      "app.kubernetes.io/instance": "production",
      "app.kubernetes.io/managed-by": "reestr",
      "app.kubernetes.io/component": "registry",
      "app.kubernetes.io/version": "2.10",
    });
  });
});

describe("renderHarbor", () => {
  test("values use goharbor/harbor-helm's keys; passwords only by Secret reference", () => {
    const h = harborRegistry("production", {
      coreReplicas: 3,
      registryReplicas: 2,
      database: { host: "postgres.default.svc", password: "db-secret-value" },
      redis: { password: "redis-secret-value" },
      storage: { s3: { endpoint: "https://minio.example.com", accesskey: "AK", secretkey: "SK" } },
      expose: { host: "harbor.example.com", tls: { secretName: "harbor-tls" } },
      authentication: {
        ldap: { enabled: true, url: "ldaps://ldap.example.com", baseDn: "dc=example,dc=com" },
      },
      adminPassword: "Admin-Password-1",
    });
    const { helm, objects, api } = renderHarbor(h);
    assert.equal(helm.chart, "harbor");
    assert.equal(helm.repository, "https://helm.goharbor.io");
    assert.equal(helm.chartVersion, "1.14.x");
    const v = helm.values as Values;
    assert.equal(v.expose.type, "ingress");
    assert.deepEqual(v.expose.tls, {
      enabled: true,
      certSource: "secret",
      secret: { secretName: "harbor-tls" },
    });
    assert.deepEqual(v.expose.ingress.hosts, { core: "harbor.example.com" });
    assert.equal(v.externalURL, "https://harbor.example.com");
    assert.equal(v.existingSecretAdminPassword, "production-harbor-core");
    assert.equal(v.existingSecretAdminPasswordKey, "HARBOR_ADMIN_PASSWORD");
    assert.equal(v.existingSecretSecretKey, "production-harbor-core");
    assert.equal(v.harborAdminPassword, undefined);
    assert.deepEqual(v.persistence.imageChartStorage, {
      type: "s3",
      disableredirect: true,
      s3: {
        region: "us-east-1",
        bucket: "harbor",
        secure: true,
        regionendpoint: "https://minio.example.com",
        existingSecret: "production-harbor-s3",
      },
    });
    assert.equal(v.database.type, "external");
    assert.deepEqual(v.database.external, {
      host: "postgres.default.svc",
      port: "5432",
      username: "postgres",
      coreDatabase: "registry",
      existingSecret: "harbor-db-password",
      sslmode: "disable",
    });
    assert.equal(v.database.maxOpenConns, 1024);
    assert.deepEqual(v.redis, {
      type: "external",
      external: {
        addr: "harbor-redis.harbor.svc.cluster.local:6379",
        coreDatabaseIndex: "0",
        existingSecret: "harbor-redis-password",
      },
    });
    assert.equal(v.core.replicas, 3);
    assert.equal(v.jobservice.replicas, 1);
    assert.equal(v.registry.replicas, 2);
    assert.deepEqual(v.registry.registry.resources.requests, { cpu: "500m", memory: "512Mi" });
    assert.deepEqual(v.trivy.image, { repository: "goharbor/trivy-adapter-scanner", tag: "latest" });
    assert.deepEqual(JSON.parse(v.core.configureUserSettings), {
      auth_mode: "ldap_auth",
      token_expiration: 30,
      robot_token_duration: 30,
      ldap_url: "ldaps://ldap.example.com",
      ldap_base_dn: "dc=example,dc=com",
    });
    // No password anywhere in the values.
    const text = JSON.stringify(v);
    for (const secret of ["db-secret-value", "redis-secret-value", "Admin-Password-1", '"SK"']) {
      assert.ok(!text.includes(secret), secret);
    }

    for (const o of objects) assertValidK8sObject(o);
    const byName = Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o as Values]));
    assert.deepEqual(Object.keys(byName), [
      "Namespace/harbor",
      "Secret/production-harbor-core",
      "Secret/harbor-db-password",
      "Secret/harbor-redis-password",
      "Secret/production-harbor-s3",
    ]);
    const core = byName["Secret/production-harbor-core"]!.stringData;
    assert.equal(core.HARBOR_ADMIN_PASSWORD, "Admin-Password-1");
    assert.equal(core.secretKey.length, 16);
    assert.deepEqual(byName["Secret/harbor-db-password"]!.stringData, { password: "db-secret-value" });
    assert.deepEqual(byName["Secret/harbor-redis-password"]!.stringData, {
      REDIS_PASSWORD: "redis-secret-value",
    });
    assert.deepEqual(byName["Secret/production-harbor-s3"]!.stringData, {
      REGISTRY_STORAGE_S3_ACCESSKEY: "AK",
      REGISTRY_STORAGE_S3_SECRETKEY: "SK",
    });

    assert.deepEqual(api, [
      {
        target: "harbor",
        method: "PUT",
        path: "/api/v2.0/system/gc/schedule",
        contentType: "application/json",
        description: 'garbage collection on "0 2 * * *"',
        body: {
          schedule: { type: "Custom", cron: "0 0 2 * * *" },
          parameters: { delete_untagged: true, workers: 1 },
        },
      },
    ]);
  });

  test("generated secrets differ between renders unless a generator is given", () => {
    const h = harborRegistry("h");
    const a = renderHarbor(h).objects[1] as Values;
    const b = renderHarbor(h).objects[1] as Values;
    assert.notEqual(a.stringData.HARBOR_ADMIN_PASSWORD, b.stringData.HARBOR_ADMIN_PASSWORD);
    assert.match(a.stringData.HARBOR_ADMIN_PASSWORD, /^[A-Za-z0-9]{24}$/);
    const fixed = renderHarbor(h, { generateSecret: (_p, n) => "x".repeat(n) }).objects[1] as Values;
    assert.deepEqual(fixed.stringData, { HARBOR_ADMIN_PASSWORD: "x".repeat(24), secretKey: "x".repeat(16) });
  });

  test("internal database and Redis, filesystem storage, OIDC, clusterIP, GC off", () => {
    const h = harborRegistry("h", {
      database: { type: "internal" },
      redis: { enabled: false },
      storage: { type: "filesystem", filesystem: { size: "100Gi", storageClass: "fast" } },
      authentication: { oidc: { enabled: true, endpoint: "https://sso.example.com", clientId: "harbor" } },
      expose: { type: "clusterIP", tls: { enabled: false } },
      garbageCollection: { enabled: false },
    });
    const { helm, objects, api } = renderHarbor(h);
    const v = helm.values as Values;
    assert.deepEqual(v.database, { type: "internal", maxOpenConns: 1024 });
    assert.deepEqual(v.redis, { type: "internal" });
    assert.deepEqual(v.persistence.imageChartStorage, {
      type: "filesystem",
      filesystem: { rootdirectory: "/storage" },
    });
    assert.deepEqual(v.persistence.persistentVolumeClaim.registry, { size: "100Gi", storageClass: "fast" });
    assert.deepEqual(v.expose.clusterIP, { name: "h" });
    assert.equal(v.externalURL, "http://core.harbor.domain");
    assert.equal(JSON.parse(v.core.configureUserSettings).auth_mode, "oidc_auth");
    assert.deepEqual(
      objects.map((o) => o.kind),
      ["Namespace", "Secret"],
    );
    assert.deepEqual((api[0]!.body as Values).schedule, { type: "None" });
  });

  test("chart version from the Harbor version", () => {
    assert.equal(harborChartVersion("2.10"), "1.14.x");
    assert.equal(harborChartVersion("2.11.1"), "1.15.x");
    assert.equal(harborChartVersion("1.10"), undefined);
  });

  test("documents: Namespace and Secrets, values, API requests", () => {
    const documents = renderDocuments(harborRegistry("production"));
    assertValidDocuments(documents);
    assert.deepEqual(
      documents.map((d) => d.type),
      ["object", "object", "helm-values", "api-request"],
    );
    assert.equal(documents[2]!.file, "helm/values-production.yaml");
  });
});
