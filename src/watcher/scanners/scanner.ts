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

export type ScannerAvailability = { ok: true; version: string } | { ok: false; reason: string };

/**
 * Finds known vulnerabilities in an image. Trivy (CLI subprocess) is the first implementation;
 * Grype or a scanner API plug in behind the same seam. test/watcher/trivy.test.ts holds the
 * behaviour every implementation owes (counts, threshold, timeout, abort); it becomes a shared
 * contract suite when a second scanner arrives.
 */
export interface VulnerabilityScanner {
  readonly name: string;
  /** Whether the scanner can run here (binary present, version); checked once per scan pass. */
  availability(): Promise<ScannerAvailability>;
  /** Rejects with a ScanTimeoutError when the image takes longer than the timeout. */
  scan(image: ImageToScan, options: ScanOptions): Promise<VulnerabilitySummary>;
}

export class ScanTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScanTimeoutError";
  }
}
