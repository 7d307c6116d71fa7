/**
 * A private PostgreSQL cluster for tests (Debian's `postgresql` package): `initdb` into a temp
 * directory, `pg_ctl start` on a free loopback port with its socket in that directory, trust
 * authentication, one database per test file (or per test). PostgreSQL refuses to run as root,
 * so as root the cluster runs as the `postgres` user (or `nobody`) and owns the temp directory.
 *
 * The cluster is created with an ICU en-US default collation, the kind of locale a production
 * database has, so a query relying on byte order without saying so (COLLATE "C") fails here.
 * fsync is off: a test cluster's durability is not under test (the store's transactions are).
 *
 * `postgresMissing()` says why the tests must be skipped (the binaries are not installed;
 * scripts/setup-test.sh installs them). stop()/start() stop and restart the server on the same
 * port (outage tests); cleanup() stops it and removes the directory.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./reestr-process.ts";

const run = promisify(execFile);

/** The folder holding initdb and pg_ctl: $POSTGRES_BIN_DIR, Debian's newest version, or /usr/local/bin. */
function binDir(): string | undefined {
  const candidates: string[] = [];
  if (process.env.POSTGRES_BIN_DIR) candidates.push(process.env.POSTGRES_BIN_DIR);
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => join(debian, version, "bin")));
  }
  candidates.push("/usr/local/bin", "/usr/bin");
  return candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
}

const BIN = binDir();

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  if (!BIN) {
    return "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql; scripts/setup-test.sh does)";
  }
  return undefined;
}

/** The OS user the server runs as: ourselves, or as root an unprivileged one. */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
      return { name, uid, gid };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error("running as root, but neither a postgres nor a nobody user exists to run PostgreSQL as");
}

export interface PostgresCluster {
  readonly port: number;
  /** A URL of a database of this cluster (superuser `postgres`, no password). */
  url(database: string): string;
  /** Creates a new empty database (a fresh name unless given) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  /** Stops the server (fast shutdown: connections are closed). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  cleanup(): Promise<void>;
}

let databases = 0;

export async function startPostgres(): Promise<PostgresCluster> {
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  const root = await mkdtemp(join(tmpdir(), "reestr-pg-"));
  const user = serverUser();
  if (user) await chown(root, user.uid, user.gid);
  const data = join(root, "data");
  const port = await freePort();
  const as = (command: string, args: string[]) =>
    user
      ? run("runuser", ["-u", user.name, "--", join(BIN!, command), ...args])
      : run(join(BIN!, command), args);
  const ctl = (args: string[]) => as("pg_ctl", ["-D", data, ...args]);
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  let running = false;
  const stopOnExit = () => {
    if (!running) return;
    try {
      const args = ["-D", data, "-m", "immediate", "-w", "stop"];
      if (user) execFileSync("runuser", ["-u", user.name, "--", join(BIN!, "pg_ctl"), ...args]);
      else execFileSync(join(BIN!, "pg_ctl"), args);
    } catch {
      // already gone
    }
  };
  process.once("exit", stopOnExit);

  try {
    const initdb = ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"];
    await as("initdb", [...initdb, "--locale-provider=icu", "--icu-locale=en-US", "--locale=C.UTF-8"]).catch(
      // A PostgreSQL without ICU (before 15, or built without it): the default collation.
      async () => {
        await rm(data, { recursive: true, force: true });
        await as("initdb", initdb);
      },
    );
    const start = async () => {
      await ctl(["-o", options, "-l", join(root, "server.log"), "-w", "-t", "60", "start"]);
      running = true;
    };
    await start();
    const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
      const client = new pg.Client({ connectionString: cluster.url("postgres") });
      await client.connect();
      try {
        return await work(client);
      } finally {
        await client.end();
      }
    };
    const cluster: PostgresCluster = {
      port,
      url: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
      async createDatabase(name = `test_${process.pid}_${++databases}`) {
        await admin((client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
        return cluster.url(name);
      },
      async dropDatabase(name) {
        await admin((client) =>
          client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
        );
      },
      async stop() {
        await ctl(["-m", "fast", "-w", "stop"]);
        running = false;
      },
      start,
      async cleanup() {
        process.off("exit", stopOnExit);
        if (running) await ctl(["-m", "immediate", "-w", "stop"]).catch(() => {});
        running = false;
        await rm(root, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (error) {
    process.off("exit", stopOnExit);
    stopOnExit();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
