/**
 * The scan engine: one pass over a `Registry` spec (issue 3 §2), from the tag list to the status
 * the seed describes. Every host (`reestr watch`, `reestr scan`, `reestr serve`, the operator) runs
 * passes through this class and only decides when, and where the status goes.
 *
 * A pass:
 *  1. lists the tags (Link pagination) and applies the tag filter;
 *  2. for each kept tag, in a pool of `scanConfig.concurrency`: one HEAD for the digest; a tag
 *     whose digest equals the previous status's is reused as is (no further request); otherwise
 *     the manifest (and, for an index, each platform's manifest) and the config blobs are fetched
 *     for sizes, platforms and `created`;
 *  3. vulnerability scans for images that have none yet, whose digest moved, or whose summary is
 *     older than `vulnerabilityScanning.interval`;
 *  4. the status: Success with a summary and warnings, or Failed (registry unreachable,
 *     credentials refused, repository unknown) keeping the previous images.
 *
 * The `created` sort needs each tag's creation time before `limit` can pick: the engine then
 * inspects every tag that passes include/exclude (incrementally, so a rescan costs one HEAD per
 * tag), sorts, limits, and scans vulnerabilities only for the tags kept. Other sorts filter first
 * and inspect only the kept tags.
 *
 * Cancellation: an aborted signal stops the pool from starting anything new and cancels the
 * requests in flight (their sockets destroyed, retry waits ended); the pass rejects with the
 * signal's reason, so no request outlives the pass.
 */

import { RegistryClientError } from "../client/errors.ts";
import { type ManifestResponse, RegistryClient } from "../client/registry-client.ts";
import { type Digest, digestOf, isDigest, parseDigest } from "../oci/digest.ts";
import { type Descriptor, type ImageManifest, type ParsedManifest, parseManifest } from "../oci/manifest.ts";
import { IMAGE_CONFIG_MEDIA_TYPES } from "../oci/media-types.ts";
import { isAttestation } from "../oci/platform.ts";
import { forEachLimit } from "../util/concurrency.ts";
import type { Logger } from "../util/logger.ts";
import { CredentialsError, type ResolvedCredentials, resolveCredentials } from "./credentials.ts";
import {
  ScanTimeoutError,
  type VulnerabilityFinding,
  type VulnerabilityScanner,
} from "./scanners/scanner.ts";
import type { ImageInfo, PlatformInfo, RegistrySpec, RegistryStatus, VulnerabilitySummary } from "./spec.ts";
import { filterTags, tagsLeftOutBySort } from "./tag-filter.ts";

export interface ClientContext {
  spec: RegistrySpec;
  credentials: ResolvedCredentials | undefined;
}

export interface ScanEngineOptions {
  /**
   * Makes the registry client for a pass. Default: a RegistryClient from the spec (url,
   * credentials, insecureSkipVerify, plain HTTP when the URL says http://, `scanConfig.timeout`
   * per request, `scanConfig.retries`), closed at the end of the pass. A client from this factory
   * belongs to the caller and is not closed.
   */
  client?: (context: ClientContext) => RegistryClient;
  /**
   * Credentials for a spec. Default: the spec's standalone `credentials` (password, passwordEnv
   * or passwordFile). The operator passes the ones read from `credentialsSecret`.
   */
  credentials?: (spec: RegistrySpec) => Promise<ResolvedCredentials | undefined>;
  scanner?: VulnerabilityScanner;
  /** Vulnerability scans run at once (subprocesses are heavy; the seed runs them one by one). Default 1. */
  scanConcurrency?: number;
  now?: () => Date;
  logger?: Logger;
}

/** What one pass did, beyond the status (for metrics and the CLI). */
export interface ScanStats {
  tagsListed: number;
  tagsKept: number;
  /** Tags new in this pass or whose digest moved. */
  changed: number;
  /** Tags of the previous status no longer in the result. */
  removed: number;
  /** Tags whose inspection failed (previous entry kept when there was one). */
  failed: number;
  vulnerabilityScans: number;
  vulnerabilityFailures: number;
  durationMs: number;
}

export interface ScanResult {
  status: RegistryStatus;
  stats: ScanStats;
  /**
   * The findings of the images scanned for vulnerabilities in this pass, by manifest digest, when
   * the scanner lists them. Kept out of the status (which holds counts only, like the CRD's); the
   * standalone watcher saves them beside it (WatchStore.save). Images not rescanned are absent.
   */
  findings?: Map<string, VulnerabilityFinding[]>;
}

