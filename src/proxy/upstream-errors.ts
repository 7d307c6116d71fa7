/**
 * What a failed upstream request means to a client of the cache: the upstream has no such
 * thing (its 404 code, passed on), refused us (DENIED), or is unreachable, failing or rate
 * limiting (UNAVAILABLE, 502 or 503 with Retry-After) — only the last lets a stale copy be served.
 */
import { RegistryClientError } from "../client/errors.ts";
import { type ErrorCode, RegistryError } from "../oci/errors.ts";

/** Whether the upstream could not answer (down, failing, rate limiting): a cached copy may stand in. */
export function upstreamUnavailable(error: unknown): boolean {
  if (error instanceof RegistryError) return false;
  if (error instanceof RegistryClientError)
    return error.status >= 500 || error.status === 429 || error.status === 0;
  return true; // resets, refusals, timeouts: no response at all
}

/** The OCI error a client gets for a failed upstream request, naming the upstream. */
export function upstreamError(upstream: string, error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof RegistryClientError) {
    if (error.status === 404) {
      const code = (
        ["MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN"].includes(error.code)
          ? error.code
          : "NAME_UNKNOWN"
      ) as ErrorCode;
      return new RegistryError(code, `not found upstream at ${upstream}`, { upstream });
    }
    if (error.status === 401 || error.status === 403) {
      return new RegistryError("DENIED", `upstream ${upstream} refused access: ${error.code}`, { upstream });
    }
    if (error.status === 429) {
      const seconds = error.retryAfterMs === undefined ? undefined : Math.ceil(error.retryAfterMs / 1000);
      return new RegistryError(
        "UNAVAILABLE",
        `upstream ${upstream} is rate limiting (429) and this content is not cached`,
        { upstream },
        seconds === undefined ? {} : { "Retry-After": String(seconds) },
        503,
      );
    }
    if (error.code === "DIGEST_INVALID") {
      return new RegistryError(
        "UNAVAILABLE",
        `upstream ${upstream} sent content that does not match its digest`,
        { upstream },
        {},
        502,
      );
    }
    if (error.status < 500 && error.status !== 0) {
      return new RegistryError(
        "UNAVAILABLE",
        `upstream ${upstream} answered ${error.status} ${error.code}`,
        { upstream },
        {},
        502,
      );
    }
  }
  const reason =
    error instanceof RegistryClientError
      ? `${error.status} ${error.code}`
      : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  return new RegistryError(
    "UNAVAILABLE",
    `upstream ${upstream} is unavailable (${reason}) and this content is not cached`,
    { upstream },
    {},
    502,
  );
}
