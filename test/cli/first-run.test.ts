/**
 * The first minutes of a new user, through bin/reestr.js as a child process: `serve -c` as the
 * README writes it, an old Node told in words, a data directory that cannot be created, and one
 * server per data directory (a second is refused naming the first; a crashed one's lock is taken
 * over).
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, REESTR_BIN, spawnServer, startReestr } from "../helpers/reestr-process.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "reestr-first-run-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The environment without REESTR_* settings, which could change any outcome here. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("REESTR_")));

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/reestr.js with `node` (Node 24 unless told). The timeout only guards against a hang. */
function reestr(args: string[], node = process.execPath): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      node,
      [REESTR_BIN, ...args],
      { cwd: dir, env: ENV, timeout: 60_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ code, signal: error?.signal ?? null, stdout, stderr });
      },
    );
  });
}

const lockOf = (dataDir: string) =>
  JSON.parse(readFileSync(join(dataDir, "reestr.lock"), "utf8")) as { pid: number; host: string };

describe("reestr serve -c, as the README has it", () => {
  test("-c is --config: the file alone says where to listen and what data directory to use", async () => {
    const port = await freePort();
    const dataDir = join(dir, "from-config");
    const file = join(dir, "reestr.yaml");
    await writeFile(file, `host: 127.0.0.1\nport: ${port}\ndataDir: ${dataDir}\n`);
    const server = await spawnServer({
      name: "reestr",
      command: process.execPath,
      args: [REESTR_BIN, "serve", "-c", file],
      env: ENV,
      port,
      dataDir,
      ownedDirs: [],
      logFile: join(dir, "from-config.log"),
    });
    try {
      assert.ok(existsSync(join(dataDir, "metadata.sqlite")), "the data directory named in the file");
    } finally {
      await server.stop();
    }
  });

  test("--help of every command that reads a config file shows -c, --config", async () => {
    for (const command of ["serve", "watch", "ui"]) {
      const result = await reestr([command, "--help"]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^ {2}-c, --config <file>/m, `reestr ${command} --help`);
    }
  });
});

describe("an old Node", () => {
  // The system's node, as `#!/usr/bin/env node` finds it outside the checkout.
  const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find((path) => existsSync(path));
  const oldNode = (() => {
    if (!systemNode) return undefined;
    const run = execFileSyncVersion(systemNode);
    return run && Number(run.slice(1).split(".")[0]) < 24 ? systemNode : undefined;
  })();

  test("is told that Reestr needs Node 24 and how to get it, exit 1", {
    skip: !oldNode && "no Node < 24 on this machine",
  }, async () => {
    const result = await reestr(["--version"], oldNode);
    assert.equal(result.code, 1, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /^Reestr needs Node 24 \(or newer\); this is Node v\d+\./);
    assert.match(result.stderr, /nvm install 24/);
    assert.match(result.stderr, /npm install -g node@24/);
    assert.doesNotMatch(result.stderr, /SyntaxError|enableCompileCache/);
    assert.equal(result.stdout, "");
  });
});

function execFileSyncVersion(node: string): string | undefined {
  try {
    return execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

describe("a data directory that cannot be created", () => {
  test("/proc/reestr is a clear error, exit 2 (no spinning)", {
    skip: !existsSync("/proc/self") && "no /proc",
  }, async () => {
    const result = await reestr(["serve", "--port", "0", "--data", "/proc/reestr"]);
    assert.equal(result.signal, null, "it must end on its own, not be killed by the guard");
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, /^reestr serve: cannot create data directory \/proc\/reestr: ENOENT/);
  });

  test("a file in the way is named too", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "");
    const result = await reestr(["serve", "--port", "0", "--data", join(file, "data")]);
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(result.stderr, new RegExp(`cannot create data directory ${join(file, "data")}: ENOTDIR`));
  });
});

describe("one server per data directory", () => {
  test("a second serve on the same directory is refused, naming the first one's pid; exit 2", async () => {
    const first = await startReestr();
    try {
      assert.equal(lockOf(first.dataDir).pid, first.pid);
      const second = await reestr(["serve", "--port", "0", "--data", first.dataDir]);
      assert.equal(second.code, 2, `exit code (stderr: ${second.stderr})`);
      assert.match(
        second.stderr,
        new RegExp(
          `data directory ${first.dataDir} is in use by another reestr serve \\(pid ${first.pid} on host `,
        ),
      );
      assert.ok(first.isRunning(), "the first server is untouched");
      assert.equal(lockOf(first.dataDir).pid, first.pid, "and keeps its lock");
    } finally {
      await first.stop();
    }
    assert.ok(!existsSync(join(first.dataDir, "reestr.lock")), "a stopped server removes its lock");
    await first.cleanup();
  });

  test("after kill -9 the next start takes the stale lock over", async () => {
    const dataDir = join(dir, "crashed");
    const first = await startReestr({ dataDir });
    await first.kill9();
    assert.equal(lockOf(dataDir).pid, first.pid, "kill -9 leaves the lock behind");
    const second = await startReestr({ dataDir });
    try {
      assert.equal(lockOf(dataDir).pid, second.pid);
    } finally {
      await second.cleanup();
    }
  });

  test("a lock left by a dead process is taken over", async () => {
    const dataDir = join(dir, "stale");
    await mkdir(dataDir, { recursive: true });
    const dead = spawn(process.execPath, ["-e", ""]);
    const deadPid = dead.pid!;
    await new Promise((resolve) => dead.once("exit", resolve));
    await writeFile(
      join(dataDir, "reestr.lock"),
      JSON.stringify({ pid: deadPid, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", id: "old" }),
    );
    const server = await startReestr({ dataDir });
    try {
      assert.equal(lockOf(dataDir).pid, server.pid);
    } finally {
      await server.cleanup();
    }
  });

  test("a lock from another host is not taken over: the message says which file to remove", async () => {
    const dataDir = join(dir, "shared");
    await mkdir(dataDir, { recursive: true });
    const lock = join(dataDir, "reestr.lock");
    const content = JSON.stringify({
      pid: 1,
      host: "elsewhere.invalid",
      startedAt: "2026-01-01T00:00:00.000Z",
      id: "x",
    });
    await writeFile(lock, content);
    const result = await reestr(["serve", "--port", "0", "--data", dataDir]);
    assert.equal(result.code, 2, `exit code (stderr: ${result.stderr})`);
    assert.match(
      result.stderr,
      /locked by a reestr serve on another host \(pid 1 on host elsewhere\.invalid/,
    );
    assert.ok(result.stderr.includes(`remove ${lock}`), result.stderr);
    assert.equal(await readFile(lock, "utf8"), content, "the lock is left as it was");
  });
});
