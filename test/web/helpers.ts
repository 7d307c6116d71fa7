/**
 * Helpers for the web catalogue's browser tests: a real `reestr serve` (child process) whose
 * catalogue lists its own registry and a registry on a closed port, images pushed with skopeo and
 * over the registry API, and Debian's chromium driven by playwright-core with axe-core injected.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { makeMultiArchImage, makeOciImage } from "../helpers/fixtures.ts";
import { freePort, REPO_ROOT, type ServerProcess, startReestr } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

const exec = promisify(execFile);

export const ARTIFACTS = join(REPO_ROOT, "test-artifacts", "web");
export const CHROMIUM = "/usr/bin/chromium";
const AXE = join(REPO_ROOT, "node_modules", "axe-core", "axe.min.js");
const BUILT_INDEX = join(REPO_ROOT, "dist", "web", "index.html");
const FAKE_TRIVY = join(REPO_ROOT, "test", "fixtures", "fake-trivy", "trivy");
/** The watch entry of `reestr serve` over its own tools/cli. */
export const WATCH_NAME = "cli";

/** Builds dist/web when it is missing or older than src/web (the same check `npm start` makes). */
export async function ensureWebBuilt(): Promise<void> {
  const { webBuildIsStale } = await import("../../scripts/build-web-if-stale.ts");
  if (!webBuildIsStale() && existsSync(BUILT_INDEX)) return;
  await exec(process.execPath, [join(REPO_ROOT, "scripts", "build-web-if-stale.ts")], {
    cwd: REPO_ROOT,
    timeout: 180_000,
  });
  if (!statSync(BUILT_INDEX, { throwIfNoEntry: false })) throw new Error("web build produced no index.html");
}

export interface Catalogue {
  server: ServerProcess;
  /** A registry on a closed port. */
  offline: { id: string; displayName: string; port: number };
  /** Another Reestr that requires Basic auth, configured with a wrong password. */
  locked: { id: string; displayName: string; server: ServerProcess };
  dir: string;
  stop(): Promise<void>;
}

/**
 * `reestr serve` with a catalogue config: its own registry ("local"), "offline" (a registry whose
 * port nothing listens on) and "locked" (a second Reestr with an htpasswd file, which refuses the
 * password the catalogue is given).
 */
