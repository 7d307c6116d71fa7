import { open } from "node:fs/promises";

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
