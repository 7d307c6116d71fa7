import { stat } from "node:fs/promises";
import { DockerArchive } from "./docker-archive.ts";
import { OciLayout } from "./oci-layout.ts";
import type { ImageSource } from "./source.ts";

/**
 * Opens what a user names on the command line: an OCI layout directory (`dir` or `dir:ref`,
 * optionally prefixed `oci:` as skopeo writes it) or a `docker save` tarball (`file.tar`,
 * `file.tar:name:tag`, optionally prefixed `docker-archive:`).
 */
export async function openImageSource(
  arg: string,
): Promise<{ source: ImageSource; ref: string | undefined }> {
  let rest = arg;
  let forced: "oci" | "docker-archive" | undefined;
  for (const prefix of ["oci", "docker-archive"] as const) {
    if (rest.startsWith(`${prefix}:`)) {
      forced = prefix;
      rest = rest.slice(prefix.length + 1);
    }
  }
  // The longest prefix that exists on disk is the path; what follows its colon is the ref.
  let path: string | undefined;
  let ref: string | undefined;
  let kind: "dir" | "file" | undefined;
  for (let end = rest.length; end > 0; end = rest.lastIndexOf(":", end - 1)) {
    const candidate = rest.slice(0, end);
    const info = await stat(candidate).catch(() => undefined);
    if (info) {
      path = candidate;
      ref = end < rest.length ? rest.slice(end + 1) : undefined;
      kind = info.isDirectory() ? "dir" : "file";
      break;
    }
  }
  if (!path || !kind) throw new Error(`no such OCI layout directory or docker archive: ${arg}`);
  if (forced === "oci" || (!forced && kind === "dir")) return { source: await OciLayout.open(path), ref };
  return { source: await DockerArchive.open(path), ref };
}
