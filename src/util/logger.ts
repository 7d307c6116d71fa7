/** Structured JSON logs, one object per line on stdout (or any writable). */
import { redactValue } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(chunk: string): unknown;
}

export class Logger {
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

  child(bindings: Record<string, unknown>): Logger {
    const level = (Object.keys(LEVELS) as LogLevel[]).find((name) => LEVELS[name] === this.#level);
    return new Logger({ level, sink: this.#sink, bindings: { ...this.#bindings, ...bindings } }, this.#queue);
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

/** Errors and bigints made loggable, then secrets masked (src/server/redact.ts). */
function logReplacer(key: string, value: unknown): unknown {
  return redactValue(key, errorReplacer(key, value));
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === "bigint") return Number(value);
  return value;
}
