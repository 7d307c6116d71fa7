/**
 * podman as the tests run it: rootful, with all of its state (storage, run root, temp files) in
 * a directory of the test's own, the vfs driver (no overlay mounts needed) and no systemd, so
 * tests never touch /var/lib/containers or each other.
 */
import { join } from "node:path";

/** The podman binary (PODMAN_BIN to use another). */
export const PODMAN = process.env["PODMAN_BIN"] ?? "/usr/bin/podman";

/** The global flags that put podman's state under `root`. */
export function isolatedPodmanArgs(root: string, tmpName = "libpod-tmp"): string[] {
  return [
    "--root",
    join(root, "storage"),
    "--runroot",
    join(root, "run"),
    "--tmpdir",
    join(root, tmpName),
    "--storage-driver",
    "vfs",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
  ];
}
