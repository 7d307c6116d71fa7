/**
 * Retry policy for registry requests: which failures are transient (network errors, 5xx, 429),
 * how long to wait (exponential backoff with full jitter, or the server's `Retry-After`), and the
 * rate-limit headers registries send (`RateLimit-Limit`/`RateLimit-Remaining`, which Docker Hub
 * spells `ratelimit-limit: 100;w=21600`).
 */
import type { IncomingHttpHeaders } from "node:http";

export interface RetryOptions {
  /** Retries after the first attempt (so `retries + 1` attempts at most). Default 3; 0 disables. */
  retries?: number;
  /** Backoff base: attempt n waits a random time in [0, min(max, base·2ⁿ)]. Default 200 ms. */
  retryBaseDelayMs?: number;
  /** Upper bound of one wait. A `Retry-After` longer than this is not waited for. Default 30 s. */
  retryMaxDelayMs?: number;
  /** Called before each wait, for logs and tests. */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  method: string;
  url: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** The status that caused the retry, or undefined for a network error. */
  status: number | undefined;
  /** The network error code (ECONNRESET, …) when there was no response. */
  errorCode: string | undefined;
  /** Whether the delay came from the server's Retry-After header. */
  fromRetryAfter: boolean;
}

export interface RateLimit {
  /** Requests allowed in the window (`RateLimit-Limit`). */
  limit: number | undefined;
  /** Requests left in the window (`RateLimit-Remaining`). */
  remaining: number | undefined;
  /** Window length in seconds, from a `;w=` parameter, when given. */
  windowSeconds: number | undefined;
  /** Seconds until the window resets (`RateLimit-Reset`), when given. */
  resetSeconds: number | undefined;
}

export const DEFAULT_RETRIES = 3;
export const DEFAULT_RETRY_BASE_DELAY_MS = 200;
export const DEFAULT_RETRY_MAX_DELAY_MS = 30_000;

const RETRYABLE_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Transient failures with no response: resets, refusals, timeouts, `socket hang up`. */
export function isRetryableNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code && RETRYABLE_ERROR_CODES.has(code)) return true;
  return /socket hang up/i.test(error.message);
}

/** 501, 505 and 507 (Insufficient Storage: a full disk is not cleared by waiting seconds) are final. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && ![501, 505, 507].includes(status));
}

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date (a date in the past is 0).
 * Undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Full-jitter exponential backoff for retry number `attempt` (1-based). */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

function first(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `100;w=21600` → {value: 100, window: 21600}. */
function quota(value: string | undefined): { value: number; window: number | undefined } | undefined {
  if (value === undefined) return undefined;
  const [head, ...params] = value.split(";");
  const n = Number(head?.trim());
  if (!head?.trim() || !Number.isFinite(n)) return undefined;
  let window: number | undefined;
  for (const param of params) {
    const match = /^\s*w\s*=\s*(\d+)\s*$/i.exec(param);
    if (match) window = Number(match[1]);
  }
  return { value: n, window };
}

/** The rate-limit headers of a response; undefined when it has none. */
export function rateLimitFrom(headers: IncomingHttpHeaders): RateLimit | undefined {
  // Node lower-cases header names, so RateLimit-Limit and Docker Hub's ratelimit-limit are one.
  const limit = quota(first(headers, "ratelimit-limit") ?? first(headers, "x-ratelimit-limit"));
  const remaining = quota(first(headers, "ratelimit-remaining") ?? first(headers, "x-ratelimit-remaining"));
  const reset = quota(first(headers, "ratelimit-reset") ?? first(headers, "x-ratelimit-reset"));
  if (!limit && !remaining && !reset) return undefined;
  return {
    limit: limit?.value,
    remaining: remaining?.value,
    windowSeconds: limit?.window ?? remaining?.window,
    resetSeconds: reset?.value,
  };
}

/** Waits `ms`; an abort ends the wait at once, rejecting with the signal's reason. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
