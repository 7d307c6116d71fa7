/**
 * What a BlobStore throws when the thing asked for is not there. Typed, so no backend's own
 * "not found" (an fs ENOENT, an S3 NoSuchKey or NoSuchUpload) leaks through the seam: the
 * Registry tests `instanceof` and maps these to its own error codes. The backend's original
 * error, when there is one, is kept as `cause` for the logs.
 *
 * And what any store (blob or metadata) throws when its backend is out of reach: StoreUnavailable.
 */
import type { Digest } from "../../oci/digest.ts";
import { RegistryError } from "../../oci/errors.ts";

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
 * The store's backend cannot be reached (PostgreSQL stopped, S3 refusing connections or timing
 * out, their connections dropped). An outage, not a bug: the request is answered 503 UNAVAILABLE
 * in the route's error format (the OCI envelope on /v2) with Retry-After, rather than 500, and
 * /readyz reports the store unhealthy until it answers again; the next request tries again, so
 * service comes back without a restart. `store` names the backend ("postgres", "s3"); the
 * backend's error is the `cause` (logged by the pipeline, not sent).
 */
export class StoreUnavailable extends RegistryError {
  readonly store: string;

  constructor(store: string, message: string, options?: ErrorOptions) {
    super("UNAVAILABLE", message, undefined, { "Retry-After": "5" });
    this.name = "StoreUnavailable";
    this.store = store;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
