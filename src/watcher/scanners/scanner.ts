import type { Digest } from "../../oci/digest.ts";
import type { Severity, VulnerabilitySummary } from "../spec.ts";

/** One image, pinned by digest, as a scanner needs to reach it. */
export interface ImageToScan {
  /** Registry base URL as configured, e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  registryUrl: string;
  repository: string;
  digest: Digest;
  /** The tag it was found under, for messages. */
  tag?: string;
  credentials?: { username: string; password: string };
  /** TLS certificate verification off (insecureSkipVerify). */
  insecure: boolean;
}

export interface ScanOptions {
  /** Count findings of this severity and above. */
  severityThreshold: Severity;
  timeoutSeconds: number;
  signal?: AbortSignal;
}

/**
 * One vulnerability in one package of a scanned image. Kept beside the status, never in it: the
 * Registry status (and the operator's CRD) holds counts only; the watch store keeps these per
 * (entry, digest) for the catalogue's tag view.
 */
export interface VulnerabilityFinding {
  /** e.g. `CVE-2024-1234`, `GHSA-…`. */
  id: string;
  severity: Severity;
  package: string;
  installed: string;
  /** The first version that fixes it, when there is one. */
  fixed: string | null;
  title: string | null;
  /** The advisory's primary URL. */
  url: string | null;
}

/**
 * What a scan returns: the counts, and optionally the findings behind them (at or above the
 * threshold, one per (id, package)). A scanner that returns a bare summary still fits.
 */
export type ScanReport = VulnerabilitySummary & { findings?: VulnerabilityFinding[] };

export type ScannerAvailability = { ok: true; version: string } | { ok: false; reason: string };

/**
 * Finds known vulnerabilities in an image. Trivy (CLI subprocess) is the first implementation;
 * Grype or a scanner API plug in behind the same seam. test/contract/vulnerability-scanner.contract.ts
 * holds the behaviour every implementation owes (counts, threshold, findings, timeout, abort,
 * unavailability); test/watcher/scanner-contract.test.ts runs it on each implementation.
 */
export interface VulnerabilityScanner {
  readonly name: string;
  /** Whether the scanner can run here (binary present, version); checked once per scan pass. */
  availability(): Promise<ScannerAvailability>;
  /** Rejects with a ScanTimeoutError when the image takes longer than the timeout. */
  scan(image: ImageToScan, options: ScanOptions): Promise<ScanReport>;
}

export class ScanTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScanTimeoutError";
  }
}
