/**
 * Helpers of the auth tests: Authorization headers, one-layer image pushes over raw HTTP with
 * any headers, tokens fetched from a server's /auth/token, and JWT parts decoded.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { http, OCI_MANIFEST, type TestServer } from "../api/helpers.ts";

export function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export interface PushedImage {
  manifest: string;
  layer: string;
  config: string;
}

/** Pushes a one-layer image with `headers` on every request; returns its digests. */
export async function pushImage(
  server: TestServer | string,
  headers: Record<string, string>,
  repo: string,
  tag: string,
): Promise<PushedImage> {
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", repo, tag }));
  for (const blob of [layer, config]) {
    const res = await http(server, "POST", `/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
      headers: { ...headers, "Content-Type": "application/octet-stream" },
      body: blob,
    });
    assert.equal(res.status, 201, `blob push to ${repo}: ${res.status} ${res.text()}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const res = await http(server, "PUT", `/v2/${repo}/manifests/${tag}`, {
    headers: { ...headers, "Content-Type": OCI_MANIFEST },
    body: manifest,
  });
  assert.equal(res.status, 201, `manifest push to ${repo}: ${res.status} ${res.text()}`);
  return { manifest: sha256(manifest), layer: sha256(layer), config: sha256(config) };
}

/** A token from the server's /auth/token for these scopes (Basic credentials when given). */
export async function fetchToken(
  server: TestServer | string,
  scopes: string[],
  credentials?: Record<string, string>,
  service = "reestr",
): Promise<string> {
  const query = new URLSearchParams({ service });
  for (const scope of scopes) query.append("scope", scope);
  const res = await http(server, "GET", `/auth/token?${query}`, { headers: credentials ?? {} });
  assert.equal(res.status, 200, `token: ${res.status} ${res.text()}`);
  return res.json<{ token: string }>().token;
}

export function decodeJwtPart<T = Record<string, unknown>>(token: string, part: 0 | 1): T {
  return JSON.parse(Buffer.from(token.split(".")[part]!, "base64url").toString("utf8")) as T;
}

export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export function accessOf(token: string): AccessEntry[] {
  return decodeJwtPart<{ access: AccessEntry[] }>(token, 1).access;
}
