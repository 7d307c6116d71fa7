/**
 * Byte sizes, one grammar for settings and flags: a number of bytes, or a decimal number with a
 * unit — `512`, `64KiB`, `16MiB`, `1.5GiB`, `10MB` (powers of 1000: kB, MB, GB, TB; powers of
 * 1024: KiB, MiB, GiB, TiB; `B` for bytes). Parsed values are whole bytes.
 *
 * `ByteSize` is a zod codec like `Duration` (./duration.ts): it decodes what a user writes into
 * bytes and encodes bytes back into the shortest exact text (`16777216` → `"16MiB"`).
 */
import { z } from "zod";

const UNIT_BYTES = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
} as const;
type Unit = keyof typeof UNIT_BYTES;

const SIZE_TEXT = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/;
const EXPECTED = 'expected a size such as "512KiB", "16MiB" or "1GB" (or a number of bytes)';

/** Bytes of a size text (`"16MiB"`) or a number of bytes; throws naming what was wrong. */
export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${value}: ${EXPECTED}`);
    return Math.floor(value);
  }
  const match = SIZE_TEXT.exec(value.trim());
  if (!match) throw new RangeError(`"${value.slice(0, 50)}": ${EXPECTED}`);
  return Math.floor(Number(match[1]) * UNIT_BYTES[(match[2] ?? "B") as Unit]);
}

/** The shortest exact text for a number of bytes: 16777216 → "16MiB", 1000 → "1kB". */
export function formatSize(bytes: number): string {
  for (const unit of ["TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "kB"] as const) {
    if (bytes >= UNIT_BYTES[unit] && bytes % UNIT_BYTES[unit] === 0)
      return `${bytes / UNIT_BYTES[unit]}${unit}`;
  }
  return `${bytes}B`;
}

/** Bytes for people, rounded (logs and messages): 3.2 MiB, 512 B. */
export function humanSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const sizeInput = z.union([z.number().nonnegative(), z.string().regex(SIZE_TEXT, EXPECTED)]);

/** A size setting: written as bytes or text, held as bytes. */
export const ByteSize = z.codec(sizeInput, z.number().int().nonnegative(), {
  decode: (value) => parseSize(value),
  encode: (bytes) => formatSize(bytes),
});
