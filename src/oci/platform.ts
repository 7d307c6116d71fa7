/**
 * Platforms (image-spec `platform`, in an index entry and, as os/architecture/variant, in an image
 * config) and the one rule for telling an attestation manifest from a platform image in an index.
 */

/** The `platform` of an index entry, as the image spec defines it. */
export interface Platform {
  /** e.g. `linux`, `windows`. */
  os: string;
  /** e.g. `amd64`, `arm64` (GOARCH values). */
  architecture: string;
  /** CPU variant, e.g. `v7` for arm, `v8` for arm64. */
  variant?: string;
  /** Windows only, e.g. `10.0.14393.1066`. */
  "os.version"?: string;
  /** e.g. `["win32k"]` (Windows). */
  "os.features"?: string[];
}

/** GOOS, GOARCH and variant values: letters, digits, `.`, `_`, `-` (no spaces, no slashes). */
const PLATFORM_PART = /^[A-Za-z0-9._-]+$/;

/** Parses `os/architecture[/variant]`, e.g. `linux/arm64/v8`. */
export function parsePlatform(value: string): Platform {
  const parts = value.split("/");
  const invalid = (why: string) =>
    new Error(`invalid platform "${value}": ${why}; expected os/architecture[/variant], e.g. linux/arm64/v8`);
  if (parts.length < 2 || parts.length > 3) throw invalid(`${parts.length} part(s)`);
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  for (const [name, part] of [
    ["os", os],
    ["architecture", architecture],
    ["variant", variant],
  ] as const) {
    if (part !== undefined && !PLATFORM_PART.test(part)) {
      throw invalid(
        part === "" ? `${name} is empty` : `${name} "${part}" has characters other than A-Z a-z 0-9 . _ -`,
      );
    }
  }
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `os/architecture[/variant]`, the form parsePlatform reads. */
export function formatPlatform(platform: Pick<Platform, "os" | "architecture" | "variant">): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ""}`;
}

/**
 * Whether an index entry's platform is the one wanted (as `docker pull --platform` picks): os and
 * architecture equal, and the variant too when one is wanted.
 */
export function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  if (!candidate) return false;
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false;
  return wanted.variant === undefined || candidate.variant === wanted.variant;
}

/** The annotation BuildKit puts on an attestation manifest's index entry, and its value there. */
export const REFERENCE_TYPE_ANNOTATION = "vnd.docker.reference.type";
export const ATTESTATION_MANIFEST = "attestation-manifest";

/**
 * Whether an index entry is a BuildKit attestation manifest (SBOM, provenance) rather than a
 * platform image. BuildKit marks these with `vnd.docker.reference.type: attestation-manifest` and
 * lists them under platform `unknown/unknown`; either mark suffices, since tools that rewrite an
 * index (copies, mirrors) may drop annotations, and `unknown/unknown` is never a runnable image.
 * Lenient on the input: a catalogue reads descriptors whose platform may lack fields.
 */
export function isAttestation(descriptor: {
  annotations?: Record<string, string>;
  platform?: Partial<Platform>;
}): boolean {
  if (descriptor.annotations?.[REFERENCE_TYPE_ANNOTATION] === ATTESTATION_MANIFEST) return true;
  return descriptor.platform?.os === "unknown" && descriptor.platform.architecture === "unknown";
}
