/**
 * Registry credentials from the Secret a Registry names in `spec.credentialsSecret` (the
 * operator's CredentialSource). Two layouts are understood:
 *  - `username` and `password` keys (an Opaque Secret, as in seed 001's example);
 *  - a `.dockerconfigjson` key (type kubernetes.io/dockerconfigjson, what `kubectl create secret
 *    docker-registry` makes) or a legacy `.dockercfg` key: the entry for the registry's host is
 *    used (`username`/`password`, or `auth` = base64 "user:password").
 * Problems become a CredentialsError with a message naming the Secret, which the scan engine
 * turns into a Failed status (`credentials: Secret team-a/robot not found`).
 */
import { CredentialsError, type ResolvedCredentials } from "../watcher/credentials.ts";
import type { CredentialsSecret } from "../watcher/spec.ts";
import { apiErrorText, type KubeApi, statusCodeOf } from "./kube.ts";

const DOCKER_HUB = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
]);

/** host[:port] of a registry URL or a docker config key (`https://index.docker.io/v1/`, `ghcr.io`). */
export function registryHost(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  let host: string;
  try {
    host = new URL(withScheme).host.toLowerCase();
  } catch {
    host = value.toLowerCase();
  }
  return DOCKER_HUB.has(host) ? "docker.io" : host;
}

interface DockerAuth {
  username?: unknown;
  password?: unknown;
  auth?: unknown;
}

function fromDockerAuth(entry: DockerAuth, where: string): ResolvedCredentials {
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  if (typeof entry.auth === "string") {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw new CredentialsError(`${where} has neither username/password nor a valid auth field`);
}

/** The entry for `registryUrl` in a docker config (`{"auths": {...}}` or the legacy bare map). */
export function credentialsFromDockerConfig(
  text: string,
  registryUrl: string,
  where: string,
): ResolvedCredentials {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CredentialsError(`${where} is not valid JSON: ${(error as Error).message}`);
  }
  const auths = (json as { auths?: unknown }).auths ?? json;
  if (auths === null || typeof auths !== "object" || Array.isArray(auths)) {
    throw new CredentialsError(`${where} has no auths`);
  }
  const wanted = registryHost(registryUrl);
  const entries = Object.entries(auths as Record<string, DockerAuth>);
  const match = entries.find(([key]) => registryHost(key) === wanted);
  if (!match) {
    const hosts = entries.map(([key]) => registryHost(key)).join(", ") || "none";
    throw new CredentialsError(`${where} has no entry for ${wanted} (it has: ${hosts})`);
  }
  return fromDockerAuth(match[1], `${where} entry ${match[0]}`);
}

/** Reads the Secret and returns the credentials for `registryUrl`. */
export async function credentialsFromSecret(
  api: KubeApi,
  ref: CredentialsSecret,
  defaultNamespace: string,
  registryUrl: string,
): Promise<ResolvedCredentials> {
  const namespace = ref.namespace ?? defaultNamespace;
  const where = `Secret ${namespace}/${ref.name}`;
  let data: Record<string, string>;
  try {
    const secret = await api.readSecret(namespace, ref.name);
    data = secret.data ?? {};
  } catch (error) {
    const code = statusCodeOf(error);
    if (code === 404) throw new CredentialsError(`${where} not found`);
    if (code === 403) {
      throw new CredentialsError(`${where} cannot be read: forbidden (check the operator's RBAC)`);
    }
    throw new CredentialsError(`${where} could not be read: ${apiErrorText(error)}`);
  }
  const decode = (key: string) => {
    const value = data[key];
    return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
  };
  const dockerConfig = decode(".dockerconfigjson") ?? decode(".dockercfg");
  const username = decode("username");
  const password = decode("password");
  if (username !== undefined || password !== undefined || dockerConfig === undefined) {
    if (username === undefined || username === "") {
      throw new CredentialsError(
        `${where} has no username key (expected username and password, or .dockerconfigjson)`,
      );
    }
    if (password === undefined) throw new CredentialsError(`${where} has no password key`);
    return { username, password };
  }
  return credentialsFromDockerConfig(dockerConfig, registryUrl, `${where} .dockerconfigjson`);
}
