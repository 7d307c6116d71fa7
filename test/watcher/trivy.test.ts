import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Digest } from "../../src/oci/digest.ts";
import type { ImageToScan } from "../../src/watcher/scanners/scanner.ts";
import { ScanTimeoutError } from "../../src/watcher/scanners/scanner.ts";
import {
  findingsOfReport,
  imageReference,
  severitiesAtOrAbove,
  summarizeReport,
  TrivyScanner,
} from "../../src/watcher/scanners/trivy.ts";
import { VulnerabilitySummarySchema } from "../../src/watcher/spec.ts";
import { waitFor } from "../helpers/wait.ts";

const FAKE_TRIVY = fileURLToPath(new URL("../fixtures/fake-trivy/trivy", import.meta.url));
const MULTI_REPORT = fileURLToPath(
  new URL("../fixtures/fake-trivy/reports/multi-result.json", import.meta.url),
);
const DIGEST = `sha256:${"0b3d5c8f9a1e2d4c".repeat(4)}` as Digest;

let dir: string;
let recordSeq = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-trivy-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Recorded {
  argv: string[];
  env: Record<string, string>;
  pid: number;
  grandchildPid?: number;
}

/** A scanner on the stand-in, with its own record file. */
function fake(
  env: Record<string, string> = {},
  extra: { timeoutGraceMs?: number; maxReportBytes?: number } = {},
) {
  const record = join(dir, `record-${++recordSeq}.jsonl`);
  const scanner = new TrivyScanner({
    binary: FAKE_TRIVY,
    env: { FAKE_TRIVY_RECORD: record, ...env },
    ...extra,
  });
  const calls = async (): Promise<Recorded[]> => {
    const text = await readFile(record, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Recorded);
  };
  return { scanner, calls };
}

function image(overrides: Partial<ImageToScan> = {}): ImageToScan {
  return {
    registryUrl: "https://registry.example.com",
    repository: "company/app",
    digest: DIGEST,
    tag: "1.4.2",
    insecure: false,
    ...overrides,
  };
}

/** Alive and not a zombie (a reparented zombie still answers kill 0 until init reaps it). */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && !/^\d+ \(.*\) Z/.test(stat);
}

/** Waits until the process has exited and been reaped. */
function gone(pid: number, what: string): Promise<true> {
  return waitFor(async () => !(await alive(pid)), { what });
}

describe("TrivyScanner.availability", () => {
  test("parses the version from `trivy --version`", async () => {
    const { scanner, calls } = fake();
    assert.deepEqual(await scanner.availability(), { ok: true, version: "0.58.1" });
    assert.deepEqual((await calls())[0]?.argv, ["--version"]);
  });

  test("a missing binary is not ok, with a reason naming trivy and PATH", async () => {
    const scanner = new TrivyScanner({ binary: "reestr-no-such-trivy-binary" });
    const result = await scanner.availability();
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : "", /^trivy not found on PATH .*reestr-no-such-trivy-binary/);
    const atPath = await new TrivyScanner({ binary: join(dir, "nope", "trivy") }).availability();
    assert.equal(atPath.ok, false);
    assert.match(!atPath.ok ? atPath.reason : "", /trivy not found at/);
  });

  test("something that is not Trivy is not ok", async () => {
    const result = await new TrivyScanner({ binary: "true" }).availability();
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : "", /no "Version:" line/);
  });

  test("the binary defaults to REESTR_TRIVY, else trivy", () => {
    const saved = process.env["REESTR_TRIVY"];
    try {
      process.env["REESTR_TRIVY"] = "/opt/trivy/bin/trivy";
      assert.equal(new TrivyScanner().binary, "/opt/trivy/bin/trivy");
      delete process.env["REESTR_TRIVY"];
      assert.equal(new TrivyScanner().binary, "trivy");
      assert.equal(new TrivyScanner({ binary: "x" }).binary, "x");
    } finally {
      if (saved === undefined) delete process.env["REESTR_TRIVY"];
      else process.env["REESTR_TRIVY"] = saved;
    }
  });

  test("scan on a missing binary rejects with the same reason", async () => {
    const scanner = new TrivyScanner({ binary: "reestr-no-such-trivy-binary" });
    await assert.rejects(
      scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 5 }),
      /trivy not found on PATH/,
    );
  });
});

