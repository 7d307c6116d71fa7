/**
 * Walks an image graph (index → manifests → config and layers) from a root descriptor.
 * Push, pull and layout copies all need the same answer: which manifests exist (children
 * before parents, so a registry that validates references accepts each PUT) and which blobs.
 */
import { digestOf, parseDigest } from "../oci/digest.ts";
import { type Descriptor, type ParsedManifest, parseManifest } from "../oci/manifest.ts";
import { manifestKindOf } from "../oci/media-types.ts";
import { formatPlatform, type Platform, platformMatches } from "../oci/platform.ts";
import { BlobDigestMismatchError } from "./oci-layout.ts";

export interface WalkedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: ParsedManifest;
}

export interface ImageGraph {
  root: Descriptor;
  /** Every manifest, children before the index that lists them; the root is last. */
  manifests: WalkedManifest[];
  /** Config and layer blobs, each once, in first-seen order. */
  blobs: Descriptor[];
}

/** Fetches a manifest's bytes; the walker verifies them against the descriptor's digest. */
export type ManifestFetcher = (descriptor: Descriptor) => Promise<Uint8Array>;

/** Verifies that `bytes` hash to `descriptor.digest`, with the descriptor's algorithm. */
export function verifyBytes(
  descriptor: Pick<Descriptor, "digest">,
  bytes: Uint8Array,
  what = "manifest",
): void {
  const { algorithm } = parseDigest(descriptor.digest);
  const actual = digestOf(bytes, algorithm);
  if (actual !== descriptor.digest) throw new BlobDigestMismatchError(descriptor.digest, actual, what);
}

/**
 * Reads the graph under `root`. With `platform`, an index is narrowed to the one child for
 * that platform, which becomes the root (as `docker pull --platform` does).
 */
export async function walkImage(
  root: Descriptor,
  fetchManifest: ManifestFetcher,
  options: { platform?: Platform } = {},
): Promise<ImageGraph> {
  const manifests: WalkedManifest[] = [];
  const blobs = new Map<string, Descriptor>();
  const seen = new Set<string>();

  const load = async (descriptor: Descriptor): Promise<WalkedManifest> => {
    const bytes = Buffer.from(await fetchManifest(descriptor));
    verifyBytes(descriptor, bytes);
    return {
      descriptor: { ...descriptor, size: bytes.length },
      bytes,
      parsed: parseManifest(bytes, descriptor.mediaType),
    };
  };

  const visit = async (node: WalkedManifest, depth: number): Promise<void> => {
    if (depth > 8) throw new Error("image index nesting is deeper than 8 levels");
    if (seen.has(node.descriptor.digest)) return;
    seen.add(node.descriptor.digest);
    for (const child of node.parsed.children) {
      if (manifestKindOf(child.mediaType)) {
        await visit(await load(child), depth + 1);
      } else if (!blobs.has(child.digest)) {
        // An index may list non-manifest content (rare); carry it as a plain blob.
        blobs.set(child.digest, child);
      }
    }
    for (const blob of node.parsed.blobs) if (!blobs.has(blob.digest)) blobs.set(blob.digest, blob);
    manifests.push(node);
  };

  let top = await load(root);
  if (options.platform && top.parsed.kind === "index") {
    const wanted = options.platform;
    const child = top.parsed.children.find((c) => platformMatches(c.platform, wanted));
    if (!child) {
      const have = top.parsed.children.map((c) => (c.platform ? formatPlatform(c.platform) : "?")).join(", ");
      throw new Error(`no image for platform ${formatPlatform(wanted)} (index has: ${have})`);
    }
    top = await load(child);
  }
  await visit(top, 0);
  return { root: top.descriptor, manifests, blobs: [...blobs.values()] };
}
