/**
 * Trivy behind the VulnerabilityScanner seam: runs the Trivy CLI as a subprocess (no shell) and
 * folds its JSON report into a VulnerabilitySummary.
 *
 *   trivy image --format json --quiet --scanners vuln --severity HIGH,CRITICAL --timeout 300s \
 *     [--cache-dir DIR] [extraArgs…] host/repository@sha256:…
 *
 * - Credentials travel in TRIVY_USERNAME / TRIVY_PASSWORD only (never argv, never logged; the
 *   password is redacted from any stderr we surface). TRIVY_INSECURE=true for insecureSkipVerify,
 *   TRIVY_NON_SSL=true for an http:// registry. Ambient TRIVY_USERNAME/PASSWORD/REGISTRY_TOKEN/
 *   INSECURE/NON_SSL in our own environment are not passed on, so one registry's settings never
 *   leak into another's scan.
 * - `--scanners vuln`: Trivy's image default also runs the secret scanner, which is slow and does
 *   not contribute to the summary.
 * - The timeout is enforced twice: Trivy's own `--timeout` (its "context deadline exceeded" exit
 *   is reported as ScanTimeoutError), and ours: the whole process group gets SIGKILL
 *   `timeoutGraceMs` after `timeoutSeconds`, for a Trivy that hangs regardless.
 * - Counting: a finding is one (VulnerabilityID, PkgName, InstalledVersion). Trivy reports the
 *   same library once per file it was found in (the Go stdlib in every Go binary, a jar vendored
 *   twice), so the same triple in several Results is counted once, at its highest severity.
 *   Findings below the threshold are dropped even if Trivy printed them (extraArgs may widen
 *   `--severity`); severities Trivy does not define count as unknown.
 * - Findings (the list behind the counts): one per (VulnerabilityID, PkgName), at its highest
 *   severity, with the installed versions seen joined ("1.0, 1.1"); entries without an ID are
 *   counted but not listed (there is nothing to show or link).
 */
import { spawn } from "node:child_process";
import { SEVERITIES, type Severity, type VulnerabilitySummary } from "../spec.ts";
import {
  type ImageToScan,
  type ScannerAvailability,
  type ScanOptions,
  type ScanReport,
  ScanTimeoutError,
  type VulnerabilityFinding,
  type VulnerabilityScanner,
} from "./scanner.ts";

export interface TrivyScannerOptions {
  /** Trivy executable: a name looked up on PATH or a path. Default: env REESTR_TRIVY, else "trivy". */
  binary?: string;
  /** Extra arguments placed before the image reference, e.g. ["--skip-db-update"]. */
  extraArgs?: readonly string[];
  /** Trivy's cache directory (vulnerability DB), passed as `--cache-dir`. */
  cacheDir?: string;
  /** Extra environment for the subprocess, on top of ours (e.g. TRIVY_DB_REPOSITORY). */
  env?: Readonly<Record<string, string>>;
  /** Largest report accepted on stdout, in bytes; default 64 MiB. */
  maxReportBytes?: number;
  /** How long after timeoutSeconds we kill Trivy ourselves; default 5000 ms. */
  timeoutGraceMs?: number;
}

const DEFAULT_MAX_REPORT_BYTES = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_GRACE_MS = 5_000;
const VERSION_TIMEOUT_MS = 30_000;
const STDERR_TAIL_BYTES = 16 * 1024;
const STDERR_TAIL_LINES = 10;
const DOCKER_HUB_HOSTS = new Set([
  "docker.io",
  "registry-1.docker.io",
  "index.docker.io",
  "registry.hub.docker.com",
]);
/** Settings that must come from the image being scanned, never from our own environment. */
const SCRUBBED_ENV = [
  "TRIVY_USERNAME",
  "TRIVY_PASSWORD",
  "TRIVY_REGISTRY_TOKEN",
  "TRIVY_INSECURE",
  "TRIVY_NON_SSL",
];

/** Severities from `threshold` up, as Trivy's `--severity` wants them. */
export function severitiesAtOrAbove(threshold: Severity): Severity[] {
  const index = SEVERITIES.indexOf(threshold);
  if (index < 0) throw new Error(`unknown severity "${threshold}"`);
  return SEVERITIES.slice(index);
}

/** `host[:port]/repository@digest` for Trivy, and whether the registry speaks plain HTTP. */
export function imageReference(image: ImageToScan): { reference: string; plainHttp: boolean } {
  const raw = image.registryUrl.trim();
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`registry URL "${raw}" is not http:// or https://`);
  }
  const host = DOCKER_HUB_HOSTS.has(url.hostname) && url.port === "" ? "docker.io" : url.host;
  return { reference: `${host}/${image.repository}@${image.digest}`, plainHttp: url.protocol === "http:" };
}

