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
 * it. A PostgreSQL restart ends the session and so the lock: the claim re-takes it on a new
 * connection, and a replica that finds it taken by then reports not ready in /readyz. Each server names itself in `application_name` (`reestr <host>:<pid>`), which is how the
 * message names the others.
 */
import { hostname } from "node:os";
import pg from "pg";
import { ConfigError } from "../../util/config-error.ts";

/** Any constant; distinct from the migrations' lock (postgres-schema.ts). */
const REPLICA_LOCK = 0x72_65_65_73_72_70;

export interface ReplicaClaim {
  /**
   * "held"; "reconnecting" while the lock's connection is gone (PostgreSQL restarting: the
   * metadata check says so too); "refused" when, back on the database, another replica had taken
   * the lock in the meantime: this one must leave its load balancer (readiness) until it holds it.
   */
  readonly state: "held" | "reconnecting" | "refused";
  /** Why the state is not "held". */
  readonly message: string | undefined;
  close(): Promise<void>;
}

export interface ClaimOptions {
  /** Told when the claim is lost and when it is back (or refused). */
  onChange?: (state: ReplicaClaim["state"], message?: string) => void;
  /** First wait before re-taking a lost claim, doubled up to 30 s (default 500 ms). */
  retryMs?: number;
}

/**
 * Takes the lock, refusing (ConfigError) when another replica holds it. A lost connection (a
 * PostgreSQL restart ends every session, so the lock is gone with it) is re-taken on a new
 * connection, with backoff, without restarting Reestr.
 */
export async function claimReplica(
  url: string,
  shared: boolean,
  options: ClaimOptions = {},
): Promise<ReplicaClaim> {
  let state: ReplicaClaim["state"] = "held";
  let message: string | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const set = (next: ReplicaClaim["state"], why?: string) => {
    if (next === state && why === message) return;
    state = next;
    message = why;
    options.onChange?.(next, why);
  };
  let client = await take(url, shared);
  const firstRetry = options.retryMs ?? 500;
  const watch = (held: pg.Client) => {
    // 'error' and 'end' both come for one drop: the first of them starts the one retry chain.
    let dropped = false;
    const lost = () => {
      if (closed || dropped || held !== client) return;
      dropped = true;
      set("reconnecting", "the connection holding the replica lock was lost; re-taking it");
      held.end().catch(() => {});
      retry(firstRetry);
    };
    held.on("error", lost);
    held.on("end", lost);
  };
  const retry = (waitMs: number) => {
    timer = setTimeout(async () => {
      if (closed) return;
      try {
        const next = await take(url, shared);
        if (closed) {
          await next.end().catch(() => {});
          return;
        }
        client = next;
        watch(next);
        set("held");
      } catch (error) {
        // Refused: the database answers, so keep asking at the first pace; unreachable: back off.
        if (error instanceof ConfigError) {
          set("refused", error.message);
          retry(firstRetry);
        } else retry(Math.min(waitMs * 2, 30_000));
      }
    }, waitMs);
    timer.unref();
  };
  watch(client);
  return {
    get state() {
      return state;
    },
    get message() {
      return message;
    },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await client.end().catch(() => {});
    },
  };
}

/** One connection holding the lock, or a ConfigError naming who holds it. */
async function take(url: string, shared: boolean): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: `reestr ${hostname()}:${process.pid}`,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
  });
  // Errors before the claim watches the client are answered by connect/query rejecting.
  client.on("error", () => {});
  try {
    await client.connect();
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
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
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
