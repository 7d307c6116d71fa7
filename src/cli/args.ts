import { parseArgs } from "node:util";
/**
 * Flag and argument helpers shared by the client commands (push, pull, status, list):
 * which registry URL to talk to, how to split `[host[:port]/]repo[:tag|@digest]`, credentials,
 * and printing results for humans or, with --json, for scripts.
 */
import { type Credentials, DockerConfigCredentialSource } from "../client/credentials.ts";
import { RegistryClient } from "../client/registry-client.ts";
import { isDigest } from "../oci/digest.ts";
import { isValidRepositoryName, isValidTag } from "../oci/reference.ts";
import { UsageError } from "./command.ts";

export const DEFAULT_URL = "http://127.0.0.1:5000";

/** The registry URL from a positional argument, else REESTR_URL, else the local default. */
export function registryUrl(arg: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const value = arg ?? env.REESTR_URL ?? DEFAULT_URL;
  const withScheme = /^https?:\/\//i.test(value)
    ? value
    : `${isLoopback(hostOf(value)) ? "http" : "https"}://${value}`;
  try {
    return new URL(withScheme).toString().replace(/\/+$/, "");
  } catch {
    throw new UsageError(`invalid registry URL "${value}"`);
  }
}

function hostOf(hostPort: string): string {
  const slash = hostPort.indexOf("/");
  const authority = slash === -1 ? hostPort : hostPort.slice(0, slash);
  if (authority.startsWith("[")) return authority.slice(1, authority.indexOf("]"));
  const colon = authority.lastIndexOf(":");
  return colon === -1 ? authority : authority.slice(0, colon);
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface RegistryTarget {
  /** Base URL of the registry, e.g. `http://127.0.0.1:5000`. */
  url: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Parses `[scheme://][host[:port]/]repo[:tag][@digest]`. Without a host the registry is REESTR_URL
 * (or the local default). A given host uses http when it is loopback, when it is the host of
 * REESTR_URL (then that URL's scheme), or with `insecure`; https otherwise.
 */
export function parseTarget(
  value: string,
  options: { insecure?: boolean; env?: NodeJS.ProcessEnv } = {},
): RegistryTarget {
  const env = options.env ?? process.env;
  let rest = value.trim();
  let scheme: string | undefined;
  const schemeMatch = /^(https?):\/\//i.exec(rest);
  if (schemeMatch) {
    scheme = schemeMatch[1]!.toLowerCase();
    rest = rest.slice(schemeMatch[0].length);
  }
  let url: string;
  const firstSlash = rest.indexOf("/");
  const first = firstSlash === -1 ? "" : rest.slice(0, firstSlash);
  if (scheme || (first && (first.includes(".") || first.includes(":") || first === "localhost"))) {
    rest = rest.slice(firstSlash + 1);
    const defaultUrl = new URL(registryUrl(undefined, env));
    if (!scheme) {
      if (defaultUrl.host === first) scheme = defaultUrl.protocol.slice(0, -1);
      else scheme = options.insecure || isLoopback(hostOf(first)) ? "http" : "https";
    }
    url = `${scheme}://${first}`;
  } else {
    url = registryUrl(undefined, env);
  }
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new UsageError(`invalid digest "${digest}" in "${value}"`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) throw new UsageError(`invalid tag "${tag}" in "${value}"`);
  }
  if (!isValidRepositoryName(rest)) throw new UsageError(`invalid repository name "${rest}" in "${value}"`);
  return { url, repository: rest, tag, digest };
}

/**
 * Credentials for a registry: REESTR_USERNAME / REESTR_PASSWORD when set, else the `auths`
 * entry for its host in docker's config.json ($DOCKER_CONFIG or ~/.docker), else none.
 */
export function credentialsFor(url: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  if (env.REESTR_USERNAME) return { username: env.REESTR_USERNAME, password: env.REESTR_PASSWORD ?? "" };
  const source = new DockerConfigCredentialSource({ env });
  try {
    return source.credentialsFor(new URL(url).host);
  } catch (error) {
    // As docker does: a broken config file is worth a warning, not a failed command.
    process.stderr.write(`warning: ${(error as Error).message}; continuing without its credentials\n`);
    return undefined;
  }
}

/** A client for `url` with credentials from the environment or docker's config (credentialsFor). */
export function clientFor(
  url: string,
  options: { insecure?: boolean; env?: NodeJS.ProcessEnv } = {},
): RegistryClient {
  const env = options.env ?? process.env;
  const credentials = credentialsFor(url, env);
  return new RegistryClient({
    baseUrl: url,
    username: credentials?.username,
    password: credentials?.password,
    insecureSkipVerify: options.insecure,
    // The CLI only reaches a non-loopback http:// URL when the user asked for it: --insecure,
    // or an explicit http:// scheme in the reference, the URL argument or REESTR_URL.
    allowHttp: true,
    headers: { "user-agent": "reestr-cli" },
  });
}

/** `[url] [--json] [--insecure]`, the arguments of commands that talk to one registry (list, status). */
export function parseRegistryArgs(argv: string[]): { json: boolean; url: string; client: RegistryClient } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: "boolean" }, insecure: { type: "boolean" } },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError("expected at most one registry URL");
  const url = registryUrl(positionals[0]);
  return { json: values.json ?? false, url, client: clientFor(url, { insecure: values.insecure }) };
}

/** A positive number flag value; undefined when the flag is absent. */

export function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag}: expected a positive number, got "${value}"`);
  return n;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Bytes for people (3.2 MiB); the one formatter is in src/util/size.ts. */
export { formatBytes } from "../util/size.ts";

/** Help text lines for the options every client command shares. */
export const COMMON_OPTIONS = `  --insecure            plain HTTP / unverified TLS for a registry host given in the reference
  --json                print a JSON result on stdout (for scripts)
  -h, --help            show this help

Environment:
  REESTR_URL            registry used when none is given (default ${DEFAULT_URL})
  REESTR_USERNAME, REESTR_PASSWORD   credentials (basic, or for a bearer token service);
                        else the host's entry in $DOCKER_CONFIG/config.json or ~/.docker/config.json`;
