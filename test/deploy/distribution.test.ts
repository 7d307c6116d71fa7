/**
 * The real check of the Docker Registry renderer: the rendered Distribution config.yml (pointed at
 * a temp dir and loopback ports) started with Debian's docker-registry, then a push and a pull
 * with skopeo, digests preserved; once anonymous and once with rendered htpasswd auth.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import {
  type DeepPartial,
  type DockerRegistryConfig,
  dockerRegistry,
  renderDockerRegistry,
} from "../../src/deploy/index.ts";
import { assertDistributionInstalled, DISTRIBUTION_BIN, htpasswdEntry } from "../helpers/distribution.ts";
import { makeOciImage } from "../helpers/fixtures.ts";
import { freePort, type ServerProcess, spawnServer } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

const SKOPEO = process.env["SKOPEO_BIN"] ?? "/usr/bin/skopeo";

let work: string;

function skopeo(args: string[]): Promise<string> {
  const [command, ...rest] = args;
  const full = ["--insecure-policy", command!, ...rest];
  return new Promise((resolve, reject) => {
    execFile(
      SKOPEO,
      full,
      { timeout: 120_000, env: { ...process.env, REGISTRY_AUTH_FILE: join(work, "auth.json") } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`skopeo ${full.join(" ")} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

function layoutDigest(dir: string, tag: string): string {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  assert.ok(entry, `tag ${tag} in ${dir}`);
  return entry.digest;
}

/**
 * Renders the registry, takes config.yml out of the ConfigMap (and the htpasswd file out of the
 * Secret, mounted the way the Deployment mounts it) and serves it with docker-registry.
 */
async function serveRendered(
  label: string,
  config: DeepPartial<DockerRegistryConfig>,
): Promise<{ server: ServerProcess; hostPort: string }> {
  const root = mkdtempSync(join(work, `${label}-`));
  const dataDir = join(root, "storage");
  mkdirSync(dataDir);
  const port = await freePort();
  const debugPort = await freePort();
  const registry = dockerRegistry(label, {
    ...config,
    storage: { ...config.storage, filesystem: { rootdirectory: dataDir } },
    http: { ...config.http, addr: `127.0.0.1:${port}`, debugAddr: `127.0.0.1:${debugPort}` },
    auth: config.auth
      ? {
          ...config.auth,
          htpasswd: { ...config.auth.htpasswd, path: join(root, "auth", "htpasswd") },
          token: { ...config.auth.token, rootcertbundle: join(root, "token", "root.crt") },
        }
      : { enabled: false },
  });
  const objects = renderDockerRegistry(registry);
  const configMap = objects.find((o) => o.kind === "ConfigMap") as
    | { data: Record<string, string> }
    | undefined;
  const secret = objects.find((o) => o.kind === "Secret") as
    | { stringData: Record<string, string> }
    | undefined;
  assert.ok(configMap && secret);
  const configText = configMap.data["config.yml"]!;
  assert.equal(parse(configText).storage.filesystem.rootdirectory, dataDir);
  const configPath = join(root, "config.yml");
  writeFileSync(configPath, configText);
  if (secret.stringData["htpasswd"] !== undefined) {
    mkdirSync(join(root, "auth"));
    writeFileSync(join(root, "auth", "htpasswd"), secret.stringData["htpasswd"], { mode: 0o600 });
  }
  if (registry.spec.auth.enabled && registry.spec.auth.scheme === "bearer") {
    // The token issuer's certificate, as the Secret named by auth.token.secretName would hold it.
    mkdirSync(join(root, "token"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=registry-token-issuer",
        "-keyout",
        join(root, "token", "root.key"),
        "-out",
        join(root, "token", "root.crt"),
      ],
      { stdio: "ignore" },
    );
  }
  const server = await spawnServer({
    name: "docker-registry",
    command: DISTRIBUTION_BIN,
    args: ["serve", configPath],
    cwd: root,
    // As the Deployment does: the HTTP secret comes from the Secret through the environment.
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: root,
      REGISTRY_HTTP_SECRET: secret.stringData["http-secret"],
    },
    port: debugPort,
    readyPath: "/debug/health",
    dataDir,
    ownedDirs: [root],
    logFile: join(root, "registry.log"),
  });
  // The debug listener may come up a moment before the registry's own.
  await waitFor(async () => [200, 401].includes((await fetch(`http://127.0.0.1:${port}/v2/`)).status), {
    what: `docker-registry to answer on port ${port}`,
  });
  return { server, hostPort: `127.0.0.1:${port}` };
}

describe("rendered Distribution config.yml served by docker-registry", () => {
  const servers: ServerProcess[] = [];
  let fixture: string;
  let digest: string;

  before(async () => {
    assertDistributionInstalled();
    work = mkdtempSync(join(tmpdir(), "reestr-deploy-"));
    fixture = join(work, "fixture");
    await makeOciImage(fixture, { tag: "v1", layers: 2, layerSize: 64 * 1024 });
    digest = layoutDigest(fixture, "v1");
  });

  after(async () => {
    for (const s of servers) await s.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("anonymous push and pull with skopeo keep the digest", async () => {
    const { server, hostPort } = await serveRendered("anon", { log: { level: "warn" } });
    servers.push(server);
    await skopeo(["copy", "--dest-tls-verify=false", `oci:${fixture}:v1`, `docker://${hostPort}/demo:1`]);
    const back = join(work, "back-anon");
    await skopeo(["copy", "--src-tls-verify=false", `docker://${hostPort}/demo:1`, `oci:${back}:v1`]);
    assert.equal(layoutDigest(back, "v1"), digest);
    const inspected = JSON.parse(
      await skopeo(["inspect", "--tls-verify=false", `docker://${hostPort}/demo:1`]),
    );
    assert.equal(inspected.Digest, digest);
  });

  test("htpasswd auth from the rendered Secret: anonymous push refused, credentials accepted", async () => {
    const { server, hostPort } = await serveRendered("auth", {
      log: { level: "warn" },
      auth: {
        enabled: true,
        scheme: "htpasswd",
        htpasswd: { entries: [htpasswdEntry("alice", "wonderland")] },
      },
    });
    servers.push(server);
    await assert.rejects(
      skopeo(["copy", "--dest-tls-verify=false", `oci:${fixture}:v1`, `docker://${hostPort}/demo:1`]),
      /unauthorized|authentication required|401/i,
    );
    await skopeo([
      "copy",
      "--dest-tls-verify=false",
      "--dest-creds=alice:wonderland",
      `oci:${fixture}:v1`,
      `docker://${hostPort}/demo:1`,
    ]);
    const back = join(work, "back-auth");
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      "--src-creds=alice:wonderland",
      `docker://${hostPort}/demo:1`,
      `oci:${back}:v1`,
    ]);
    assert.equal(layoutDigest(back, "v1"), digest);
  });

  test("default bearer token auth: /v2/ challenges with the configured realm and service", async () => {
    const { server, hostPort } = await serveRendered("token", {
      log: { level: "warn" },
      auth: { enabled: true },
    });
    servers.push(server);
    const response = await fetch(`http://${hostPort}/v2/`);
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get("www-authenticate"),
      'Bearer realm="https://auth.docker.io/v2/token",service="registry"',
    );
  });
});