export async function startCatalogue(): Promise<Catalogue> {
  const dir = await mkdtemp(join(tmpdir(), "reestr-web-e2e-"));
  const closedPort = await freePort();
  const offline = { id: "offline", displayName: "Offline mirror", port: closedPort };
  const htpasswd = join(dir, "htpasswd");
  const { default: bcrypt } = await import("bcryptjs");
  await writeFile(htpasswd, `alice:${bcrypt.hashSync("right-password", 4)}\n`);
  const lockedServer = await startReestr({
    extraArgs: ["--htpasswd", htpasswd, "--no-access-log"],
    readyPath: "/healthz",
    readyTimeoutMs: 30_000,
  });
  const locked = { id: "locked", displayName: "Locked registry", server: lockedServer };
  // The server watches its own tools/cli (vulnerabilities from the Trivy stand-in, digest moves).
  const port = await freePort();
  const config = join(dir, "reestr.yaml");
  await writeFile(
    config,
    [
      "catalog:",
      "  probeTimeout: 2s",
      "  registries:",
      `    - id: ${offline.id}`,
      `      displayName: ${offline.displayName}`,
      "      description: A mirror that is switched off",
      `      baseUrl: http://127.0.0.1:${closedPort}`,
      "      timeout: 2s",
      `    - id: ${locked.id}`,
      `      displayName: ${locked.displayName}`,
      `      baseUrl: ${lockedServer.url}`,
      "      auth: { type: basic }",
      "watch:",
      "  registries:",
      `    - name: ${WATCH_NAME}`,
      `      url: http://127.0.0.1:${port}`,
      "      repository: tools/cli",
      "      scanInterval: 3600",
      "      vulnerabilityScanning: { enabled: true }",
      "",
    ].join("\n"),
  );
  let server: ServerProcess;
  try {
    server = await startReestr({
      port,
      extraArgs: ["--config", config, "--no-access-log"],
      env: {
        REESTR_REGISTRY_LOCKED_USERNAME: "alice",
        REESTR_REGISTRY_LOCKED_PASSWORD: "wrong-password",
        REESTR_TRIVY: FAKE_TRIVY,
        FAKE_TRIVY_REPORT: join(REPO_ROOT, "test", "fixtures", "fake-trivy", "reports", "multi-result.json"),
      },
      readyTimeoutMs: 30_000,
    });
  } catch (error) {
    await lockedServer.cleanup();
    throw error;
  }
  return {
    server,
    offline,
    locked,
    dir,
    stop: async () => {
      await Promise.all([server.cleanup(), lockedServer.cleanup()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Copies an OCI layout image into the registry with skopeo (a real client). */
export async function skopeoPush(
  server: ServerProcess,
  layout: string,
  tag: string,
  repo: string,
  credentials?: string,
): Promise<void> {
  await exec(
    "skopeo",
    [
      "copy",
      "--all",
      "--dest-tls-verify=false",
      "--quiet",
      ...(credentials ? ["--dest-creds", credentials] : []),
      `oci:${layout}:${tag}`,
      `docker://${server.hostPort}/${repo}:${tag}`,
    ],
    { timeout: 120_000 },
  );
}

interface PushedManifest {
  digest: string;
  body: Buffer;
  mediaType: string;
  blobs: string[];
}

async function v2(
  server: ServerProcess,
  method: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const response = await fetch(`${server.url}${path}`, { method, ...init });
  if (response.status >= 400) {
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  }
  return response;
}

async function uploadBlob(server: ServerProcess, repo: string, data: Buffer): Promise<string> {
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  const start = await v2(server, "POST", `/v2/${repo}/blobs/uploads/`);
  await start.arrayBuffer();
  const location = new URL(start.headers.get("location")!, server.url);
  location.searchParams.set("digest", digest);
  const done = await v2(server, "PUT", location.pathname + location.search, {
    body: new Uint8Array(data),
    headers: { "Content-Type": "application/octet-stream" },
  });
  await done.arrayBuffer();
  return digest;
}

/** A small image (one layer, a config) pushed over the registry API; returns its manifest. */
export async function pushSmallImage(
  server: ServerProcess,
  repo: string,
  tag: string,
  seed: string,
  annotations: Record<string, string> = {},
): Promise<PushedManifest> {
  const layer = Buffer.from(`layer ${seed}\n`.repeat(64));
  const config = Buffer.from(
    JSON.stringify({
      created: "2024-05-01T10:00:00Z",
      architecture: "amd64",
      os: "linux",
      config: { Env: ["PATH=/usr/bin", `SEED=${seed}`], Entrypoint: ["/app"], Labels: { seed } },
      rootfs: { type: "layers", diff_ids: [`sha256:${createHash("sha256").update(layer).digest("hex")}`] },
      history: [{ created: "2024-05-01T10:00:00Z", created_by: `ADD ${seed} /` }],
    }),
  );
  const layerDigest = await uploadBlob(server, repo, layer);
  const configDigest = await uploadBlob(server, repo, config);
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length },
      ],
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    }),
  );
  await (
    await v2(server, "PUT", `/v2/${repo}/manifests/${tag}`, { body, headers: { "Content-Type": mediaType } })
  ).arrayBuffer();
  return {
    digest: `sha256:${createHash("sha256").update(body).digest("hex")}`,
    body,
    mediaType,
    blobs: [layerDigest, configDigest],
  };
}

/** Pushes an artifact (SBOM, signature, attestation…) whose subject is `subject`, by digest. */
export async function pushReferrer(
  server: ServerProcess,
  repo: string,
  subject: PushedManifest,
  artifactType: string,
  content: string,
): Promise<string> {
  const blob = Buffer.from(content);
  const empty = Buffer.from("{}");
  const blobDigest = await uploadBlob(server, repo, blob);
  const emptyDigest = await uploadBlob(server, repo, empty);
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      artifactType,
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: emptyDigest, size: empty.length },
      layers: [{ mediaType: artifactType, digest: blobDigest, size: blob.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.body.length },
      annotations: { "org.opencontainers.image.created": "2024-06-01T00:00:00Z" },
    }),
  );
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  await (
    await v2(server, "PUT", `/v2/${repo}/manifests/${digest}`, {
      body,
      headers: { "Content-Type": mediaType },
    })
  ).arrayBuffer();
  return digest;
}

/** Runs the server's watch entry now and waits for the result. */
export async function scanNow(server: ServerProcess): Promise<void> {
  const response = await fetch(`${server.url}/api/watch/registries/${WATCH_NAME}/scan?wait=true`, {
    method: "POST",
  });
  const body = (await response.json()) as { lastScanStatus?: string; message?: string };
  if (response.status !== 200 || body.lastScanStatus !== "Success") {
    throw new Error(`watch scan failed: ${response.status} ${JSON.stringify(body)}`);
  }
}