describe("TrivyScanner.scan: report parsing", () => {
  test("counts a multi-result report: null and absent Vulnerabilities, duplicates across binaries", async () => {
    const { scanner } = fake({ FAKE_TRIVY_REPORT: MULTI_REPORT });
    const start = Date.now();
    const { findings, ...summary } = await scanner.scan(image(), {
      severityThreshold: "UNKNOWN",
      timeoutSeconds: 30,
    });
    const end = Date.now();
    assert.deepEqual(
      { ...summary, scannedAt: undefined },
      { critical: 1, high: 3, medium: 3, low: 2, unknown: 1, scanner: "trivy 0.58.1", scannedAt: undefined },
    );
    assert.ok(VulnerabilitySummarySchema.safeParse(summary).success, "summary matches the spec schema");
    assert.equal(findings?.length, 10, "one finding per (id, package)");
    assert.ok(
      Date.parse(summary.scannedAt) >= start && Date.parse(summary.scannedAt) <= end,
      summary.scannedAt,
    );
  });

  test("the threshold filters: Trivy prints only those severities, and we count only those", async () => {
    const { scanner } = fake({ FAKE_TRIVY_REPORT: MULTI_REPORT });
    const high = await scanner.scan(image(), { severityThreshold: "HIGH", timeoutSeconds: 30 });
    assert.deepEqual([high.critical, high.high, high.medium, high.low, high.unknown], [1, 3, 0, 0, 0]);
    const medium = await scanner.scan(image(), { severityThreshold: "MEDIUM", timeoutSeconds: 30 });
    assert.deepEqual(
      [medium.critical, medium.high, medium.medium, medium.low, medium.unknown],
      [1, 3, 3, 0, 0],
    );
  });

  test("a clean image (Vulnerabilities omitted) counts zero", async () => {
    const { scanner } = fake();
    const summary = await scanner.scan(image(), { severityThreshold: "UNKNOWN", timeoutSeconds: 30 });
    assert.deepEqual(
      [summary.critical, summary.high, summary.medium, summary.low, summary.unknown],
      [0, 0, 0, 0, 0],
    );
    assert.deepEqual(summary.findings, []);
  });

  test("lists the findings of Trivy's report: fields, one per (id, package), most severe first", async () => {
    const { scanner } = fake({ FAKE_TRIVY_REPORT: MULTI_REPORT });
    const { findings } = await scanner.scan(image(), { severityThreshold: "UNKNOWN", timeoutSeconds: 30 });
    assert.deepEqual(
      findings?.map((f) => [f.severity, f.id, f.package]),
      [
        ["CRITICAL", "CVE-2023-45853", "zlib1g"],
        ["HIGH", "CVE-2024-2961", "libc-bin"],
        ["HIGH", "CVE-2024-2961", "libc6"],
        // In two Go binaries: listed once.
        ["HIGH", "CVE-2024-34156", "stdlib"],
        ["MEDIUM", "CVE-2024-26462", "libgssapi-krb5-2"],
        ["MEDIUM", "CVE-2024-34155", "stdlib"],
        ["MEDIUM", "CVE-2024-45338", "golang.org/x/net"],
        ["LOW", "CVE-2011-3374", "apt"],
        ["LOW", "CVE-2024-56433", "login"],
        ["UNKNOWN", "TEMP-0841856-B18BAF", "bash"],
      ],
    );
    const gob = findings?.find((f) => f.id === "CVE-2024-34156");
    assert.deepEqual(gob, {
      id: "CVE-2024-34156",
      severity: "HIGH",
      package: "stdlib",
      installed: "v1.22.4",
      fixed: "1.22.7, 1.23.1",
      title:
        "encoding/gob: golang: Calling Decoder.Decode on a message which contains deeply nested structures can cause a panic due to stack exhaustion",
      url: "https://avd.aquasec.com/nvd/cve-2024-34156",
    });
    // No FixedVersion in the report: null, not "".
    assert.equal(findings?.find((f) => f.id === "CVE-2023-45853")?.fixed, null);

    const high = await scanner.scan(image(), { severityThreshold: "HIGH", timeoutSeconds: 30 });
    assert.deepEqual(
      high.findings?.map((f) => f.id),
      ["CVE-2023-45853", "CVE-2024-2961", "CVE-2024-2961", "CVE-2024-34156"],
    );
  });

  test("malformed output is an error that quotes the start of it", async () => {
    const garbage = join(dir, "garbage.txt");
    await writeFile(garbage, "panic: runtime error: invalid memory address\n{");
    const { scanner } = fake({ FAKE_TRIVY_STDOUT: garbage });
    await assert.rejects(
      scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 30 }),
      /company\/app:1\.4\.2 printed output that is not JSON: "panic: runtime error/,
    );
  });

  test("a report that is JSON of the wrong shape is an error", async () => {
    const wrong = join(dir, "wrong.json");
    await writeFile(wrong, JSON.stringify({ SchemaVersion: 2, Results: { Target: "x" } }));
    const { scanner } = fake({ FAKE_TRIVY_STDOUT: wrong });
    await assert.rejects(
      scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 30 }),
      /Results is not an array/,
    );
  });

  test("a report larger than maxReportBytes is abandoned", async () => {
    const { scanner } = fake({ FAKE_TRIVY_REPORT: MULTI_REPORT }, { maxReportBytes: 4096 });
    await assert.rejects(
      scanner.scan(image(), { severityThreshold: "UNKNOWN", timeoutSeconds: 30 }),
      /exceeds 4096 bytes/,
    );
  });
});

