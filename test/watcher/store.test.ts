import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, test } from "node:test";
import type { VulnerabilityFinding } from "../../src/watcher/scanners/scanner.ts";
import type { ImageInfo, RegistryStatus, VulnerabilitySummary } from "../../src/watcher/spec.ts";
import { diffImages, SqliteWatchStore } from "../../src/watcher/store.ts";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;
const C = `sha256:${"c".repeat(64)}`;
const TARGET = { url: "http://127.0.0.1:5000", repository: "team/app" };

function image(tag: string, digest: string, extra: Partial<ImageInfo> = {}): ImageInfo {
  return { tag, digest, size: 100, platforms: [], ...extra };
}

function status(at: string, images: ImageInfo[], extra: Partial<RegistryStatus> = {}): RegistryStatus {
  return { lastScanTime: at, lastScanStatus: "Success", images, ...extra };
}

function scanned(at: string, high: number): { vulnerabilities: VulnerabilitySummary } {
  return {
    vulnerabilities: {
      critical: 0,
      high,
      medium: 0,
      low: 0,
      unknown: 0,
      scanner: "trivy 0.58.1",
      scannedAt: at,
    },
  };
}

function finding(id: string, pkg = "openssl"): VulnerabilityFinding {
  return {
    id,
    severity: "HIGH",
    package: pkg,
    installed: "3.0.1",
    fixed: "3.0.2",
    title: `${id} in ${pkg}`,
    url: `https://avd.aquasec.com/nvd/${id.toLowerCase()}`,
  };
}

/** The watch store's file as schema version 1 wrote it (before vulnerability findings). */
const SCHEMA_V1 = `
CREATE TABLE watch_entries (
  name TEXT PRIMARY KEY, url TEXT, repository TEXT NOT NULL, status TEXT NOT NULL,
  observed TEXT NOT NULL, last_scan_time TEXT, last_scan_status TEXT, message TEXT,
  tags INTEGER NOT NULL, updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE digest_changes (
  id INTEGER PRIMARY KEY, entry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
  from_digest TEXT, to_digest TEXT, at TEXT NOT NULL, at_ms INTEGER NOT NULL
);
CREATE INDEX digest_changes_by_entry ON digest_changes (entry, at_ms, id);
CREATE INDEX digest_changes_by_tag ON digest_changes (entry, tag, at_ms, id);
PRAGMA user_version = 1;
`;

const T1 = "2026-01-01T00:00:00.000Z";
const T2 = "2026-01-01T00:05:00.000Z";
const T3 = "2026-01-01T00:10:00.000Z";
const T4 = "2026-01-01T00:15:00.000Z";

describe("diffImages", () => {
  test("moves, appearances and disappearances", () => {
    assert.deepEqual(
      diffImages([image("1", A), image("2", B)], [image("1", C), image("3", A), image("2", B)]),
      [
        { tag: "1", from: A, to: C },
        { tag: "3", to: A },
      ],
    );
    assert.deepEqual(diffImages([image("1", A), image("2", B)], [image("2", B)]), [{ tag: "1", from: A }]);
  });
});

