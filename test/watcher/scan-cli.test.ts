/**
 * `reestr scan` (src/cli/scan.ts) against an in-process Reestr: flag errors that name the flag,
 * the table, --json, the progress bar on a terminal, and --vulnerabilities through the Trivy
 * stand-in (test/fixtures/fake-trivy/trivy, Trivy's real JSON report format).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeSmallImage } from "../../bench/oci.ts";
import { UsageError } from "../../src/cli/command.ts";
import scanCommand, { formatTable, parseScanArgs, runScan, shortDigest } from "../../src/cli/scan.ts";
import { RegistryClient } from "../../src/client/registry-client.ts";
import { parseRegistryStatus } from "../../src/watcher/spec.ts";
import { startServer, type TestServer } from "../api/helpers.ts";

const FAKE_TRIVY = fileURLToPath(new URL("../fixtures/fake-trivy/trivy", import.meta.url));
const MULTI_RESULT = fileURLToPath(
  new URL("../fixtures/fake-trivy/reports/multi-result.json", import.meta.url),
);
const REPO = "team/app";
const ESC = String.fromCharCode(27);
const TAGS = ["1.0.0", "1.2.0", "1.10.0", "latest", "dev-abc"];

function sink(isTTY = false) {
  let text = "";
  return {
    isTTY,
    columns: 100,
    write(chunk: string) {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}

function usageError(argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) {
  assert.throws(
    () => parseScanArgs(argv, env),
    (error: unknown) => error instanceof UsageError && pattern.test(error.message),
    `expected a UsageError matching ${pattern} for ${argv.join(" ")}`,
  );
}

describe("reestr scan: arguments", () => {
  const target = "http://127.0.0.1:5999/team/app";

  test("errors name the flag", () => {
    usageError([], /expected <url>\/<repository>/);
    usageError([target, "other"], /expected one <url>\/<repository>/);
    usageError([`${target}:latest`], /repository, not a tag/);
    usageError([target, "--include", "("], /^--include: invalid regular expression "\("/);
    usageError([target, "--exclude", "[a-"], /^--exclude: invalid regular expression/);
    usageError([target, "--limit", "0"], /^--limit: expected a positive integer, got "0"/);
    usageError([target, "--limit", "2.5"], /^--limit: /);
    usageError(
      [target, "--sort", "date"],
      /^--sort: expected one of semver, alphabetical, numerical, created/,
    );
    usageError([target, "--ascending"], /^--ascending: needs --sort/);
    usageError([target, "--semver-coerce"], /^--semver-coerce: only applies to sort: semver/);
    usageError([target, "--username", "u"], /^--username: needs --password-env/);
    usageError([target, "--password-env", "PW"], /^--password-env: needs --username/);
    usageError([target, "--username", "u", "--password-env", "1X"], /not an environment variable name/);
    usageError(
      [target, "--username", "u", "--password-env", "PW"],
      /--password-env: environment variable PW is not set/,
    );
    assert.throws(() => parseScanArgs([target, "--bogus"], {}), { code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" });
  });

  test("flags become the Registry spec", () => {
    const { spec, json, credentials } = parseScanArgs(
      [
        target,
        "--include",
        "^1\\.",
        "--include",
        "^v",
        "--exclude",
        "rc",
        "--sort",
        "semver",
        "--ascending",
        "--limit",
        "3",
        "--username",
        "bob",
        "--password-env",
        "PW",
        "--vulnerabilities",
        "--json",
      ],
      { PW: "secret" },
    );
    assert.equal(spec.url, "http://127.0.0.1:5999");
    assert.equal(spec.repository, "team/app");
    assert.deepEqual(spec.tagFilter, {
      include: ["^1\\.", "^v"],
      exclude: ["rc"],
      limit: 3,
      sort: "semver",
      order: "ascending",
    });
    assert.equal(spec.vulnerabilityScanning.enabled, true);
    assert.equal(json, true);
    assert.deepEqual(credentials, { username: "bob", password: "secret" });
  });

  test("credentials from REESTR_USERNAME / REESTR_PASSWORD without flags; a host gets https", () => {
    const { spec, credentials } = parseScanArgs(["registry.example.com/library/nginx"], {
      REESTR_USERNAME: "amy",
      REESTR_PASSWORD: "pw",
    });
    assert.equal(spec.url, "https://registry.example.com");
    assert.equal(spec.repository, "library/nginx");
    assert.deepEqual(credentials, { username: "amy", password: "pw" });
  });

  test("the command object", () => {
    assert.equal(scanCommand.name, "scan");
    assert.match(scanCommand.usage, /--password-env/);
  });
});

describe("reestr scan: output", () => {
  test("table columns, short digests, platforms, created and vulnerabilities", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const table = formatTable(
      parseRegistryStatus({
        lastScanStatus: "Success",
        images: [
          {
            tag: "1.0",
            digest,
            size: 3 * 1024 * 1024,
            created: "2026-01-02T03:04:05.000Z",
            platforms: [
              { os: "linux", architecture: "amd64", digest, size: 1 },
              { os: "linux", architecture: "arm", variant: "v7", digest, size: 1 },
            ],
            vulnerabilities: {
              critical: 1,
              high: 2,
              medium: 3,
              low: 4,
              unknown: 0,
              scanner: "trivy 0.58.1",
              scannedAt: "2026-01-02T03:04:05.000Z",
            },
          },
          { tag: "a-much-longer-tag", digest, size: 10, platforms: [] },
        ],
      }),
    );
    assert.equal(shortDigest(digest), "sha256:abababababab");
    assert.deepEqual(table.split("\n"), [
      "TAG                DIGEST               SIZE   PLATFORMS                 CREATED           VULNS C/H/M/L",
      "1.0                sha256:abababababab  3 MiB  linux/amd64,linux/arm/v7  2026-01-02 03:04  1/2/3/4",
      "a-much-longer-tag  sha256:abababababab  10 B   -                         -                 -",
    ]);
  });
});

describe("reestr scan against Reestr", () => {
  let reestr: TestServer;
  let target: string;

  before(async () => {
    reestr = await startServer();
    target = `${reestr.url}/${REPO}`;
    const client = new RegistryClient({ baseUrl: reestr.url });
    try {
      const image = makeSmallImage(REPO, 1, 256);
      for (const blob of [image.config, ...image.layers]) await client.pushBlob(REPO, blob, blob.data);
      for (const tag of TAGS) await client.putManifest(REPO, tag, image.manifest, image.mediaType);
    } finally {
      client.close();
    }
  });
  after(async () => {
    await reestr?.cleanup();
  });

  test("a table of the filtered, sorted, limited tags; no progress bar off a terminal", async () => {
    const stdout = sink();
    const stderr = sink();
    const code = await runScan([target, "--include", "^1\\.", "--sort", "semver", "--limit", "2"], {
      env: {},
      stdout,
      stderr,
    });
    assert.equal(code, 0, stderr.text);
    const tags = stdout.text
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((line) => line.split(/\s+/)[0]);
    assert.deepEqual(tags, ["1.10.0", "1.2.0"]);
    assert.ok(!stderr.text.includes(ESC), "no escape sequences off a terminal");
    assert.match(stderr.text, /2 tags scanned, 2 changed/);
  });

  test("--json prints the status object", async () => {
    const stdout = sink();
    const code = await runScan([target, "--json", "--sort", "alphabetical", "--ascending"], {
      env: {},
      stdout,
      stderr: sink(),
    });
    assert.equal(code, 0);
    const status = parseRegistryStatus(JSON.parse(stdout.text));
    assert.equal(status.lastScanStatus, "Success");
    assert.deepEqual(
      status.images.map((i) => i.tag),
      [...TAGS].sort(),
    );
  });

  test("a progress bar of tags done/total on a terminal", async () => {
    const stderr = sink(true);
    const code = await runScan([target, "--exclude", "^dev"], { env: {}, stdout: sink(), stderr });
    assert.equal(code, 0);
    assert.match(stderr.text, /Scanning tags \[=*>?\s*\] 0\/4/);
    assert.match(stderr.text, /Scanning tags \[=+>\] 4\/4/);
    // The bar is cleared before the table is printed.
    assert.ok(
      stderr.text.endsWith(`${ESC}[2K\r`) ||
        !stderr.text.slice(stderr.text.lastIndexOf(`${ESC}[2K\r`)).includes("Scanning"),
    );
  });

  test("an unknown repository: exit 1 and the cause on stderr", async () => {
    const stderr = sink();
    const code = await runScan([`${reestr.url}/no/such`], { env: {}, stdout: sink(), stderr });
    assert.equal(code, 1);
    assert.match(stderr.text, /^reestr scan: repository no\/such not found/);
  });

  test("--vulnerabilities runs Trivy (the stand-in) and fills the VULNS column", async () => {
    const saved = process.env["FAKE_TRIVY_REPORT"];
    process.env["FAKE_TRIVY_REPORT"] = MULTI_RESULT;
    try {
      const stdout = sink();
      const stderr = sink();
      const code = await runScan([target, "--include", "^latest$", "--vulnerabilities"], {
        env: { REESTR_TRIVY: FAKE_TRIVY },
        stdout,
        stderr,
      });
      assert.equal(code, 0, stderr.text);
      const row = stdout.text.trimEnd().split("\n")[1]!;
      assert.match(row, /^latest\s.*\s1\/3\/3\/2$/);
      assert.match(stderr.text, /1 vulnerability scans/);
    } finally {
      if (saved === undefined) delete process.env["FAKE_TRIVY_REPORT"];
      else process.env["FAKE_TRIVY_REPORT"] = saved;
    }
  });

  test("--vulnerabilities without Trivy: the scan succeeds with a warning", async () => {
    const stdout = sink();
    const stderr = sink();
    const code = await runScan([target, "--include", "^latest$", "--vulnerabilities"], {
      env: { REESTR_TRIVY: "/nonexistent/trivy" },
      stdout,
      stderr,
    });
    assert.equal(code, 0);
    assert.match(stdout.text, /^latest\s.*\s-$/m);
    assert.match(stderr.text, /Trivy unavailable, vulnerability scanning skipped/);
  });
});

describe("reestr scan --sort semver with tags that are not quite semver", () => {
  const PARTIAL_REPO = "team/partial";
  let reestr: TestServer;
  let target: string;

  before(async () => {
    reestr = await startServer();
    target = `${reestr.url}/${PARTIAL_REPO}`;
    const client = new RegistryClient({ baseUrl: reestr.url });
    try {
      const image = makeSmallImage(PARTIAL_REPO, 1, 256);
      for (const blob of [image.config, ...image.layers])
        await client.pushBlob(PARTIAL_REPO, blob, blob.data);
      for (const tag of ["1.0", "v2", "1.10.0", "latest", "1.2.0"]) {
        await client.putManifest(PARTIAL_REPO, tag, image.manifest, image.mediaType);
      }
    } finally {
      client.close();
    }
  });
  after(async () => {
    await reestr?.cleanup();
  });

  const tagsOf = (table: string) =>
    table
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((line) => line.split(/\s+/)[0]);

  test("the tags left out are counted and named on stderr, with the option that keeps them", async () => {
    const stdout = sink();
    const stderr = sink();
    const code = await runScan([target, "--sort", "semver"], { env: {}, stdout, stderr });
    assert.equal(code, 0, stderr.text);
    assert.deepEqual(tagsOf(stdout.text), ["1.10.0", "1.2.0"]);
    assert.match(
      stderr.text,
      /3 tags not semver, left out by the semver sort \(1\.0, latest, v2\); semverCoerce \(--semver-coerce\) reads partial versions/,
    );
  });

  test("--semver-coerce sorts 1.0 and v2 among the others; only latest is left out", async () => {
    const stdout = sink();
    const stderr = sink();
    const code = await runScan([target, "--sort", "semver", "--semver-coerce"], { env: {}, stdout, stderr });
    assert.equal(code, 0, stderr.text);
    assert.deepEqual(tagsOf(stdout.text), ["v2", "1.10.0", "1.2.0", "1.0"]);
    assert.match(stderr.text, /1 tag not semver, left out by the semver sort \(latest\)$/m);
  });
});
