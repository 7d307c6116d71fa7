/**
 * A real S3 endpoint for tests: Ceph's radosgw on loopback, started by the shared tool
 * `../shared/tools/ceph-rgw-up.sh` (relative to the repository's root; CI has it there) in a temp
 * directory, on free ports, and stopped and removed by `down()`. One per test file (`before` /
 * `after`): it takes about 10 s to start. `REESTR_SHARED_TOOLS` names another tools directory
 * (a git worktree lives one level deeper than the checkout). A missing tool fails the test with
 * what to do; it is never skipped.
 *
 * `stopGateway()` / `startGateway()` stop and start the radosgw process alone (the cluster and
 * its data stay), for outage tests.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { waitFor } from "./wait.ts";

const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const SHARED_TOOLS = process.env["REESTR_SHARED_TOOLS"] ?? resolve(REPO_ROOT, "../shared/tools");

export interface Rgw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The cluster's directory (ceph.conf, logs, PID files). */
  dir: string;
  /** An SDK client for the test's own checks (bucket listings). */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  down(): Promise<void>;
}

/** A port nothing listens on right now (the OS's pick). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((ok, fail) => {
    execFile(
      command,
      args,
      { env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          fail(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr.slice(-4000)}`));
        else ok(stdout);
      },
    );
  });
}

export async function startRgw(): Promise<Rgw> {
  const up = join(SHARED_TOOLS, "ceph-rgw-up.sh");
  const downScript = join(SHARED_TOOLS, "ceph-rgw-down.sh");
  assert.ok(
    existsSync(up) && existsSync(downScript),
    `${up} is missing: the S3 tests need the shared tools (../shared/tools beside the checkout, or set REESTR_SHARED_TOOLS)`,
  );
  const parent = mkdtempSync(join(tmpdir(), "reestr-rgw-"));
  const dir = join(parent, "cluster");
  const [rgwPort, monV2, monV1] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    RGW_PORT: String(rgwPort),
    MON_V2_PORT: String(monV2),
    MON_V1_PORT: String(monV1),
    // The OSD takes 8 free ports out of the 100 from here.
    OSD_PORT_MIN: String(20_000 + Math.floor(Math.random() * 400) * 100),
    MEMSTORE_BYTES: String(2 * 1024 * 1024 * 1024),
  };
  let output: string;
  try {
    output = await run(up, [dir], env);
  } catch (error) {
    await run(downScript, [dir], env).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
    throw error;
  }
  const vars = Object.fromEntries(
    output
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const endpoint = vars["S3_ENDPOINT"]!;
  const credentials = { accessKeyId: vars["S3_ACCESS_KEY"]!, secretAccessKey: vars["S3_SECRET_KEY"]! };
  const region = vars["S3_REGION"] ?? "us-east-1";
  const client = new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const daemons = join(dir, "run", "daemons");
  const gatewayPid = () => {
    const line = readFileSync(daemons, "utf8")
      .trim()
      .split("\n")
      .filter((entry) => entry.startsWith("rgw."))
      .at(-1);
    return Number(line?.split(" ")[1]);
  };
  const answers = async () => {
    try {
      return (await fetch(endpoint)).status > 0;
    } catch {
      return false;
    }
  };
  return {
    endpoint,
    ...credentials,
    region,
    dir,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stopGateway() {
      const pid = gatewayPid();
      process.kill(pid, "SIGTERM");
      await waitFor(
        () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        },
        { what: `radosgw (pid ${pid}) to exit`, timeoutMs: 30_000 },
      );
    },
    async startGateway() {
      // As ceph-rgw-up.sh starts it; recorded in run/daemons so ceph-rgw-down.sh stops it too.
      const log = openSync(join(dir, "log", "rgw.a.out"), "a");
      const child = spawn("radosgw", ["-c", join(dir, "ceph.conf"), "-f", "-n", "client.rgw.a"], {
        detached: true,
        stdio: ["ignore", log, log],
      });
      child.unref();
      await appendFile(daemons, `rgw.a ${child.pid}\n`);
      writeFileSync(join(dir, "run", "rgw.a.launcher.pid"), `${child.pid}\n`);
      await waitFor(answers, { what: "radosgw to answer again", timeoutMs: 120_000 });
    },
    async down() {
      client.destroy();
      await run(downScript, [dir, "--purge"], env).catch(() => {});
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
