/**
 * Writes the Registry CRD generated from the watcher's spec schema (src/operator/crd.ts) to
 * deploy/base/crd.yaml and deploy/module/crds/registry.yaml. `--check` exits 1 when a committed
 * file differs instead of writing (test/operator/crd.test.ts does the same comparison).
 *
 *   npx node scripts/gen-crd.ts [--check]
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CRD_FILES, registryCrdYaml } from "../src/operator/crd.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
const text = registryCrdYaml();
let stale = 0;
for (const file of CRD_FILES) {
  const path = join(root, file);
  if (check) {
    const current = await readFile(path, "utf8").catch(() => "");
    if (current !== text) {
      process.stderr.write(`${file} is out of date: run npx node scripts/gen-crd.ts\n`);
      stale++;
    }
  } else {
    await writeFile(path, text);
    process.stdout.write(`wrote ${file}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