interface TrivyVulnerability {
  VulnerabilityID?: unknown;
  PkgName?: unknown;
  InstalledVersion?: unknown;
  FixedVersion?: unknown;
  Severity?: unknown;
  Title?: unknown;
  PrimaryURL?: unknown;
}

/** The report's vulnerabilities at or above the threshold, each with its severity's rank. */
function* vulnerabilitiesOf(
  report: unknown,
  threshold: Severity,
): Generator<{ entry: TrivyVulnerability; severity: number }> {
  if (report === null || typeof report !== "object" || Array.isArray(report)) {
    throw new Error("trivy report is not a JSON object");
  }
  const results = (report as { Results?: unknown }).Results;
  if (results !== undefined && results !== null && !Array.isArray(results)) {
    throw new Error("trivy report: Results is not an array");
  }
  const minimum = SEVERITIES.indexOf(threshold);
  for (const result of results ?? []) {
    if (result === null || typeof result !== "object") continue;
    const vulnerabilities = (result as { Vulnerabilities?: unknown }).Vulnerabilities;
    if (vulnerabilities === undefined || vulnerabilities === null) continue;
    if (!Array.isArray(vulnerabilities)) throw new Error("trivy report: Vulnerabilities is not an array");
    for (const entry of vulnerabilities as TrivyVulnerability[]) {
      if (entry === null || typeof entry !== "object") continue;
      const rank = SEVERITIES.indexOf(
        (typeof entry.Severity === "string" ? entry.Severity.toUpperCase() : "UNKNOWN") as Severity,
      );
      const severity = rank < 0 ? 0 : rank;
      if (severity >= minimum) yield { entry, severity };
    }
  }
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** Orders findings most severe first, then by id and package. */
export function compareFindings(a: VulnerabilityFinding, b: VulnerabilityFinding): number {
  const bySeverity = SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity);
  if (bySeverity !== 0) return bySeverity;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return a.package < b.package ? -1 : a.package > b.package ? 1 : 0;
}

/** The findings of a Trivy JSON report (SchemaVersion 2); see the header for the rules. */
export function findingsOfReport(report: unknown, threshold: Severity): VulnerabilityFinding[] {
  const byKey = new Map<string, { finding: VulnerabilityFinding; installed: Set<string> }>();
  for (const { entry, severity } of vulnerabilitiesOf(report, threshold)) {
    const id = text(entry.VulnerabilityID);
    if (id === null) continue;
    const pkg = text(entry.PkgName) ?? "";
    const key = JSON.stringify([id, pkg]);
    const installed = text(entry.InstalledVersion);
    const seen = byKey.get(key);
    if (seen) {
      if (installed !== null) seen.installed.add(installed);
      if (severity > SEVERITIES.indexOf(seen.finding.severity)) seen.finding.severity = SEVERITIES[severity]!;
      seen.finding.fixed ??= text(entry.FixedVersion);
      seen.finding.title ??= text(entry.Title);
      seen.finding.url ??= text(entry.PrimaryURL);
      continue;
    }
    byKey.set(key, {
      finding: {
        id,
        severity: SEVERITIES[severity]!,
        package: pkg,
        installed: "",
        fixed: text(entry.FixedVersion),
        title: text(entry.Title),
        url: text(entry.PrimaryURL),
      },
      installed: new Set(installed === null ? [] : [installed]),
    });
  }
  return [...byKey.values()]
    .map(({ finding, installed }) => ({ ...finding, installed: [...installed].join(", ") }))
    .sort(compareFindings);
}

/** Folds a Trivy JSON report (SchemaVersion 2) into counts; see the header for the rules. */
export function summarizeReport(
  report: unknown,
  threshold: Severity,
): Pick<VulnerabilitySummary, "critical" | "high" | "medium" | "low" | "unknown"> {
  const findings = new Map<string, number>();
  let anonymous = 0;
  for (const { entry, severity } of vulnerabilitiesOf(report, threshold)) {
    const id = typeof entry.VulnerabilityID === "string" ? entry.VulnerabilityID : "";
    if (id === "") {
      // No identity to de-duplicate on: count it as it comes.
      findings.set(`#${anonymous++}`, severity);
      continue;
    }
    const key = JSON.stringify([id, String(entry.PkgName ?? ""), String(entry.InstalledVersion ?? "")]);
    const seen = findings.get(key);
    if (seen === undefined || severity > seen) findings.set(key, severity);
  }
  const counts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  for (const rank of findings.values()) {
    const name = (SEVERITIES[rank] ?? "UNKNOWN").toLowerCase() as keyof typeof counts;
    counts[name]++;
  }
  return counts;
}

