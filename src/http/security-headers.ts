/**
 * Security headers for everything that is not the registry API: the web catalogue, /api, probes.
 * /v2 answers registry clients, not browsers, and keeps the headers Distribution sends.
 *
 * The policy fits a same-origin single-page app built by Vite: scripts, styles, fonts and API
 * calls from our own origin only; images also as data: URLs; no plugins, no framing, no
 * <base> or form posts elsewhere. Inline `style` attributes are allowed because UI libraries
 * (virtualised lists) position rows with them; inline scripts are not.
 */
import type { ServerResponse } from "node:http";

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** The headers for one server: Strict-Transport-Security only when it speaks HTTPS. */
export function securityHeaders(options: { tls: boolean }): Record<string, string> {
  const headers: Record<string, string> = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
  };
  // One year, no includeSubDomains: the registry must not decide for sibling hosts.
  if (options.tls) headers["Strict-Transport-Security"] = "max-age=31536000";
  return headers;
}

/** Sets the headers on a response before it is written (handlers may still override one). */
export function applySecurityHeaders(res: ServerResponse, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
}
