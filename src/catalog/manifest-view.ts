/**
 * Reading manifests, image configs and referrers into the API's shapes. Lenient on purpose: a
 * catalogue shows what a registry holds, including manifests another registry accepted that
 * Reestr's validator would refuse, so fields are read when present and skipped when odd.
 */
import { isAttestation, type Platform } from "../oci/platform.ts";
import type { ImageConfig, PullCommands, ReferrerKind, TagPlatform } from "./api-schemas.ts";

export interface LooseDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Partial<Platform>;
}

export interface LooseManifest {
  kind: "image" | "index" | "other";
  mediaType: string;
  config?: LooseDescriptor;
  layers: LooseDescriptor[];
  manifests: LooseDescriptor[];
  annotations: Record<string, string>;
  artifactType?: string;
  /** Docker schema 1 carries its platform inline. */
  architecture?: string;
}

export const IMAGE_CONFIG_TYPES = new Set([
  "application/vnd.oci.image.config.v1+json",
  "application/vnd.docker.container.image.v1+json",
]);

function stringMap(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const out: Record<string, string> = {};
  for (const [key, inner] of Object.entries(value)) if (typeof inner === "string") out[key] = inner;
  return out;
}

function descriptor(value: unknown): LooseDescriptor | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.digest !== "string") return undefined;
  const out: LooseDescriptor = {
    mediaType: typeof v.mediaType === "string" ? v.mediaType : "application/octet-stream",
    digest: v.digest,
    size: typeof v.size === "number" && Number.isFinite(v.size) && v.size >= 0 ? v.size : 0,
  };
  if (typeof v.artifactType === "string") out.artifactType = v.artifactType;
  const annotations = stringMap(v.annotations);
  if (Object.keys(annotations).length > 0) out.annotations = annotations;
  if (typeof v.platform === "object" && v.platform !== null) {
    const p = v.platform as Record<string, unknown>;
    out.platform = {
      ...(typeof p.os === "string" ? { os: p.os } : {}),
      ...(typeof p.architecture === "string" ? { architecture: p.architecture } : {}),
      ...(typeof p.variant === "string" ? { variant: p.variant } : {}),
    };
  }
  return out;
}

/** The JSON object in `bytes`; {} when they hold anything else. */
function jsonObject(bytes: Buffer): Record<string, unknown> {
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as unknown;
    if (typeof parsed === "object" && parsed !== null) return parsed as Record<string, unknown>;
  } catch {
    // Not JSON: read as empty.
  }
  return {};
}

/** Not JSON, or not a manifest: shown as "other" with its media type and size. */
export function readManifest(bytes: Buffer, mediaType: string): LooseManifest {
  const json = jsonObject(bytes);
  const manifests = Array.isArray(json.manifests)
    ? json.manifests.map(descriptor).filter((d): d is LooseDescriptor => d !== undefined)
    : [];
  const layers = Array.isArray(json.layers)
    ? json.layers.map(descriptor).filter((d): d is LooseDescriptor => d !== undefined)
    : [];
  const config = descriptor(json.config);
  const kind = Array.isArray(json.manifests) ? "index" : config ? "image" : "other";
  const result: LooseManifest = {
    kind,
    mediaType: typeof json.mediaType === "string" ? json.mediaType : mediaType,
    layers,
    manifests,
    annotations: stringMap(json.annotations),
  };
  if (config) result.config = config;
  if (typeof json.artifactType === "string") result.artifactType = json.artifactType;
  if (typeof json.architecture === "string") result.architecture = json.architecture;
  return result;
}

/**
 * The blobs a manifest references (its config and layers; an index's children not included), by
 * digest: a layer listed twice is one blob. Sizes in the catalogue are sums of such sets, the
 * definition the repository's size uses (distinct blobs, each counted once; the manifests
 * themselves are metadata, not counted), so a tag holding a repository's only image shows the
 * repository's size.
 */
export function blobsOf(manifest: LooseManifest): Map<string, number> {
  const blobs = new Map<string, number>();
  for (const blob of [...(manifest.config ? [manifest.config] : []), ...manifest.layers]) {
    blobs.set(blob.digest, blob.size);
  }
  return blobs;
}

/** The bytes of a set of blobs (from blobsOf, or several merged), each counted once. */
export function totalBytes(blobs: Map<string, number>): number {
  let sum = 0;
  for (const size of blobs.values()) sum += size;
  return sum;
}

/** An index entry that names a platform and is not an attestation manifest. */
export function isRealPlatform(d: LooseDescriptor): boolean {
  return d.platform?.os !== undefined && !isAttestation(d);
}

export function platformOf(d: LooseDescriptor): TagPlatform {
  return {
    os: d.platform?.os ?? "unknown",
    architecture: d.platform?.architecture ?? "unknown",
    variant: d.platform?.variant ?? null,
  };
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** A time as ISO 8601; null when it is not one. */
export function isoTime(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** An image config blob (OCI or Docker) as the API shows it; an unreadable one shows as empty. */
export function readImageConfig(bytes: Buffer, descriptor: LooseDescriptor): ImageConfig {
  const json = jsonObject(bytes);
  const config = (typeof json.config === "object" && json.config !== null ? json.config : {}) as Record<
    string,
    unknown
  >;
  const history = Array.isArray(json.history) ? json.history : [];
  return {
    digest: descriptor.digest,
    mediaType: descriptor.mediaType,
    size: descriptor.size,
    created: isoTime(json.created),
    os: typeof json.os === "string" ? json.os : null,
    architecture: typeof json.architecture === "string" ? json.architecture : null,
    env: stringList(config.Env),
    entrypoint: stringList(config.Entrypoint),
    cmd: stringList(config.Cmd),
    labels: stringMap(config.Labels),
    history: history
      .filter((h): h is Record<string, unknown> => typeof h === "object" && h !== null)
      .map((h) => ({
        created: isoTime(h.created),
        createdBy: typeof h.created_by === "string" ? h.created_by : null,
        emptyLayer: h.empty_layer === true,
      })),
  };
}

export function variantOf(bytes: Buffer): string | null {
  const variant = jsonObject(bytes).variant;
  return typeof variant === "string" ? variant : null;
}

/** What a referrer is, from its artifact type (and media type when it has none). */
export function referrerKind(artifactType: string | undefined, mediaType: string): ReferrerKind {
  const type = (artifactType ?? mediaType).toLowerCase();
  if (/spdx|cyclonedx|sbom|syft/.test(type)) return "sbom";
  if (/signature|cosign\.artifact\.sig|\.sig\.|notary/.test(type)) return "signature";
  if (/in-toto|intoto|attestation|provenance|slsa|dsse|sigstore\.bundle|vuln|openvex/.test(type))
    return "attestation";
  return "other";
}

export function isReadmeArtifact(artifactType: string | undefined): boolean {
  return artifactType !== undefined && /readme|markdown/i.test(artifactType);
}

/** docker / podman / ctr pull commands for `host/name` at a tag or digest. */
export function pullCommands(
  pullHost: string,
  repository: string,
  reference: string,
  plainHttp: boolean,
): PullCommands {
  const separator = reference.includes(":") ? "@" : ":";
  const image = `${pullHost}/${repository}${separator}${reference}`;
  return {
    docker: `docker pull ${image}`,
    podman: `podman pull ${plainHttp ? "--tls-verify=false " : ""}${image}`,
    ctr: `ctr images pull ${plainHttp ? "--plain-http " : ""}${image}`,
  };
}
