/**
 * `npm pack` / `npm publish` (the prepack script): what an installed package needs that a
 * checkout does not.
 *
 * - lib/: src/ as JavaScript. Node strips types only outside node_modules
 *   (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), so a package installed with
 *   `npm install -g reestr-<version>.tgz` cannot run src/*.ts; bin/reestr.js runs lib/ there.
 *   tsc (tsconfig.build.json) only erases types — the source is erasable syntax only — and
 *   rewrites the `.ts` of relative imports to `.js`. lib/ sits beside src/, so the paths modules
 *   build from import.meta.url (../package.json, ../../dist/web) point at the same files.
 * - dist/web: the web catalogue, built when missing or stale (scripts/build-web-if-stale.ts).
 *
 * `--clean` (the postpack script) removes lib/ again: the checkout never runs it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LIB = join(ROOT, "lib");

function run(args: string[]): void {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write(`build-package: node ${args.join(" ")} failed (exit ${result.status})\n`);
    process.exit(1);
  }
}

if (process.argv.includes("--clean")) {
  rmSync(LIB, { recursive: true, force: true });
} else {
  run([join(ROOT, "scripts", "build-web-if-stale.ts")]);
  if (!existsSync(join(ROOT, "dist", "web", "index.html"))) {
    process.stderr.write("build-package: dist/web was not built (is Vite installed? npm ci)\n");
    process.exit(1);
  }
  rmSync(LIB, { recursive: true, force: true });
  const tsc = fileURLToPath(new URL("bin/tsc", import.meta.resolve("typescript/package.json")));
  run([tsc, "-p", join(ROOT, "tsconfig.build.json")]);
  if (!existsSync(join(LIB, "cli", "main.js"))) {
    process.stderr.write("build-package: tsc wrote no lib/cli/main.js\n");
    process.exit(1);
  }
}