const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

interface ImageConfig {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  created?: unknown;
}

/** A tag's inspection: the entry, and whether it changed since the previous status. */
interface Inspected {
  image: ImageInfo;
  changed: boolean;
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errnoCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string") return code;
    current = (current as Error & { cause?: unknown }).cause;
  }
  return undefined;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ECONNABORTED",
]);

/** A failure of the registry or the connection (not of one tag's content). */
function isSystemic(error: unknown): boolean {
  if (error instanceof RegistryClientError) {
    return (
      error.status === 0 ||
      error.status === 401 ||
      error.status === 403 ||
      error.status === 429 ||
      error.status >= 500
    );
  }
  const code = errnoCode(error);
  return code !== undefined && NETWORK_CODES.has(code);
}

/** A clear, one-line cause for a pass that could not list the repository. */
export function describeFailure(error: unknown, spec: Pick<RegistrySpec, "url" | "repository">): string {
  if (error instanceof CredentialsError) return `credentials: ${error.message}`;
  if (error instanceof RegistryClientError) {
    if (error.status === 401 || error.code === "UNAUTHORIZED") {
      return `authentication failed at ${spec.url}: the registry refused the credentials (${error.message})`;
    }
    if (error.status === 403 || error.code === "DENIED") {
      return `access denied to ${spec.repository} at ${spec.url}: check the credentials' permissions (${error.message})`;
    }
    if (error.code === "NAME_UNKNOWN" || error.status === 404) {
      return `repository ${spec.repository} not found at ${spec.url}`;
    }
    const attempts = error.attempts > 1 ? ` after ${error.attempts} attempts` : "";
    return `registry ${spec.url} failed${attempts}: ${error.message}`;
  }
  const code = errnoCode(error);
  if (code !== undefined && (NETWORK_CODES.has(code) || /socket hang up/i.test(errorText(error)))) {
    return `registry unreachable at ${spec.url}: ${errorText(error)}`;
  }
  return `scan of ${spec.url}/${spec.repository} failed: ${errorText(error)}`;
}

/**
 * A config's `created` as an ISO timestamp. Go's zero time (`0001-01-01T00:00:00Z`, which ko and
 * Bazel write for "unknown") and dates outside years 1000–9999 count as absent.
 */
function isoOrUndefined(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) return undefined;
  const iso = new Date(time).toISOString();
  return /^[1-9]\d{3}-/.test(iso) ? iso : undefined;
}

function manifestSize(manifest: ParsedManifest): number {
  // Config plus layers, as the seed defines an image's size; the manifest itself is not counted.
  return manifest.blobs.reduce((sum, blob) => sum + blob.size, 0);
}

function platformOf(
  source: { os?: unknown; architecture?: unknown; variant?: unknown } | undefined,
): Pick<PlatformInfo, "os" | "architecture" | "variant"> | undefined {
  if (!source) return undefined;
  const { os, architecture, variant } = source;
  if (typeof os !== "string" || os === "" || typeof architecture !== "string" || architecture === "") {
    return undefined;
  }
  return typeof variant === "string" && variant !== "" ? { os, architecture, variant } : { os, architecture };
}

function newest(dates: (string | undefined)[]): string | undefined {
  let best: string | undefined;
  for (const date of dates) {
    if (date !== undefined && (best === undefined || Date.parse(date) > Date.parse(best))) best = date;
  }
  return best;
}

/** The client a pass talks through, and whether the pass made it (and so must close it). */
interface Connection {
  client: RegistryClient;
  credentials: ResolvedCredentials | undefined;
  owned: boolean;
}

/**
 * The state of one pass, handed to every step: what is scanned and through which client, and what
 * the steps fill in for the result (stats, findings, warnings).
 */
interface Pass {
  readonly spec: RegistrySpec;
  readonly previous: RegistryStatus | undefined;
  readonly client: RegistryClient;
  readonly credentials: ResolvedCredentials | undefined;
  readonly signal: AbortSignal | undefined;
  readonly stats: ScanStats;
  /** Findings of the images scanned for vulnerabilities in this pass, by manifest digest. */
  readonly findings: Map<string, VulnerabilityFinding[]>;
  /** Notes for a Success status's message: tags skipped, vulnerability scans skipped. */
  readonly warnings: string[];
  /** The previous status's images by tag. */
  readonly previousByTag: Map<string, ImageInfo>;
  /**
   * Images by manifest digest, described or being described, seeded with the previous status: a
   * tag that points at a digest already known (a new `latest`, or `1.27` moving to where `1.27.3`
   * is) costs one HEAD.
   */
  readonly described: Map<string, Promise<ImageInfo>>;
}

