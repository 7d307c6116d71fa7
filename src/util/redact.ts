/**
 * Secrets never reach the logs. The logger passes every entry through `redactValue`:
 * - fields whose name says secret (authorization, cookie, password, token, secret, apiKey,
 *   privateKey, secretAccessKey, …) are replaced by "[REDACTED]" whatever they hold;
 * - in any string: passwords in URLs (`https://user:pass@host` → `https://user:[REDACTED]@host`),
 *   secret query parameters (`?access_token=…`, `password=`, `token=`, `secret=`, `sig=`…) and
 *   `Basic …` / `Bearer …` credentials are masked.
 * Strings are scanned only when they contain a character any of those patterns needs, so the
 * per-request access log pays almost nothing.
 */

export const REDACTED = "[REDACTED]";

const SECRET_KEY =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-registry-auth|password|passwd|pass|secret|client_?secret|token|access_?token|refresh_?token|id_?token|api_?key|private_?key|credentials?|session_?id|secret_?access_?key|session_?token)$/i;

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi;
const SECRET_PARAM =
  /([?&;](?:access_token|refresh_token|id_token|token|password|passwd|secret|client_secret|api_key|apikey|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s"']*/gi;
const AUTH_SCHEME = /\b(basic|bearer)\s+([A-Za-z0-9._~+/=-]{8,})/gi;

/** Masks the secrets a string may carry (see the module comment). */
export function redactString(text: string): string {
  let out = text;
  if (out.includes("@")) out = out.replace(URL_PASSWORD, `$1${REDACTED}@`);
  if (out.includes("=")) out = out.replace(SECRET_PARAM, `$1${REDACTED}`);
  if (/basic|bearer/i.test(out)) out = out.replace(AUTH_SCHEME, maskCredentials);
  return out;
}

/** Bearer: any long token. Basic: only what decodes to `user:password` ("Basic authentication" stays). */
function maskCredentials(match: string, scheme: string, token: string): string {
  if (scheme.toLowerCase() === "basic" && !Buffer.from(token, "base64").toString("latin1").includes(":")) {
    return match;
  }
  return `${scheme} ${REDACTED}`;
}

/** True when a field of this name holds a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * A JSON.stringify replacer step: the value to log for `key`. Used by the logger after its own
 * conversions (errors to objects), so error messages and stacks are covered too.
 */
export function redactValue(key: string, value: unknown): unknown {
  if (key !== "" && isSecretKey(key) && value !== undefined && value !== null && value !== "") {
    return REDACTED;
  }
  if (typeof value === "string") return redactString(value);
  return value;
}
