/**
 * Credential sources: docker's config.json (`auths` with base64 `auth` or username/password,
 * keys as host, host:port or URL; DOCKER_CONFIG and HOME), static configuration, and the CLI's
 * precedence (REESTR_USERNAME/REESTR_PASSWORD first, then docker's config).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { clientFor, credentialsFor } from "../../src/cli/args.ts";
import {
  ChainCredentialSource,
  DockerConfigCredentialSource,
  dockerConfigPath,
  normalizeRegistryHost,
  parseDockerConfigAuths,
  StaticCredentialSource,
} from "../../src/client/credentials.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-creds-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function writeConfig(path: string, config: unknown): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, typeof config === "string" ? config : JSON.stringify(config));
}

const sampleConfig = {
  auths: {
    "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass") },
    "reg.example.com": { username: "alice", password: "s3cret" },
    "localhost:5000": { auth: b64("local:pw") },
    "https://other.example:8443/v2/": { auth: b64("other:pw") },
    "helper-only.example": {},
    "broken.example": { auth: b64("no-colon") },
  },
  credsStore: "desktop",
};

describe("docker config parsing", () => {
  it("normalizes keys: URLs, ports, Docker Hub aliases", () => {
    assert.equal(normalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
    assert.equal(normalizeRegistryHost("registry-1.docker.io"), "docker.io");
    assert.equal(normalizeRegistryHost("http://Reg.Example:5000/v2/"), "reg.example:5000");
    assert.equal(normalizeRegistryHost("localhost:5000"), "localhost:5000");
  });

  it("reads base64 auth and username/password entries, skipping unusable ones", () => {
    const auths = parseDockerConfigAuths(JSON.stringify(sampleConfig));
    assert.deepEqual(auths.get("docker.io"), { username: "hubuser", password: "hub:pass" });
    assert.deepEqual(auths.get("reg.example.com"), { username: "alice", password: "s3cret" });
    assert.deepEqual(auths.get("localhost:5000"), { username: "local", password: "pw" });
    assert.deepEqual(auths.get("other.example:8443"), { username: "other", password: "pw" });
    assert.equal(auths.has("helper-only.example"), false);
    assert.equal(auths.has("broken.example"), false);
    assert.equal(parseDockerConfigAuths("{}").size, 0);
  });

  it("finds the file under DOCKER_CONFIG, else HOME/.docker", async () => {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: "/etc/dc", HOME: "/home/x" }), "/etc/dc/config.json");
    assert.equal(dockerConfigPath({ HOME: "/home/x" }), "/home/x/.docker/config.json");

    const home = join(dir, "home");
    await writeConfig(join(home, ".docker", "config.json"), sampleConfig);
    const fromHome = new DockerConfigCredentialSource({ env: { HOME: home } });
    assert.deepEqual(fromHome.credentialsFor("registry-1.docker.io"), {
      username: "hubuser",
      password: "hub:pass",
    });
    assert.deepEqual(fromHome.credentialsFor("localhost:5000"), { username: "local", password: "pw" });
    assert.equal(fromHome.credentialsFor("localhost:5001"), undefined);

    const custom = join(dir, "custom");
    await writeConfig(join(custom, "config.json"), {
      auths: { "reg.example.com": { auth: b64("bob:pw2") } },
    });
    const fromEnv = new DockerConfigCredentialSource({ env: { HOME: home, DOCKER_CONFIG: custom } });
    assert.deepEqual(fromEnv.credentialsFor("reg.example.com"), { username: "bob", password: "pw2" });
    assert.equal(fromEnv.credentialsFor("docker.io"), undefined);
  });

  it("treats a missing file as no credentials and a malformed one as an error", async () => {
    const missing = new DockerConfigCredentialSource({ path: join(dir, "nope", "config.json") });
    assert.equal(missing.credentialsFor("docker.io"), undefined);
    const badPath = join(dir, "bad", "config.json");
    await writeConfig(badPath, "{not json");
    assert.throws(
      () => new DockerConfigCredentialSource({ path: badPath }).credentialsFor("x"),
      /cannot parse/,
    );
  });
});

describe("static and chained sources", () => {
  it("matches by host with a * fallback; the first source with an answer wins", () => {
    const fixed = new StaticCredentialSource({
      "https://reg.example.com/": { username: "a", password: "1" },
      "*": { username: "any", password: "2" },
    });
    assert.deepEqual(fixed.credentialsFor("reg.example.com"), { username: "a", password: "1" });
    assert.deepEqual(fixed.credentialsFor("elsewhere"), { username: "any", password: "2" });
    const chain = new ChainCredentialSource(
      new StaticCredentialSource({ "reg.example.com": { username: "first", password: "x" } }),
      fixed,
    );
    assert.equal(chain.credentialsFor("reg.example.com")?.username, "first");
    assert.equal(chain.credentialsFor("other")?.username, "any");
    assert.equal(new ChainCredentialSource().credentialsFor("x"), undefined);
  });
});

describe("credentials on the wire", () => {
  let server: Server;
  let url: string;
  const seen: (string | undefined)[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      const expected = `Basic ${b64("dockeruser:dockerpw")}`;
      if (
        req.headers.authorization !== expected &&
        req.headers.authorization !== `Basic ${b64("env:envpw")}`
      ) {
        res.writeHead(401, { "www-authenticate": 'Basic realm="test"', "content-type": "application/json" });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      res.writeHead(200, { "docker-distribution-api-version": "registry/2.0" });
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("the client takes credentials from a CredentialSource; explicit ones win", async () => {
    const host = new URL(url).host;
    const source = new StaticCredentialSource({ [host]: { username: "dockeruser", password: "dockerpw" } });
    const client = new RegistryClient({ baseUrl: url, credentials: source });
    try {
      await client.ping();
    } finally {
      client.close();
    }
    const explicit = new RegistryClient({
      baseUrl: url,
      credentials: source,
      username: "wrong",
      password: "x",
    });
    try {
      await assert.rejects(explicit.ping(), /UNAUTHORIZED/);
    } finally {
      explicit.close();
    }
  });

  it("the CLI uses REESTR_USERNAME/REESTR_PASSWORD first, else docker's config", async () => {
    const host = new URL(url).host;
    const dockerDir = join(dir, "cli-docker");
    await writeConfig(join(dockerDir, "config.json"), {
      auths: { [`http://${host}/v2/`]: { auth: b64("dockeruser:dockerpw") } },
    });
    const env = { DOCKER_CONFIG: dockerDir, HOME: join(dir, "empty-home") };
    assert.deepEqual(credentialsFor(url, env), { username: "dockeruser", password: "dockerpw" });
    assert.deepEqual(credentialsFor(url, { ...env, REESTR_USERNAME: "env", REESTR_PASSWORD: "envpw" }), {
      username: "env",
      password: "envpw",
    });
    assert.equal(credentialsFor(url, { HOME: join(dir, "empty-home") }), undefined);
    const brokenDir = join(dir, "cli-broken");
    await writeConfig(join(brokenDir, "config.json"), "{oops");
    const stderrWrite = process.stderr.write;
    const warnings: string[] = [];
    process.stderr.write = ((chunk: string) => {
      warnings.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      assert.equal(credentialsFor(url, { DOCKER_CONFIG: brokenDir }), undefined);
    } finally {
      process.stderr.write = stderrWrite;
    }
    assert.match(warnings.join(""), /warning: cannot parse docker config/);

    seen.length = 0;
    const client = clientFor(url, { env });
    try {
      await client.ping();
    } finally {
      client.close();
    }
    assert.equal(seen.at(-1), `Basic ${b64("dockeruser:dockerpw")}`);

    seen.length = 0;
    const envClient = clientFor(url, { env: { ...env, REESTR_USERNAME: "env", REESTR_PASSWORD: "envpw" } });
    try {
      await envClient.ping();
    } finally {
      envClient.close();
    }
    assert.equal(seen.at(-1), `Basic ${b64("env:envpw")}`);
  });
});
