/**
 * Where registry credentials come from: static configuration, or the `auths` entries of Docker's
 * `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), so a `docker login`
 * works for Reestr's tools too. Credential helpers (`credsStore`, `credHelpers`) and identity
 * tokens are not consulted.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Credentials {
  username: string;
  password: string;
}

export interface CredentialSource {
  /** Credentials for a registry host (`host` or `host:port`), or undefined for anonymous. */
  credentialsFor(registryHost: string): Credentials | undefined;
}

const DOCKER_HUB_ALIASES = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
]);

/**
 * The host a registry key or URL names, lower-cased, with Docker Hub's aliases folded into
 * `docker.io`: `https://index.docker.io/v1/` → `docker.io`, `http://reg:5000/v2/` → `reg:5000`.
 */
export function normalizeRegistryHost(value: string): string {
  let host = value.trim().toLowerCase();
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, "");
  const slash = host.indexOf("/");
  if (slash !== -1) host = host.slice(0, slash);
  const at = host.lastIndexOf("@");
  if (at !== -1) host = host.slice(at + 1);
  return DOCKER_HUB_ALIASES.has(host) ? "docker.io" : host;
}

/** Credentials fixed in configuration, by host; the key `*` applies to any host. */
export class StaticCredentialSource implements CredentialSource {
  private readonly entries = new Map<string, Credentials>();

  constructor(entries: Record<string, Credentials>) {
    for (const [key, credentials] of Object.entries(entries)) {
      this.entries.set(key === "*" ? "*" : normalizeRegistryHost(key), credentials);
    }
  }

  credentialsFor(registryHost: string): Credentials | undefined {
    return this.entries.get(normalizeRegistryHost(registryHost)) ?? this.entries.get("*");
  }
}

/** The first source that has credentials for a host wins. */
export class ChainCredentialSource implements CredentialSource {
  private readonly sources: CredentialSource[];

  constructor(...sources: CredentialSource[]) {
    this.sources = sources;
  }

  credentialsFor(registryHost: string): Credentials | undefined {
    for (const source of this.sources) {
      const found = source.credentialsFor(registryHost);
      if (found) return found;
    }
    return undefined;
  }
}

/** The config file docker itself reads: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker");
  return join(dir, "config.json");
}

/** Parses a config.json's `auths` into credentials by normalized host. Bad entries are skipped. */
export function parseDockerConfigAuths(text: string): Map<string, Credentials> {
  const result = new Map<string, Credentials>();
  const json = JSON.parse(text) as { auths?: unknown };
  if (typeof json.auths !== "object" || json.auths === null) return result;
  for (const [key, value] of Object.entries(json.auths as Record<string, unknown>)) {
    if (typeof value !== "object" || value === null) continue;
    const entry = value as { auth?: unknown; username?: unknown; password?: unknown };
    let credentials: Credentials | undefined;
    if (typeof entry.auth === "string" && entry.auth !== "") {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    } else if (typeof entry.username === "string" && entry.username !== "") {
      credentials = {
        username: entry.username,
        password: typeof entry.password === "string" ? entry.password : "",
      };
    }
    if (!credentials) continue;
    const host = normalizeRegistryHost(key);
    // An exact host key beats a URL form of the same host (`reg:5000` vs `https://reg:5000/v1/`).
    if (!result.has(host) || !/:\/\//.test(key)) result.set(host, credentials);
  }
  return result;
}

/**
 * Docker's config file. Read once, on first use; a missing file means no credentials, a
 * malformed one is an error (silently going anonymous would hide the problem).
 */
export class DockerConfigCredentialSource implements CredentialSource {
  readonly path: string;
  private auths: Map<string, Credentials> | undefined;

  constructor(options: { path?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.path = options.path ?? dockerConfigPath(options.env);
  }

  credentialsFor(registryHost: string): Credentials | undefined {
    if (!this.auths) {
      let text: string;
      try {
        text = readFileSync(this.path, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        text = "{}";
      }
      try {
        this.auths = parseDockerConfigAuths(text);
      } catch (error) {
        throw new Error(`cannot parse docker config ${this.path}: ${(error as Error).message}`);
      }
    }
    return this.auths.get(normalizeRegistryHost(registryHost));
  }
}
