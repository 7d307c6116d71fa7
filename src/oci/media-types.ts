/** Media types of manifests, indexes, configs and layers that the registry understands. */
export const MediaType = {
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciEmpty: "application/vnd.oci.empty.v1+json",
  OciLayout: "application/vnd.oci.layout.header.v1+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export type ManifestKind = "image" | "index";

const MANIFEST_KINDS: Record<string, ManifestKind> = {
  [MediaType.OciManifest]: "image",
  [MediaType.DockerManifest]: "image",
  [MediaType.OciIndex]: "index",
  [MediaType.DockerManifestList]: "index",
};

/** The manifest media types a client may ask for; also the default Accept of our client. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.keys(MANIFEST_KINDS);

export function manifestKindOf(mediaType: string): ManifestKind | undefined {
  return Object.hasOwn(MANIFEST_KINDS, mediaType) ? MANIFEST_KINDS[mediaType] : undefined;
}

/** Config media types of container images (an artifact's config is anything else). */
export const IMAGE_CONFIG_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaType.OciConfig,
  MediaType.DockerConfig,
]);

export function isSchema1(mediaType: string): boolean {
  return mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed;
}

/** RFC 6838 type/subtype, as the image spec requires of descriptor media types. */
const MEDIA_TYPE_GRAMMAR = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isValidMediaType(value: unknown): value is string {
  return typeof value === "string" && MEDIA_TYPE_GRAMMAR.test(value);
}

/** Strips parameters (`; charset=utf-8`) and whitespace from a Content-Type value. */
export function baseMediaType(contentType: string | undefined): string {
  if (!contentType) return "";
  const semicolon = contentType.indexOf(";");
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * Parses an Accept header (possibly several, comma separated, with q-values) into the set of
 * media types the client accepts. `*\/*` or an absent header accepts everything.
 */
export function parseAccept(accept: string | string[] | undefined): Set<string> | "any" {
  if (accept === undefined) return "any";
  const values = Array.isArray(accept) ? accept.join(",") : accept;
  const result = new Set<string>();
  for (const part of values.split(",")) {
    const [type, ...params] = part.split(";");
    const mediaType = (type ?? "").trim().toLowerCase();
    if (!mediaType) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (q && Number(q.slice(2)) === 0) continue;
    if (mediaType === "*/*" || mediaType === "application/*") return "any";
    result.add(mediaType);
  }
  return result.size === 0 ? "any" : result;
}
