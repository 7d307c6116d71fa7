import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import {
  DOCKER_REGISTRY_DEFAULTS,
  dockerRegistry,
  type K8sObject,
  renderDockerRegistry,
  renderYaml,
} from "../../src/deploy/index.ts";
import { assertValidK8sObject } from "./k8s-schema.ts";

function byKind(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} in ${objects.map((o) => o.kind).join(",")}`);
  return found[0]!;
}

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are plain data walked by tests
type Any = any;

describe("dockerRegistry builder", () => {
  test("merges over the seed's defaults", () => {
    const r = dockerRegistry("local", { replicas: 2, storage: { s3: { bucket: "b" } } });
    const s = r.spec;
    assert.equal(s.name, "local");
    assert.equal(s.replicas, 2);
    assert.equal(s.version, "2.8");
    assert.equal(s.namespace, "registry");
    assert.equal(s.image, "registry:2.8");
    assert.equal(s.storage.driver, "filesystem");
    assert.deepEqual(s.storage.filesystem, { rootdirectory: "/var/lib/registry", maxthreads: 100 });
    assert.equal(s.storage.s3.bucket, "b");
    assert.equal(s.storage.s3.region, "us-east-1");
    assert.equal(s.storage.s3.enabled, false);
    assert.equal(s.storage.s3.encrypt, true);
    assert.equal(s.storage.s3.secure, true);
    assert.deepEqual(
      { addr: s.http.addr, net: s.http.net, tlsenabled: s.http.tlsenabled },
      { addr: ":5000", net: "tcp", tlsenabled: false },
    );
    assert.equal(s.auth.enabled, true);
    assert.equal(s.auth.scheme, "bearer");
    assert.equal(s.auth.token.realm, "https://auth.docker.io/v2/token");
    assert.equal(s.auth.token.rootcertbundle, "/etc/registry/root.crt");
    assert.deepEqual(s.middleware, { storage: [], registry: [] });
    assert.deepEqual(s.log, { level: "info", format: "json" });
    assert.deepEqual(s.notifications, {});
    assert.deepEqual(s.resources, {
      limits: { cpu: "1000m", memory: "512Mi" },
      requests: { cpu: "100m", memory: "256Mi" },
    });
    // The defaults object itself is untouched.
    assert.equal(DOCKER_REGISTRY_DEFAULTS.storage.s3.bucket, "registry");
    assert.equal(DOCKER_REGISTRY_DEFAULTS.replicas, 1);
  });

  test("version alone picks the matching image; explicit image wins", () => {
    assert.equal(dockerRegistry("r", { version: "3.0" }).spec.image, "registry:3.0");
    assert.equal(dockerRegistry("r", { version: "3.0", image: "mirror/reg:x" }).spec.image, "mirror/reg:x");
  });

  test("framework metadata and auto-applied labels; custom labels cannot override them", () => {
    const r = dockerRegistry("local", {
      namespace: "infra",
      labels: { team: "platform", "app.kubernetes.io/managed-by": "helm" },
      annotations: { owner: "ops" },
    });
    assert.equal(r.kind, "DockerRegistry");
    assert.match(r.apiVersion, /reestr/);
    assert.equal(r.metadata.name, "local");
    assert.equal(r.metadata.namespace, "infra");
    assert.deepEqual(r.metadata.labels, {
      team: "platform",
      "app.kubernetes.io/name": "docker-registry",
      "app.kubernetes.io/instance": "local",
      "app.kubernetes.io/managed-by": "reestr",
      "app.kubernetes.io/component": "registry",
      "app.kubernetes.io/version": "2.8",
    });
    assert.deepEqual(r.metadata.annotations, { owner: "ops" });
  });

  test("arrays replace rather than merge", () => {
    const r = dockerRegistry("r", { storage: { persistence: { accessModes: ["ReadWriteMany"] } } });
    assert.deepEqual(r.spec.storage.persistence.accessModes, ["ReadWriteMany"]);
  });
});

describe("renderDockerRegistry", () => {
  test("filesystem storage: ConfigMap, Secret, PVC, Deployment, Service wired together", () => {
    const r = dockerRegistry("local", {
      namespace: "registry",
      annotations: { owner: "ops" },
      http: { secret: "s3cr3t" },
    });
    const objects = renderDockerRegistry(r);
    for (const o of objects) assertValidK8sObject(o);
    assert.deepEqual(
      objects.map((o) => o.kind),
      ["ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service"],
    );
    for (const o of objects) {
      assert.equal(o.metadata.namespace, "registry");
      assert.equal(o.metadata.labels?.["app.kubernetes.io/managed-by"], "reestr");
      assert.equal(o.metadata.labels?.["app.kubernetes.io/instance"], "local");
      assert.deepEqual(o.metadata.annotations, { owner: "ops" });
    }
    const cm: Any = byKind(objects, "ConfigMap");
    const secret: Any = byKind(objects, "Secret");
    const pvc: Any = byKind(objects, "PersistentVolumeClaim");
    const dep: Any = byKind(objects, "Deployment");
    const svc: Any = byKind(objects, "Service");

    assert.equal(secret.stringData["http-secret"], "s3cr3t");
    assert.deepEqual(pvc.spec, {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "10Gi" } },
    });

    // Selectors match the pod template's labels.
    const podLabels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(podLabels[k], v);
    assert.equal(dep.spec.replicas, 1);

    const container = dep.spec.template.spec.containers[0];
    assert.equal(container.image, "registry:2.8");
    assert.deepEqual(container.args, ["serve", "/etc/docker/registry/config.yml"]);
    assert.deepEqual(container.resources, {
      limits: { cpu: "1000m", memory: "512Mi" },
      requests: { cpu: "100m", memory: "256Mi" },
    });
    assert.deepEqual(container.env[0], {
      name: "REGISTRY_HTTP_SECRET",
      valueFrom: { secretKeyRef: { name: secret.metadata.name, key: "http-secret" } },
    });
    const volumes = dep.spec.template.spec.volumes;
    const mountOf = (name: string) => container.volumeMounts.find((m: Any) => m.name === name);
    assert.equal(volumes.find((v: Any) => v.name === "config").configMap.name, cm.metadata.name);
    assert.equal(mountOf("config").mountPath, "/etc/docker/registry");
    assert.equal(
      volumes.find((v: Any) => v.name === "data").persistentVolumeClaim.claimName,
      pvc.metadata.name,
    );
    assert.equal(mountOf("data").mountPath, "/var/lib/registry");
    assert.equal(container.readinessProbe.httpGet.path, "/debug/health");
    assert.deepEqual(
      container.ports.map((p: Any) => p.containerPort),
      [5000, 5001],
    );
    assert.deepEqual(svc.spec.ports, [
      { name: "registry", port: 5000, targetPort: "registry", protocol: "TCP" },
    ]);

    const config = parse(cm.data["config.yml"]);
    assert.equal(config.version, 0.1);
    assert.deepEqual(config.storage.filesystem, { rootdirectory: "/var/lib/registry", maxthreads: 100 });
    assert.deepEqual(config.storage.delete, { enabled: true });
    assert.equal(config.storage.s3, undefined);
    assert.equal(config.http.addr, ":5000");
    assert.equal(config.http.secret, undefined, "the HTTP secret stays out of the ConfigMap");
    assert.equal(config.http.tls, undefined);
    assert.deepEqual(config.auth, {
      token: {
        realm: "https://auth.docker.io/v2/token",
        service: "registry",
        issuer: "registry-token-issuer",
        rootcertbundle: "/etc/registry/root.crt",
      },
    });
    assert.equal(config.log.level, "info");
    assert.equal(config.log.formatter, "json");
    assert.equal(config.notifications, undefined);
    assert.equal(config.middleware, undefined);
    assert.equal(config.health.storagedriver.enabled, true);
  });

  test("S3 storage: no PVC, S3 settings in config.yml, keys only in the Secret", () => {
    const r = dockerRegistry("s3reg", {
      storage: {
        driver: "s3",
        s3: { enabled: true, bucket: "my-registry", accesskey: "AK", secretkey: "SK" },
      },
    });
    const objects = renderDockerRegistry(r);
    for (const o of objects) assertValidK8sObject(o);
    assert.deepEqual(
      objects.map((o) => o.kind),
      ["ConfigMap", "Secret", "Deployment", "Service"],
    );
    const cm: Any = byKind(objects, "ConfigMap");
    const secret: Any = byKind(objects, "Secret");
    const dep: Any = byKind(objects, "Deployment");
    const text: string = cm.data["config.yml"];
    assert.ok(!text.includes("AK") && !text.includes("SK"), text);
    const config = parse(text);
    assert.deepEqual(config.storage.s3, {
      region: "us-east-1",
      bucket: "my-registry",
      encrypt: true,
      secure: true,
    });
    assert.equal(config.storage.filesystem, undefined);
    assert.equal(secret.stringData["s3-accesskey"], "AK");
    assert.equal(secret.stringData["s3-secretkey"], "SK");
    const env = dep.spec.template.spec.containers[0].env;
    assert.deepEqual(
      env.map((e: Any) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]),
      [
        ["REGISTRY_HTTP_SECRET", "s3reg-secret", "http-secret"],
        ["REGISTRY_STORAGE_S3_ACCESSKEY", "s3reg-secret", "s3-accesskey"],
        ["REGISTRY_STORAGE_S3_SECRETKEY", "s3reg-secret", "s3-secretkey"],
      ],
    );
    assert.equal(
      dep.spec.template.spec.volumes.find((v: Any) => v.name === "data"),
      undefined,
    );
  });

  test("S3 keys from an existing Secret are referenced by name", () => {
    const r = dockerRegistry("r", { storage: { s3: { enabled: true, existingSecret: "aws-keys" } } });
    const objects = renderDockerRegistry(r);
    for (const o of objects) assertValidK8sObject(o);
    const secret: Any = byKind(objects, "Secret");
    assert.equal(secret.stringData["s3-accesskey"], undefined);
    const env = (byKind(objects, "Deployment") as Any).spec.template.spec.containers[0].env;
    assert.equal(env[1].valueFrom.secretKeyRef.name, "aws-keys");
  });

  test("htpasswd auth, TLS, notifications, middleware", () => {
    const r = dockerRegistry("r", {
      auth: { scheme: "htpasswd", htpasswd: { entries: ["alice:$2y$05$abc"] } },
      http: {
        tlsenabled: true,
        tlscertificate: "/tls/tls.crt",
        tlskey: "/tls/tls.key",
        tlsSecretName: "r-tls",
        tlsMountPath: "/tls",
      },
      notifications: { endpoints: [{ name: "reestr", url: "http://reestr:8080/events" }] },
      middleware: { registry: [{ name: "redirect", options: { baseurl: "https://cdn" } }] },
      log: { level: "debug", format: "text" },
    });
    const objects = renderDockerRegistry(r);
    for (const o of objects) assertValidK8sObject(o);
    const config = parse((byKind(objects, "ConfigMap") as Any).data["config.yml"]);
    assert.deepEqual(config.auth, { htpasswd: { realm: "registry", path: "/auth/htpasswd" } });
    assert.deepEqual(config.http.tls, { certificate: "/tls/tls.crt", key: "/tls/tls.key" });
    assert.deepEqual(config.notifications.endpoints, [
      { name: "reestr", url: "http://reestr:8080/events", timeout: "1s", threshold: 5, backoff: "10s" },
    ]);
    assert.deepEqual(config.middleware, {
      registry: [{ name: "redirect", options: { baseurl: "https://cdn" } }],
    });
    assert.deepEqual(config.log.level, "debug");
    assert.deepEqual(config.log.formatter, "text");
    const secret: Any = byKind(objects, "Secret");
    assert.equal(secret.stringData.htpasswd, "alice:$2y$05$abc\n");
    const pod = (byKind(objects, "Deployment") as Any).spec.template.spec;
    assert.deepEqual(pod.volumes.find((v: Any) => v.name === "htpasswd").secret.secretName, "r-secret");
    assert.equal(pod.containers[0].volumeMounts.find((m: Any) => m.name === "htpasswd").mountPath, "/auth");
    assert.equal(pod.volumes.find((v: Any) => v.name === "tls").secret.secretName, "r-tls");
    assert.equal(pod.containers[0].volumeMounts.find((m: Any) => m.name === "tls").mountPath, "/tls");
  });

  test("auth disabled: no auth section", () => {
    const objects = renderDockerRegistry(dockerRegistry("r", { auth: { enabled: false } }));
    for (const o of objects) assertValidK8sObject(o);
    const config = parse((byKind(objects, "ConfigMap") as Any).data["config.yml"]);
    assert.equal(config.auth, undefined);
  });

  test("renderYaml gives one document per object", () => {
    const objects = renderDockerRegistry(dockerRegistry("r", { http: { secret: "x" } }));
    for (const o of objects) assertValidK8sObject(o);
    const text = renderYaml(objects);
    const docs = text.split(/^---$/m).map((d) => parse(d));
    assert.deepEqual(
      docs.map((d) => d.kind),
      objects.map((o) => o.kind),
    );
  });
});
