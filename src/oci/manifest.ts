import { type Digest, parseDigest } from "./digest.ts";
import { RegistryError } from "./errors.ts";
import {
  baseMediaType,
  isSchema1,
  isValidMediaType,
  type ManifestKind,
  MediaType,
  manifestKindOf,
} from "./media-types.ts";
import type { Platform } from "./platform.ts";

/** Manifests larger than this are refused, as the spec allows and Distribution does. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: Platform;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** What the registry needs to know about a manifest after validating it. */
export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  /** Config and layers of an image manifest: blobs that must exist in the repository. */
  blobs: Descriptor[];
  /** Manifests listed by an index: they must exist in the repository. */
  children: Descriptor[];
  subject?: Descriptor;
  /** artifactType, else the config media type of an image manifest (as the referrers API reports it). */
  artifactType?: string;
  annotations?: Record<string, string>;
  json: ImageManifest | ImageIndex;
}

function invalid(message: string): RegistryError {
  return new RegistryError("MANIFEST_INVALID", message);
}

/** Layers that live elsewhere (`urls`) need not be in the registry, as in Distribution. */
export function isNonDistributable(descriptor: Pick<Descriptor, "mediaType">): boolean {
  return (
    descriptor.mediaType.includes(".nondistributable.") ||
    descriptor.mediaType === "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
  );
}

/**
 * Validates a manifest body against the image spec and returns what it references.
 * `contentType` is the request's Content-Type; when it names a manifest type it wins,
 * otherwise the body's own `mediaType` (or its shape) decides.
 */
export function parseManifest(body: Uint8Array, contentType?: string): ParsedManifest {
  if (body.byteLength > MAX_MANIFEST_BYTES) {
    throw manifestTooLarge();
  }
  const headerType = baseMediaType(contentType);
  if (isSchema1(headerType)) throw schema1Refused();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
  } catch (error) {
    throw invalid(`manifest is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(json)) throw invalid("manifest must be a JSON object");
  if (json.schemaVersion === 1) throw schema1Refused();
  if (json.schemaVersion !== 2) throw invalid("schemaVersion must be 2");
  if (json.mediaType !== undefined && typeof json.mediaType !== "string") {
    throw invalid("mediaType must be a string");
  }
  const bodyType = json.mediaType as string | undefined;
  if (bodyType && isSchema1(bodyType)) throw schema1Refused();

  let mediaType: string;
  if (manifestKindOf(headerType)) {
    mediaType = headerType;
    if (bodyType && bodyType !== headerType) {
      throw invalid(`mediaType "${bodyType}" does not match Content-Type "${headerType}"`);
    }
  } else if (bodyType && manifestKindOf(bodyType)) {
    mediaType = bodyType;
  } else if (bodyType) {
    throw invalid(`unsupported manifest media type "${bodyType}"`);
  } else if (Array.isArray(json.manifests)) {
    mediaType = MediaType.OciIndex;
  } else if (isObject(json.config)) {
    mediaType = MediaType.OciManifest;
  } else {
    throw invalid("cannot tell the manifest type: send a Content-Type or a mediaType field");
  }
  const kind = manifestKindOf(mediaType)!;
  const isDocker = mediaType === MediaType.DockerManifest || mediaType === MediaType.DockerManifestList;
  if (isDocker && !bodyType) throw invalid("Docker manifests must carry a mediaType field");

  const subject = json.subject === undefined ? undefined : descriptor(json.subject, "subject");
  if (json.artifactType !== undefined && !isValidMediaType(json.artifactType)) {
    throw invalid("artifactType must be a valid media type");
  }
  const annotations = json.annotations === undefined ? undefined : stringMap(json.annotations, "annotations");

  if (kind === "image") {
    if (json.manifests !== undefined) throw invalid("an image manifest must not have a manifests field");
    if (!isObject(json.config)) throw invalid("config descriptor is required");
    const config = descriptor(json.config, "config");
    if (!Array.isArray(json.layers)) throw invalid("layers must be an array");
    const layers = json.layers.map((layer, i) => descriptor(layer, `layers[${i}]`));
    // Spec: when artifactType is absent, the referrers API reports the config media type.
    const artifactType = (json.artifactType as string | undefined) ?? config.mediaType;
    return {
      mediaType,
      kind,
      blobs: [config, ...layers],
      children: [],
      subject,
      artifactType,
      annotations,
      json: json as unknown as ImageManifest,
    };
  }
  if (json.config !== undefined || json.layers !== undefined) {
    throw invalid("an image index must not have config or layers fields");
  }
  if (!Array.isArray(json.manifests)) throw invalid("manifests must be an array");
  const children = json.manifests.map((m, i) => {
    const child = descriptor(m, `manifests[${i}]`);
    if (mediaType === MediaType.DockerManifestList && !child.platform) {
      throw invalid(`manifests[${i}].platform is required in a Docker manifest list`);
    }
    return child;
  });
  return {
    mediaType,
    kind,
    blobs: [],
    children,
    subject,
    artifactType: json.artifactType as string | undefined,
    annotations,
    json: json as unknown as ImageIndex,
  };
}

export function manifestTooLarge(): RegistryError {
  return new RegistryError(
    "SIZE_INVALID",
    `manifest exceeds the ${MAX_MANIFEST_BYTES}-byte limit`,
    undefined,
    {},
    413,
  );
}

function schema1Refused(): RegistryError {
  return new RegistryError(
    "MANIFEST_INVALID",
    "Docker schema 1 manifests are not supported: push the image as OCI or Docker schema 2 (e.g. skopeo copy --format oci)",
  );
}

function descriptor(value: unknown, path: string): Descriptor {
  if (!isObject(value)) throw invalid(`${path} must be a descriptor object`);
  if (!isValidMediaType(value.mediaType)) throw invalid(`${path}.mediaType must be a valid media type`);
  if (typeof value.digest !== "string") throw invalid(`${path}.digest must be a string`);
  try {
    parseDigest(value.digest);
  } catch {
    throw invalid(`${path}.digest "${String(value.digest).slice(0, 150)}" is not a valid digest`);
  }
  if (typeof value.size !== "number" || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw invalid(`${path}.size must be a non-negative integer`);
  }
  if (
    value.urls !== undefined &&
    !(Array.isArray(value.urls) && value.urls.every((u) => typeof u === "string"))
  ) {
    throw invalid(`${path}.urls must be an array of strings`);
  }
  if (value.artifactType !== undefined && !isValidMediaType(value.artifactType)) {
    throw invalid(`${path}.artifactType must be a valid media type`);
  }
  if (value.annotations !== undefined) stringMap(value.annotations, `${path}.annotations`);
  if (value.platform !== undefined) {
    const p = value.platform;
    if (!isObject(p) || typeof p.os !== "string" || typeof p.architecture !== "string") {
      throw invalid(`${path}.platform must have string os and architecture`);
    }
  }
  return value as unknown as Descriptor;
}

function stringMap(value: unknown, path: string): Record<string, string> {
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === "string")) {
    throw invalid(`${path} must be a map of strings`);
  }
  return value as Record<string, string>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The tag under which the referrers tag schema stores an index: `sha256-<hex>`. */
export function referrersTagFor(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}
