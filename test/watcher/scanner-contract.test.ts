/**
 * The VulnerabilityScanner contract run against every implementation: TrivyScanner driven by the
 * Trivy stand-in (test/fixtures/fake-trivy), and the in-memory double the engine tests use.
 */
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TrivyScanner } from "../../src/watcher/scanners/trivy.ts";
import {
  CONTRACT_IMAGE,
  type ScannerFixture,
  vulnerabilityScannerContract,
} from "../contract/vulnerability-scanner.contract.ts";
import { finding, InMemoryScanner } from "./in-memory-scanner.ts";

const FAKE_TRIVY = fileURLToPath(new URL("../fixtures/fake-trivy/trivy", import.meta.url));
const MULTI_REPORT = fileURLToPath(
  new URL("../fixtures/fake-trivy/reports/multi-result.json", import.meta.url),
);

const trivyDir = mkdtempSync(join(tmpdir(), "reestr-scanner-contract-"));
let trivyRecords = 0;

/** TrivyScanner on the stand-in with these controls; scans started are read from its record file. */
function trivy(env: Record<string, string> = {}, timeoutGraceMs?: number): ScannerFixture {
  const record = join(trivyDir, `record-${++trivyRecords}.jsonl`);
  return {
    scanner: new TrivyScanner({
      binary: FAKE_TRIVY,
      env: { FAKE_TRIVY_RECORD: record, ...env },
      ...(timeoutGraceMs !== undefined ? { timeoutGraceMs } : {}),
    }),
    scansStarted: async () => {
      const lines = (await readFile(record, "utf8").catch(() => "")).split("\n").filter(Boolean);
      return lines.filter((line) => (JSON.parse(line) as { argv: string[] }).argv[0] === "image").length;
    },
  };
}

vulnerabilityScannerContract("TrivyScanner (Trivy stand-in)", {
  vulnerable: () => trivy({ FAKE_TRIVY_REPORT: MULTI_REPORT }),
  // test/fixtures/fake-trivy/reports/multi-result.json, duplicates across binaries counted once.
  referenceCounts: { critical: 1, high: 3, medium: 3, low: 2, unknown: 1 },
  clean: () => trivy(),
  // Trivy's own --timeout: "context deadline exceeded".
  slow: () => trivy({ FAKE_TRIVY_SLEEP: "10" }),
  // A Trivy that ignores its deadline is killed by the scanner.
  hanging: () => trivy({ FAKE_TRIVY_HANG: "1" }, 200),
  unavailable: () => {
    const scanner = new TrivyScanner({ binary: join(trivyDir, "no-such-dir", "trivy") });
    return { scanner, scansStarted: async () => 0 };
  },
  cleanup: () => rm(trivyDir, { recursive: true, force: true }),
});

function inMemory(setup: (scanner: InMemoryScanner) => void = () => {}): ScannerFixture {
  const scanner = new InMemoryScanner({
    vulnerabilities: () => [
      finding("CVE-2024-0001", "CRITICAL", "musl"),
      finding("CVE-2024-0002", "HIGH", "openssl"),
      finding("CVE-2024-0002", "HIGH", "libssl3"),
      finding("CVE-2024-0003", "MEDIUM", "zlib", { fixed: null }),
      finding("CVE-2024-0004", "LOW", "busybox", { title: null, url: null }),
      finding("TEMP-0001", "UNKNOWN", "bash"),
    ],
  });
  setup(scanner);
  return { scanner, scansStarted: async () => scanner.calls.length };
}

vulnerabilityScannerContract("InMemoryScanner (test double)", {
  vulnerable: () => inMemory(),
  referenceCounts: { critical: 1, high: 2, medium: 1, low: 1, unknown: 1 },
  clean: () => {
    const scanner = new InMemoryScanner();
    return { scanner, scansStarted: async () => scanner.calls.length };
  },
  slow: () => inMemory((scanner) => scanner.timeouts.add(CONTRACT_IMAGE.tag!)),
  hanging: () => inMemory((scanner) => scanner.hangs.add(CONTRACT_IMAGE.tag!)),
  unavailable: () =>
    inMemory((scanner) => {
      scanner.available = { ok: false, reason: "in-memory scanner switched off" };
    }),
});
