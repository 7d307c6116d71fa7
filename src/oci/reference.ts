import { type Digest, parseDigest } from "./digest.ts";
import { RegistryError } from "./errors.ts";

/**
 * Repository name grammar of the distribution spec:
 * `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
 * Because no component may be empty, start or end with a separator, or contain a dot
 * sequence other than a single `.` between alphanumerics, no valid name can be `..`
 * or escape a directory.
 */
const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
/** Exported for schemas (JSON Schema / CRD `pattern`) that must state the same grammar. */
export const REPOSITORY_NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
/** Distribution limits a name (with its host) to 255 characters; we keep the same bound. */
export const MAX_REPOSITORY_NAME_LENGTH = 255;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function isValidRepositoryName(name: string): boolean {
  return name.length <= MAX_REPOSITORY_NAME_LENGTH && REPOSITORY_NAME.test(name);
}

export function assertRepositoryName(name: string): void {
  if (!isValidRepositoryName(name)) {
    throw new RegistryError("NAME_INVALID", `invalid repository name "${name.slice(0, 300)}"`);
  }
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** A manifest reference in a /v2 URL is a tag or a digest. */
export type ManifestReference = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

export function parseManifestReference(reference: string): ManifestReference {
  if (reference.includes(":")) return { digest: parseDigest(reference).digest };
  if (!isValidTag(reference)) {
    throw new RegistryError("MANIFEST_INVALID", `invalid tag "${reference.slice(0, 200)}"`);
  }
  return { tag: reference };
}

/**
 * A reference to look a manifest up by (GET, HEAD, DELETE): a tag that breaks the tag grammar can
 * name nothing, so it is undefined (the caller answers MANIFEST_UNKNOWN, as the conformance suite
 * expects of `.INVALID_MANIFEST_NAME`); a malformed digest is still DIGEST_INVALID.
 */
export function lookupManifestReference(reference: string): ManifestReference | undefined {
  if (!reference.includes(":") && !isValidTag(reference)) return undefined;
  return parseManifestReference(reference);
}

/** An image reference as users write it: `[host[:port]/]name[:tag][@digest]`. */
export interface ImageReference {
  /** Registry host with port, e.g. `127.0.0.1:5000`; `docker.io` when none is given. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

export function parseImageReference(value: string): ImageReference {
  let rest = value.trim();
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = parseDigest(rest.slice(at + 1)).digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!isValidTag(tag)) throw new Error(`invalid tag "${tag}" in image reference "${value}"`);
  }
  let registry = "docker.io";
  const firstSlash = rest.indexOf("/");
  if (firstSlash !== -1) {
    const first = rest.slice(0, firstSlash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      registry = first;
      rest = rest.slice(firstSlash + 1);
    }
  }
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = "docker.io";
  if (registry === "docker.io" && !rest.includes("/")) rest = `library/${rest}`;
  if (!isValidRepositoryName(rest))
    throw new Error(`invalid repository name "${rest}" in image reference "${value}"`);
  if (!tag && !digest) tag = "latest";
  return { registry, repository: rest, tag, digest };
}

export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}