describe("summarizeReport", () => {
  test("Results absent or null count zero; a non-object report is an error", () => {
    const zero = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
    assert.deepEqual(summarizeReport({ SchemaVersion: 2 }, "UNKNOWN"), zero);
    assert.deepEqual(summarizeReport({ SchemaVersion: 2, Results: null }, "UNKNOWN"), zero);
    assert.deepEqual(summarizeReport({ Results: [{ Target: "t", Vulnerabilities: null }] }, "UNKNOWN"), zero);
    assert.throws(() => summarizeReport([], "UNKNOWN"), /not a JSON object/);
    assert.throws(() => summarizeReport(null, "UNKNOWN"), /not a JSON object/);
  });

  test("a duplicate counts once at its highest severity; other packages and versions count apart", () => {
    const vuln = (id: string, pkg: string, version: string, severity: string) => ({
      VulnerabilityID: id,
      PkgName: pkg,
      InstalledVersion: version,
      Severity: severity,
    });
    const report = {
      Results: [
        { Target: "a", Vulnerabilities: [vuln("CVE-1", "p", "1", "MEDIUM"), vuln("CVE-1", "q", "1", "LOW")] },
        { Target: "b", Vulnerabilities: [vuln("CVE-1", "p", "1", "HIGH"), vuln("CVE-1", "p", "2", "LOW")] },
        {
          Target: "c",
          Vulnerabilities: [vuln("CVE-2", "p", "1", "WEIRD"), { Severity: "LOW" }, { Severity: "LOW" }],
        },
      ],
    };
    assert.deepEqual(summarizeReport(report, "UNKNOWN"), {
      critical: 0,
      high: 1,
      medium: 0,
      low: 4,
      unknown: 1,
    });
    // Below-threshold findings are dropped even when Trivy printed them.
    assert.deepEqual(summarizeReport(report, "MEDIUM"), {
      critical: 0,
      high: 1,
      medium: 0,
      low: 0,
      unknown: 0,
    });
  });
});

