/**
 * Byte sizes, one grammar for every setting that holds one: a number of bytes, or a decimal
 * number with a unit — decimal `kB`, `MB`, `GB`, `TB` (powers of 1000) or binary `KiB`, `MiB`,
 * `GiB`, `TiB` (powers of 1024), `B` for bytes; units are case-insensitive and may follow a
 * space (`"500MiB"`, `"10 GB"`). Parsed values are whole bytes.
 *
 * `ByteSize` is a zod codec like Duration (./duration.ts): it decodes what a user writes into
 * bytes and encodes bytes back into the shortest exact text (`10737418240` → `"10GiB"`).
 */
import { z } from "zod";

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};

const SIZE_TEXT = /^(\d+(?:\.\d+)?)\s*([kmgtp]i?b|b)?$/i;
const EXPECTED = 'expected a size such as "500MiB", "10GB" or "1TiB" (or a number of bytes)';

/** Bytes of a size text (`"10GiB"`) or a number of bytes; throws naming what was wrong. */
export function parseByteSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value}: ${EXPECTED}`);
    return value;
  }
  const match = SIZE_TEXT.exec(value.trim());
  if (!match) throw new RangeError(`"${value.slice(0, 50)}": ${EXPECTED}`);
  const bytes = Math.round(Number(match[1]) * UNIT_BYTES[(match[2] ?? "b").toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`"${value.slice(0, 50)}": too large`);
  return bytes;
}

const EXACT_UNITS = ["PiB", "TiB", "GiB", "MiB", "KiB", "PB", "TB", "GB", "MB", "kB"] as const;

/** The shortest exact text for a number of bytes: 10737418240 → "10GiB", 5000000 → "5MB". */
export function formatByteSize(bytes: number): string {
  if (bytes === 0) return "0B";
  for (const unit of EXACT_UNITS) {
    const size = UNIT_BYTES[unit.toLowerCase()]!;
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** A size for people to read, in binary units with up to three significant digits: "9.8 GiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BINARY.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  // 9.80 → "9.8", 10.0 → "10": trailing zeros say nothing.
  return `${Number(value.toFixed(digits))} ${BINARY[unit]}`;
}

const sizeInput = z.union([z.number().int().nonnegative(), z.string().regex(SIZE_TEXT, EXPECTED)]);

/** A size setting: written as bytes or text, held as bytes. */
export const ByteSize = z.codec(sizeInput, z.number().int().nonnegative(), {
  decode: (value, ctx) => {
    try {
      return parseByteSize(value);
    } catch (error) {
      ctx.issues.push({ code: "custom", message: (error as Error).message, input: value });
      return z.NEVER;
    }
  },
  encode: (bytes) => formatByteSize(bytes),
});
