/**
 * Tar entries from files on this machine, for images assembled from what a host already has
 * (a runtime binary, the shared libraries it links, an application tree) instead of from a base
 * image pulled over the network.
 *
 * Entries are deterministic: names in sorted order, one mtime, owners chosen by the caller and
 * modes normalised (0755 for directories and executables, 0644 for other files), so the same
 * files give the same layer digest whatever the host's umask or checkout time was.
 */
import { execFile } from "node:child_process";
import { createReadStream, type Stats } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import type { TarInputEntry } from "./tar.ts";

/** Owner and time stamped on every entry; defaults root:root and mtime 0. */
export interface EntryStamp {
  uid?: number;
  gid?: number;
  mtime?: number;
}

function stamp(options: EntryStamp): Required<EntryStamp> {
  return { uid: options.uid ?? 0, gid: options.gid ?? 0, mtime: options.mtime ?? 0 };
}

/** 0755 for directories and anything executable by its owner, 0644 for the rest. */
function normalizedMode(info: Stats): number {
  return info.isDirectory() || info.mode & 0o100 ? 0o755 : 0o644;
}

/** One regular file from the host at `target` in the image, read when the layer is written. */
export async function hostFileEntry(
  source: string,
  target: string,
  options: EntryStamp & { mode?: number } = {},
): Promise<TarInputEntry> {
  const info = await stat(source);
  if (!info.isFile()) throw new Error(`${source} is not a regular file`);
  return {
    name: target,
    type: "file",
    size: info.size,
    mode: options.mode ?? normalizedMode(info),
    data: () => createReadStream(source),
    ...stamp(options),
  };
}

export interface DirectoryEntriesOptions extends EntryStamp {
  /** Leaves out a path (relative to the source, `/`-separated) and, for a directory, all below it. */
  skip?: (relativePath: string, info: Stats) => boolean;
}

/**
 * A host directory tree at `target` in the image: the directory itself, then its contents
 * depth-first in sorted order. Symlinks are kept as symlinks; sockets, devices and FIFOs are
 * refused, since a layer meant to be shipped has no use for them.
 */
export async function* directoryEntries(
  source: string,
  target: string,
  options: DirectoryEntriesOptions = {},
): AsyncGenerator<TarInputEntry> {
  const stamped = stamp(options);
  const walk = async function* (dir: string, relative: string): AsyncGenerator<TarInputEntry> {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const path = join(dir, name);
      const rel = relative ? `${relative}/${name}` : name;
      const info = await lstat(path);
      if (options.skip?.(rel, info)) continue;
      const entryName = `${target}/${rel}`;
      if (info.isDirectory()) {
        yield { name: entryName, type: "directory", mode: 0o755, ...stamped };
        yield* walk(path, rel);
      } else if (info.isSymbolicLink()) {
        yield { name: entryName, type: "symlink", linkname: await readlink(path), ...stamped };
      } else if (info.isFile()) {
        yield {
          name: entryName,
          type: "file",
          size: info.size,
          mode: normalizedMode(info),
          data: () => createReadStream(path),
          ...stamped,
        };
      } else {
        throw new Error(`${path} is not a regular file, directory or symlink`);
      }
    }
  };
  const root = await stat(source);
  if (!root.isDirectory()) throw new Error(`${source} is not a directory`);
  yield { name: target, type: "directory", mode: 0o755, ...stamped };
  yield* walk(source, "");
}

/** Links a path may pass through before it is given up on (Linux's own limit is 40). */
const MAX_SYMLINK_HOPS = 40;

/**
 * An absolute host path as the image needs it to resolve the same way: every symlink met on the
 * way (a merged-/usr `/lib → usr/lib`, a `libstdc++.so.6 → libstdc++.so.6.0.30`) as a symlink
 * entry, then the regular file it ends at, stored at its real path.
 */