describe("findingsOfReport", () => {
  test("merges a (id, package) seen twice: highest severity, both versions, first fix/title/url", () => {
    const report = {
      Results: [
        {
          Target: "a",
          Vulnerabilities: [
            { VulnerabilityID: "CVE-1", PkgName: "p", InstalledVersion: "1", Severity: "LOW" },
            { VulnerabilityID: "CVE-1", PkgName: "q", InstalledVersion: "1", Severity: "LOW", Title: " " },
          ],
        },
        {
          Target: "b",
          Vulnerabilities: [
            {
              VulnerabilityID: "CVE-1",
              PkgName: "p",
              InstalledVersion: "2",
              FixedVersion: "3",
              Severity: "HIGH",
              Title: "bad",
              PrimaryURL: "https://example.com/CVE-1",
            },
            { VulnerabilityID: "CVE-2", PkgName: "p", InstalledVersion: "1", Severity: "WEIRD" },
            { Severity: "CRITICAL", PkgName: "anonymous" },
          ],
        },
      ],
    };
    assert.deepEqual(findingsOfReport(report, "UNKNOWN"), [
      {
        id: "CVE-1",
        severity: "HIGH",
        package: "p",
        installed: "1, 2",
        fixed: "3",
        title: "bad",
        url: "https://example.com/CVE-1",
      },
      { id: "CVE-1", severity: "LOW", package: "q", installed: "1", fixed: null, title: null, url: null },
      { id: "CVE-2", severity: "UNKNOWN", package: "p", installed: "1", fixed: null, title: null, url: null },
    ]);
    assert.deepEqual(
      findingsOfReport(report, "MEDIUM").map((f) => f.id),
      ["CVE-1"],
    );
    assert.deepEqual(findingsOfReport({ SchemaVersion: 2 }, "UNKNOWN"), []);
    assert.throws(() => findingsOfReport({ Results: {} }, "UNKNOWN"), /Results is not an array/);
  });
});

