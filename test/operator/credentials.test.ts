/**
 * Credentials from Secrets, against a Reestr registry with Basic auth and anonymous pull off:
 * username/password keys, a kubernetes.io/dockerconfigjson Secret, a Secret in another namespace,
 * wrong credentials (seed 000: "Invalid credentials → fail status with error message"), and the
 * docker config parsing itself. The Kubernetes API is the stand-in of fake-kube-api.ts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashPassword, writeHtpasswd } from "../../src/auth/htpasswd.ts";
import { credentialsFromDockerConfig, registryHost } from "../../src/operator/credentials.ts";
import { CredentialsError } from "../../src/watcher/credentials.ts";
import { http, OCI_MANIFEST, startServer, type TestServer } from "../api/helpers.ts";
import { FakeKubeApi, RESOURCES } from "./fake-kube-api.ts";
import { type RunningOperator, registry, startOperator, waitForStatus } from "./harness.ts";

const PASSWORD = "r0b0t:pass word";
let dir: string;
let server: TestServer;
let fake: FakeKubeApi;
let op: RunningOperator;
let digest: string;

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

async function pushWithAuth(repo: string, tag: string): Promise<string> {
  const headers = basic("robot", PASSWORD);
  const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const config = Buffer.from(JSON.stringify({ architecture: "arm64", os: "linux" }));
  for (const blob of [layer, config]) {
    const res = await http(server, "POST", `/v2/${repo}/blobs/uploads/?digest=${sha(blob)}`, {
      headers: { ...headers, "Content-Type": "application/octet-stream" },
      body: blob,
    });
    assert.equal(res.status, 201, res.text());
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha(config),
        size: config.length,
      },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha(layer), size: layer.length },
      ],
    }),
  );
  const res = await http(server, "PUT", `/v2/${repo}/manifests/${tag}`, {
    headers: { ...headers, "Content-Type": OCI_MANIFEST },
    body: manifest,
  });
  assert.equal(res.status, 201, res.text());
  return sha(manifest);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-operator-creds-"));
  const htpasswd = join(dir, "htpasswd");
  await writeHtpasswd(htpasswd, new Map([["robot", await hashPassword(PASSWORD, 4)]]));
  server = await startServer({ auth: { htpasswd, realm: "Reestr" } });
  digest = await pushWithAuth("private/app", "1.0");
  fake = await FakeKubeApi.start({ bookmarkIntervalMs: 200 });
  op = await startOperator(fake);
});

after(async () => {
  await op?.stop();
  await fake?.close();
  await server?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function secret(name: string, namespace: string, body: Record<string, unknown>) {
  fake.create(RESOURCES.secrets, namespace, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name },
    ...body,
  });
}

describe("credentials from Secrets", () => {
  test("username/password keys → Success", async () => {
    secret("robot", "default", { stringData: { username: "robot", password: PASSWORD } });
    fake.create(
      RESOURCES.registries,
      "default",
      registry("plain", { url: server.url, repository: "private/app", credentialsSecret: { name: "robot" } }),
    );
    const status = await waitForStatus(fake, "plain", "Success", (s) => s.lastScanStatus === "Success");
    assert.equal(status.images![0]!.digest, digest);
  });

  test("a kubernetes.io/dockerconfigjson Secret in another namespace → Success", async () => {
    const host = new URL(server.url).host;
    const config = {
      auths: {
        "ghcr.io": { auth: Buffer.from("other:creds").toString("base64") },
        [`http://${host}/v2/`]: { auth: Buffer.from(`robot:${PASSWORD}`).toString("base64") },
      },
    };
    secret("pull", "shared", {
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") },
    });
    fake.create(
      RESOURCES.registries,
      "default",
      registry("docker", {
        url: server.url,
        repository: "private/app",
        credentialsSecret: { name: "pull", namespace: "shared" },
      }),
    );
    const status = await waitForStatus(fake, "docker", "Success", (s) => s.lastScanStatus === "Success");
    assert.equal(status.imageCount, 1);
  });

  test("wrong password → Failed: the registry refused the credentials", async () => {
    secret("wrong", "default", { stringData: { username: "robot", password: "nope" } });
    fake.create(
      RESOURCES.registries,
      "default",
      registry("denied", {
        url: server.url,
        repository: "private/app",
        credentialsSecret: { name: "wrong" },
        scanConfig: { retries: 0 },
      }),
    );
    const status = await waitForStatus(fake, "denied", "Failed", (s) => s.lastScanStatus === "Failed");
    assert.match(
      status.message!,
      /^authentication failed at http:\/\/127\.0\.0\.1:\d+: the registry refused the credentials/,
    );
  });

  test("a Secret without a password key → Failed naming the key", async () => {
    secret("half", "default", { stringData: { username: "robot" } });
    fake.create(
      RESOURCES.registries,
      "default",
      registry("half", { url: server.url, repository: "private/app", credentialsSecret: { name: "half" } }),
    );
    const status = await waitForStatus(fake, "half", "Failed", (s) => s.lastScanStatus === "Failed");
    assert.equal(status.message, "credentials: Secret default/half has no password key");
  });
});

describe("docker config parsing", () => {
  test("hosts are matched by host:port, Docker Hub aliases are one", () => {
    assert.equal(registryHost("https://index.docker.io/v1/"), "docker.io");
    assert.equal(registryHost("registry-1.docker.io"), "docker.io");
    assert.equal(registryHost("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
    const text = JSON.stringify({
      auths: { "https://index.docker.io/v1/": { username: "u", password: "p" } },
    });
    assert.deepEqual(credentialsFromDockerConfig(text, "https://registry-1.docker.io", "x"), {
      username: "u",
      password: "p",
    });
  });

  test("no entry for the host, bad JSON, bad auth → CredentialsError with the reason", () => {
    const text = JSON.stringify({ auths: { "ghcr.io": { auth: "Zm9vOmJhcg==" } } });
    assert.throws(
      () => credentialsFromDockerConfig(text, "https://quay.io", "Secret a/b .dockerconfigjson"),
      (error: unknown) =>
        error instanceof CredentialsError &&
        error.message === "Secret a/b .dockerconfigjson has no entry for quay.io (it has: ghcr.io)",
    );
    assert.throws(() => credentialsFromDockerConfig("{", "https://quay.io", "s"), /s is not valid JSON/);
    assert.throws(
      () =>
        credentialsFromDockerConfig(
          JSON.stringify({ auths: { "quay.io": { auth: "bm9jb2xvbg==" } } }),
          "quay.io",
          "s",
        ),
      /neither username\/password nor a valid auth field/,
    );
  });
});
