/**
 * A Logger (src/util/logger.ts) that keeps its lines in memory, for tests that check what was
 * logged. Lines are flat like JsonLogger's (`{ level, msg, ...bindings, ...fields }`, without the
 * time) and kept as logged: values are not serialized or redacted.
 */
import type { LogFields, Logger, LogLevel } from "../../src/util/logger.ts";

export interface LogLine {
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** A logger writing into `lines` (shared with its children); `level` drops lines below it (default debug). */
export function captureLogger(options: { level?: LogLevel } = {}): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const minimum = LEVELS.indexOf(options.level ?? "debug");
  const make = (bindings: LogFields): Logger => {
    const isEnabled = (level: LogLevel) => LEVELS.indexOf(level) >= minimum;
    const log = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      if (isEnabled(level)) lines.push({ level, msg, ...bindings, ...fields });
    };
    return {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
      child: (more) => make({ ...bindings, ...more }),
      isEnabled,
      flush: () => {},
    };
  };
  return { logger: make({}), lines };
}
