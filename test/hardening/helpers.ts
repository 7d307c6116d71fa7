/**
 * Shared bits of the hardening tests: requests that may come from another loopback address
 * (127.0.0.2 is a different client IP to the server), Basic credentials, and a stand-in
 * authenticator with fixed users (no bcrypt, so lockout tests stay fast).
 */
import { type IncomingHttpHeaders, request } from "node:http";
import type { Authenticator } from "../../src/auth/authenticator.ts";
import { parseBasicAuth } from "../../src/http/credentials.ts";
import { RegistryError } from "../../src/oci/errors.ts";

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json<T = unknown>(): T;
}

export function send(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string | number>; body?: string | Buffer; from?: string } = {},
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers:
          options.body === undefined
            ? options.headers
            : { "Content-Length": Buffer.byteLength(options.body), ...options.headers },
        agent: false,
        localAddress: options.from,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            json: <T>() => JSON.parse(text) as T,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

export function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

/** Users and passwords in memory; wrong ones throw UNAUTHORIZED like the htpasswd authenticator. */
export function fixedUsers(users: Record<string, string>): Authenticator {
  return {
    async authenticate(req) {
      const credentials = parseBasicAuth(req.headers.authorization);
      if (credentials === undefined) return undefined;
      if (credentials === null) throw new RegistryError("UNAUTHORIZED", "invalid username or password");
      if (credentials.user === "" && credentials.password === "") return undefined;
      if (users[credentials.user] !== credentials.password) {
        throw new RegistryError("UNAUTHORIZED", "invalid username or password");
      }
      return { user: credentials.user };
    },
  };
}

/** The single OCI error of a body. */
/** The error code of an answer: the OCI envelope on /v2, `{error: {code}}` on every other API. */
export function errorCode(answer: Answer): string | undefined {
  try {
    const body = answer.json<{ errors?: { code: string }[]; error?: { code: string } }>();
    return body.errors ? body.errors[0]?.code : body.error?.code;
  } catch {
    return undefined;
  }
}