interface TagFailure {
  tag: string;
  error: unknown;
}

function emptyStats(): ScanStats {
  return {
    tagsListed: 0,
    tagsKept: 0,
    changed: 0,
    removed: 0,
    failed: 0,
    vulnerabilityScans: 0,
    vulnerabilityFailures: 0,
    durationMs: 0,
  };
}

/**
 * The tags a pass inspects. The `created` sort needs every tag's creation time before `limit` can
 * pick, so it only applies include/exclude here; other sorts filter, sort and limit at once.
 */
export function tagsToInspect(tags: string[], filter: RegistrySpec["tagFilter"]): string[] {
  return filter.sort === "created"
    ? filterTags(tags, { include: filter.include, exclude: filter.exclude })
    : filterTags(tags, filter);
}

/** The inspected tags the status keeps, in order: sorted by created and limited for that sort. */
function keptTags(
  toInspect: string[],
  results: Map<string, Inspected>,
  filter: RegistrySpec["tagFilter"],
): string[] {
  const inspected = toInspect.filter((tag) => results.has(tag));
  if (filter.sort !== "created") return inspected;
  return filterTags(inspected, { sort: "created", order: filter.order, limit: filter.limit }, (tag) => {
    const created = results.get(tag)?.image.created;
    return created === undefined ? undefined : new Date(created);
  });
}

/**
 * The semver and numerical sorts leave out the tags they cannot place: say how many, and which
 * (the first three), rather than let `1.0` or `latest` vanish without a word.
 */
function leftOutWarning(tags: string[], filter: RegistrySpec["tagFilter"]): string[] {
  const left = tagsLeftOutBySort(tags, filter);
  if (left.length === 0) return [];
  const names = left.slice(0, 3).join(", ") + (left.length > 3 ? ", …" : "");
  const count = `${left.length} ${left.length === 1 ? "tag" : "tags"}`;
  if (filter.sort === "numerical") return [`${count} not numbers, left out by the numerical sort (${names})`];
  const hint = filter.semverCoerce
    ? ""
    : "; semverCoerce (--semver-coerce) reads partial versions such as 1.0 and v1";
  return [`${count} not semver, left out by the semver sort (${names})${hint}`];
}

/** Warnings for the tags skipped: the first five by name, then a count. */
function skippedTagWarnings(failures: TagFailure[]): string[] {
  const warnings = failures.slice(0, 5).map(({ tag, error }) => `tag ${tag} skipped: ${errorText(error)}`);
  if (failures.length > 5) warnings.push(`${failures.length - 5} more tags skipped`);
  return warnings;
}

/** "3 tags scanned, 1 changed, 2 removed, 1 vulnerability scans". */
function summaryLine(tagCount: number, stats: ScanStats): string {
  let summary = `${tagCount} ${tagCount === 1 ? "tag" : "tags"} scanned, ${stats.changed} changed`;
  if (stats.removed > 0) summary += `, ${stats.removed} removed`;
  if (stats.vulnerabilityScans > 0) summary += `, ${stats.vulnerabilityScans} vulnerability scans`;
  return summary;
}

/** HEAD, then reuse or fetch. Undefined when the tag vanished since the list. */
async function inspectTag(pass: Pass, tag: string): Promise<Inspected | undefined> {
  const { spec, client, signal, described } = pass;
  const known = pass.previousByTag.get(tag);
  const head = await client.headManifest(spec.repository, tag, { signal });
  if (!head) return undefined;
  const { digest } = head;
  if (digest !== undefined && known?.digest === digest) {
    return { image: { ...known }, changed: false };
  }
  if (digest !== undefined) {
    // Set before awaiting, so tags sharing a digest in one pass fetch it once between them.
    let pending = described.get(digest);
    if (!pending) {
      pending = fetchAndDescribe(pass, tag, digest);
      described.set(digest, pending);
      pending.catch(() => described.delete(digest));
    }
    return { image: { ...(await pending), tag }, changed: true };
  }
  // No Docker-Content-Digest on the HEAD (some registries): the GET's bytes tell.
  signal?.throwIfAborted();
  const manifest = await client.getManifest(spec.repository, tag, { signal });
  if (known?.digest === manifest.digest) return { image: known, changed: false };
  return { image: await describeImage(pass, tag, manifest), changed: true };
}

