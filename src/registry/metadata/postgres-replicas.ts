/**
 * Which replicas run on one PostgreSQL database, told by a session-level advisory lock that each
 * server holds on its own connection for as long as it runs (the session ends with the process,
 * even on kill -9, so nothing goes stale and nothing needs a heartbeat):
 *
 * - a server with `redis.url` takes it **shared**: any number of such replicas run together;
 * - a server without takes it **exclusive**: it must be alone, since its locks and caches are
 *   its own process's.
 *
 * Either one failing to get its lock is refused at start (a ConfigError, exit 2) with who holds
 * it. Each server names itself in `application_name` (`reestr <host>:<pid>`), which is how the
 * message names the others.
 */
import { hostname } from "node:os";
import pg from "pg";
import { ConfigError } from "../../util/config-error.ts";

/** Any constant; distinct from the migrations' lock (postgres-schema.ts). */
const REPLICA_LOCK = 0x72_65_65_73_72_70;

export interface ReplicaClaim {
  close(): Promise<void>;
}

export async function claimReplica(url: string, shared: boolean): Promise<ReplicaClaim> {
  const client = new pg.Client({
    connectionString: url,
    application_name: `reestr ${hostname()}:${process.pid}`,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
  });
  // A dropped connection loses the claim, not the process: the next start checks again.
  client.on("error", () => {});
  await client.connect();
  try {
    const fn = shared ? "pg_try_advisory_lock_shared" : "pg_try_advisory_lock";
    const { rows } = await client.query<{ ok: boolean }>(`SELECT ${fn}($1) AS ok`, [REPLICA_LOCK]);
    if (!rows[0]?.ok) {
      const others = await holders(client);
      throw new ConfigError(
        shared
          ? `a replica without redis.url (${others}) is running on this database: stop it, or give it redis.url too`
          : `another replica (${others}) is running on this database; several replicas need redis.url for shared locks and caches`,
      );
    }
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return { close: () => client.end().catch(() => {}) };
}

/** The `application_name`s of the sessions holding the lock. */
async function holders(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT DISTINCT a.application_name AS name
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 AND a.pid <> pg_backend_pid()`,
    [REPLICA_LOCK],
  );
  const names = rows.map((row) => row.name.replace(/^reestr /, ""));
  return names.length > 0 ? names.join(", ") : "unknown";
}
