/**
 * One server per data directory. Two `reestr serve` on one directory would share its SQLite
 * files and blob tree with neither knowing: upload sweeps, garbage collection and the metadata
 * cache of one would act on what the other is writing. So the server takes `<dataDir>/reestr.lock`
 * before it opens anything there and refuses to start while another process holds it.
 *
 * The lock file is created with O_CREAT|O_EXCL (`wx`), which the kernel makes atomic: of two
 * servers starting at once exactly one creates it. It holds who took it, as JSON:
 * `{pid, host, startedAt, processStart, id}`. A crash (kill -9, power loss) leaves it behind, so a
 * lock is *stale*, and taken over, when its process is gone: same host and
 *   - the pid is not running (`kill(pid, 0)` answers ESRCH), or
 *   - the pid runs but is another process (Linux: its start time in /proc/<pid>/stat differs
 *     from the one recorded: the pid was reused), or
 *   - the pid is this process's own and this process does not hold the lock (a container
 *     restarted after a crash runs the server under the same pid again).
 * A lock from another host (a data directory on a network filesystem) cannot be checked and is
 * never taken over: the message says which file to remove once that server is known to be gone.
 *
 * Two servers starting in the same instant over a dead server's lock could both judge it stale;
 * the re-read before removing it narrows that to the two unlinks racing, which needs both to have
 * read the stale file before either removed it.
 */
import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";

/** Who holds a data directory. */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  processStart?: string;
  /** Random, so that release removes this lock and no later one. */
  id: string;
}

/** The data directory is in use: the message names the process holding it. */
export class DataDirLockedError extends Error {
  readonly path: string;
  readonly owner: LockOwner | undefined;
  constructor(message: string, path: string, owner: LockOwner | undefined) {
    super(message);
    this.name = "DataDirLockedError";
    this.path = path;
    this.owner = owner;
  }
}

export interface DataDirLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock file if it is still this lock's. Idempotent. */
  release(): void;
}

/** Lock files this process holds, by absolute path (a second server in the same process is refused). */
const held = new Set<string>();

/**
 * Takes the lock file at `path` (`<dataDir>/reestr.lock`) or throws DataDirLockedError.
 * `dataDir` is only for the message.
 */
export function acquireDataDirLock(path: string, dataDir: string): DataDirLock {
  const lockPath = resolve(path);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    ...optional("processStart", processStartTicks(process.pid)),
    id: randomUUID(),
  };
  // Bounded: each round either creates the file or removes a stale one; a third collision means
  // another server is taking the directory right now.
  for (let round = 0; round < 3; round++) {
    if (tryCreate(lockPath, owner)) return holding(lockPath, owner);
    const found = readOwner(lockPath);
    if (found === "missing") continue; // released between our open and our read
    if (found === "unreadable") {
      throw new DataDirLockedError(
        `data directory ${dataDir} has a lock file that cannot be read (${lockPath}); if no reestr serve uses this directory, remove it`,
        lockPath,
        undefined,
      );
    }
    const state = ownerState(found, lockPath);
    if (state !== "gone")
      throw new DataDirLockedError(lockedMessage(dataDir, lockPath, found, state), lockPath, found);
    // Stale: remove it, unless it changed since we read it (someone else took over first).
    const again = readOwner(lockPath);
    if (typeof again === "object" && again.id === found.id) {
      try {
        unlinkSync(lockPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
  }
  throw new DataDirLockedError(
    `data directory ${dataDir} is being taken by another process (${lockPath} keeps reappearing)`,
    lockPath,
    undefined,
  );
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Creates the file with O_EXCL; false when it exists. */
function tryCreate(lockPath: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, "wx", 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
    fsyncSync(fd);
  } catch (error) {
    // A lock without its owner in it would block every later start: do not leave it.
    closeSync(fd);
    unlinkSync(lockPath);
    throw error;
  }
  closeSync(fd);
  return true;
}

function holding(lockPath: string, owner: LockOwner): DataDirLock {
  held.add(lockPath);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    held.delete(lockPath);
    process.removeListener("exit", release);
    const current = readOwner(lockPath);
    if (typeof current === "object" && current.id === owner.id) {
      try {
        unlinkSync(lockPath);
      } catch {
        // Gone already: nothing to release.
      }
    }
  };
  // A crash that still runs exit handlers (an uncaught exception) frees the directory at once;
  // kill -9 leaves the file, and the next start finds it stale.
  process.on("exit", release);
  return { path: lockPath, owner, release };
}

function readOwner(lockPath: string): LockOwner | "missing" | "unreadable" {
  let text: string;
  try {
    text = readFileSync(lockPath, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    return "unreadable";
  }
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (
      Number.isInteger(value.pid) &&
      typeof value.host === "string" &&
      typeof value.startedAt === "string" &&
      typeof value.id === "string"
    ) {
      return value as LockOwner;
    }
  } catch {
    // An empty or torn file: its writer died between create and write, or it is not ours.
  }
  return "unreadable";
}

/** Whether the lock's process still runs: "alive", "gone", or "unknown" (another host). */
function ownerState(owner: LockOwner, lockPath: string): "alive" | "gone" | "unknown" {
  if (owner.host !== hostname()) return "unknown";
  if (owner.pid === process.pid) return held.has(lockPath) ? "alive" : "gone";
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "ESRCH" ? "gone" : "alive";
  }
  if (owner.processStart !== undefined) {
    const start = processStartTicks(owner.pid);
    if (start !== undefined && start !== owner.processStart) return "gone"; // the pid was reused
  }
  return "alive";
}

function lockedMessage(
  dataDir: string,
  lockPath: string,
  owner: LockOwner,
  state: "alive" | "unknown",
): string {
  const who = `pid ${owner.pid} on host ${owner.host}, since ${owner.startedAt}`;
  return state === "alive"
    ? `data directory ${dataDir} is in use by another reestr serve (${who}): stop it first, or give this one another --data directory`
    : `data directory ${dataDir} is locked by a reestr serve on another host (${who}); if that server is gone, remove ${lockPath}`;
}

/** Linux: field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined elsewhere. */
function processStartTicks(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = fields[19]; // field 22 overall; the slice starts at field 3
  return start && /^\d+$/.test(start) ? start : undefined;
}
