/**
 * A real size-limited filesystem for full-disk tests: a tmpfs mounted on a fresh temp directory
 * (`mount -t tmpfs -o size=<size>`, which needs root). Undefined when mounting is not permitted,
 * so a test can skip with that reason.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TmpfsMount {
  dir: string;
  /** Unmounts and removes the directory; safe to call twice. */
  unmount(): Promise<void>;
}

export async function mountTmpfs(size: string): Promise<TmpfsMount | undefined> {
  const dir = await mkdtemp(join(tmpdir(), "reestr-tmpfs-"));
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  } catch {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  let mounted = true;
  return {
    dir,
    async unmount() {
      if (mounted) {
        mounted = false;
        // Lazy: a child that still holds a file open must not leave the mount behind.
        await run("umount", ["-l", dir]).catch(() => {});
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