describe("SqliteWatchStore", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test("round trip of the latest status, entries listed with their last scan", async () => {
    const store = new SqliteWatchStore(":memory:");
    assert.equal(await store.load("app"), undefined);
    const first = status(T1, [
      image("1.0", A, {
        platforms: [{ os: "linux", architecture: "arm64", variant: "v8", digest: B, size: 40 }],
        created: "2025-12-31T00:00:00.000Z",
        vulnerabilities: {
          critical: 1,
          high: 2,
          medium: 3,
          low: 4,
          unknown: 5,
          scanner: "trivy 0.58.1",
          scannedAt: T1,
        },
      }),
    ]);
    await store.save("app", TARGET, first);
    assert.deepEqual(await store.load("app"), first);
    await store.save(
      "other",
      { repository: "x/y" },
      status(T2, [], { lastScanStatus: "Failed", message: "boom" }),
    );
    assert.deepEqual(await store.entries(), [
      {
        name: "app",
        url: TARGET.url,
        repository: "team/app",
        lastScanTime: T1,
        lastScanStatus: "Success",
        tags: 1,
      },
      {
        name: "other",
        repository: "x/y",
        lastScanTime: T2,
        lastScanStatus: "Failed",
        message: "boom",
        tags: 0,
      },
    ]);
    await store.close();
  });

  test("history of moves, appearances and disappearances, newest first, with filters", async () => {
    const store = new SqliteWatchStore(":memory:");
    const first = await store.save("app", TARGET, status(T1, [image("latest", A), image("1.0", A)]));
    assert.deepEqual(first, [
      { entry: "app", repository: "team/app", tag: "latest", to: A, at: T1 },
      { entry: "app", repository: "team/app", tag: "1.0", to: A, at: T1 },
    ]);
    // Unchanged: nothing recorded.
    assert.deepEqual(await store.save("app", TARGET, status(T2, [image("latest", A), image("1.0", A)])), []);
    // latest moves to B, 1.1 appears.
    await store.save("app", TARGET, status(T3, [image("latest", B), image("1.0", A), image("1.1", B)]));
    // A failed scan (previous images kept, or none) records nothing.
    assert.deepEqual(
      await store.save("app", TARGET, status(T4, [], { lastScanStatus: "Failed", message: "unreachable" })),
      [],
    );
    assert.equal((await store.load("app"))?.lastScanStatus, "Failed");
    // 1.0 disappears, latest moves to C (compared with the last status that saw them: T3's).
    await store.save(
      "app",
      TARGET,
      status("2026-01-01T00:20:00.000Z", [image("latest", C), image("1.1", B)]),
    );

    const all = await store.history("app");
    assert.deepEqual(
      all.map((c) => [c.tag, c.from, c.to, c.at]),
      [
        ["1.0", A, undefined, "2026-01-01T00:20:00.000Z"],
        ["latest", B, C, "2026-01-01T00:20:00.000Z"],
        ["1.1", undefined, B, T3],
        ["latest", A, B, T3],
        ["1.0", undefined, A, T1],
        ["latest", undefined, A, T1],
      ],
    );
    assert.deepEqual(
      (await store.history("app", { tag: "latest" })).map((c) => [c.from, c.to]),
      [
        [B, C],
        [A, B],
        [undefined, A],
      ],
    );
    assert.equal((await store.history("app", { limit: 2 })).length, 2);
    assert.deepEqual(
      (await store.history("app", { before: T3 })).map((c) => c.tag),
      ["1.0", "latest"],
    );
    assert.deepEqual(
      (await store.history("app", { tag: "latest", before: new Date(T3), limit: 1 })).map((c) => c.to),
      [A],
    );
    assert.deepEqual(await store.history("nope"), []);
    await assert.rejects(store.history("app", { before: "yesterday" }), /not a valid time/);

    await store.remove("app");
    assert.equal(await store.load("app"), undefined);
    assert.deepEqual(await store.history("app"), []);
    await store.close();
  });

  test("persists across reopen of <dataDir>/watch.sqlite", async () => {
    const dir = await mkdtemp(join(tmpdir(), "reestr-watch-store-"));
    dirs.push(dir);
    const dataDir = join(dir, "data");
    let store = SqliteWatchStore.inDataDir(dataDir);
    await store.save("app", TARGET, status(T1, [image("1", A)]));
    await store.save("app", TARGET, status(T2, [image("1", B)]));
    await store.close();
    assert.ok(existsSync(join(dataDir, "watch.sqlite")));

    store = SqliteWatchStore.inDataDir(dataDir);
    assert.deepEqual(await store.load("app"), status(T2, [image("1", B)]));
    assert.deepEqual(
      (await store.history("app")).map((c) => [c.from, c.to]),
      [
        [A, B],
        [undefined, A],
      ],
    );
    // The next save diffs against the status saved before the reopen.
    assert.deepEqual(
      (await store.save("app", TARGET, status(T3, [image("1", B), image("2", A)]))).map((c) => c.tag),
      ["2"],
    );
    await store.close();
  });

  test("vulnerability findings: saved per digest, replaced on rescan, pruned with the image and the entry", async () => {
    const store = new SqliteWatchStore(":memory:");
    assert.equal(await store.findings("app", A), undefined, "never scanned");
    await store.save(
      "app",
      TARGET,
      status(T1, [image("1", A, scanned(T1, 2)), image("2", B, scanned(T1, 0))]),
      new Map([
        [A, [finding("CVE-2024-1"), finding("CVE-2024-2")]],
        [B, []],
      ]),
    );
    assert.deepEqual(await store.findings("app", A), [finding("CVE-2024-1"), finding("CVE-2024-2")]);
    assert.deepEqual(await store.findings("app", B), [], "scanned, nothing found");
    assert.equal(await store.findings("other", A), undefined, "per entry");
    // The status keeps counts only.
    assert.equal(JSON.stringify(await store.load("app")).includes("CVE-2024-1"), false);

    // A rescan of A replaces its list; B, not rescanned (no list given), keeps its own.
    await store.save(
      "app",
      TARGET,
      status(T2, [image("1", A, scanned(T2, 1)), image("2", B, scanned(T1, 0))]),
      new Map([[A, [finding("CVE-2024-3", "zlib")]]]),
    );
    assert.deepEqual(await store.findings("app", A), [finding("CVE-2024-3", "zlib")]);
    assert.deepEqual(await store.findings("app", B), []);

    // A Failed pass forgets nothing, even with no images.
    await store.save("app", TARGET, status(T3, [], { lastScanStatus: "Failed", message: "down" }));
    assert.deepEqual(await store.findings("app", A), [finding("CVE-2024-3", "zlib")]);

    // Tag 2 moved to C: B's list goes; so does A's once its summary is gone (scanning turned off).
    await store.save(
      "app",
      TARGET,
      status(T4, [image("1", A), image("2", C, scanned(T4, 1))]),
      new Map([[C, [finding("CVE-2024-4")]]]),
    );
    assert.equal(await store.findings("app", B), undefined);
    assert.equal(await store.findings("app", A), undefined);
    assert.deepEqual(await store.findings("app", C), [finding("CVE-2024-4")]);

    await store.save("keep", TARGET, status(T1, [image("1", C, scanned(T1, 1))]), new Map([[C, []]]));
    await store.remove("app");
    assert.equal(await store.findings("app", C), undefined);
    assert.deepEqual(await store.findings("keep", C), [], "another entry's list stays");
    await store.close();
  });

  test("a schema version 1 file opens: its statuses and history stay, findings are stored from then on", async () => {
    const dir = await mkdtemp(join(tmpdir(), "reestr-watch-store-v1-"));
    dirs.push(dir);
    const path = join(dir, "watch.sqlite");
    const old = new DatabaseSync(path);
    old.exec(SCHEMA_V1);
    const saved = status(T1, [image("1", A, scanned(T1, 1))]);
    old
      .prepare(
        "INSERT INTO watch_entries (name, url, repository, status, observed, last_scan_time, last_scan_status, message, tags, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 1, 0)",
      )
      .run(
        "app",
        TARGET.url,
        TARGET.repository,
        JSON.stringify(saved),
        JSON.stringify([["1", A]]),
        T1,
        "Success",
      );
    old
      .prepare(
        "INSERT INTO digest_changes (entry, repository, tag, from_digest, to_digest, at, at_ms) VALUES (?, ?, ?, NULL, ?, ?, ?)",
      )
      .run("app", TARGET.repository, "1", A, T1, Date.parse(T1));
    old.close();

    let store = new SqliteWatchStore(path);
    assert.deepEqual(await store.load("app"), saved);
    assert.deepEqual(
      (await store.history("app")).map((c) => [c.tag, c.to]),
      [["1", A]],
    );
    assert.equal(await store.findings("app", A), undefined, "scanned before findings were kept");
    await store.save(
      "app",
      TARGET,
      status(T2, [image("1", A, scanned(T2, 1))]),
      new Map([[A, [finding("CVE-1")]]]),
    );
    await store.close();

    store = new SqliteWatchStore(path);
    assert.deepEqual(await store.findings("app", A), [finding("CVE-1")]);
    await store.close();
    const reopened = new DatabaseSync(path);
    assert.equal((reopened.prepare("PRAGMA user_version").get() as { user_version: number }).user_version, 2);
    reopened.close();
  });
});