export async function hostPathEntries(path: string, options: EntryStamp = {}): Promise<TarInputEntry[]> {
  if (!path.startsWith("/")) throw new Error(`${path}: expected an absolute path`);
  const entries: TarInputEntry[] = [];
  let pending = posix.resolve(path);
  for (let hop = 0; hop <= MAX_SYMLINK_HOPS; hop++) {
    const parts = pending.split("/").filter(Boolean);
    let current = "";
    let next: string | undefined;
    for (let i = 0; i < parts.length && next === undefined; i++) {
      current += `/${parts[i]}`;
      const info = await lstat(current);
      if (info.isSymbolicLink()) {
        const linkname = await readlink(current);
        entries.push({ name: current.slice(1), type: "symlink", linkname, ...stamp(options) });
        // Everything before `current` is a real directory, so resolving lexically is exact.
        next = posix.resolve(posix.dirname(current), linkname, ...parts.slice(i + 1));
      } else if (i === parts.length - 1) {
        entries.push(await hostFileEntry(current, current.slice(1), options));
        return entries;
      } else if (!info.isDirectory()) {
        throw new Error(`${path}: ${current} is not a directory`);
      }
    }
    if (next === undefined) throw new Error(`${path} names the root directory, not a file`);
    pending = next;
  }
  throw new Error(`${path}: more than ${MAX_SYMLINK_HOPS} symbolic links`);
}

/**
 * Passes entries through, adding a directory entry (root-owned, 0755) before the first entry
 * below a directory that was not listed, and dropping exact repeats (two libraries behind the
 * same `/lib` symlink). A second, different entry under one name, or a path that runs through
 * a symlink of the layer, is an error: extracting it would not give what was meant.
 */
export async function* withParentDirectories(
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
  options: EntryStamp = {},
): AsyncGenerator<TarInputEntry> {
  const seen = new Map<string, string>();
  const stamped = stamp(options);
  // What makes two entries the same: a repeat of a directory or symlink is harmless only if equal.
  const identity = (e: TarInputEntry) => {
    const type = e.type ?? "file";
    const mode = e.mode ?? (type === "directory" ? 0o755 : type === "symlink" ? 0o777 : 0o644);
    return JSON.stringify([type, e.linkname ?? "", mode, e.uid ?? 0, e.gid ?? 0]);
  };
  for await (const entry of entries) {
    const name = posix.normalize(entry.name).replace(/^\/+|\/+$/g, "");
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const known = seen.get(parent);
      if (known === undefined) {
        const directory: TarInputEntry = { name: parent, type: "directory", mode: 0o755, ...stamped };
        seen.set(parent, identity(directory));
        yield directory;
      } else if (!known.startsWith('["directory"')) {
        throw new Error(`${name} runs through ${parent}, which is not a directory in the layer`);
      }
    }
    const known = seen.get(name);
    if (known !== undefined) {
      if (known === identity(entry) && (entry.type ?? "file") !== "file") continue;
      throw new Error(`${name} is in the layer twice, differently (list a directory before its contents)`);
    }
    seen.set(name, identity(entry));
    yield { ...entry, name };
  }
}

/**
 * The shared objects `ldd` lists for `binary`, the dynamic loader included, as absolute paths.
 * A library ldd cannot find is an error: the binary would not start in the image either.
 */
export function parseLdd(output: string, binary = "the binary"): string[] {
  if (/statically linked|not a dynamic executable/.test(output)) return [];
  const paths: string[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const arrow = /^(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (arrow) {
      if (arrow[2] === "not found") throw new Error(`${binary} needs ${arrow[1]}, which ldd cannot find`);
      if (arrow[2]!.startsWith("/")) paths.push(arrow[2]!);
      continue;
    }
    // The loader (`/lib64/ld-linux-x86-64.so.2 (0x…)`); the vDSO (`linux-vdso.so.1`) has no file.
    const bare = /^(\/\S+)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (bare) paths.push(bare[1]!);
  }
  return [...new Set(paths)];
}

/** Runs the host's `ldd` on `binary` (glibc's ldd: the loader lists the libraries, nothing runs). */
export function sharedLibraries(binary: string, ldd = "ldd"): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(ldd, [binary], { timeout: 30_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error && !/not a dynamic executable/.test(output)) {
        reject(new Error(`${ldd} ${binary} failed: ${error.message}${stderr ? `\n${stderr}` : ""}`));
        return;
      }
      try {
        resolve(parseLdd(output, binary));
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}