describe("TrivyScanner.scan: command line and environment", () => {
  test("runs trivy image with json, quiet, the severity list, the timeout and the reference last", async () => {
    const { scanner, calls } = fake();
    await scanner.scan(image(), { severityThreshold: "MEDIUM", timeoutSeconds: 120 });
    const scan = (await calls()).find((c) => c.argv[0] === "image");
    assert.deepEqual(scan?.argv, [
      "image",
      "--format",
      "json",
      "--quiet",
      "--scanners",
      "vuln",
      "--severity",
      "MEDIUM,HIGH,CRITICAL",
      "--timeout",
      "120s",
      `registry.example.com/company/app@${DIGEST}`,
    ]);
  });

  test("the --severity list for every threshold", async () => {
    assert.deepEqual(severitiesAtOrAbove("UNKNOWN"), ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]);
    assert.deepEqual(severitiesAtOrAbove("LOW"), ["LOW", "MEDIUM", "HIGH", "CRITICAL"]);
    assert.deepEqual(severitiesAtOrAbove("HIGH"), ["HIGH", "CRITICAL"]);
    assert.deepEqual(severitiesAtOrAbove("CRITICAL"), ["CRITICAL"]);
    const { scanner, calls } = fake();
    await scanner.scan(image(), { severityThreshold: "CRITICAL", timeoutSeconds: 30 });
    const argv = (await calls()).find((c) => c.argv[0] === "image")?.argv ?? [];
    assert.equal(argv[argv.indexOf("--severity") + 1], "CRITICAL");
  });

  test("cacheDir and extraArgs go before the reference", async () => {
    const record = join(dir, "record-extra.jsonl");
    const scanner = new TrivyScanner({
      binary: FAKE_TRIVY,
      cacheDir: join(dir, "cache"),
      extraArgs: ["--skip-db-update"],
      env: { FAKE_TRIVY_RECORD: record },
    });
    await scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 30 });
    const lines = (await readFile(record, "utf8")).trim().split("\n");
    const argv = (JSON.parse(lines.at(-1)!) as Recorded).argv;
    assert.deepEqual(argv.slice(-4), ["--cache-dir", join(dir, "cache"), "--skip-db-update", argv.at(-1)]);
  });

  test("credentials go through TRIVY_USERNAME/TRIVY_PASSWORD, never argv", async () => {
    const { scanner, calls } = fake();
    const password = "s3cr3t-p@ss w0rd";
    await scanner.scan(image({ credentials: { username: "robot$ci", password } }), {
      severityThreshold: "LOW",
      timeoutSeconds: 30,
    });
    const scan = (await calls()).find((c) => c.argv[0] === "image")!;
    assert.equal(scan.env["TRIVY_USERNAME"], "robot$ci");
    assert.equal(scan.env["TRIVY_PASSWORD"], password);
    assert.ok(!scan.argv.join(" ").includes(password), "password not on the command line");
    assert.ok(!scan.argv.join(" ").includes("robot$ci"), "username not on the command line");
  });

  test("ambient TRIVY_* credentials are not passed on to an image without credentials", async () => {
    const saved = { user: process.env["TRIVY_USERNAME"], pass: process.env["TRIVY_PASSWORD"] };
    process.env["TRIVY_USERNAME"] = "ambient";
    process.env["TRIVY_PASSWORD"] = "ambient-secret";
    try {
      const { scanner, calls } = fake();
      await scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 30 });
      const scan = (await calls()).find((c) => c.argv[0] === "image")!;
      assert.equal(scan.env["TRIVY_USERNAME"], undefined);
      assert.equal(scan.env["TRIVY_PASSWORD"], undefined);
    } finally {
      for (const [name, value] of [
        ["TRIVY_USERNAME", saved.user],
        ["TRIVY_PASSWORD", saved.pass],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test("TRIVY_INSECURE for insecureSkipVerify, TRIVY_NON_SSL for http://, neither by default", async () => {
    const { scanner, calls } = fake();
    const opts = { severityThreshold: "LOW", timeoutSeconds: 30 } as const;
    await scanner.scan(image(), opts);
    await scanner.scan(image({ insecure: true }), opts);
    await scanner.scan(image({ registryUrl: "http://127.0.0.1:5000/" }), opts);
    const scans = (await calls()).filter((c) => c.argv[0] === "image");
    assert.equal(scans.length, 3);
    assert.equal(scans[0]!.env["TRIVY_INSECURE"], undefined);
    assert.equal(scans[0]!.env["TRIVY_NON_SSL"], undefined);
    assert.equal(scans[1]!.env["TRIVY_INSECURE"], "true");
    assert.equal(scans[1]!.env["TRIVY_NON_SSL"], undefined);
    assert.equal(scans[2]!.env["TRIVY_NON_SSL"], "true");
    assert.equal(scans[2]!.env["TRIVY_INSECURE"], undefined);
    assert.equal(scans[2]!.argv.at(-1), `127.0.0.1:5000/company/app@${DIGEST}`);
  });

  test("image references: scheme stripped, port kept, Docker Hub hosts become docker.io", () => {
    const ref = (registryUrl: string, repository = "library/nginx") =>
      imageReference(image({ registryUrl, repository }));
    assert.deepEqual(ref("https://registry-1.docker.io"), {
      reference: `docker.io/library/nginx@${DIGEST}`,
      plainHttp: false,
    });
    assert.equal(ref("https://docker.io/").reference, `docker.io/library/nginx@${DIGEST}`);
    assert.equal(ref("https://index.docker.io").reference, `docker.io/library/nginx@${DIGEST}`);
    assert.equal(ref("https://ghcr.io", "org/tool").reference, `ghcr.io/org/tool@${DIGEST}`);
    assert.equal(ref("registry.local:8443", "a/b").reference, `registry.local:8443/a/b@${DIGEST}`);
    assert.deepEqual(ref("http://localhost:5000", "a"), {
      reference: `localhost:5000/a@${DIGEST}`,
      plainHttp: true,
    });
    assert.throws(() => ref("ftp://example.com"), /not http/);
  });
});

describe("TrivyScanner.scan: failures, timeouts and cancellation", () => {
  test("a non-zero exit rejects with the stderr tail, the password redacted", async () => {
    const password = "hunter2-very-secret";
    const { scanner } = fake({
      FAKE_TRIVY_EXIT: "1",
      FAKE_TRIVY_STDERR:
        "run error: image scan error: unable to inspect the image (https://robot:{password}@registry.example.com/v2/): UNAUTHORIZED: authentication required",
    });
    const error = await scanner
      .scan(image({ credentials: { username: "robot", password } }), {
        severityThreshold: "LOW",
        timeoutSeconds: 30,
      })
      .then(
        () => assert.fail("expected a rejection"),
        (e: unknown) => e as Error,
      );
    assert.ok(!(error instanceof ScanTimeoutError));
    assert.match(error.message, /company\/app:1\.4\.2 exited with code 1/);
    assert.match(error.message, /FATAL\tFatal error\trun error: image scan error/);
    assert.match(error.message, /UNAUTHORIZED: authentication required/);
    assert.match(error.message, /robot:\*\*\*@registry/);
    assert.ok(!error.message.includes(password), "password redacted");
  });

  test("Trivy's own deadline (context deadline exceeded) is a ScanTimeoutError", async () => {
    const { scanner } = fake({ FAKE_TRIVY_SLEEP: "10" });
    await assert.rejects(
      scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 1 }),
      (error: unknown) => error instanceof ScanTimeoutError && /timed out after 1s/.test(error.message),
    );
  });

  test("a hung Trivy is killed with its process group and rejects with ScanTimeoutError", async () => {
    const { scanner, calls } = fake({ FAKE_TRIVY_HANG: "1" }, { timeoutGraceMs: 200 });
    await scanner.availability();
    await assert.rejects(
      scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 1 }),
      (error: unknown) =>
        error instanceof ScanTimeoutError && /did not finish in 1s; killed/.test(error.message),
    );
    const scan = (await calls()).find((c) => c.argv[0] === "image")!;
    assert.ok(scan.grandchildPid, "the stand-in started a grandchild");
    await gone(scan.pid, "trivy to be gone");
    await gone(scan.grandchildPid!, "its grandchild to be gone");
  });

  test("an abort signal kills the scan and rejects with the signal's reason", async () => {
    const { scanner, calls } = fake({ FAKE_TRIVY_HANG: "1" });
    await scanner.availability();
    const controller = new AbortController();
    const pending = scanner.scan(image(), {
      severityThreshold: "LOW",
      timeoutSeconds: 60,
      signal: controller.signal,
    });
    await waitFor(async () => (await calls()).some((c) => c.argv[0] === "image"), {
      what: "the stand-in to be running",
    });
    const reason = new Error("watcher stopping");
    controller.abort(reason);
    // Not the 60 s scan timeout's ScanTimeoutError: the abort ended the scan.
    await assert.rejects(pending, (error: unknown) => error === reason);
    const scan = (await calls()).find((c) => c.argv[0] === "image")!;
    await gone(scan.pid, "trivy to be gone");
    await gone(scan.grandchildPid!, "its grandchild to be gone");
  });

  test("an already-aborted signal rejects without starting Trivy", async () => {
    const { scanner, calls } = fake();
    await assert.rejects(
      scanner.scan(image(), { severityThreshold: "LOW", timeoutSeconds: 30, signal: AbortSignal.abort() }),
      { name: "AbortError" },
    );
    assert.deepEqual(await calls(), []);
  });
});
