/**
 * Repository globs, one grammar for every place that names repositories by pattern: access rules
 * (src/auth/access-policy.ts) and retention policies (src/registry/lifecycle/retention-config.ts).
 */

const GLOB_CHARS = /^[a-z0-9._/*?-]+$/;

/**
 * A repository glob as a RegExp: `*` is any run of characters within one path segment, `**`
 * any run across segments, `?` one character other than `/`. Throws on characters no
 * repository name holds (upper case, spaces, …), since such a glob could never match.
 */
export function compileRepositoryGlob(glob: string): RegExp {
  if (glob === "*" || glob === "**") return /^/;
  if (!GLOB_CHARS.test(glob)) {
    throw new Error(
      `invalid repository glob "${glob.slice(0, 100)}": lower-case letters, digits, ".", "_", "-", "/" and the wildcards *, **, ?`,
    );
  }
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.\-/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
