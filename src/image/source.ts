import type { Readable } from "node:stream";
import type { Digest } from "../oci/digest.ts";
import type { Descriptor } from "../oci/manifest.ts";

/**
 * Something an image can be read from: an OCI layout directory, a `docker save` tarball, or a
 * registry. Push and pull only need these operations, so they do not care where bytes live.
 */
export interface ImageSource {
  /** Where the image comes from, for messages (`oci:./dir:latest`, `docker-archive:img.tar`). */
  readonly description: string;
  /** The manifest or index named by `ref` (a tag, a digest, or nothing for "the only one"). */
  resolve(ref?: string): Promise<Descriptor>;
  /** Reads a small blob (manifest, config) whole; refuses anything over `maxBytes`. */
  readBlob(digest: Digest, maxBytes?: number): Promise<Buffer>;
  /** Streams a blob; the bytes are not verified here, callers hash what they forward. */
  openBlob(digest: Digest): Promise<Readable>;
  /** Size of a blob in bytes, or undefined when it is not present. */
  blobSize(digest: Digest): Promise<number | undefined>;
}

/** Manifests and configs are small; anything over this is refused when read whole. */
export const MAX_SMALL_BLOB_BYTES = 16 * 1024 * 1024;
