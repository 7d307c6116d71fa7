/**
 * The OCI Distribution Spec error codes and the HTTP status each one is answered with.
 * Every failure on /v2 is a RegistryError, an HttpError with one of these codes, rendered as the
 * spec's JSON envelope `{"errors":[{"code","message","detail"}]}` by the HTTP layer
 * (src/http/errors.ts).
 */
import { errorBody, HttpError } from "../http/errors.ts";

export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  /** Distribution's code for an internal failure. */
  UNKNOWN: 500,
  /** Distribution's code for a bad `n` on tags list and catalog. */
  PAGINATION_NUMBER_INVALID: 400,
  /**
   * Reestr's code for a push refused because the disk is full (down to the reserve kept for
   * metadata and deletes). The spec has no code for it, and its closed list binds 4XX answers
   * only ("A 4XX response … MUST be one of the following"); a full disk is the server's
   * condition, not a bad request, so it is a 5XX: 507 Insufficient Storage (RFC 4918). The code
   * keeps the spec's form (upper case and underscores); clients that do not know it (Go's
   * distribution errcode reads it as UNKNOWN) still show the message, which says what happened
   * and what to do. Distribution itself answers 500 UNKNOWN here, which says neither.
   */
  STORAGE_FULL: 507,
  /**
   * Distribution's code (errcode.ErrorCodeUnavailable) for a registry that cannot serve right
   * now: a store it depends on (the PostgreSQL metadata database) is out of reach. Clients retry.
   */
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  BLOB_UNKNOWN: "blob unknown to registry",
  BLOB_UPLOAD_INVALID: "blob upload invalid",
  BLOB_UPLOAD_UNKNOWN: "blob upload unknown to registry",
  DIGEST_INVALID: "provided digest did not match uploaded content",
  MANIFEST_BLOB_UNKNOWN: "manifest references a manifest or blob unknown to registry",
  MANIFEST_INVALID: "manifest invalid",
  MANIFEST_UNKNOWN: "manifest unknown to registry",
  NAME_INVALID: "invalid repository name",
  NAME_UNKNOWN: "repository name not known to registry",
  SIZE_INVALID: "provided length did not match content length",
  UNAUTHORIZED: "authentication required",
  DENIED: "requested access to the resource is denied",
  UNSUPPORTED: "the operation is unsupported",
  TOOMANYREQUESTS: "too many requests",
  RANGE_INVALID: "requested range not satisfiable",
  PAGINATION_NUMBER_INVALID: "invalid number of results requested",
  STORAGE_FULL: "the registry's storage is full",
  UNAVAILABLE: "service unavailable",
  UNKNOWN: "unknown error",
};

export class RegistryError extends HttpError {
  declare readonly code: ErrorCode;

  constructor(
    code: ErrorCode,
    message?: string,
    detail?: unknown,
    headers: Record<string, string> = {},
    /** Overrides the code's usual status, e.g. 413 for an oversized manifest, 404 for an unknown route. */
    status?: number,
  ) {
    super(status ?? ERROR_STATUS[code], code, message ?? DEFAULT_MESSAGES[code], {
      details: detail,
      headers,
    });
    this.name = "RegistryError";
  }

  /** The spec's name for the details. */
  get detail(): unknown {
    return this.details;
  }

  /** The spec's error envelope. */
  toBody(): string {
    return errorBody(this, "oci");
  }
}

export function isRegistryError(value: unknown): value is RegistryError {
  return value instanceof RegistryError;
}
