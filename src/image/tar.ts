/**
 * A small tar reader and writer.
 *
 * The reader only *indexes* an archive: it walks the 512-byte headers and records where each
 * entry's data starts, so a file inside (a layer inside a `docker save` tarball, a blob inside an
 * embedded OCI layout) can later be streamed by byte range without extracting anything.
 * It understands ustar, GNU long names/links (`L`/`K`) and pax `path`/`linkpath`/`size` records.
 *
 * The writer produces ustar archives (pax records for names or sizes ustar cannot hold); it is
 * what builds layers for test fixtures and images made from directories.
 */
import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { Readable } from "node:stream";

export const BLOCK_SIZE = 512;

export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface TarEntry {
  /** Path inside the archive, without a leading `./` and without a trailing `/`. */
  name: string;
  type: TarEntryType;
  size: number;
  /** Byte offset of the entry's data in the archive. */
  offset: number;
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  linkname: string;
}

/** Normalises a path as stored in a tar header so lookups by name work (`./a/b/` → `a/b`). */
export function normalizeTarPath(name: string): string {
  let result = name;
  while (result.startsWith("./")) result = result.slice(2);
  while (result.startsWith("/")) result = result.slice(1);
  while (result.endsWith("/")) result = result.slice(0, -1);
  return result;
}

function readString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? length : nul).toString("utf8");
}

/** Numeric fields are octal text, or (GNU) big-endian base-256 when the high bit is set. */
function readNumber(block: Buffer, start: number, length: number): number {
  const first = block[start]!;
  if (first & 0x80) {
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + block[start + i]!;
    return value;
  }
  const text = readString(block, start, length).trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum;
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case "0":
    case "\0":
    case "":
    case "7":
      return "file";
    case "5":
      return "directory";
    case "2":
      return "symlink";
    case "1":
      return "hardlink";
    default:
      return "other";
  }
}

/** Parses pax extended header records: `"<len> <key>=<value>\n"` repeated. */
export function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = Number.parseInt(data.subarray(pos, space).toString("ascii"), 10);
    if (!Number.isSafeInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, pos + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq !== -1) records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return records;
}