/** GET a manifest by digest and describe it. */
async function fetchAndDescribe(pass: Pass, tag: string, digest: Digest): Promise<ImageInfo> {
  pass.signal?.throwIfAborted();
  const manifest = await pass.client.getManifest(pass.spec.repository, digest, { signal: pass.signal });
  return describeImage(pass, tag, manifest);
}

/** Sizes, platforms and created of a manifest just fetched. */
async function describeImage(pass: Pass, tag: string, manifest: ManifestResponse): Promise<ImageInfo> {
  const { digest } = manifest;
  const parsed = parseManifest(manifest.bytes, manifest.mediaType);
  if (parsed.kind === "image") {
    const size = manifestSize(parsed);
    const config = await readConfig(pass, (parsed.json as ImageManifest).config);
    const platform = platformOf(config);
    const created = isoOrUndefined(config?.created);
    return {
      tag,
      digest,
      size,
      platforms: platform ? [{ ...platform, digest, size }] : [],
      ...(created ? { created } : {}),
    };
  }
  const platforms: PlatformInfo[] = [];
  const dates: (string | undefined)[] = [];
  for (const child of parsed.children) {
    if (isAttestation(child)) continue;
    pass.signal?.throwIfAborted();
    const childManifest = await pass.client.getManifest(pass.spec.repository, child.digest, {
      signal: pass.signal,
    });
    const childParsed = parseManifest(childManifest.bytes, childManifest.mediaType);
    // A nested index or an artifact is not a platform image.
    if (childParsed.kind !== "image") continue;
    const config = await readConfig(pass, (childParsed.json as ImageManifest).config);
    const platform = platformOf(child.platform) ?? platformOf(config);
    if (!platform) continue;
    platforms.push({ ...platform, digest: child.digest, size: manifestSize(childParsed) });
    dates.push(isoOrUndefined(config?.created));
  }
  const created = newest(dates);
  return {
    tag,
    digest,
    size: platforms.reduce((sum, p) => sum + p.size, 0),
    platforms,
    ...(created ? { created } : {}),
  };
}

