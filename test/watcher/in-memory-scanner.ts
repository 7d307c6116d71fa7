/**
 * A VulnerabilityScanner test double that keeps each image's vulnerabilities in memory: no
 * subprocess, no registry access. It honours the seam's contract
 * (test/contract/vulnerability-scanner.contract.ts): counts and findings at or above the
 * threshold, ScanTimeoutError, abort, and an unavailable scanner that refuses to scan.
 */
import {
  type ImageToScan,
  type ScannerAvailability,
  type ScanOptions,
  type ScanReport,
  ScanTimeoutError,
  type VulnerabilityFinding,
  type VulnerabilityScanner,
} from "../../src/watcher/scanners/scanner.ts";
import { SEVERITIES } from "../../src/watcher/spec.ts";

export interface InMemoryScannerOptions {
  /** Default "in-memory". */
  name?: string;
  /** Default "1.0"; the report's `scanner` is `<name> <version>`. */
  version?: string;
  /** The vulnerabilities of an image, one per (id, package); default none (a clean image). */
  vulnerabilities?: (image: ImageToScan) => VulnerabilityFinding[];
  /** Whether a report lists its findings (the seam allows a bare summary). Default true. */
  listFindings?: boolean;
  /** The clock for `scannedAt`. */
  now?: () => Date;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

export class InMemoryScanner implements VulnerabilityScanner {
  readonly name: string;
  /** What availability() answers; set `{ ok: false, reason }` for a scanner that cannot run here. */
  available: ScannerAvailability;
  availabilityChecks = 0;
  /** The tag (or, without one, the digest) of every scan started, in order. */
  calls: string[] = [];
  /** Images (by tag or digest) whose scan outlasts any timeout: ScanTimeoutError at once. */
  readonly timeouts = new Set<string>();
  /**
   * Images (by tag or digest) whose scan never finishes on its own: it ends when the signal aborts,
   * or with a ScanTimeoutError after `timeoutSeconds` (as a real scanner kills a hung one).
   */
  readonly hangs = new Set<string>();
  readonly #version: string;
  readonly #vulnerabilities: (image: ImageToScan) => VulnerabilityFinding[];
  readonly #listFindings: boolean;
  readonly #now: () => Date;

  constructor(options: InMemoryScannerOptions = {}) {
    this.name = options.name ?? "in-memory";
    this.#version = options.version ?? "1.0";
    this.available = { ok: true, version: this.#version };
    this.#vulnerabilities = options.vulnerabilities ?? (() => []);
    this.#listFindings = options.listFindings ?? true;
    this.#now = options.now ?? (() => new Date());
  }

  async availability(): Promise<ScannerAvailability> {
    this.availabilityChecks++;
    return this.available;
  }

  async scan(image: ImageToScan, options: ScanOptions): Promise<ScanReport> {
    if (options.signal?.aborted) throw abortReason(options.signal);
    if (!this.available.ok) throw new Error(this.available.reason);
    const key = image.tag ?? image.digest;
    this.calls.push(key);
    const label = `${image.repository}:${key}`;
    if (this.timeouts.has(key)) {
      throw new ScanTimeoutError(
        `${this.name} scan of ${label} did not finish in ${options.timeoutSeconds}s`,
      );
    }
    if (this.hangs.has(key)) await this.#hang(label, options);

    const minimum = SEVERITIES.indexOf(options.severityThreshold);
    const findings = this.#vulnerabilities(image).filter((f) => SEVERITIES.indexOf(f.severity) >= minimum);
    const counts = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
    for (const finding of findings) counts[finding.severity.toLowerCase() as keyof typeof counts]++;
    return {
      ...counts,
      scanner: `${this.name} ${this.#version}`,
      scannedAt: this.#now().toISOString(),
      ...(this.#listFindings ? { findings } : {}),
    };
  }

  /** Waits for the abort (rejecting with its reason) or the timeout (ScanTimeoutError). */
  #hang(label: string, { signal, timeoutSeconds }: ScanOptions): Promise<never> {
    return new Promise((_resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        reject(new ScanTimeoutError(`${this.name} scan of ${label} did not finish in ${timeoutSeconds}s`));
      }, timeoutSeconds * 1000);
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** A finding with the fields a test does not care about filled in. */
export function finding(
  id: string,
  severity: VulnerabilityFinding["severity"],
  pkg: string,
  extra: Partial<VulnerabilityFinding> = {},
): VulnerabilityFinding {
  return {
    id,
    severity,
    package: pkg,
    installed: "1.0.0",
    fixed: "1.0.1",
    title: `${id} in ${pkg}`,
    url: `https://avd.aquasec.com/nvd/${id.toLowerCase()}`,
    ...extra,
  };
}