async function readExactly(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of tar archive at byte ${position + done}`);
    done += bytesRead;
  }
  return buffer;
}

/** Extended headers larger than this are refused: real ones hold a few paths. */
const MAX_EXTENDED_HEADER = 1024 * 1024;

/** Reads every header of a tar file and returns its entries, in archive order. */
export async function indexTar(path: string): Promise<TarEntry[]> {
  const handle = await open(path, "r");
  try {
    const { size: fileSize } = await handle.stat();
    const entries: TarEntry[] = [];
    let position = 0;
    // Overrides from GNU long-name headers and pax headers apply to the next real entry only.
    let pending: { path?: string; linkpath?: string; size?: number } = {};
    while (position + BLOCK_SIZE <= fileSize) {
      const header = await readExactly(handle, BLOCK_SIZE, position);
      if (header.every((byte) => byte === 0)) break; // end-of-archive marker
      const stored = readNumber(header, 148, 8);
      if (stored !== checksumOf(header)) {
        throw new Error(`tar header checksum mismatch at byte ${position}: not a tar archive or corrupt`);
      }
      const flag = String.fromCharCode(header[156]!);
      let size = readNumber(header, 124, 12);
      const dataOffset = position + BLOCK_SIZE;
      const readData = async (): Promise<Buffer> => {
        if (size > MAX_EXTENDED_HEADER) throw new Error(`tar extended header of ${size} bytes is too large`);
        return readExactly(handle, size, dataOffset);
      };
      if (flag === "L") {
        pending.path = (await readData()).toString("utf8").replace(/\0+$/, "");
      } else if (flag === "K") {
        pending.linkpath = (await readData()).toString("utf8").replace(/\0+$/, "");
      } else if (flag === "x") {
        const pax = parsePax(await readData());
        if (pax.path !== undefined) pending.path = pax.path;
        if (pax.linkpath !== undefined) pending.linkpath = pax.linkpath;
        if (pax.size !== undefined) pending.size = Number(pax.size);
      } else if (flag === "g") {
        // Global pax headers carry defaults (mtime, charset) that do not matter for locating data.
      } else {
        const magic = readString(header, 257, 6);
        const prefix = magic.startsWith("ustar") ? readString(header, 345, 155) : "";
        const rawName = readString(header, 0, 100);
        const name = pending.path ?? (prefix ? `${prefix}/${rawName}` : rawName);
        if (pending.size !== undefined) size = pending.size;
        entries.push({
          name: normalizeTarPath(name),
          type: typeOf(flag),
          size: flag === "5" || flag === "1" || flag === "2" ? 0 : size,
          offset: dataOffset,
          mode: readNumber(header, 100, 8),
          uid: readNumber(header, 108, 8),
          gid: readNumber(header, 116, 8),
          mtime: readNumber(header, 136, 12),
          linkname: pending.linkpath ?? readString(header, 157, 100),
        });
        pending = {};
      }
      // Hard links, symlinks and directories carry no data even if a size is recorded (pax allows it).
      const dataSize = flag === "1" || flag === "2" || flag === "5" ? 0 : size;
      position = dataOffset + Math.ceil(dataSize / BLOCK_SIZE) * BLOCK_SIZE;
    }
    if (position > fileSize) throw new Error("tar archive is truncated");
    return entries;
  } finally {
    await handle.close();
  }
}

/** Streams one entry's data straight from the archive. */
export function openTarEntry(archivePath: string, entry: Pick<TarEntry, "offset" | "size">): Readable {
  if (entry.size === 0) return Readable.from([]);
  return createReadStream(archivePath, { start: entry.offset, end: entry.offset + entry.size - 1 });
}

/** Reads a small entry (a manifest, a config) into memory, refusing anything over `maxBytes`. */
export async function readTarEntry(
  archivePath: string,
  entry: Pick<TarEntry, "offset" | "size" | "name">,
  maxBytes = 16 * 1024 * 1024,
): Promise<Buffer> {
  if (entry.size > maxBytes) throw new Error(`${entry.name} is ${entry.size} bytes, more than ${maxBytes}`);
  const handle = await open(archivePath, "r");
  try {
    return await readExactly(handle, entry.size, entry.offset);
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

export interface TarInputEntry {
  name: string;
  type?: "file" | "directory" | "symlink";
  /** File contents: bytes, or a stream factory whose output must be exactly `size` bytes. */
  data?: Uint8Array | string | (() => AsyncIterable<Uint8Array>);
  /** Required when `data` is a stream factory. */
  size?: number;
  mode?: number;
  /** Seconds since the epoch; default 0 so archives are reproducible. */
  mtime?: number;
  linkname?: string;
  uid?: number;
  gid?: number;
}

function writeString(block: Buffer, value: string, start: number, length: number): void {
  block.write(value, start, length, "utf8");
}

function writeOctal(block: Buffer, value: number, start: number, length: number): void {
  // length-1 octal digits followed by NUL, zero padded, as GNU tar and Go's archive/tar write it.
  block.write(value.toString(8).padStart(length - 1, "0"), start, length - 1, "ascii");
  block[start + length - 1] = 0;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  // The length prefix counts its own digits.
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return `${length}${body}`;
}

/** Splits a long path into ustar prefix (≤155) and name (≤100) at a slash, if possible. */
function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) {
      return { prefix, name };
    }
  }
  return undefined;
}

const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits

function header(fields: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: string;
}): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  writeString(block, fields.name, 0, 100);
  writeOctal(block, fields.mode, 100, 8);
  writeOctal(block, fields.uid, 108, 8);
  writeOctal(block, fields.gid, 116, 8);
  writeOctal(block, fields.size, 124, 12);
  writeOctal(block, fields.mtime, 136, 12);
  block[156] = fields.flag.charCodeAt(0);
  writeString(block, fields.linkname, 157, 100);
  writeString(block, "ustar\u0000", 257, 6);
  writeString(block, "00", 263, 2);
  writeString(block, fields.prefix, 345, 155);
  writeOctal(block, checksumOf(block), 148, 7);
  block[155] = 0x20;
  return block;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK_SIZE;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK_SIZE - rest);
}

/** Encodes the header block(s) of one entry, with a pax header first when ustar cannot express it. */
export function encodeTarHeader(entry: TarInputEntry, size: number): Buffer {
  const type = entry.type ?? "file";
  let name = normalizeTarPath(entry.name);
  if (type === "directory") name += "/";
  const flag = type === "directory" ? "5" : type === "symlink" ? "2" : "0";
  const linkname = entry.linkname ?? "";
  const split = splitUstarPath(name);
  const pax: string[] = [];
  if (!split) pax.push(paxRecord("path", name));
  if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord("linkpath", linkname));
  if (size > MAX_OCTAL_SIZE) pax.push(paxRecord("size", String(size)));
  const blocks: Buffer[] = [];
  const common = {
    mode: entry.mode ?? (type === "directory" ? 0o755 : type === "symlink" ? 0o777 : 0o644),
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    mtime: entry.mtime ?? 0,
  };
  if (pax.length > 0) {
    const body = Buffer.from(pax.join(""), "utf8");
    const paxName = `PaxHeaders/${name.replace(/\/$/, "").split("/").pop()!}`.slice(0, 100);
    blocks.push(header({ ...common, name: paxName, prefix: "", size: body.length, flag: "x", linkname: "" }));
    blocks.push(body, padding(body.length));
  }
  blocks.push(
    header({
      ...common,
      name: split ? split.name : name.slice(0, 100),
      prefix: split ? split.prefix : "",
      size: Math.min(size, MAX_OCTAL_SIZE),
      flag,
      linkname: linkname.slice(0, 100),
    }),
  );
  return Buffer.concat(blocks);
}

/**
 * Produces a tar archive from entries, as a stream of chunks. Stream-factory entries are
 * pulled one after another, so a multi-gigabyte layer never sits in memory.
 */
export async function* tarChunks(
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    const type = entry.type ?? "file";
    if (type !== "file") {
      yield encodeTarHeader(entry, 0);
      continue;
    }
    const data = entry.data ?? new Uint8Array(0);
    if (typeof data === "function") {
      if (entry.size === undefined)
        throw new Error(`tar entry ${entry.name}: size is required for streamed data`);
      yield encodeTarHeader(entry, entry.size);
      let written = 0;
      for await (const chunk of data()) {
        written += chunk.byteLength;
        if (written > entry.size)
          throw new Error(`tar entry ${entry.name}: data is longer than ${entry.size} bytes`);
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
      if (written !== entry.size)
        throw new Error(`tar entry ${entry.name}: data is ${written} bytes, not ${entry.size}`);
      yield padding(entry.size);
    } else {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
      yield encodeTarHeader(entry, bytes.length);
      yield bytes;
      yield padding(bytes.length);
    }
  }
  // Two zero blocks end the archive.
  yield Buffer.alloc(BLOCK_SIZE * 2);
}

/** Convenience for small archives: the whole tar in one buffer. */
export async function tarBuffer(
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tarChunks(entries)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
