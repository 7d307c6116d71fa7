/**
 * The full-disk guard. Blob bytes may fill the disk only down to a reserve (`storage.reserve`,
 * default 16 MiB), which is left for what must keep working when the disk is full: SQLite's
 * metadata writes (its WAL), and so the deletes that free space again, and a restart. (At 0
 * bytes free SQLite cannot even read: it needs room for its -shm file.)
 *
 * Two marks, as storage systems keep watermarks so a disk at the edge does not flap:
 * - a push that would leave less than the reserve free is refused with STORAGE_FULL (507), and
 *   the registry turns **full**: every push is refused and /readyz reports not ready, with why;
 * - it stays full until twice the reserve is free again (deletes, a bigger disk). A start on a
 *   disk with less than that free starts full, serving pulls and deletes only.
 *
 * Free space is measured with the store's `space()` (statfs for the filesystem store) at most
 * every `maxAgeMs`; in between it is estimated as the last measure minus the bytes written since,
 * so a check costs no system call. A write that fails with ENOSPC (or SQLite's SQLITE_FULL) is
 * reported the same way, with a fresh measure.
 */
import { z } from "zod";
import { RegistryError } from "../oci/errors.ts";
import { ByteSize, formatBytes } from "../util/size.ts";
import type { StorageSpaceInfo } from "./storage/blob-store.ts";

/** Bytes, or a share of the filesystem's size (`{ percent: 1 }` for "1%"). */
export type ReserveSetting = number | { percent: number };

const PERCENT_TEXT = /^(\d+(?:\.\d+)?)\s*%$/;

/** `storage.reserve`: a size (`16MiB`, bytes as a number) or a share of the disk (`1%`). */
export const StorageReserve = z
  .union(
    [
      z
        .string()
        .regex(PERCENT_TEXT)
        .transform((text): ReserveSetting => ({ percent: Number(PERCENT_TEXT.exec(text)![1]) })),
      ByteSize,
    ],
    { error: 'expected a size such as "16MiB" (or a number of bytes) or a share of the disk such as "1%"' },
  )
  .refine((value) => typeof value === "number" || value.percent < 50, "must be less than 50%");

export const DEFAULT_RESERVE: ReserveSetting = 16 * 1024 * 1024;
const DEFAULT_MAX_AGE_MS = 1000;

export interface SpaceStatus {
  /** Free bytes: measured, less what was written since. */
  free: number;
  total: number;
  /** The reserve in bytes (a percentage resolved against `total`). */
  reserve: number;
  /** Free bytes at which a full registry takes pushes again: twice the reserve. */
  resumeAt: number;
  /** Pushes are refused (see the two marks above). */
  full: boolean;
}

export interface StorageSpaceOptions {
  probe: () => Promise<StorageSpaceInfo>;
  reserve?: ReserveSetting;
  /** How old a measure may be before the next check measures again. */
  maxAgeMs?: number;
  now?: () => number;
}

interface Measure extends StorageSpaceInfo {
  at: number;
}

export class StorageSpace {
  readonly #probe: () => Promise<StorageSpaceInfo>;
  readonly #reserve: ReserveSetting;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #measured: Measure | undefined;
  #measuring: Promise<Measure> | undefined;
  /** Bytes that went through guard() since the last measure. */
  #writtenSince = 0;
  /** Undefined until the first measure, which decides it (a start on a nearly full disk is full). */
  #full: boolean | undefined;