/** Tags an already pushed manifest `count` times (tag-00001 …), `concurrency` PUTs at a time. */
export async function tagMany(
  server: ServerProcess,
  repo: string,
  manifest: PushedManifest,
  count: number,
  concurrency = 8,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = ++next;
      const tag = `tag-${String(n).padStart(5, "0")}`;
      const response = await v2(server, "PUT", `/v2/${repo}/manifests/${tag}`, {
        body: new Uint8Array(manifest.body),
        headers: { "Content-Type": manifest.mediaType },
      });
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export interface SeededImages {
  /** team/app:v1 (single image) and team/app:v2 (a two-platform index), pushed with skopeo. */
  appV1Digest: string;
  appV2Digest: string;
  /** Small repositories for pagination: pad/repo-00 … */
  padRepos: string[];
  /** A repository with many tags. */
  bigRepo: string;
  bigTags: number;
}

export async function seedImages(
  server: ServerProcess,
  dir: string,
  options: { bigTags: number; padRepos: number },
) {
  const layouts = join(dir, "layouts");
  await mkdir(layouts, { recursive: true });
  const v1 = await makeOciImage(join(layouts, "app-v1"), {
    tag: "v1",
    layers: 2,
    layerSize: 40_000,
    seed: "app-v1",
  });
  await skopeoPush(server, join(layouts, "app-v1"), "v1", "team/app");
  const v2 = await makeMultiArchImage(join(layouts, "app-v2"), {
    tag: "v2",
    seed: "app-v2",
    layerSize: 30_000,
    platforms: [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
    ],
  });
  await skopeoPush(server, join(layouts, "app-v2"), "v2", "team/app");
  const readme = {
    "org.opencontainers.image.description":
      "# tools/cli\n\nA **command line** tool. Run `cli --help`.\n\n- fast\n- small\n\n" +
      "[docs](https://example.com/docs) [bad](javascript:alert(1)) <img src=x onerror=alert(2)>",
  };
  const cli = await pushSmallImage(server, "tools/cli", "1.0", "cli", readme);
  await pushReferrer(server, "tools/cli", cli, "application/spdx+json", '{"spdxVersion":"SPDX-2.3"}');
  await pushReferrer(
    server,
    "tools/cli",
    cli,
    "application/vnd.dev.cosign.artifact.sig.v1+json",
    "signature",
  );
  await pushReferrer(server, "tools/cli", cli, "application/vnd.in-toto+json", '{"_type":"statement"}');
  // tools/cli:edge moves between two scans of the watcher: the tag history records it.
  await pushSmallImage(server, "tools/cli", "edge", "edge-1", readme);
  await scanNow(server);
  await pushSmallImage(server, "tools/cli", "edge", "edge-2", readme);
  await scanNow(server);
  const padRepos: string[] = [];
  for (let i = 0; i < options.padRepos; i++) {
    const repo = `pad/repo-${String(i).padStart(2, "0")}`;
    await pushSmallImage(server, repo, "latest", `pad-${i}`);
    padRepos.push(repo);
  }
  const bigRepo = "big/many-tags";
  const base = await pushSmallImage(server, bigRepo, "base", "big");
  await tagMany(server, bigRepo, base, options.bigTags - 1);
  return { appV1Digest: v1.digest, appV2Digest: v2.digest, padRepos, bigRepo, bigTags: options.bigTags };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Debian's chromium, headless, with a fresh profile directory removed on close. */
export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "reestr-web-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
    permissions: ["clipboard-read", "clipboard-write"],
    reducedMotion: "reduce",
    timeout: 60_000,
  });
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe-core (WCAG 2.x A/AA and best practices) on the page; returns the violations. */
export async function runAxe(page: Page): Promise<AxeViolation[]> {
  // Strings, not functions: this file is type-checked without the DOM library.
  const loaded = await page.evaluate<boolean>("typeof axe !== 'undefined'");
  // Evaluated through the DevTools protocol: the app's CSP (script-src 'self') forbids inline tags.
  if (!loaded) await page.evaluate(await readFile(AXE, "utf8"));
  const violations = await page.evaluate<
    AxeViolation[]
  >(`axe.run(document, { resultTypes: ["violations"] }).then((result) =>
    result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    })))`);
  return violations;
}

/**
 * Waits until a JavaScript expression is true in the page. Polls with page.evaluate: Playwright's
 * waitForFunction evaluates strings with eval inside the page, which the app's CSP (no
 * 'unsafe-eval') rightly forbids.
 */
export async function waitForExpression(page: Page, expression: string): Promise<void> {
  await waitFor(() => page.evaluate<boolean>(expression), { what: expression, intervalMs: 50 });
}

/** What has the keyboard focus in the page. */
export async function focused(
  page: Page,
): Promise<{ tag: string; id: string; text: string; outline: string }> {
  return await page.evaluate(`(() => {
    const e = document.activeElement;
    return { tag: e?.tagName ?? "", id: e?.id ?? "", text: e?.textContent ?? "", outline: e ? getComputedStyle(e).outlineStyle : "" };
  })()`);
}

export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(" ")}: ${n.failureSummary ?? ""}`).join("\n")}`,
    )
    .join("\n");
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
