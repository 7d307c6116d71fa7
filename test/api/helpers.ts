/**
 * Shared helpers of the /v2 API tests: a real registry server in-process on a free port over a
 * fresh temp data directory, raw HTTP requests (node:http, so paths are sent exactly as written
 * and no header is added behind our back) and small push helpers built on those requests.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { type IncomingHttpHeaders, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type RunningServer,
  type ServerOverrides,
  startServer as startReestr,
} from "../../src/app/server.ts";
import { AuthConfigSchema, type AuthSettings } from "../../src/auth/auth-config.ts";
import type { Authenticator } from "../../src/auth/authenticator.ts";
import type { CatalogSection } from "../../src/catalog/registries-config.ts";
import { ConfigSchema, type ReestrConfig } from "../../src/config/config.ts";
import type { LimitsConfig } from "../../src/http/limits.ts";
import { digestOf } from "../../src/oci/digest.ts";
import type { AuditConfig } from "../../src/registry/http/audit.ts";
import type { TlsConfig } from "../../src/tls/config.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import type { WatchConfig } from "../../src/watcher/watch-config.ts";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";
export const DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
export const DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";

export type Algorithm = "sha256" | "sha512";
export { digestOf };

// ---- server ---------------------------------------------------------------------------

/**
 * A test server's settings: the overrides of src/app/server.ts, the shortcuts tests use most, and
 * config sections — `auth` as written in a config file (validated by the real schema), the others
 * already parsed by their schemas. Anything else goes in `config`, as a config file would hold it.
 */
export interface TestServerOptions extends ServerOverrides {
  auth?: AuthSettings & { authenticator?: Authenticator };
  deleteEnabled?: boolean;
  uploadExpiryMs?: number;
  sync?: "full" | "normal";
  /** One log line per request (default off in tests). */
  accessLog?: boolean;
  shutdownTimeoutMs?: number;
  limits?: LimitsConfig;
  tls?: TlsConfig;
  audit?: AuditConfig;
  catalog?: CatalogSection;
  watch?: WatchConfig;
  config?: Record<string, unknown>;
}

/** The parsed configuration of a test server on 127.0.0.1 (port 0 unless told) over `dataDir`. */
export function testServerConfig(options: TestServerOptions, dataDir: string, port = 0): ReestrConfig {
  const config = ConfigSchema.parse({
    ...options.config,
    // No nightly collection racing a test's own runs unless the test asks for a schedule.
    gc: { schedule: "off", ...(options.config?.gc as Record<string, unknown> | undefined) },
    host: "127.0.0.1",
    port,
    dataDir,
    log: { accessLog: options.accessLog ?? false },
    storage: {
      ...(options.config?.storage as Record<string, unknown> | undefined),
      ...(options.deleteEnabled !== undefined ? { deleteEnabled: options.deleteEnabled } : {}),
      ...(options.uploadExpiryMs !== undefined ? { uploadExpiry: `${options.uploadExpiryMs}ms` } : {}),
      ...(options.sync ? { sync: options.sync } : {}),
    },
    ...(options.shutdownTimeoutMs !== undefined ? { shutdownTimeout: `${options.shutdownTimeoutMs}ms` } : {}),
  });
  if (options.auth) {
    const { authenticator, ...settings } = options.auth;
    // An authenticator stands in for the user file the schema asks for in basic mode.
    const needsUsers =
      (settings.mode ?? "basic") === "basic" && !settings.htpasswd && !settings.embeddedUsers;
    config.auth = AuthConfigSchema.parse(
      authenticator && needsUsers ? { ...settings, htpasswd: "-" } : settings,
    );
  }
  return {
    ...config,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.catalog ? { catalog: options.catalog } : {}),
    ...(options.watch ? { watch: options.watch } : {}),
  };
}