  constructor(options: StorageSpaceOptions) {
    this.#probe = options.probe;
    this.#reserve = options.reserve ?? DEFAULT_RESERVE;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Where free space stands; `fresh` measures now instead of trusting a recent measure. */
  async status(fresh = false): Promise<SpaceStatus> {
    let measured = this.#measured;
    if (fresh || !measured || this.#now() - measured.at >= this.#maxAgeMs) measured = await this.#measure();
    return this.#evaluate(measured);
  }

  /** Throws STORAGE_FULL unless `announced` more bytes fit above the reserve (and the registry is not full). */
  async assertRoom(announced = 0): Promise<void> {
    // What a client announces is a hint (a bad Content-Length is refused elsewhere).
    const incoming = Number.isFinite(announced) && announced > 0 ? announced : 0;
    let status = await this.status();
    if (!status.full && status.free - incoming >= status.reserve) return;
    // A refusal is worth a fresh measure: space may have been freed meanwhile.
    status = await this.status(true);
    if (!status.full && status.free - incoming >= status.reserve) return;
    this.#full = true;
    throw storageFull({ ...status, full: true }, incoming);
  }

  /**
   * The body, counted as it is written; refuses with STORAGE_FULL (thrown from the iteration, so
   * the store stops writing) before a chunk would take the free space below the reserve. The
   * rest of the body is read and discarded first (see discardBody).
   */
  async *guard(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    const chunks = body[Symbol.asyncIterator]();
    for (;;) {
      const next = await chunks.next();
      if (next.done) return;
      const chunk = next.value;
      const measured = this.#measured;
      const stale = !measured || this.#now() - measured.at >= this.#maxAgeMs;
      const left = measured ? measured.free - this.#writtenSince - chunk.byteLength : 0;
      if (stale || this.#full || left < this.#reserveBytes(measured!.total)) {
        try {
          await this.assertRoom(chunk.byteLength);
        } catch (error) {
          await discardBody({ [Symbol.asyncIterator]: () => chunks });
          throw error;
        }
      }
      this.#writtenSince += chunk.byteLength;
      yield chunk;
    }
  }

  /** Forgets the last measure (space was freed, or a write failed for want of it). */
  invalidate(): void {
    this.#measured = undefined;
  }

  /** STORAGE_FULL with a fresh measure, for a write that failed with ENOSPC. */
  async fullError(): Promise<RegistryError> {
    this.invalidate();
    this.#full = true;
    const status = await this.status(true).catch(() => undefined);
    return status ? storageFull(status) : new RegistryError("STORAGE_FULL");
  }

  #evaluate(measured: Measure): SpaceStatus {
    const free = Math.max(0, measured.free - this.#writtenSince);
    const reserve = this.#reserveBytes(measured.total);
    const resumeAt = 2 * reserve;
    if (free < reserve) this.#full = true;
    else if (free >= resumeAt) this.#full = false;
    else this.#full ??= true;
    return { free, total: measured.total, reserve, resumeAt, full: this.#full };
  }

  #reserveBytes(total: number): number {
    return typeof this.#reserve === "number"
      ? this.#reserve
      : Math.floor((total * this.#reserve.percent) / 100);
  }

  #measure(): Promise<Measure> {
    // One statfs at a time, however many requests ask at once.
    this.#measuring ??= (async () => {
      try {
        const written = this.#writtenSince;
        const info = await this.#probe();
        const measured = { ...info, at: this.#now() };
        this.#measured = measured;
        // Bytes counted while statfs ran may or may not be in it: keep counting them (the
        // estimate errs on the side of less free space).
        this.#writtenSince -= written;
        return measured;
      } finally {
        this.#measuring = undefined;
      }
    })();
    return this.#measuring;
  }
}

/** Bytes of a refused body read and dropped before giving up on the client reading the answer. */
export const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Reads what is left of a refused request body, up to DISCARD_LIMIT_BYTES, writing nothing.
 * HTTP/1.1 clients send the whole body before they read the answer: closing the connection on
 * them mid-body resets it, and the client reports "connection reset" instead of the 507 and its
 * message. A longer body is cut anyway (its client's retry gets the 507 on the next POST).
 */
export async function discardBody(body: AsyncIterable<Uint8Array>): Promise<void> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.byteLength;
    if (bytes > DISCARD_LIMIT_BYTES) return;
  }
}

/** The message of a refused push: what is free, what was needed, and why there is a reserve. */
export function storageFull(status: SpaceStatus, incoming = 0): RegistryError {
  const needed = Math.max(status.reserve + incoming, status.full ? status.resumeAt : 0);
  return new RegistryError(
    "STORAGE_FULL",
    `the registry's storage is full (${formatBytes(status.free)} free of ${formatBytes(needed)} needed; ` +
      `${formatBytes(status.reserve)} is kept in reserve for metadata and deletes): ` +
      "delete images or add space, then push again",
    { free: status.free, needed, reserve: status.reserve, total: status.total },
  );
}

/** What /readyz says of a full disk. */
export function describeFull(status: SpaceStatus): string {
  return (
    `storage full: ${formatBytes(status.free)} free, reserve ${formatBytes(status.reserve)}; ` +
    `pushes resume at ${formatBytes(status.resumeAt)} free`
  );
}

/** A write failed for want of space: ENOSPC or EDQUOT from the filesystem, SQLITE_FULL from SQLite. */
export function isOutOfSpace(error: unknown): boolean {
  const e = error as { code?: unknown; errcode?: unknown } | undefined;
  if (e?.code === "ENOSPC" || e?.code === "EDQUOT") return true;
  // node:sqlite: code ERR_SQLITE_ERROR with the (extended) result code; SQLITE_FULL is 13.
  return typeof e?.errcode === "number" && (e.errcode & 0xff) === 13;
}
