/**
 * The keys S3BlobStore writes in its bucket, in one place (as ../layout.ts is for the data
 * directory), next to the functions that build them, so this description and the code cannot
 * drift. `<prefix>` is `storage.s3.prefix` (empty: keys start at the bucket's root).
 *
 *	<prefix>/
 *		-> blobs/                           committed blobs, immutable
 *			-> <algorithm>/                   sha256 | sha512
 *				-> <first two hex digits>/      as on the filesystem, so a `aws s3 sync` of blobs/ to a
 *				                                data directory (or back) is a working store
 *					-> <hex digest>               the blob's bytes and nothing else
 *		-> uploads/                         uploads in progress, one "folder" each
 *			-> <uuid>/
 *				-> state.json                   what the upload holds (below); its presence is the upload's
 *				                                existence, created with If-None-Match: * (ids never clash)
 *				-> data                         the target of the upload's S3 multipart upload: parts of at
 *				                                least 5 MiB are sent there as they fill, and it is a plain
 *				                                object only once completed (when the upload is read back,
 *				                                or at commit)
 *				-> tail-<generation>            the bytes after the last part (smaller than a part), rewritten
 *				                                under a new generation by each append that changes them
 *		-> quarantine/                      blobs whose bytes no longer match their digest (a scrub);
 *			-> <algorithm>/<hex digest>       never served, safe to inspect and delete
 *
 * state.json: `{version: 1, size, data, multipart?: {uploadId, parts: [{number, etag, size}]},
 * tailGeneration, tailSize, createdAt, modifiedAt}` (times in ms). The bytes received are the
 * multipart's parts (when there is one; its part 1 then is a server-side copy of `data`) or the
 * object `data` (`data` bytes of it), followed by the tail. Everything an upload needs to go on
 * lives here, not in a process, so a PATCH on one replica and the next on another work.
 *
 * Anything under uploads/<uuid>/ without a state.json is a leftover (a crash mid-cancel or
 * mid-commit): listUploads reports it, and upload expiry removes it. S3 keeps the parts of a
 * multipart upload nobody completes or aborts (and bills them): deleting an upload aborts every
 * multipart upload under its folder; a bucket lifecycle rule "AbortIncompleteMultipartUpload"
 * is a good backstop.
 *
 * Digests are parsed and upload ids checked before they become key segments.
 */
import { type Digest, parseDigest } from "../../oci/digest.ts";
import { assertUploadId } from "./blob-store.ts";

export const S3_FOLDERS = { blobs: "blobs", uploads: "uploads", quarantine: "quarantine" } as const;

/** The key prefix as keys use it: "" or `a/b/`. */
export function keyPrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

export function s3BlobsPrefix(prefix: string): string {
  return `${keyPrefix(prefix)}${S3_FOLDERS.blobs}/`;
}

export function s3UploadsPrefix(prefix: string): string {
  return `${keyPrefix(prefix)}${S3_FOLDERS.uploads}/`;
}

/** Where a committed blob lives. Throws for anything that is not a well-formed digest. */
export function s3BlobKey(prefix: string, digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${s3BlobsPrefix(prefix)}${algorithm}/${hex.slice(0, 2)}/${hex}`;
}

/** The digest a key under blobs/ names, or undefined for a key that is not a blob's. */
export function digestOfS3BlobKey(prefix: string, key: string): Digest | undefined {
  const base = s3BlobsPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const [algorithm, fanOut, hex, ...rest] = key.slice(base.length).split("/");
  if (!algorithm || !fanOut || !hex || rest.length > 0 || !hex.startsWith(fanOut)) return undefined;
  try {
    return parseDigest(`${algorithm}:${hex}`).digest;
  } catch {
    return undefined;
  }
}

/** Where a corrupt blob is moved by a scrub. Throws for anything that is not a well-formed digest. */
export function s3QuarantineKey(prefix: string, digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${keyPrefix(prefix)}${S3_FOLDERS.quarantine}/${algorithm}/${hex}`;
}

/** An upload's folder. Throws for anything that is not an upload id (a UUID). */
export function s3UploadFolder(prefix: string, id: string): string {
  return `${s3UploadsPrefix(prefix)}${assertUploadId(id)}/`;
}

export function s3UploadStateKey(prefix: string, id: string): string {
  return `${s3UploadFolder(prefix, id)}state.json`;
}

export function s3UploadDataKey(prefix: string, id: string): string {
  return `${s3UploadFolder(prefix, id)}data`;
}

export function s3UploadTailKey(prefix: string, id: string, generation: number): string {
  return `${s3UploadFolder(prefix, id)}tail-${generation}`;
}

/** The upload id of a key under uploads/, or undefined for a key outside any upload's folder. */
export function uploadIdOfS3Key(prefix: string, key: string): string | undefined {
  const base = s3UploadsPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const id = key.slice(base.length).split("/")[0]!;
  try {
    return assertUploadId(id);
  } catch {
    return undefined;
  }
}