export interface TestServer {
  /** Base URL of the running server, e.g. http://127.0.0.1:43117 (changes on restart). */
  readonly url: string;
  readonly port: number;
  /** The server's data directory, inside root. */
  readonly dataDir: string;
  /** The temp directory that holds the data directory (and nothing else of the server's). */
  readonly root: string;
  readonly running: RunningServer;
  /** Log lines the server wrote (JSON, one per entry). */
  readonly logs: string[];
  /** close() then start again on the same data directory and options. */
  restart(): Promise<void>;
  /** Graceful close of the server only (the data dir stays). */
  stop(): Promise<void>;
  /** Stops the server if running and removes the temp directory. */
  cleanup(): Promise<void>;
}

/**
 * Starts a registry on 127.0.0.1, port 0, over a fresh temp data directory (`root/<dataSubdir>`,
 * `root/data` unless told; a deeper one leaves room to watch for writes outside it).
 */
export async function startServer(
  options: TestServerOptions = {},
  { dataSubdir = "data" }: { dataSubdir?: string } = {},
): Promise<TestServer> {
  const root = await mkdtemp(join(tmpdir(), "reestr-api-"));
  const dataDir = join(root, dataSubdir);
  await mkdir(dataDir, { recursive: true });
  const logs: string[] = [];
  const sink = {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line) logs.push(line);
    },
  };
  const config = testServerConfig(options, dataDir);
  const start = () =>
    startReestr(config, {
      logger: new JsonLogger({ level: "info", sink }),
      ...options,
      authenticator: options.auth?.authenticator,
    });
  let running = await start();
  let stopped = false;
  const server: TestServer = {
    get url() {
      return running.url;
    },
    get port() {
      return running.port;
    },
    get running() {
      return running;
    },
    dataDir,
    root,
    logs,
    async restart() {
      await running.close();
      running = await start();
      stopped = false;
    },
    async stop() {
      stopped = true;
      await running.close();
    },
    async cleanup() {
      if (!stopped) await running.close();
      stopped = true;
      await rm(root, { recursive: true, force: true });
    },
  };
  return server;
}

// ---- raw HTTP -------------------------------------------------------------------------

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
  header(name: string): string | undefined;
}

export interface RequestOptions {
  /** An array value is sent as several header lines. */
  headers?: Record<string, string | number | string[]>;
  body?: Buffer | string | AsyncIterable<Uint8Array>;
}

/**
 * One request on a fresh connection. `path` is sent verbatim (no normalisation of `..` or
 * percent-encoding). Buffer and string bodies get a Content-Length unless one is given; an
 * iterable body is streamed (chunked unless a Content-Length is given).
 */
export function http(
  base: string | TestServer,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<HttpResponse> {
  const url = new URL(typeof base === "string" ? base : base.url);
  const headers: Record<string, string | number | string[]> = { ...options.headers };
  const { body } = options;
  const hasLength = Object.keys(headers).some((h) => h.toLowerCase() === "content-length");
  if ((typeof body === "string" || Buffer.isBuffer(body)) && !hasLength) {
    headers["Content-Length"] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const data = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: data,
            text: () => data.toString("utf8"),
            json: <T>() => JSON.parse(data.toString("utf8")) as T,
            header: (name: string) => {
              const value = res.headers[name.toLowerCase()];
              return Array.isArray(value) ? value.join(", ") : value;
            },
          });
        });
      },
    );
    req.on("error", reject);
    if (body === undefined) {
      req.end();
    } else if (typeof body === "string" || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      (async () => {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
        }
        req.end();
      })().catch((error: unknown) => req.destroy(error as Error));
    }
  });
}

/** Path and query of a Location header (absolute or relative), to send the next request to. */
export function locationPath(res: HttpResponse): string {
  const location = res.header("location");
  assert.ok(location, `expected a Location header (status ${res.status})`);
  const url = new URL(location, "http://placeholder");
  return url.pathname + url.search;
}

/** Appends query parameters to a path that may already have some. */
export function withQuery(path: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  return path + (path.includes("?") ? "&" : "?") + query;
}

export interface SpecError {
  code: string;
  message: string;
  detail?: unknown;
}

/**
 * Asserts the spec's error envelope `{"errors":[{"code","message",...}]}` with this status and
 * (first) code, and returns the errors.
 */
