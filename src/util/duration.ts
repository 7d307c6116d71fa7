/**
 * Durations, one grammar for the whole program (config files, environment variables, flags and
 * query parameters): a number of seconds, or a decimal number with a unit — `500ms`, `30s`, `15m`,
 * `24h`, `7d`, `2w`. Parsed values are milliseconds.
 *
 * `Duration` is a zod codec: it decodes what a user writes into milliseconds and encodes
 * milliseconds back into the shortest exact text (`90000` → `"90s"`), so a parsed config can be
 * shown or written again in the form people write.
 */
import { z } from "zod";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_TEXT = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const EXPECTED = 'expected a duration such as "30s", "15m", "24h" or "7d" (or a number of seconds)';

/** Milliseconds of a duration text (`"15m"`) or a number of seconds; throws naming what was wrong. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${value}: ${EXPECTED}`);
    return value * 1000;
  }
  const match = DURATION_TEXT.exec(value.trim());
  if (!match) throw new RangeError(`"${value.slice(0, 50)}": ${EXPECTED}`);
  return Number(match[1]) * UNIT_MS[match[2] as Unit];
}

/** The shortest exact text for a number of milliseconds: 90000 → "90s", 86400000 → "1d". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const unit of ["w", "d", "h", "m", "s"] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

const durationInput = z.union([z.number().nonnegative(), z.string().regex(DURATION_TEXT, EXPECTED)]);

/** A duration setting: written as seconds or text, held as milliseconds. */
export const Duration = z.codec(durationInput, z.number().nonnegative(), {
  decode: (value) => parseDuration(value),
  encode: (ms) => formatDuration(ms),
});

/** A duration that must be longer than zero. */
export const PositiveDuration = Duration.refine((ms) => ms > 0, "must be longer than 0");

/** A duration in a query string or any other text-only place: the text form only. */
export const DurationText = z
  .codec(z.string().regex(DURATION_TEXT, EXPECTED), z.number().nonnegative(), {
    decode: (value) => parseDuration(value),
    encode: (ms) => formatDuration(ms),
  })
  .refine((ms) => ms > 0, "must be longer than 0");
