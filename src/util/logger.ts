/**
 * The one logger of the program. `Logger` is what every part takes (a child per component:
 * `logger.child({ component: "watch" })`); `JsonLogger` writes structured JSON logs, one object
 * per line on stdout (or any writable), with secrets masked (./redact.ts).
 */
import { redactValue } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Where lines go: process.stdout by default. A sink may take a callback (streams do) to report a
 * failed write, and may be an event emitter that emits 'error' (streams do): both are handled.
 */
export interface LogSink {
  write(chunk: string, callback?: (error?: Error | null) => void): unknown;
  on?(event: "error", listener: (error: Error) => void): unknown;
}

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
  /** Writes what is queued now (at shutdown, so nothing is lost). */
  flush(): void;
}

/** What a logger and its children share: the queue of lines and what was lost. */
interface LoggerState {
  queue: string[];
  flushScheduled: boolean;
  /** Lines lost to failed writes, ever. */
  dropped: number;
  /** Lines lost since the last line that says so. */
  unreported: number;
  /** Why the last write failed (an errno code such as ENOSPC, EPIPE, EAGAIN). */
  lastError?: string;
}

/** Sinks already given an 'error' listener (one each, however many loggers share the sink). */
const guardedSinks = new WeakSet<object>();

export class JsonLogger implements Logger {
  readonly #level: number;
  readonly #bindings: Record<string, unknown>;
  readonly #sink: LogSink;
  readonly #state: LoggerState;

  constructor(
    options: { level?: LogLevel; sink?: LogSink; bindings?: Record<string, unknown> } = {},
    state?: LoggerState,
  ) {
    this.#level = LEVELS[options.level ?? "info"];
    this.#sink = options.sink ?? process.stdout;
    this.#bindings = options.bindings ?? {};
    this.#state = state ?? { queue: [], flushScheduled: false, dropped: 0, unreported: 0 };
    // A stream with no 'error' listener turns a failed write (stdout on a full disk: ENOSPC; a
    // closed pipe: EPIPE) into an uncaught exception that kills the process. The write's
    // callback reports the failure below; this listener only keeps the process alive.
    if (typeof this.#sink.on === "function" && !guardedSinks.has(this.#sink)) {
      guardedSinks.add(this.#sink);
      this.#sink.on("error", () => {});
    }
  }

  /** Lines lost because the sink failed to take them (a full disk, a closed pipe). */
  get droppedLines(): number {
    return this.#state.dropped;
  }

  child(bindings: LogFields): Logger {
    const level = (Object.keys(LEVELS) as LogLevel[]).find((name) => LEVELS[name] === this.#level);
    return new JsonLogger(
      { level, sink: this.#sink, bindings: { ...this.#bindings, ...bindings } },
      this.#state,
    );
  }

  isEnabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.#level;
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (LEVELS[level] < this.#level) return;
    const entry = { time: new Date().toISOString(), level, msg, ...this.#bindings, ...fields };
    this.#state.queue.push(JSON.stringify(entry, logReplacer));
    // Lines are batched into one write per event-loop turn: under load this costs one
    // syscall per turn instead of one per request.
    if (!this.#state.flushScheduled) {
      this.#state.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Writes queued lines now (called at shutdown, so nothing is lost). Never throws: a line that
   * cannot be written is counted (droppedLines) and the program goes on; once the sink takes
   * lines again, the first batch is preceded by a line saying how many were lost.
   */
  flush(): void {
    const state = this.#state;
    state.flushScheduled = false;
    if (state.queue.length === 0) return;
    const lines = state.queue.length;
    const unreported = state.unreported;
    state.unreported = 0;
    if (unreported > 0) {
      const notice = { dropped: unreported, reason: state.lastError };
      state.queue.unshift(
        JSON.stringify({
          time: new Date().toISOString(),
          level: "warn",
          msg: "log lines were lost",
          ...notice,
        }),
      );
    }
    // After a failed write a line may have been cut short on disk: a newline first keeps it from
    // swallowing the next one.
    const text = (unreported > 0 ? "\n" : "") + state.queue.join("\n") + "\n";
    state.queue.length = 0;
    let settled = false;
    const lost = (error: unknown) => {
      if (settled) return;
      settled = true;
      state.dropped += lines;
      // The notice is not counted: it is written again, with these lines added, next time.
      state.unreported += unreported + lines;
      state.lastError = (error as NodeJS.ErrnoException)?.code ?? String((error as Error)?.message ?? error);
    };
    try {
      this.#sink.write(text, (error) => {
        if (error) lost(error);
        else settled = true;
      });
    } catch (error) {
      // A sink that throws (a synchronous file write on a full disk, a destroyed stream).
      lost(error);
    }
  }
}

/** Errors and bigints made loggable, then secrets masked (./redact.ts). */
function logReplacer(key: string, value: unknown): unknown {
  return redactValue(key, errorReplacer(key, value));
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === "bigint") return Number(value);
  return value;
}
