import { mkdirSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/**
 * fsync a file or a directory by path. A directory must be synced after a rename into it for
 * the new name to survive a crash; a file before it is renamed into place.
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p` that fails instead of spinning. Node's own `mkdir(path, { recursive: true })` loops
 * forever, at 100 % CPU and without an error, when mkdir answers ENOENT although the parent
 * exists: it reads ENOENT as "create the parent first", the parent answers EEXIST, and it tries
 * the child again. Pseudo-filesystems do that (`/proc/reestr`). Here each directory is tried at
 * most twice, before and after its parent, so the depth of the path bounds the work and the
 * second ENOENT is the error. Synchronous: it runs once at startup, before anything is served.
 */
export function makeDirectorySync(path: string, mode?: number): void {
  const target = resolve(path);
  const attempt = (): boolean => {
    try {
      mkdirSync(target, { mode });
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        if (statSync(target).isDirectory()) return true;
        throw Object.assign(new Error(`ENOTDIR: ${target} exists and is not a directory`), {
          code: "ENOTDIR",
        });
      }
      if (code === "ENOENT" && dirname(target) !== target) return false;
      throw error;
    }
  };
  if (attempt()) return;
  makeDirectorySync(dirname(target), mode);
  if (!attempt()) {
    // The parent exists now and mkdir still says ENOENT: this filesystem does not hold directories.
    mkdirSync(target, { mode });
  }
}
