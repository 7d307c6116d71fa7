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

import { forEachLimit } from "../client/concurrency.ts";
import { RegistryClientError } from "../client/errors.ts";
import { RegistryClient } from "../client/registry-client.ts";
import { type Digest, digestOf, isDigest, parseDigest } from "../oci/digest.ts";
import { type Descriptor, type ImageManifest, type ParsedManifest, parseManifest } from "../oci/manifest.ts";
import { CredentialsError, type ResolvedCredentials, resolveCredentials } from "./credentials.ts";
import {
  ScanTimeoutError,
  type VulnerabilityFinding,
  type VulnerabilityScanner,
} from "./scanners/scanner.ts";
import type { ImageInfo, PlatformInfo, RegistrySpec, RegistryStatus } from "./spec.ts";
import { filterTags } from "./tag-filter.ts";

/** The logger methods the engine uses (src/server/logger.ts's Logger fits). */
export interface EngineLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

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
  logger?: EngineLogger;
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
const ATTESTATION_ANNOTATION = "vnd.docker.reference.type";
const IMAGE_CONFIG_TYPES = new Set([
  "application/vnd.oci.image.config.v1+json",
  "application/vnd.docker.container.image.v1+json",
]);

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

function isAttestation(child: Descriptor): boolean {
  if (child.annotations?.[ATTESTATION_ANNOTATION] !== undefined) return true;
  return child.platform?.os === "unknown" && child.platform.architecture === "unknown";
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
 * The tags to inspect. The `created` sort needs every tag's creation time before `limit` can
 * pick, so it only applies include/exclude here; other sorts filter, sort and limit at once.
 */
function tagsToInspect(tags: string[], filter: RegistrySpec["tagFilter"]): string[] {
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

/** A pass's images by manifest digest (described, or being described). */
type DescribedImages = Map<string, Promise<ImageInfo>>;

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
    const stats = emptyStats();
    const findings = new Map<string, VulnerabilityFinding[]>();
    const finish = (status: RegistryStatus): ScanResult => {
      stats.durationMs = Date.now() - started;
      return { status, stats, findings };
    };
    signal?.throwIfAborted();

    let connection: Connection;
    try {
      connection = await this.connect(spec);
    } catch (error) {
      return finish(this.failedStatus(spec, previous, error));
    }
    try {
      return finish(await this.pass(spec, previous, connection, stats, findings, signal));
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
  private async pass(
    spec: RegistrySpec,
    previous: RegistryStatus | undefined,
    { client, credentials }: Connection,
    stats: ScanStats,
    findings: Map<string, VulnerabilityFinding[]>,
    signal: AbortSignal | undefined,
  ): Promise<RegistryStatus> {
    let tags: string[];
    try {
      tags = await client.listTags(spec.repository, { signal });
    } catch (error) {
      signal?.throwIfAborted();
      return this.failedStatus(spec, previous, error);
    }
    signal?.throwIfAborted();
    stats.tagsListed = tags.length;

    const previousByTag = new Map((previous?.images ?? []).map((image) => [image.tag, image]));
    const toInspect = tagsToInspect(tags, spec.tagFilter);
    const { results, failures } = await this.inspectAll(client, spec, toInspect, previousByTag, signal);
    signal?.throwIfAborted();

    if (toInspect.length > 0 && failures.length === toInspect.length && isSystemic(failures[0]!.error)) {
      // Nothing at all could be read, for a reason that is the registry's, not a tag's.
      return this.failedStatus(spec, previous, failures[0]!.error);
    }

    const kept = keptTags(toInspect, results, spec.tagFilter);
    const images = kept.map((tag) => results.get(tag)!.image);
    stats.tagsKept = images.length;
    stats.changed = kept.filter((tag) => results.get(tag)!.changed).length;
    const keptSet = new Set(kept);
    stats.removed = [...previousByTag.keys()].filter((tag) => !keptSet.has(tag)).length;
    stats.failed = failures.length;
    const warnings = skippedTagWarnings(failures);

    if (spec.vulnerabilityScanning.enabled) {
      await this.scanVulnerabilities(spec, credentials, images, results, stats, findings, warnings, signal);
    }
    return this.successStatus(spec, images, stats, warnings);
  }

  /**
   * Inspects tags in a pool of `scanConfig.concurrency`. One bad tag never fails the pass: it is
   * recorded in `failures`, and its previous entry kept in `results` when there was one.
   */
  private async inspectAll(
    client: RegistryClient,
    spec: RegistrySpec,
    tags: string[],
    previousByTag: Map<string, ImageInfo>,
    signal: AbortSignal | undefined,
  ): Promise<{ results: Map<string, Inspected>; failures: TagFailure[] }> {
    const results = new Map<string, Inspected>();
    const failures: TagFailure[] = [];
    // Images by digest for this pass, seeded with the previous status: a tag that points at a
    // digest already known (a new `latest`, or `1.27` moving to where `1.27.3` is) costs one HEAD.
    const described: DescribedImages = new Map();
    for (const image of previousByTag.values()) described.set(image.digest, Promise.resolve(image));
    await forEachLimit(tags, spec.scanConfig.concurrency, async (tag) => {
      signal?.throwIfAborted();
      try {
        const inspected = await this.inspect(client, spec, tag, previousByTag.get(tag), described, signal);
        if (inspected) results.set(tag, inspected);
      } catch (error) {
        if (signal?.aborted) throw error;
        failures.push({ tag, error });
        const known = previousByTag.get(tag);
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
  private successStatus(
    spec: RegistrySpec,
    images: ImageInfo[],
    stats: ScanStats,
    warnings: string[],
  ): RegistryStatus {
    const message = [summaryLine(images.length, stats), ...warnings].join("; ");
    this.options.logger?.info("registry scanned", {
      url: spec.url,
      repository: spec.repository,
      tags: images.length,
      changed: stats.changed,
      warnings: warnings.length,
    });
    return {
      lastScanTime: this.now().toISOString(),
      lastScanStatus: "Success",
      message,
      images,
    };
  }

  /** HEAD, then reuse or fetch. Undefined when the tag vanished since the list. */
  private async inspect(
    client: RegistryClient,
    spec: RegistrySpec,
    tag: string,
    known: ImageInfo | undefined,
    described: DescribedImages,
    signal: AbortSignal | undefined,
  ): Promise<Inspected | undefined> {
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
        pending = this.fetchAndDescribe(client, spec.repository, tag, digest, signal);
        described.set(digest, pending);
        pending.catch(() => described.delete(digest));
      }
      return { image: { ...(await pending), tag }, changed: true };
    }
    // No Docker-Content-Digest on the HEAD (some registries): the GET's bytes tell.
    signal?.throwIfAborted();
    const manifest = await client.getManifest(spec.repository, head.digest ?? tag, { signal });
    if (known?.digest === manifest.digest) return { image: known, changed: false };
    const image = await this.describe(
      client,
      spec.repository,
      tag,
      manifest.digest,
      manifest.bytes,
      manifest.mediaType,
      signal,
    );
    return { image, changed: true };
  }

  /** GET a manifest by digest and describe it. */
  private async fetchAndDescribe(
    client: RegistryClient,
    repository: string,
    tag: string,
    digest: string,
    signal: AbortSignal | undefined,
  ): Promise<ImageInfo> {
    signal?.throwIfAborted();
    const manifest = await client.getManifest(repository, digest, { signal });
    return this.describe(
      client,
      repository,
      tag,
      manifest.digest,
      manifest.bytes,
      manifest.mediaType,
      signal,
    );
  }

  /** Sizes, platforms and created of a manifest just fetched. */
  private async describe(
    client: RegistryClient,
    repository: string,
    tag: string,
    digest: Digest,
    bytes: Buffer,
    mediaType: string,
    signal: AbortSignal | undefined,
  ): Promise<ImageInfo> {
    const parsed = parseManifest(bytes, mediaType);
    if (parsed.kind === "image") {
      const manifest = parsed.json as ImageManifest;
      const size = manifestSize(parsed);
      const config = await this.readConfig(client, repository, manifest.config, signal);
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
      signal?.throwIfAborted();
      const childManifest = await client.getManifest(repository, child.digest, { signal });
      const childParsed = parseManifest(childManifest.bytes, childManifest.mediaType);
      // A nested index or an artifact is not a platform image.
      if (childParsed.kind !== "image") continue;
      const config = await this.readConfig(
        client,
        repository,
        (childParsed.json as ImageManifest).config,
        signal,
      );
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
  private async readConfig(
    client: RegistryClient,
    repository: string,
    descriptor: Descriptor,
    signal: AbortSignal | undefined,
  ): Promise<ImageConfig | undefined> {
    if (!IMAGE_CONFIG_TYPES.has(descriptor.mediaType)) return undefined;
    if (descriptor.size > MAX_CONFIG_BYTES) return undefined;
    signal?.throwIfAborted();
    const blob = await client.getBlob(repository, descriptor.digest, { signal });
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

  /**
   * Scans the images that are due; never fails the pass. Updates `results`' images in place and
   * puts each scanned digest's findings (when the scanner lists them) into `findings`.
   */
  private async scanVulnerabilities(
    spec: RegistrySpec,
    credentials: ResolvedCredentials | undefined,
    images: ImageInfo[],
    results: Map<string, Inspected>,
    stats: ScanStats,
    findings: Map<string, VulnerabilityFinding[]>,
    warnings: string[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const config = spec.vulnerabilityScanning;
    const now = this.now().getTime();
    const due = images
      .map((image, index) => ({ image, index }))
      .filter(({ image }) => {
        const scannedAt = image.vulnerabilities ? Date.parse(image.vulnerabilities.scannedAt) : Number.NaN;
        return Number.isNaN(scannedAt) || now - scannedAt >= config.interval * 1000;
      });
    if (due.length === 0) return;
    const scanner = this.options.scanner;
    if (!scanner) {
      warnings.push("no vulnerability scanner configured: vulnerability scanning skipped");
      return;
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
      return;
    }
    const skipped: string[] = [];
    // One scan per digest: tags that share an image (latest, 1.27, 1.27.3) share its report.
    const byDigest = new Map<string, { image: ImageInfo; index: number }[]>();
    for (const item of due) {
      const group = byDigest.get(item.image.digest);
      if (group) group.push(item);
      else byDigest.set(item.image.digest, [item]);
    }
    await forEachLimit(
      [...byDigest.values()],
      Math.max(1, this.options.scanConcurrency ?? 1),
      async (group) => {
        const { image } = group[0]!;
        signal?.throwIfAborted();
        try {
          const { findings: listed, ...summary } = await scanner.scan(
            {
              registryUrl: spec.url,
              repository: spec.repository,
              digest: image.digest as Digest,
              tag: image.tag,
              ...(credentials ? { credentials } : {}),
              insecure: spec.insecureSkipVerify,
            },
            {
              severityThreshold: config.severityThreshold,
              timeoutSeconds: config.timeout,
              ...(signal ? { signal } : {}),
            },
          );
          if (listed) findings.set(image.digest, listed);
          for (const { image: tagged, index } of group) {
            const updated = { ...tagged, vulnerabilities: summary };
            images[index] = updated;
            const entry = results.get(tagged.tag);
            if (entry) entry.image = updated;
          }
          stats.vulnerabilityScans++;
        } catch (error) {
          signal?.throwIfAborted();
          // Skip this image, keep any summary it had (same digest), go on with the others.
          stats.vulnerabilityFailures++;
          const why =
            error instanceof ScanTimeoutError ? `timed out after ${config.timeout}s` : errorText(error);
          skipped.push(`${group.map((item) => item.image.tag).join(", ")} (${why})`);
          this.options.logger?.warn("vulnerability scan failed", { tag: image.tag, err: why });
        }
      },
    );
    if (skipped.length > 0) {
      const shown = skipped.slice(0, 5).join(", ");
      const more = skipped.length > 5 ? ` and ${skipped.length - 5} more` : "";
      warnings.push(`vulnerability scan skipped for ${shown}${more}`);
    }
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