/** Replaces every occurrence of the secrets (raw and URL-encoded) with `***`. */
function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join("***");
  }
  return out;
}

function lastLines(text: string, count: number): string {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  return lines.slice(-count).join("\n");
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

type RunOutcome = RunResult | { kind: "timeout" } | { kind: "aborted"; reason: unknown };

interface RunOptions {
  env: NodeJS.ProcessEnv;
  killAfterMs: number;
  maxStdoutBytes: number;
  signal?: AbortSignal;
}

class SpawnError extends Error {
  readonly code: string | undefined;
  constructor(cause: NodeJS.ErrnoException) {
    super(cause.message, { cause });
    this.code = cause.code;
  }
}

/** Spawns `binary args` in its own process group; on timeout, abort or overflow kills the group. */
function run(binary: string, args: readonly string[], options: RunOptions): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ kind: "aborted", reason: options.signal.reason });
      return;
    }
    const child = spawn(binary, args, {
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so we can kill Trivy and anything it started in one go.
      detached: process.platform !== "win32",
      windowsHide: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = "";
    let settled: RunOutcome | Error | undefined;
    let spawnFailed = false;

    const killGroup = () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        if (process.platform === "win32") child.kill("SIGKILL");
        else process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    // Decide the outcome once; the promise resolves when the process is gone ('close').
    const decide = (outcome: RunOutcome | Error) => {
      if (settled !== undefined) return;
      settled = outcome;
      killGroup();
    };
    const onAbort = () => decide({ kind: "aborted", reason: options.signal?.reason });
    const timer = setTimeout(() => decide({ kind: "timeout" }), options.killAfterMs);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    };

    child.stdout.on("data", (chunk: Buffer) => {
      if (settled !== undefined) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > options.maxStdoutBytes) {
        decide(new Error(`trivy report exceeds ${options.maxStdoutBytes} bytes; scan abandoned`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      if (stderr.length > STDERR_TAIL_BYTES * 2) stderr = stderr.slice(-STDERR_TAIL_BYTES);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) {
        // Never started (ENOENT, EACCES): no 'close' will follow a spawn failure reliably.
        spawnFailed = true;
        cleanup();
        reject(new SpawnError(error));
        return;
      }
      decide(error);
    });
    child.on("close", (code, signal) => {
      if (spawnFailed) return;
      cleanup();
      // Stragglers in the group (a grandchild holding nothing open) go too.
      if (child.pid !== undefined && process.platform !== "win32") {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // group already empty
        }
      }
      if (settled instanceof Error) reject(settled);
      else if (settled !== undefined) resolve(settled);
      else resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: stderr.slice(-STDERR_TAIL_BYTES) });
    });
  });
}

function abortError(reason: unknown): unknown {
  if (reason !== undefined) return reason;
  return new DOMException("The operation was aborted", "AbortError");
}

export class TrivyScanner implements VulnerabilityScanner {
  readonly name = "trivy";
  readonly binary: string;
  private readonly extraArgs: readonly string[];
  private readonly cacheDir: string | undefined;
  private readonly env: Readonly<Record<string, string>>;
  private readonly maxReportBytes: number;
  private readonly timeoutGraceMs: number;
  private version: string | undefined;

  constructor(options: TrivyScannerOptions = {}) {
    this.binary = options.binary ?? (process.env["REESTR_TRIVY"] || "trivy");
    this.extraArgs = [...(options.extraArgs ?? [])];
    this.cacheDir = options.cacheDir;
    this.env = { ...(options.env ?? {}) };
    this.maxReportBytes = options.maxReportBytes ?? DEFAULT_MAX_REPORT_BYTES;
    this.timeoutGraceMs = options.timeoutGraceMs ?? DEFAULT_TIMEOUT_GRACE_MS;
  }

  async availability(): Promise<ScannerAvailability> {
    let outcome: RunOutcome;
    try {
      outcome = await run(this.binary, ["--version"], {
        env: this.baseEnv(),
        killAfterMs: VERSION_TIMEOUT_MS,
        maxStdoutBytes: 1024 * 1024,
      });
    } catch (error) {
      return { ok: false, reason: this.spawnFailureReason(error) };
    }
    if ("kind" in outcome) {
      return {
        ok: false,
        reason: `"${this.binary} --version" did not finish in ${VERSION_TIMEOUT_MS / 1000}s`,
      };
    }
    if (outcome.code !== 0) {
      const tail = lastLines(outcome.stderr, 3);
      return {
        ok: false,
        reason: `"${this.binary} --version" exited with ${outcome.code ?? outcome.signal}${tail ? `: ${tail}` : ""}`,
      };
    }
    const match = /^Version:\s*v?(\S+)/m.exec(outcome.stdout.toString("utf8"));
    if (!match) {
      return { ok: false, reason: `"${this.binary} --version" printed no "Version:" line; is it Trivy?` };
    }
    this.version = match[1]!;
    return { ok: true, version: this.version };
  }

