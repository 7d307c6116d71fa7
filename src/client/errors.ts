/**
 * Errors the registry client raises. A registry answers failures with the distribution spec's
 * envelope `{"errors":[{"code","message","detail"}]}`; we keep the first error's code and message
 * (and the full list) so callers can branch on `code` without parsing text.
 */
import type { IncomingHttpHeaders } from "node:http";
import { parseRetryAfter, type RateLimit, rateLimitFrom } from "./retry.ts";

export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

export class RegistryClientError extends Error {
  /** The spec code (`MANIFEST_UNKNOWN`, `UNAUTHORIZED`, …) or `HTTP_<status>` when the body had none. */
  readonly code: string;
  readonly status: number;
  readonly errors: RegistryErrorEntry[];
  readonly method: string;
  readonly url: string;
  /** The registry's rate-limit headers on the failed response, when it sent any. */
  readonly rateLimit: RateLimit | undefined;
  /** The failed response's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;
  /** How many attempts were made before giving up (1 when the request was not retried). */
  attempts = 1;

  constructor(options: {
    status: number;
    code: string;
    message: string;
    errors?: RegistryErrorEntry[];
    method: string;
    url: string;
    rateLimit?: RateLimit;
    retryAfterMs?: number;
  }) {
    super(`${options.method} ${options.url}: ${options.status} ${options.code}: ${options.message}`);
    this.name = "RegistryClientError";
    this.code = options.code;
    this.status = options.status;
    this.errors = options.errors ?? [{ code: options.code, message: options.message }];
    this.method = options.method;
    this.url = options.url;
    this.rateLimit = options.rateLimit;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function isRegistryClientError(value: unknown, code?: string): value is RegistryClientError {
  return value instanceof RegistryClientError && (code === undefined || value.code === code);
}

/** Builds the error for a failed response from its (possibly empty or non-JSON) body. */
export function errorFromResponse(
  method: string,
  url: string,
  status: number,
  body: Buffer,
  fallbackCode?: string,
  headers?: IncomingHttpHeaders,
): RegistryClientError {
  let errors: RegistryErrorEntry[] = [];
  try {
    const json = JSON.parse(body.toString("utf8")) as { errors?: unknown };
    if (Array.isArray(json.errors)) {
      errors = json.errors
        .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
        .map((e) => ({
          code: String(e.code ?? "UNKNOWN"),
          message: String(e.message ?? ""),
          detail: e.detail,
        }));
    }
  } catch {
    // Not JSON (a proxy's HTML page, an empty HEAD body): fall back to the status.
  }
  const first = errors[0];
  // The caller's fallback names what was not found: it applies to a bare 404 only, never to a
  // 503 or 429 without a body (those must stay retryable, not read as "unknown").
  const code = first?.code ?? (status === 404 ? fallbackCode : undefined) ?? defaultCodeFor(status);
  const text = body.toString("utf8").trim().slice(0, 200);
  const message = first?.message || (text && !text.startsWith("{") ? text : statusText(status));
  const retryAfter = headers?.["retry-after"];
  return new RegistryClientError({
    status,
    code,
    message,
    errors,
    method,
    url,
    rateLimit: headers ? rateLimitFrom(headers) : undefined,
    retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
  });
}

function defaultCodeFor(status: number): string {
  switch (status) {
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "DENIED";
    case 405:
      return "UNSUPPORTED";
    case 429:
      return "TOOMANYREQUESTS";
    default:
      return `HTTP_${status}`;
  }
}

function statusText(status: number): string {
  return `HTTP ${status}`;
}
