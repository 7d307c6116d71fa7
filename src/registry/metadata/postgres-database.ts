/**
 * The PostgreSQL connection of the metadata store: a bounded pool, transactions that are retried
 * when PostgreSQL refuses to serialise them, and the one place that tells an outage ("cannot
 * reach the database": StoreUnavailable, answered 503) from a bug (anything else, answered 500).
 */
import pg, { type PoolClient, type QueryResultRow } from "pg";
import { REDACTED } from "../../util/redact.ts";
import { StoreUnavailable } from "../storage/errors.ts";

export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:port/database?sslmode=…`; libpq's PG* variables fill in the rest. */
  url: string;
  /** Connections at most (default 10). */
  poolSize?: number;
  /** How long a query waits for a connection (a new one, or a free one of the pool). Default 5 s. */
  connectTimeoutMs?: number;
}

/** Runs one statement; rows come back with BIGINT and NUMERIC as numbers (sizes, epoch ms). */
export type Query = <R extends QueryResultRow = Record<string, unknown>>(
  text: string,
  values?: unknown[],
) => Promise<{ rows: R[]; rowCount: number }>;

/**
 * `write`: SERIALIZABLE, committed (see PostgresMetadataStore for why every write is).
 * `snapshot`: REPEATABLE READ, always rolled back (a sweep's dry run: real writes, discarded).
 * `migration`: READ COMMITTED, committed: each statement sees what committed before it, so what
 * follows an advisory lock sees the work of whoever held it (a SERIALIZABLE snapshot is taken
 * at the first statement, the lock's, before the wait).
 */
export type TransactionMode = "write" | "snapshot" | "migration";

const BEGIN: Record<TransactionMode, string> = {
  write: "BEGIN ISOLATION LEVEL SERIALIZABLE",
  snapshot: "BEGIN ISOLATION LEVEL REPEATABLE READ",
  migration: "BEGIN ISOLATION LEVEL READ COMMITTED",
};

/** Attempts of a transaction PostgreSQL aborted to keep it serialisable (40001) or out of a deadlock (40P01). */
const MAX_ATTEMPTS = 30;

const RETRYABLE = new Set(["40001", "40P01"]);

/**
 * SQLSTATEs that mean the database cannot be used right now, rather than that the statement is
 * wrong: class 08 (connection exceptions), 57P01–57P03 (shutting down, crashed, starting up),
 * 53300 (too many connections), 3D000 (the database does not exist — yet).
 */
function isOutageCode(code: string): boolean {
  return code.startsWith("08") || ["57P01", "57P02", "57P03", "53300", "3D000"].includes(code);
}

/** Errors of the socket or of the driver that mean the same. */
const OUTAGE_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended)/;
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOENT", // a Unix socket that is not there (the server is not running)
]);

/** Whether an error says the database is out of reach (as opposed to refusing a statement). */
export function isOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (SOCKET_CODES.has(code) || (code.length === 5 && isOutageCode(code)))) {
    return true;
  }
  return OUTAGE_MESSAGES.test(error.message);
}

/** An outage as StoreUnavailable (the original as its cause, for the logs); anything else as it is. */
export function storeError(error: unknown): unknown {
  if (error instanceof StoreUnavailable || !isOutage(error)) return error;
  // A connect to a name with several addresses fails as an AggregateError without a message.
  const reason = (error as Error).message || (error as { code?: string }).code || "no reason given";
  return new StoreUnavailable("postgres", `the metadata database is unavailable (${reason})`, {
    cause: error,
  });
}

/**
 * The URL as it may be logged: the password (in the authority, or libpq's `password` parameter)
 * replaced by the logger's own mark, which its redaction leaves as it is.
 */
export function describePostgresUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(an unparsable URL)";
  }
  const password = parsed.password ? `:${REDACTED}` : "";
  const auth = parsed.username || password ? `${parsed.username}${password}@` : "";
  const params = [...parsed.searchParams].map(
    ([key, value]) =>
      `${encodeURIComponent(key)}=${key.toLowerCase() === "password" ? REDACTED : encodeURIComponent(value)}`,
  );
  return `${parsed.protocol}//${auth}${parsed.host}${parsed.pathname}${params.length > 0 ? `?${params.join("&")}` : ""}`;
}

/** BIGINT (sizes beyond 4 GiB, epoch ms) and NUMERIC (SUM of BIGINT) as JS numbers: exact below 2^53. */
function typeParsers(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, Number);
  types.setTypeParser(pg.types.builtins.NUMERIC, Number);
  return types;
}

export class PostgresDatabase {
  readonly #pool: pg.Pool;
  #closed: Promise<void> | undefined;

  constructor(options: PostgresConnectionOptions) {
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: "reestr",
      // A transaction left open by a stuck client must not hold its locks for ever.
      idle_in_transaction_session_timeout: 60_000,
      types: typeParsers(),
    });
    // An idle connection dropped by the server (a restart, an administrator) is reported here;
    // the pool discards it and the next query connects anew. Unhandled, it would end the process.
    this.#pool.on("error", () => {});
  }

  /** One statement on any free connection (its own implicit transaction). */
  readonly query: Query = async (text, values) => {
    try {
      const result = await this.#pool.query(text, values);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (error) {
      throw storeError(error);
    }
  };

  /**
   * Runs `work` in one transaction on one connection. A `write` is committed, and run again from
   * the start (a new transaction) when PostgreSQL aborts it as a serialisation failure or a
   * deadlock, so `work` must only change the database and what it creates itself.
   */
  async transaction<T>(mode: TransactionMode, work: (query: Query) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#once(mode, work);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code !== "string" || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) {
          throw storeError(error);
        }
        // A few ms, growing and jittered, so the transactions that collided do not collide again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * attempt)));
      }
    }
  }

  async #once<T>(mode: TransactionMode, work: (query: Query) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.#pool.connect();
    const query: Query = async (text, values) => {
      const result = await client.query(text, values);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    };
    let broken: unknown;
    try {
      await client.query(BEGIN[mode]);
      try {
        const result = await work(query);
        await client.query(mode === "snapshot" ? "ROLLBACK" : "COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch((rollback: unknown) => {
          broken = rollback;
        });
        throw error;
      }
    } catch (error) {
      if (isOutage(error)) broken = error;
      throw error;
    } finally {
      // A connection that failed is closed rather than handed to the next caller.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** Ends every connection; calling it again is harmless. */
  close(): Promise<void> {
    this.#closed ??= this.#pool.end();
    return this.#closed;
  }
}