export function assertError(res: HttpResponse, status: number, code: string): SpecError[] {
  const context = `${res.status} ${res.text().slice(0, 300)}`;
  assert.equal(res.status, status, `expected HTTP ${status} ${code}, got ${context}`);
  assert.match(res.header("content-type") ?? "", /^application\/json/, `error Content-Type: ${context}`);
  const body = res.json<{ errors?: unknown }>();
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `error envelope: ${context}`);
  const errors = body.errors as SpecError[];
  for (const error of errors) {
    assert.equal(typeof error.code, "string", `error code: ${context}`);
    assert.equal(typeof error.message, "string", `error message: ${context}`);
  }
  assert.equal(errors[0]!.code, code, `expected ${code}: ${context}`);
  return errors;
}

/** Asserts a HEAD error: the status and no body. */
export function assertHeadError(res: HttpResponse, status: number): void {
  assert.equal(res.status, status);
  assert.equal(res.body.byteLength, 0);
}

// ---- pushing --------------------------------------------------------------------------

/** Pushes a blob with a single POST ?digest= and returns its digest. */
export async function pushBlob(
  server: TestServer,
  repo: string,
  data: Buffer | string,
  algorithm: Algorithm = "sha256",
): Promise<string> {
  const digest = digestOf(data, algorithm);
  const res = await http(server, "POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    headers: { "Content-Type": "application/octet-stream" },
    body: data,
  });
  assert.equal(res.status, 201, `blob push: ${res.status} ${res.text()}`);
  return digest;
}

/** Starts an upload session and returns its path (from Location). */
export async function startUpload(server: TestServer, repo: string): Promise<string> {
  const res = await http(server, "POST", `/v2/${repo}/blobs/uploads/`);
  assert.equal(res.status, 202, `start upload: ${res.status} ${res.text()}`);
  return locationPath(res);
}

export interface PushedManifest {
  digest: string;
  bytes: Buffer;
  mediaType: string;
  size: number;
}

/** PUTs a manifest (object or exact bytes) and returns the raw response. */
export function putManifest(
  server: TestServer,
  repo: string,
  reference: string,
  manifest: unknown,
  mediaType?: string,
): Promise<HttpResponse> {
  const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
  const headers: Record<string, string> = {};
  if (mediaType) headers["Content-Type"] = mediaType;
  return http(server, "PUT", `/v2/${repo}/manifests/${reference}`, { headers, body: bytes });
}

/** PUTs a manifest and asserts 201 with the right Docker-Content-Digest. */
export async function pushManifest(
  server: TestServer,
  repo: string,
  reference: string,
  manifest: unknown,
  mediaType: string,
  algorithm: Algorithm = "sha256",
): Promise<PushedManifest> {
  const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
  const res = await putManifest(server, repo, reference, bytes, mediaType);
  assert.equal(res.status, 201, `manifest push ${repo}:${reference}: ${res.status} ${res.text()}`);
  const digest = digestOf(bytes, algorithm);
  assert.equal(res.header("docker-content-digest"), digest);
  return { digest, bytes, mediaType, size: bytes.byteLength };
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

export interface ImageOptions {
  /** Manifest media type: OCI (default) or Docker schema 2. */
  mediaType?: typeof OCI_MANIFEST | typeof DOCKER_MANIFEST;
  configMediaType?: string;
  /** Config bytes; a small random image config by default. */
  config?: Buffer;
  layers?: Buffer[];
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  algorithm?: Algorithm;
}

export interface PushedImage extends PushedManifest {
  manifest: Record<string, unknown>;
  config: Descriptor;
  layers: Descriptor[];
  /** A descriptor of this manifest, for indexes and subjects. */
  descriptor: Descriptor;
}

/** Pushes config and layer blobs, then the manifest under `reference` (a tag or its digest). */
export async function pushImage(
  server: TestServer,
  repo: string,
  reference: string | undefined,
  options: ImageOptions = {},
): Promise<PushedImage> {
  const mediaType = options.mediaType ?? OCI_MANIFEST;
  const docker = mediaType === DOCKER_MANIFEST;
  const algorithm = options.algorithm ?? "sha256";
  const configBytes =
    options.config ??
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [] },
        config: { Env: [`NONCE=${randomBytes(8).toString("hex")}`] },
      }),
    );
  const layersBytes = options.layers ?? [randomBytes(1024)];
  const config: Descriptor = {
    mediaType: options.configMediaType ?? (docker ? DOCKER_CONFIG : OCI_CONFIG),
    digest: await pushBlob(server, repo, configBytes, algorithm),
    size: configBytes.byteLength,
  };
  const layers: Descriptor[] = [];
  for (const layer of layersBytes) {
    layers.push({
      mediaType: docker ? DOCKER_LAYER : OCI_LAYER,
      digest: await pushBlob(server, repo, layer, algorithm),
      size: layer.byteLength,
    });
  }
  const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (options.artifactType) manifest.artifactType = options.artifactType;
  manifest.config = config;
  manifest.layers = layers;
  if (options.subject) manifest.subject = options.subject;
  if (options.annotations) manifest.annotations = options.annotations;
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = digestOf(bytes, algorithm);
  const pushed = await pushManifest(server, repo, reference ?? digest, bytes, mediaType, algorithm);
  return {
    ...pushed,
    manifest,
    config,
    layers,
    descriptor: { mediaType, digest, size: bytes.byteLength },
  };
}

