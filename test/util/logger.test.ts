/**
 * The logger never takes the process down because its output failed: a stream whose writes
 * fail (stdout on a full disk: ENOSPC, a closed pipe: EPIPE), a sink that throws, and a real
 * stdout redirected to a file on a full tmpfs. Lost lines are counted and, once writes work
 * again, reported by a line of their own.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { JsonLogger } from "../../src/util/logger.ts";
import { REPO_ROOT } from "../helpers/reestr-process.ts";
import { mountTmpfs } from "../helpers/tmpfs.ts";

/**
 * A sink that behaves as process.stdout does on a full disk: a failing write calls back with the
 * error and emits 'error' (which kills a process nobody listens for), and once there is room
 * again, writes succeed.
 */
function stdoutLike(code: string) {
  const taken: string[] = [];
  const control = { failing: true };
  const sink = Object.assign(new EventEmitter(), {
    write(chunk: string, callback?: (error?: Error | null) => void) {
      if (control.failing) {
        const error = Object.assign(new Error(`write failed: ${code}`), { code });
        process.nextTick(() => {
          callback?.(error);
          sink.emit("error", error);
        });
        return false;
      }
      taken.push(chunk);
      process.nextTick(() => callback?.(null));
      return true;
    },
  });
  return { sink, taken, control };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("JsonLogger when its output fails", () => {
  for (const code of ["ENOSPC", "EPIPE", "EAGAIN"]) {
    test(`a stream failing with ${code}: nothing thrown, lines counted, and logging resumes`, async () => {
      const { sink, taken, control } = stdoutLike(code);
      const logger = new JsonLogger({ sink });
      const child = logger.child({ component: "x" });
      logger.info("one");
      child.warn("two");
      await turn();
      logger.info("three");
      logger.flush();
      await turn();
      assert.equal(logger.droppedLines, 3);
      assert.equal(sink.listenerCount("error"), 1, "the logger listens for the sink's errors, once");
      assert.deepEqual(taken, []);

      control.failing = false;
      child.info("four");
      logger.flush();
      await turn();
      const lines = taken
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line));
      assert.deepEqual(
        lines.map((line) => line.msg),
        ["log lines were lost", "four"],
      );
      assert.equal(lines[0].dropped, 3);
      assert.equal(lines[0].reason, code);
      assert.equal(lines[1].component, "x");
      // Reported once: the next batch has no notice.
      logger.info("five");
      logger.flush();
      await turn();
      assert.equal(JSON.parse(taken.at(-1)!).msg, "five");
      assert.equal(logger.droppedLines, 3);
    });
  }

  test("a node stream that errors (and is destroyed by it) does not take the process down", async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error("EPIPE"), { code: "EPIPE" }));
      },
    });
    const logger = new JsonLogger({ sink: stream });
    logger.info("a");
    logger.flush();
    await turn();
    logger.info("b");
    logger.flush();
    await turn();
    // Had the stream's 'error' gone unheard, this test process would have died above.
    assert.equal(stream.destroyed, true);
    assert.equal(logger.droppedLines, 2);
  });

  test("a sink that throws on write is counted, not propagated", () => {
    let calls = 0;
    const logger = new JsonLogger({
      sink: {
        write() {
          calls++;
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        },
      },
    });
    logger.error("a");
    logger.error("b");
    assert.doesNotThrow(() => logger.flush());
    assert.equal(calls, 1);
    assert.equal(logger.droppedLines, 2);
  });

  test("a process whose stdout is a file on a full tmpfs keeps running, and logs again once there is room", async (t) => {
    const mount = await mountTmpfs("1m");
    if (!mount) return t.skip("mounting a tmpfs is not permitted here (needs root)");
    try {
      const filler = join(mount.dir, "filler");
      // Leave less room than the lines the child writes before the filler goes.
      await writeFile(filler, Buffer.alloc(1024 * 1024 - 16 * 1024));
      const script = join(await mkdtemp(join(tmpdir(), "reestr-logger-")), "child.ts");
      await writeFile(
        script,
        `import { unlinkSync } from "node:fs";
import { JsonLogger } from ${JSON.stringify(join(REPO_ROOT, "src/util/logger.ts"))};
const logger = new JsonLogger();
const pad = "x".repeat(2000);
let n = 0;
const tick = () => {
  logger.info("line", { n, pad });
  n++;
  if (n === 40) unlinkSync(${JSON.stringify(filler)});
  if (n < 45) setTimeout(tick, 2);
  else setTimeout(() => { logger.info("done"); logger.flush(); process.stderr.write(JSON.stringify({ dropped: logger.droppedLines })); }, 20);
};
tick();
`,
      );
      const out = join(mount.dir, "out.log");
      const { code, stderr } = await runWithStdoutTo(script, out);
      await rm(join(script, ".."), { recursive: true, force: true });
      assert.equal(code, 0, `the child died: ${stderr}`);
      const dropped = (JSON.parse(stderr) as { dropped: number }).dropped;
      assert.ok(dropped > 0, "some lines were lost while the disk was full");
      const lines = (await readFile(out, "utf8"))
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line): { msg: string; dropped?: number; reason?: string } => {
          try {
            return JSON.parse(line) as { msg: string; dropped?: number; reason?: string };
          } catch {
            return { msg: "(a line cut short by the full disk)" };
          }
        });
      const notice = lines.find((line) => line.msg === "log lines were lost");
      assert.ok(notice, "a line says lines were lost");
      assert.equal(notice.reason, "ENOSPC");
      assert.equal(lines.at(-1)?.msg, "done");
    } finally {
      await mount.unmount();
    }
  });
});

/** Runs a TypeScript file with this Node, its stdout appended to `file`; its exit code and stderr. */
async function runWithStdoutTo(
  script: string,
  file: string,
): Promise<{ code: number | null; stderr: string }> {
  const { openSync, closeSync } = await import("node:fs");
  const fd = openSync(file, "a");
  try {
    const child = spawn(process.execPath, [script], { stdio: ["ignore", fd, "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stderr };
  } finally {
    closeSync(fd);
  }
}