  async scan(image: ImageToScan, options: ScanOptions): Promise<ScanReport> {
    if (options.signal?.aborted) throw abortError(options.signal.reason);
    if (this.version === undefined) {
      const availability = await this.availability();
      if (!availability.ok) throw new Error(availability.reason);
    }
    const { reference, plainHttp } = imageReference(image);
    const timeoutSeconds = Math.max(1, Math.ceil(options.timeoutSeconds));
    const args = [
      "image",
      "--format",
      "json",
      "--quiet",
      "--scanners",
      "vuln",
      "--severity",
      severitiesAtOrAbove(options.severityThreshold).join(","),
      "--timeout",
      `${timeoutSeconds}s`,
      ...(this.cacheDir !== undefined ? ["--cache-dir", this.cacheDir] : []),
      ...this.extraArgs,
      reference,
    ];
    const env = this.baseEnv();
    if (image.credentials) {
      env["TRIVY_USERNAME"] = image.credentials.username;
      env["TRIVY_PASSWORD"] = image.credentials.password;
    }
    if (image.insecure) env["TRIVY_INSECURE"] = "true";
    if (plainHttp) env["TRIVY_NON_SSL"] = "true";

    const label = image.tag !== undefined ? `${image.repository}:${image.tag}` : reference;
    const secrets = [image.credentials?.password];
    let outcome: RunOutcome;
    try {
      outcome = await run(this.binary, args, {
        env,
        killAfterMs: timeoutSeconds * 1000 + this.timeoutGraceMs,
        maxStdoutBytes: this.maxReportBytes,
        signal: options.signal,
      });
    } catch (error) {
      if (error instanceof SpawnError) throw new Error(this.spawnFailureReason(error));
      throw new Error(`trivy scan of ${label} failed: ${redact((error as Error).message, secrets)}`);
    }
    if ("kind" in outcome) {
      if (outcome.kind === "aborted") throw abortError(outcome.reason);
      throw new ScanTimeoutError(`trivy scan of ${label} did not finish in ${timeoutSeconds}s; killed`);
    }
    const stderrTail = redact(lastLines(outcome.stderr, STDERR_TAIL_LINES), secrets);
    if (outcome.code !== 0) {
      if (/context deadline exceeded/i.test(outcome.stderr)) {
        throw new ScanTimeoutError(
          `trivy scan of ${label} timed out after ${timeoutSeconds}s: ${stderrTail}`,
        );
      }
      const how =
        outcome.code !== null ? `exited with code ${outcome.code}` : `was killed by ${outcome.signal}`;
      throw new Error(`trivy scan of ${label} ${how}${stderrTail ? `:\n${stderrTail}` : ""}`);
    }
    let report: unknown;
    try {
      report = JSON.parse(outcome.stdout.toString("utf8"));
    } catch {
      const start = redact(outcome.stdout.subarray(0, 200).toString("utf8"), secrets).trim();
      throw new Error(`trivy scan of ${label} printed output that is not JSON: ${JSON.stringify(start)}`);
    }
    let counts: ReturnType<typeof summarizeReport>;
    let findings: VulnerabilityFinding[];
    try {
      counts = summarizeReport(report, options.severityThreshold);
      findings = findingsOfReport(report, options.severityThreshold);
    } catch (error) {
      throw new Error(`trivy scan of ${label}: ${(error as Error).message}`);
    }
    return { ...counts, scanner: `trivy ${this.version}`, scannedAt: new Date().toISOString(), findings };
  }

  private baseEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of SCRUBBED_ENV) delete env[name];
    return { ...env, ...this.env };
  }

  private spawnFailureReason(error: unknown): string {
    const code = (error as { code?: string }).code;
    const onPath = !this.binary.includes("/") && !this.binary.includes("\\");
    if (code === "ENOENT") {
      return onPath
        ? `trivy not found on PATH (looked for "${this.binary}"); install Trivy or set REESTR_TRIVY to its path`
        : `trivy not found at "${this.binary}"`;
    }
    if (code === "EACCES") return `trivy at "${this.binary}" is not executable`;
    return `could not run "${this.binary}": ${(error as Error).message}`;
  }
}
