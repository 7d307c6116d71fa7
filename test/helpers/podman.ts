/**
 * podman as the tests run it: rootful, with all of its state (storage, run root, temp files) in
 * a directory of the test's own, the vfs driver (no overlay mounts needed) and no systemd, so
 * tests never touch /var/lib/containers or each other.
 */
import { existsSync, writeFileSync } from "node:fs";
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

/**
 * The OCI runtime for tests that run containers: PODMAN_RUNTIME, else runc where it is installed.
 * crun 1.8 (Debian 12's) refuses to start anything on a hybrid cgroup hierarchy (cgroup v1 with
 * a controller on the v2 mount, as on this project's machines); runc runs there, and elsewhere.
 */
export function containerRuntime(): string | undefined {
  const chosen = process.env["PODMAN_RUNTIME"];
  if (chosen) return chosen;
  return ["/usr/sbin/runc", "/usr/bin/runc"].find((path) => existsSync(path));
}

/** isolatedPodmanArgs plus the runtime: for `podman run`, `exec`, `stop` and the like. */
export function containerPodmanArgs(root: string): string[] {
  const runtime = containerRuntime();
  return [...isolatedPodmanArgs(root), ...(runtime ? ["--runtime", runtime] : [])];
}

/**
 * A containers.conf for `CONTAINERS_CONF` that sets no default ulimits: podman's default
 * RLIMIT_NOFILE is above what a process in this sandbox may raise its limit to, and runc then
 * fails with "error setting rlimits". Returns the environment for podman's child processes.
 */
export function podmanEnvironment(root: string): NodeJS.ProcessEnv {
  const path = join(root, "containers.conf");
  writeFileSync(path, "[containers]\ndefault_ulimits = []\n");
  return { ...process.env, CONTAINERS_CONF: path };
}
