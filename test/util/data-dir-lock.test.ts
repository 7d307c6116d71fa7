/**
 * src/util/data-dir-lock.ts in one process: what counts as held, what as stale, and that release
 * removes only its own lock. (Two real servers on one directory: test/cli/first-run.test.ts.)
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { acquireDataDirLock, DataDirLockedError } from "../../src/util/data-dir-lock.ts";
import { withTempDir } from "../registry/temp-dir.ts";

const withDir = (body: (dir: string) => Promise<void>) => withTempDir("reestr-lock-", body);
const owner = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

describe("the data directory lock", () => {
  test("records who holds it; a second taker in the same process is refused; release frees it", () =>
    withDir(async (dir) => {
      const path = join(dir, "reestr.lock");
      const lock = acquireDataDirLock(path, dir);
      assert.equal(owner(path).pid, process.pid);
      assert.equal(owner(path).host, hostname());
      assert.throws(
        () => acquireDataDirLock(path, dir),
        (error: unknown) =>
          error instanceof DataDirLockedError && error.message.includes(`pid ${process.pid} on host`),
      );
      lock.release();
      assert.ok(!existsSync(path));
      lock.release(); // idempotent
      acquireDataDirLock(path, dir).release();
    }));

  test("a live pid whose start time differs from the recorded one was reused: the lock is stale", () =>
    withDir(async (dir) => {
      const path = join(dir, "reestr.lock");
      // Our parent runs, but it is not the process that wrote this lock.
      const stale = { pid: process.ppid, host: hostname(), startedAt: "x", processStart: "1", id: "old" };
      writeFileSync(path, JSON.stringify(stale));
      const lock = acquireDataDirLock(path, dir);
      assert.equal(owner(path).pid, process.pid);
      lock.release();
    }));

  test("a live pid with no start time to compare is taken as alive", () =>
    withDir(async (dir) => {
      const path = join(dir, "reestr.lock");
      writeFileSync(path, JSON.stringify({ pid: process.ppid, host: hostname(), startedAt: "x", id: "old" }));
      assert.throws(() => acquireDataDirLock(path, dir), DataDirLockedError);
    }));

  test("this process's own pid, not held by it, is a previous run's (a restarted container)", () =>
    withDir(async (dir) => {
      const path = join(dir, "reestr.lock");
      writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: "x", id: "old" }));
      acquireDataDirLock(path, dir).release();
    }));

  test("an unreadable lock is refused, saying to remove it if no server uses the directory", () =>
    withDir(async (dir) => {
      const path = join(dir, "reestr.lock");
      writeFileSync(path, "");
      assert.throws(() => acquireDataDirLock(path, dir), /cannot be read .*remove it/);
    }));

  test("release leaves a lock that is no longer its own", () =>
    withDir(async (dir) => {
      const path = join(dir, "reestr.lock");
      const lock = acquireDataDirLock(path, dir);
      const other = JSON.stringify({ pid: 1, host: "elsewhere.invalid", startedAt: "x", id: "theirs" });
      writeFileSync(path, other);
      lock.release();
      assert.equal(readFileSync(path, "utf8"), other);
    }));
});
