/**
 * Shared pieces of the catalogue API tests: pushing small images to any registry through the
 * project's RegistryClient (Distribution does not take single-POST uploads), JSON requests, and
 * waiting for the first probes.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { digestOf } from "../../src/oci/digest.ts";
import { http, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST } from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";

export interface Pushed {
  digest: string;
  size: number;
  configDigest: string;
  layers: { digest: string; size: number }[];
}

/** Pushes a config + one random layer + manifest to `baseUrl`; the same `layer` bytes give a shared blob. */
export async function pushRemoteImage(
  baseUrl: string,
  repository: string,
  tag: string,
  options: {
    layer?: Buffer;
    created?: string;
    annotations?: Record<string, string>;
    credentials?: { username: string; password: string };
  } = {},
): Promise<Pushed> {
  const client = new RegistryClient({ baseUrl, retries: 0, ...(options.credentials ?? {}) });
  try {
    const config = Buffer.from(
      JSON.stringify({
        architecture: "arm64",
        variant: "v8",
        os: "linux",
        created: options.created ?? "2024-05-01T10:00:00Z",
        config: {
          Env: ["PATH=/usr/bin", `NONCE=${randomBytes(4).toString("hex")}`],
          Cmd: ["/bin/sh"],
          Labels: { team: "a" },
        },
        rootfs: { type: "layers", diff_ids: [] },
        history: [{ created: "2024-05-01T10:00:00Z", created_by: "ADD rootfs /" }],
      }),
    );
    const layer = options.layer ?? randomBytes(2048);
    const configDigest = digestOf(config);
    const layerDigest = digestOf(layer);
    await client.pushBlob(repository, { digest: configDigest, size: config.length }, config);
    await client.pushBlob(repository, { digest: layerDigest, size: layer.length }, layer);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
        layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: layer.length }],
        ...(options.annotations ? { annotations: options.annotations } : {}),
      }),
    );
    const { digest } = await client.putManifest(repository, tag, manifest, OCI_MANIFEST);
    return {
      digest,
      size: manifest.length,
      configDigest,
      layers: [{ digest: layerDigest, size: layer.length }],
    };
  } finally {
    client.close();
  }
}

export interface JsonResponse<T> {
  status: number;
  body: T;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

export async function api<T = Record<string, unknown>>(
  base: string,
  path: string,
  method = "GET",
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const res = await http(base, method, path, { headers });
  const text = res.text();
  let body: T = undefined as T;
  if (text) {
    assert.match(
      res.header("content-type") ?? "",
      /application\/json/,
      `${method} ${path}: ${text.slice(0, 200)}`,
    );
    body = JSON.parse(text) as T;
  }
  return { status: res.status, body, text, headers: res.headers };
}

/** Asserts the catalogue error envelope with this status and code. */
export function assertApiError(res: JsonResponse<unknown>, status: number, code: string): string {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${res.text.slice(0, 300)}`);
  const body = res.body as { error?: { code?: unknown; message?: unknown } };
  assert.equal(body.error?.code, code, res.text);
  assert.equal(typeof body.error?.message, "string");
  return body.error!.message as string;
}

/** Waits until no registry is still "not probed yet". */
export async function waitForProbes(base: string): Promise<void> {
  let last = "";
  await waitFor(
    async () => {
      const res = await api<{ registries: { status: { lastSync: string | null } }[] }>(
        base,
        "/api/registries",
      );
      last = res.text;
      return res.status === 200 && res.body.registries.every((r) => r.status.lastSync !== null);
    },
    { what: () => `every registry to be probed; last answer: ${last}` },
  );
}
