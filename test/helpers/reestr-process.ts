/**
 * Runs registry servers as child processes, the way users run them: Reestr via
 * `node bin/reestr.js serve`, and (through distribution.ts) CNCF Distribution. Logs of the child
 * go to a file in a temp directory, so a chatty server never blocks on a full pipe and the parent
 * spends no CPU relaying them; `output()` reads that file back for failure messages.
 *
 * Every child started here is killed when the parent process exits, even if a test forgot to
 * stop it or crashed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.ts";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface ServerProcess {
  /** e.g. `http://127.0.0.1:41234` */
  readonly url: string;
  /** e.g. `127.0.0.1:41234`, for image references (`docker://127.0.0.1:41234/repo:tag`). */
  readonly hostPort: string;
  readonly port: number;
  readonly pid: number;
  /** Where the server keeps its state. */
  readonly dataDir: string;
  /** The child's stdout and stderr so far (tail, at most `maxBytes`). */
  output(maxBytes?: number): string;
  /** Resolves with the exit code or signal once the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** Peak resident set size in KiB (`VmHWM` of /proc/<pid>/status), undefined once exited. */
  peakRssKiB(): number | undefined;
  /** Current resident set size in KiB (`VmRSS`). */
  rssKiB(): number | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL right now; resolves when the child has exited. */
  kill9(): Promise<void>;
  /** stop() and remove every temp directory this helper created (the data dir too, if ours). */
  cleanup(): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** A kB field of /proc/<pid>/status (VmRSS, VmHWM), undefined once the process is gone. */
export function readStatusField(pid: number, field: string): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, "m").exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** One GET, answering the status code, or undefined when nothing listens (yet). */
function probe(url: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolveProbe) => {
    // Readiness only: an HTTPS server's certificate is checked by the tests themselves.
    const send = url.startsWith("https:") ? httpsRequest : request;
    const options = { method: "GET", agent: false, timeout: timeoutMs, rejectUnauthorized: false };
    const req = send(url, options, (res) => {
      res.resume();
      res.on("end", () => resolveProbe(res.statusCode));
      res.on("error", () => resolveProbe(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolveProbe(undefined));
    req.end();
  });
}

export interface SpawnServerOptions {
  /** Human name for error messages, e.g. "reestr" or "docker-registry". */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  port: number;
  dataDir: string;
  /** Temp directories removed by cleanup(). */
  ownedDirs: string[];
  /** Where the child's stdout and stderr are written. */
  logFile: string;
  /** Path polled until it answers 200 (default `/v2/`). */
  readyPath?: string;
  readyTimeoutMs?: number;
  /** The server speaks HTTPS (url is https://…). */
  https?: boolean;
}

/** Spawns a server and waits until `readyPath` answers 200; kills it and throws with its output otherwise. */
export async function spawnServer(options: SpawnServerOptions): Promise<ServerProcess> {
  const logFd = openSync(options.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ["ignore", logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  liveChildren.add(child);

  let running = true;
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once("error", (error) => {
      spawnError = error;
      running = false;
      liveChildren.delete(child);
      resolveExit({ code: -1, signal: null });
    });
    child.once("exit", (code, signal) => {
      running = false;
      liveChildren.delete(child);
      resolveExit({ code, signal });
    });
  });

  const url = `${options.https ? "https" : "http"}://127.0.0.1:${options.port}`;
  const output = (maxBytes = 64 * 1024): string => {
    if (!existsSync(options.logFile)) return "";
    const text = readFileSync(options.logFile);
    return text.subarray(Math.max(0, text.length - maxBytes)).toString("utf8");
  };

  const signalAndWait = async (signal: NodeJS.Signals): Promise<void> => {
    if (running) child.kill(signal);
    await exited;
  };

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      if (!running) return;
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), graceMs);
      });
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result === "timeout") await signalAndWait("SIGKILL");
    })();
    return stopping;
  };

  const server: ServerProcess = {
    url,
    hostPort: `127.0.0.1:${options.port}`,
    port: options.port,
    pid: child.pid ?? -1,
    dataDir: options.dataDir,
    output,
    exited,
    isRunning: () => running,
    peakRssKiB: () => (running && child.pid ? readStatusField(child.pid, "VmHWM") : undefined),
    rssKiB: () => (running && child.pid ? readStatusField(child.pid, "VmRSS") : undefined),
    stop,
    kill9: () => signalAndWait("SIGKILL"),
    cleanup: async () => {
      await stop();
      for (const dir of options.ownedDirs) rmSync(dir, { recursive: true, force: true });
    },
  };

  const readyUrl = url + (options.readyPath ?? "/v2/");
  let lastStatus: number | undefined;
  const outcome = await waitFor(
    async () => {
      if (!running) return "exited";
      lastStatus = await probe(readyUrl, 1000);
      return lastStatus === 200 && "ready";
    },
    { timeoutMs: options.readyTimeoutMs ?? 20_000, intervalMs: 50 },
  ).catch(() => "timed out"); // the error below says why, with the server's output
  if (outcome === "ready") return server;
  const exitInfo = running ? undefined : await exited;
  await server.cleanup().catch(() => {});
  const why = spawnError
    ? `could not be started: ${spawnError.message}`
    : exitInfo
      ? `exited early (code ${exitInfo.code}, signal ${exitInfo.signal})`
      : `did not answer 200 on ${readyUrl} in time (last status: ${lastStatus ?? "no answer"})`;
  throw new Error(`${options.name} ${why}\n--- ${options.name} output ---\n${output()}`);
}

export interface StartReestrOptions {
  /** Another checkout's entry point (the benchmark's baseline); default this one's bin/reestr.js. */
  bin?: string;
  /** Reuse a data directory (e.g. to restart after a crash); it is not removed by cleanup(). */
  dataDir?: string;
  /** Default: a free random port. */
  port?: number;
  /** Extra arguments after `serve ...`. */
  extraArgs?: string[];
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Path polled for readiness (default `/v2/`; `/healthz` when auth makes `/v2/` answer 401). */
  readyPath?: string;
  /** The server is started with TLS (`--tls`, `--tls-cert` in extraArgs): url is https://…. */
  https?: boolean;
}

export const REESTR_BIN = join(REPO_ROOT, "bin", "reestr.js");

/**
 * Starts `node bin/reestr.js serve --host 127.0.0.1 --port <p> --data <dir>` with the Node that
 * runs this process (Node 24), and waits until `/v2/` answers.
 */
export async function startReestr(options: StartReestrOptions = {}): Promise<ServerProcess> {
  const bin = options.bin ?? REESTR_BIN;
  if (!existsSync(bin)) throw new Error(`reestr entry point missing: ${bin}`);
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const root = mkdtempSync(join(tmpdir(), "reestr-proc-"));
    const ownedDirs = [root];
    const dataDir = options.dataDir ?? join(root, "data");
    const port = options.port ?? (await freePort());
    try {
      return await spawnServer({
        name: "reestr",
        command: process.execPath,
        args: [
          bin,
          "serve",
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--data",
          dataDir,
          ...(options.extraArgs ?? []),
        ],
        env: { ...process.env, ...options.env },
        port,
        dataDir,
        ownedDirs,
        logFile: join(root, "reestr.log"),
        readyTimeoutMs: options.readyTimeoutMs,
        readyPath: options.readyPath,
        https: options.https,
      });
    } catch (error) {
      lastError = error;
      // A port grabbed by someone else between freePort() and listen(): try another one.
      if (!/EADDRINUSE/.test(String(error))) break;
    }
  }
  throw lastError;
}