/** Pushes an image index (OCI or Docker manifest list) of the given children. */
export async function pushIndex(
  server: TestServer,
  repo: string,
  reference: string | undefined,
  children: Descriptor[],
  options: {
    mediaType?: string;
    subject?: Descriptor;
    artifactType?: string;
    annotations?: Record<string, string>;
  } = {},
): Promise<PushedManifest & { descriptor: Descriptor }> {
  const mediaType = options.mediaType ?? OCI_INDEX;
  const index: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (options.artifactType) index.artifactType = options.artifactType;
  index.manifests = children;
  if (options.subject) index.subject = options.subject;
  if (options.annotations) index.annotations = options.annotations;
  const bytes = Buffer.from(JSON.stringify(index));
  const digest = digestOf(bytes);
  const pushed = await pushManifest(server, repo, reference ?? digest, bytes, mediaType);
  return { ...pushed, descriptor: { mediaType, digest, size: bytes.byteLength } };
}

// ---- filesystem -----------------------------------------------------------------------

/** Every path under `dir` (recursively) with its size and mtime, skipping `exclude`. */
export async function snapshotTree(dir: string, exclude: string[] = []): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const walk = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (exclude.includes(path)) continue;
      const info = await stat(path);
      result.set(path, `${entry.isDirectory() ? "d" : "f"}:${info.size}:${info.mtimeMs}`);
      if (entry.isDirectory()) await walk(path);
    }
  };
  await walk(dir);
  return result;
}

/** Resolves after `ms` milliseconds (for pacing a dribbled body, never as a timing threshold). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Value of one sample line of a Prometheus text exposition, or undefined. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1]!] = pair[2]!;
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

/**
 * Sends a request whose body is cut off: writes `sent` (less than the declared Content-Length)
 * and destroys the socket once those bytes are handed to the kernel. Resolves after the destroy.
 */
export function sendAndCut(
  base: TestServer,
  method: string,
  path: string,
  headers: Record<string, string | number>,
  sent: Buffer,
): Promise<void> {
  const url = new URL(base.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, agent: false });
    req.on("error", () => {}); // the destroy below
    req.on("response", (res) => {
      reject(new Error(`the server answered ${res.statusCode} before the body was complete`));
      res.resume();
    });
    req.flushHeaders();
    req.write(sent, () => {
      req.destroy();
      resolve();
    });
  });
}

/** The number of bytes an upload holds according to its `Range: 0-<last>` header. */
export function uploadedBytes(res: HttpResponse): number {
  const range = res.header("range");
  assert.ok(range, `expected a Range header (status ${res.status})`);
  const match = /^(?:bytes=)?0-(\d+)$/.exec(range);
  assert.ok(match, `unexpected Range header ${range}`);
  return Number(match[1]) + 1;
}
