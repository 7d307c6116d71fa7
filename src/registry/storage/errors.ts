/**
 * What a BlobStore throws when the thing asked for is not there. Typed, so no backend's own
 * "not found" (an fs ENOENT, an S3 NoSuchKey or NoSuchUpload) leaks through the seam: the
 * Registry tests `instanceof` and maps these to its own error codes. The backend's original
 * error, when there is one, is kept as `cause` for the logs.
 */
import { HttpError } from "../../http/errors.ts";
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

/**
 * A store that cannot be reached (connection refused, timed out, the server answering 5xx after
 * the client's retries): an outage, not a bug. The HTTP layer answers 503 UNAVAILABLE for it
 * (storeErrorToHttp below) and /readyz reports the store unhealthy; the next request tries again,
 * so service comes back without a restart once the store does. `store` names the backend ("s3").
 */
export class StoreUnavailable extends Error {
  readonly store: string;

  constructor(store: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailable";
    this.store = store;
  }
}

/**
 * The HTTP answer to a store's outage: 503 UNAVAILABLE (Distribution's code for it, in the OCI
 * envelope on /v2), without the backend's details, which go to the log. Undefined for anything
 * else.
 */
export function storeErrorToHttp(error: unknown): HttpError | undefined {
  if (!(error instanceof StoreUnavailable)) return undefined;
  return new HttpError(503, "UNAVAILABLE", "the registry's storage is unavailable; try again later", {
    headers: { "Retry-After": "5" },
  });
}
