/**
 * What a BlobStore throws when the thing asked for is not there. Typed, so no backend's own
 * "not found" (an fs ENOENT, an S3 NoSuchKey or NoSuchUpload) leaks through the seam: the
 * Registry tests `instanceof` and maps these to its own error codes. The backend's original
 * error, when there is one, is kept as `cause` for the logs.
 */
import type { Digest } from "../../oci/digest.ts";

/** A committed blob that the store does not hold. */
export class BlobNotFound extends Error {
  readonly digest: Digest;

  constructor(digest: Digest, options?: ErrorOptions) {
    super(`blob ${digest} not found`, options);
    this.name = "BlobNotFound";
    this.digest = digest;
  }
}

/** An upload the store holds no bytes for: never created, already committed, or deleted. */
export class UploadNotFound extends Error {
  readonly id: string;

  constructor(id: string, options?: ErrorOptions) {
    super(`upload ${id} not found`, options);
    this.name = "UploadNotFound";
    this.id = id;
  }
}
