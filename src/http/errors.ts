/**
 * The one error family of the HTTP layer. Every refusal a handler or the pipeline answers with is
 * an `HttpError` (status, code, message, optional details and headers); `sendError` renders it in
 * the request's error format:
 *
 * - `oci` (/v2 and the token endpoint): the OCI Distribution envelope
 *   `{"errors":[{"code","message","detail"}]}`, the shape registry clients parse;
 * - `json` (everything else): `{"error":{"code","message","details"}}`.
 *
 * The OCI error codes are a subclass (`RegistryError` in src/oci/errors.ts), so the registry core
 * throws them without knowing about HTTP, and a code such as UNAUTHORIZED reads the same in both
 * shapes. Anything that is not an HttpError is a bug or an outage: it is logged by the pipeline
 * and answered 500 without details.
 */

export type ErrorFormat = "oci" | "json";

/** The codes of the JSON APIs' error shape that the pipeline and the shared constructors use. */
export const HTTP_ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "METHOD_NOT_ALLOWED",
  "CONFLICT",
  "LENGTH_REQUIRED",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "TOOMANYREQUESTS",
  "INTERNAL",
  "UNAVAILABLE",
] as const;

export interface HttpErrorOptions {
  /** Structured context for the client (which field, which limit). */
  details?: unknown;
  /** Extra response headers: Retry-After, WWW-Authenticate, Allow, Content-Range. */
  headers?: Record<string, string>;
}

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export function isHttpError(value: unknown): value is HttpError {
  return value instanceof HttpError;
}

// The JSON API's codes, one constructor each, so a handler reads as what it answers.

export function badRequest(message: string, details?: unknown): HttpError {
  return new HttpError(400, "BAD_REQUEST", message, { details });
}

export function unauthorized(
  message = "authentication required",
  headers?: Record<string, string>,
): HttpError {
  return new HttpError(401, "UNAUTHORIZED", message, { headers });
}

export function forbidden(message: string, details?: unknown): HttpError {
  return new HttpError(403, "FORBIDDEN", message, { details });
}

export function notFound(message: string): HttpError {
  return new HttpError(404, "NOT_FOUND", message);
}

export function methodNotAllowed(method: string, allowed: readonly string[]): HttpError {
  return new HttpError(
    405,
    "METHOD_NOT_ALLOWED",
    `method ${method} not allowed here; use ${allowed.join(" or ")}`,
    {
      headers: { Allow: allowed.join(", ") },
    },
  );
}

/** 409: the request clashes with work in progress (a second garbage-collection run). */
export function conflict(message: string, details?: unknown): HttpError {
  return new HttpError(409, "CONFLICT", message, { details });
}

export function payloadTooLarge(message: string): HttpError {
  return new HttpError(413, "PAYLOAD_TOO_LARGE", message);
}

export function lengthRequired(message: string): HttpError {
  return new HttpError(411, "LENGTH_REQUIRED", message);
}

export function unsupportedMediaType(message: string): HttpError {
  return new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", message);
}

/** 429 with the seconds to wait; the OCI code, so registry clients back off too. */
export function tooManyRequests(message: string, retryAfterSeconds: number): HttpError {
  return new HttpError(429, "TOOMANYREQUESTS", message, {
    headers: { "Retry-After": String(retryAfterSeconds) },
  });
}

export function unavailable(message: string): HttpError {
  return new HttpError(503, "UNAVAILABLE", message);
}

export function internalError(): HttpError {
  return new HttpError(500, "INTERNAL", "internal server error");
}

/** The response body of an error in a format. */
export function errorBody(error: HttpError, format: ErrorFormat): string {
  if (format === "oci") {
    const entry: { code: string; message: string; detail?: unknown } = {
      code: error.code === "INTERNAL" ? "UNKNOWN" : error.code,
      message: error.message,
    };
    if (error.details !== undefined) entry.detail = error.details;
    return JSON.stringify({ errors: [entry] });
  }
  const entry: { code: string; message: string; details?: unknown } = {
    code: error.code,
    message: error.message,
  };
  if (error.details !== undefined) entry.details = error.details;
  return JSON.stringify({ error: entry });
}