/** The image config (os, architecture, variant, created); undefined for non-image configs. */
async function readConfig(pass: Pass, descriptor: Descriptor): Promise<ImageConfig | undefined> {
  if (!IMAGE_CONFIG_MEDIA_TYPES.has(descriptor.mediaType)) return undefined;
  if (descriptor.size > MAX_CONFIG_BYTES) return undefined;
  pass.signal?.throwIfAborted();
  const blob = await pass.client.getBlob(pass.spec.repository, descriptor.digest, { signal: pass.signal });
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of blob.stream) {
    total += (chunk as Buffer).length;
    if (total > MAX_CONFIG_BYTES) {
      blob.stream.destroy();
      throw new Error(`config ${descriptor.digest} exceeds ${MAX_CONFIG_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  const actual = isDigest(descriptor.digest)
    ? digestOf(bytes, parseDigest(descriptor.digest).algorithm)
    : undefined;
  if (actual !== descriptor.digest) {
    throw new Error(`config blob hashes to ${actual}, expected ${descriptor.digest}`);
  }
  const json = JSON.parse(bytes.toString("utf8")) as unknown;
  return typeof json === "object" && json !== null ? (json as ImageConfig) : undefined;
}

/** Runs passes over Registry specs; holds no state between passes other than its options. */
export class ScanEngine {
  private readonly options: ScanEngineOptions;
  private readonly now: () => Date;

  constructor(options: ScanEngineOptions = {}) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** One pass; resolves to the new status (Failed statuses included), rejects only when aborted. */
  async scan(spec: RegistrySpec, previous?: RegistryStatus, signal?: AbortSignal): Promise<RegistryStatus> {
    return (await this.run(spec, previous, signal)).status;
  }

  /** One pass, with what it did. */
  async run(spec: RegistrySpec, previous?: RegistryStatus, signal?: AbortSignal): Promise<ScanResult> {
    const started = Date.now();
    const result = (status: RegistryStatus, pass?: Pass): ScanResult => ({
      status,
      stats: { ...(pass?.stats ?? emptyStats()), durationMs: Date.now() - started },
      findings: pass?.findings ?? new Map(),
    });
    signal?.throwIfAborted();

    let connection: Connection;
    try {
      connection = await this.connect(spec);
    } catch (error) {
      return result(this.failedStatus(spec, previous, error));
    }
    const previousByTag = new Map((previous?.images ?? []).map((image) => [image.tag, image]));
    const pass: Pass = {
      spec,
      previous,
      client: connection.client,
      credentials: connection.credentials,
      signal,
      stats: emptyStats(),
      findings: new Map(),
      warnings: [],
      previousByTag,
      described: new Map([...previousByTag.values()].map((image) => [image.digest, Promise.resolve(image)])),
    };
    try {
      return result(await this.runPass(pass), pass);
    } finally {
      if (connection.owned) connection.client.close();
    }
  }

  /** Credentials and the client for a pass; `owned` when the pass must close the client. */
  private async connect(spec: RegistrySpec): Promise<Connection> {
    const credentials = await (this.options.credentials ?? ((s) => resolveCredentials(s.credentials)))(spec);
    if (this.options.client) {
      return { client: this.options.client({ spec, credentials }), credentials, owned: false };
    }
    return { client: defaultClient(spec, credentials), credentials, owned: true };
  }

  /** The pass proper, once connected: list, inspect, keep, scan vulnerabilities, report. */
  private async runPass(pass: Pass): Promise<RegistryStatus> {
    const { spec, client, signal, stats } = pass;
    let tags: string[];
    try {
      tags = await client.listTags(spec.repository, { signal });
    } catch (error) {
      signal?.throwIfAborted();
      return this.failedStatus(spec, pass.previous, error);
    }
    signal?.throwIfAborted();
    stats.tagsListed = tags.length;

    const toInspect = tagsToInspect(tags, spec.tagFilter);
    pass.warnings.push(...leftOutWarning(tags, spec.tagFilter));
    const { results, failures } = await this.inspectAll(pass, toInspect);
    signal?.throwIfAborted();

    if (toInspect.length > 0 && failures.length === toInspect.length && isSystemic(failures[0]!.error)) {
      // Nothing at all could be read, for a reason that is the registry's, not a tag's.
      return this.failedStatus(spec, pass.previous, failures[0]!.error);
    }

    const kept = keptTags(toInspect, results, spec.tagFilter);
    let images = kept.map((tag) => results.get(tag)!.image);
    stats.tagsKept = images.length;
    stats.changed = kept.filter((tag) => results.get(tag)!.changed).length;
    const keptSet = new Set(kept);
    stats.removed = [...pass.previousByTag.keys()].filter((tag) => !keptSet.has(tag)).length;
    stats.failed = failures.length;
    pass.warnings.push(...skippedTagWarnings(failures));

    if (spec.vulnerabilityScanning.enabled) images = await this.scanVulnerabilities(pass, images);
    return this.successStatus(pass, images);
  }

  /**
   * Inspects tags in a pool of `scanConfig.concurrency`. One bad tag never fails the pass: it is
   * recorded in `failures`, and its previous entry kept in `results` when there was one.
   */
  private async inspectAll(
    pass: Pass,
    tags: string[],
  ): Promise<{ results: Map<string, Inspected>; failures: TagFailure[] }> {
    const results = new Map<string, Inspected>();
    const failures: TagFailure[] = [];
    await forEachLimit(tags, pass.spec.scanConfig.concurrency, async (tag) => {
      pass.signal?.throwIfAborted();
      try {
        const inspected = await inspectTag(pass, tag);
        if (inspected) results.set(tag, inspected);
      } catch (error) {
        if (pass.signal?.aborted) throw error;
        failures.push({ tag, error });
        const known = pass.previousByTag.get(tag);
        if (known) results.set(tag, { image: known, changed: false });
        this.options.logger?.warn("tag inspection failed", { tag, err: errorText(error) });
      }
    });
    return { results, failures };
  }

  /** A Failed status with the cause; consumers keep what the last good pass found. */
  private failedStatus(
    spec: RegistrySpec,
    previous: RegistryStatus | undefined,
    error: unknown,
  ): RegistryStatus {
    const message = describeFailure(error, spec);
    this.options.logger?.warn("registry scan failed", {
      url: spec.url,
      repository: spec.repository,
      message,
    });
    return {
      lastScanTime: this.now().toISOString(),
      lastScanStatus: "Failed",
      message,
      images: previous?.images ?? [],
    };
  }

  /** A Success status: the summary line and the pass's warnings as the message. */
  private successStatus(pass: Pass, images: ImageInfo[]): RegistryStatus {
    const { spec, warnings } = pass;
    const message = [summaryLine(images.length, pass.stats), ...warnings].join("; ");
    this.options.logger?.info("registry scanned", {
      url: spec.url,
      repository: spec.repository,
      tags: images.length,
      changed: pass.stats.changed,
      warnings: warnings.length,
    });
    return {
      lastScanTime: this.now().toISOString(),
      lastScanStatus: "Success",
      message,
      images,
    };
  }

  /**
   * Scans the images that are due and returns the images with their new summaries; never fails
   * the pass. Each scanned digest's findings (when the scanner lists them) go into `pass.findings`.
   */
  private async scanVulnerabilities(pass: Pass, images: ImageInfo[]): Promise<ImageInfo[]> {
    const { spec, signal, stats, warnings } = pass;
    const config = spec.vulnerabilityScanning;
    const now = this.now().getTime();
    const due = images.filter((image) => {
      const scannedAt = image.vulnerabilities ? Date.parse(image.vulnerabilities.scannedAt) : Number.NaN;
      return Number.isNaN(scannedAt) || now - scannedAt >= config.interval * 1000;
    });
    if (due.length === 0) return images;
    const scanner = this.options.scanner;
    if (!scanner) {
      warnings.push("no vulnerability scanner configured: vulnerability scanning skipped");
      return images;
    }
    const availability = await scanner.availability();
    if (!availability.ok) {
      warnings.push(
        `${capitalize(scanner.name)} unavailable, vulnerability scanning skipped: ${availability.reason}`,
      );
      this.options.logger?.warn("vulnerability scanner unavailable", {
        scanner: scanner.name,
        reason: availability.reason,
      });
      return images;
    }
    const skipped: string[] = [];
    const summaries = new Map<string, VulnerabilitySummary>();
    // One scan per digest: tags that share an image (latest, 1.27, 1.27.3) share its report.
    const byDigest = Map.groupBy(due, (image) => image.digest);
    await forEachLimit(
      [...byDigest.values()],
      Math.max(1, this.options.scanConcurrency ?? 1),
      async (group) => {
        const image = group[0]!;
        signal?.throwIfAborted();
        try {
          const { findings: listed, ...summary } = await scanner.scan(
            {
              registryUrl: spec.url,
              repository: spec.repository,
              digest: image.digest as Digest,
              tag: image.tag,
              ...(pass.credentials ? { credentials: pass.credentials } : {}),
              insecure: spec.insecureSkipVerify,
            },
            {
              severityThreshold: config.severityThreshold,
              timeoutSeconds: config.timeout,
              ...(signal ? { signal } : {}),
            },
          );
          if (listed) pass.findings.set(image.digest, listed);
          summaries.set(image.digest, summary);
          stats.vulnerabilityScans++;
        } catch (error) {
          signal?.throwIfAborted();
          // Skip this image, keep any summary it had (same digest), go on with the others.
          stats.vulnerabilityFailures++;
          const why =
            error instanceof ScanTimeoutError ? `timed out after ${config.timeout}s` : errorText(error);
          skipped.push(`${group.map((item) => item.tag).join(", ")} (${why})`);
          this.options.logger?.warn("vulnerability scan failed", { tag: image.tag, err: why });
        }
      },
    );
    if (skipped.length > 0) {
      const shown = skipped.slice(0, 5).join(", ");
      const more = skipped.length > 5 ? ` and ${skipped.length - 5} more` : "";
      warnings.push(`vulnerability scan skipped for ${shown}${more}`);
    }
    const dueImages = new Set(due);
    return images.map((image) => {
      const summary = dueImages.has(image) ? summaries.get(image.digest) : undefined;
      return summary ? { ...image, vulnerabilities: summary } : image;
    });
  }
}

/** The client a pass uses unless the host supplies one. */
export function defaultClient(
  spec: RegistrySpec,
  credentials: ResolvedCredentials | undefined,
): RegistryClient {
  return new RegistryClient({
    baseUrl: spec.url,
    ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
    insecureSkipVerify: spec.insecureSkipVerify,
    // An http:// URL in the spec is an explicit choice of plain HTTP.
    allowHttp: spec.url.startsWith("http://"),
    timeoutMs: spec.scanConfig.timeout * 1000,
    retries: spec.scanConfig.retries,
  });
}

/** Convenience: one pass with a fresh engine. */
export function scanRegistry(
  spec: RegistrySpec,
  previous?: RegistryStatus,
  options: ScanEngineOptions & { signal?: AbortSignal } = {},
): Promise<RegistryStatus> {
  return new ScanEngine(options).scan(spec, previous, options.signal);
}
