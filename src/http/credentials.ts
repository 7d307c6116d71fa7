/** The credentials of an Authorization header, parsed once for everyone (auth, limits, tests). */

export interface BasicCredentials {
  user: string;
  password: string;
}

/**
 * The credentials of an `Authorization: Basic …` header; `undefined` without the header;
 * `null` when the header is there but is not valid basic auth (another scheme, bad encoding).
 */
export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined | null {
  if (header === undefined) return undefined;
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token of an `Authorization: Bearer …` header; undefined for no header or another scheme. */
export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1];
}
