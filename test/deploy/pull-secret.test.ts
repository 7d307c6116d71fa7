import assert from "node:assert/strict";
import { test } from "node:test";
import { imagePullSecret } from "../../src/deploy/index.ts";

test("imagePullSecret renders a dockerconfigjson Secret that decodes to the right auth", () => {
  const secret = imagePullSecret("pull", {
    registry: "registry.example.com:5000",
    username: "ci",
    password: "p:ss",
    email: "ci@example.com",
    namespace: "apps",
  });
  assert.equal(secret.apiVersion, "v1");
  assert.equal(secret.kind, "Secret");
  assert.equal(secret["type"], "kubernetes.io/dockerconfigjson");
  assert.equal(secret.metadata.name, "pull");
  assert.equal(secret.metadata.namespace, "apps");
  assert.equal(secret.metadata.labels?.["app.kubernetes.io/managed-by"], "reestr");
  const data = secret["data"] as Record<string, string>;
  assert.deepEqual(Object.keys(data), [".dockerconfigjson"]);
  const json = JSON.parse(Buffer.from(data[".dockerconfigjson"]!, "base64").toString("utf8"));
  const entry = json.auths["registry.example.com:5000"];
  assert.equal(Buffer.from(entry.auth, "base64").toString("utf8"), "ci:p:ss");
  assert.equal(entry.username, "ci");
  assert.equal(entry.password, "p:ss");
  assert.equal(entry.email, "ci@example.com");
});

test("imagePullSecret defaults the namespace and omits an empty email", () => {
  const secret = imagePullSecret("pull", { registry: "docker.io", username: "u", password: "p" });
  assert.equal(secret.metadata.namespace, "default");
  const data = secret["data"] as Record<string, string>;
  const json = JSON.parse(Buffer.from(data[".dockerconfigjson"]!, "base64").toString("utf8"));
  assert.deepEqual(Object.keys(json.auths["docker.io"]).sort(), ["auth", "password", "username"]);
  assert.throws(() => imagePullSecret("x", { registry: "", username: "u", password: "p" }), /registry/);
});

test('the package exports the deploy kit as "reestr/deploy"', async () => {
  const pkg = await import("reestr/deploy");
  assert.equal(typeof pkg.dockerRegistry, "function");
  assert.equal(typeof pkg.renderDockerRegistry, "function");
  assert.equal(typeof pkg.imagePullSecret, "function");
  assert.equal(typeof pkg.validateRegistryConfig, "function");
  assert.equal(pkg.dockerRegistry("x").metadata.labels["app.kubernetes.io/managed-by"], "reestr");
});
