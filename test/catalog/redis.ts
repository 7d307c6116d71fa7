/**
 * A real `redis-server` (Debian's package) on a free loopback port, without persistence, for the
 * catalogue cache tests. stop() kills it; the child is also killed when the test process exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { freePort } from "../helpers/reestr-process.ts";
import { waitFor } from "../helpers/wait.ts";

export const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server";

export interface RedisProcess {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let answer = "";
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      answer += data.toString();
      if (answer.includes("\r\n")) {
        socket.destroy();
        resolve(answer.startsWith("+PONG"));
      }
    });
    socket.on("error", () => resolve(false));
  });
}

/** `port`: a given one (to restart a stopped server where its clients reconnect); default a free one. */
export async function startRedis(options: { port?: number } = {}): Promise<RedisProcess> {
  if (!existsSync(REDIS_BIN)) {
    throw new Error(`${REDIS_BIN} is missing: install it with \`apt-get install -y redis-server\``);
  }
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(
    REDIS_BIN,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk.toString();
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const outcome = await waitFor(
    async () => (child.exitCode !== null ? "exited" : (await ping(port)) && "answering"),
    { what: () => `redis-server to answer on port ${port}: ${stderr}` },
  ).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  if (outcome === "exited") throw new Error(`redis-server exited: ${stderr}`);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
