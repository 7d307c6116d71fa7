/**
 * The one logger of the program. `Logger` is what every part takes (a child per component:
 * `logger.child({ component: "watch" })`); `JsonLogger` writes structured JSON logs, one object
 * per line on stdout (or any writable), with secrets masked (./redact.ts).
 */
import { redactValue } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(chunk: string): unknown;
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

export class JsonLogger implements Logger {
  readonly #level: number;
  readonly #bindings: Record<string, unknown>;
  readonly #sink: LogSink;
  readonly #queue: string[];
  #flushScheduled = false;

  constructor(
    options: { level?: LogLevel; sink?: LogSink; bindings?: Record<string, unknown> } = {},
    queue: string[] = [],
  ) {
    this.#level = LEVELS[options.level ?? "info"];
    this.#sink = options.sink ?? process.stdout;
    this.#bindings = options.bindings ?? {};
    this.#queue = queue;
  }

  child(bindings: LogFields): Logger {
    const level = (Object.keys(LEVELS) as LogLevel[]).find((name) => LEVELS[name] === this.#level);
    return new JsonLogger(
      { level, sink: this.#sink, bindings: { ...this.#bindings, ...bindings } },
      this.#queue,
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
    this.#queue.push(JSON.stringify(entry, logReplacer));
    // Lines are batched into one write per event-loop turn: under load this costs one
    // syscall per turn instead of one per request.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes queued lines now (called at shutdown, so nothing is lost). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#queue.length === 0) return;
    const text = this.#queue.join("\n") + "\n";
    this.#queue.length = 0;
    this.#sink.write(text);
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
