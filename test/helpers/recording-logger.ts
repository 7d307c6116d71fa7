/**
 * A real Logger (JsonLogger) whose lines are kept for assertions: `lines` flushes what is queued
 * and answers every line so far as its parsed JSON ({ level, msg, ...fields }).
 */
import { JsonLogger, type Logger } from "../../src/util/logger.ts";

export interface RecordingLogger {
  logger: Logger;
  readonly lines: Record<string, unknown>[];
}

export function recordingLogger(): RecordingLogger {
  const lines: Record<string, unknown>[] = [];
  const logger = new JsonLogger({
    level: "debug",
    sink: {
      write(chunk: string) {
        for (const line of chunk.split("\n"))
          if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return {
    logger,
    get lines() {
      logger.flush();
      return lines;
    },
  };
}
