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

/** Certificate verification failures that mean "this machine does not trust who signed it". */
const UNTRUSTED_CERTIFICATE = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);
const OUT_OF_DATE_CERTIFICATE = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
/** What OpenSSL says when https:// meets a server that answers in plain HTTP. */
const NOT_TLS = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"]);
/** Node reports the same as a bare EPROTO with OpenSSL's reason in the message. */
const NOT_TLS_MESSAGE = /wrong version number|packet length too long/;

/**
 * A TLS failure said in words a user can act on, with its code; undefined when `error` is not
 * one. Node reports these with OpenSSL's codes (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`), which say
 * nothing about what to do; the commonest case by far is a Reestr serving `--tls` with its own
 * local CA.
 */
export function describeTlsError(error: unknown): { code: string; message: string } | undefined {
  const cause = codedError(error);
  if (cause === undefined) return undefined;
  const code = cause.code!;
  const notTls = NOT_TLS.has(code) || (code === "EPROTO" && NOT_TLS_MESSAGE.test(cause.message));
  // OpenSSL's EPROTO message is a line of internals: its reason is enough.
  const detail = notTls ? `${code}: wrong version number` : `${code}: ${cause.message}`;
  const message = notTls ? `the server does not speak TLS (${detail}); try http://` : tlsAdvice(code, detail);
  return message === undefined ? undefined : { code, message };
}

function tlsAdvice(code: string, detail: string): string | undefined {
  if (UNTRUSTED_CERTIFICATE.has(code)) {
    return (
      `certificate not trusted (${detail}); for a Reestr serving --tls with its automatic CA, ` +
      "see `reestr cert ca` (reestr itself trusts it with NODE_EXTRA_CA_CERTS=<data>/tls/ca.crt), " +
      "or pass --insecure to skip verification"
    );
  }
  if (OUT_OF_DATE_CERTIFICATE.has(code)) {
    return `certificate ${code === "CERT_HAS_EXPIRED" ? "expired" : "not valid yet"} (${detail}); check the server's certificate (\`reestr cert show\` for a Reestr) and this machine's clock`;
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `certificate is for another name (${detail}); use a name it lists, or add this one (\`--tls-names\` for a Reestr's automatic certificate)`;
  }
  return undefined;
}

/** The error, or the first of its causes, that carries a code. */
function codedError(error: unknown): NodeJS.ErrnoException | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (typeof (e as NodeJS.ErrnoException).code === "string") return e as NodeJS.ErrnoException;
  }
  return undefined;
}
