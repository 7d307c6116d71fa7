/** Display helpers: sizes, times, digests. Pure functions, no React. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB"; null → "—". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value.toLocaleString("en-US");
}

/** 1 → "1 blob", 3 → "3 blobs" (`many` for irregular plurals: "repositories"). */
export function formatQuantity(value: number, one: string, many = `${one}s`): string {
  return `${formatCount(value)} ${value === 1 ? one : many}`;
}

const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["second", 60],
  ["minute", 60],
  ["hour", 24],
  ["day", 30],
  ["month", 12],
  ["year", Number.POSITIVE_INFINITY],
];

/** "3 hours ago", relative to `now`. */
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return "—";
  let value = (time - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) return RELATIVE.format(Math.round(value), unit);
    value /= size;
  }
  return new Date(time).toISOString();
}

/** How long something took: 420 → "0.4 s", 83_000 → "1 min 23 s", 7_500_000 → "2 h 5 min". */
export function formatElapsed(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 100) return "<0.1 s";
  if (ms < 59_500) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** "2024-01-01 12:00 UTC": the exact time, for titles and tables. */
export function formatTimestamp(iso: string | null | undefined): string {
  if (!iso) return "—";
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return iso;
  return `${new Date(time).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "sha256:0123456789ab" (algorithm plus 12 hex digits): enough to tell digests apart on screen. */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) return "—";
  const colon = digest.indexOf(":");
  return colon === -1 ? digest.slice(0, 19) : digest.slice(0, colon + 13);
}

export function platformLabel(platform: {
  os: string;
  architecture: string;
  variant?: string | null;
}): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ""}`;
}

/** Short names for the media types one meets in registries. */
export function mediaTypeLabel(mediaType: string): string {
  switch (mediaType) {
    case "application/vnd.oci.image.index.v1+json":
      return "OCI image index";
    case "application/vnd.oci.image.manifest.v1+json":
      return "OCI image manifest";
    case "application/vnd.docker.distribution.manifest.list.v2+json":
      return "Docker manifest list";
    case "application/vnd.docker.distribution.manifest.v2+json":
      return "Docker image manifest";
    default:
      return mediaType;
  }
}

export function isIndex(mediaType: string): boolean {
  return (
    mediaType === "application/vnd.oci.image.index.v1+json" ||
    mediaType === "application/vnd.docker.distribution.manifest.list.v2+json"
  );
}

/** What "size" means, said where sizes are shown (the API's definition, api-schemas.ts). */
export const SIZE_HELP = {
  repository:
    "The distinct blobs stored in this repository (layers, configs and attached artifacts), each counted once: a layer shared by several tags counts once.",
  manifest:
    "The distinct layers and configs this image references, each counted once; for an index, across all its platforms. Manifests themselves are not counted, so an index that is a repository's only content shows the repository's size.",
} as const;
