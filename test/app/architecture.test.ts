/**
 * The shape of src/, checked from the import statements (docs/architecture.md explains it):
 * - each folder imports only the folders its layer allows (ALLOWED below) — the HTTP-free
 *   registry core never learns about auth or the catalogue, features never reach into the
 *   composition root, the composition root is the only place that knows every part;
 * - no two folders import each other, and no files import each other in a circle.
 * A new folder must be added to ALLOWED, with the layer it belongs to.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

/** Which folders each folder of src/ may import, lowest layers first. */
const ALLOWED: Record<string, string[]> = {
  util: [],
  http: ["util"],
  oci: ["http"], // its RegistryError is an HttpError with the spec's codes
  image: ["oci", "util"],
  client: ["image", "oci", "util"],
  deploy: [],
  registry: ["http", "oci", "util"],
  proxy: ["client", "http", "oci", "registry", "util"],
  auth: ["http", "oci", "util"],
  tls: ["util"],
  watcher: ["client", "http", "oci", "image", "util"],
  operator: ["http", "util", "watcher", "client", "oci"],
  catalog: ["client", "http", "oci", "registry", "util", "watcher"],
  web: ["http"],
  config: ["auth", "catalog", "http", "proxy", "registry", "tls", "util", "watcher"],
  app: ["auth", "catalog", "config", "http", "proxy", "registry", "tls", "util", "watcher", "web"],
  cli: [
    "app",
    "auth",
    "catalog",
    "client",
    "config",
    "deploy",
    "http",
    "image",
    "oci",
    "operator",
    "proxy",
    "registry",
    "tls",
    "util",
    "watcher",
    "web",
  ],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}

/** Every file's relative imports (static and dynamic), as absolute paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) =>
      resolve(dirname(file), match[1]!),
    );
    graph.set(file, targets);
  }
  return graph;
}

const folderOf = (file: string) => relative(SRC, file).split("/")[0]!;

describe("architecture", () => {
  const graph = importGraph();

  test("every folder of src/ has a layer", () => {
    const folders = [...new Set([...graph.keys()].map(folderOf))].filter((folder) => !folder.endsWith(".ts"));
    assert.deepEqual(
      folders.filter((folder) => !(folder in ALLOWED)),
      [],
    );
  });

  test("folders import only what their layer allows", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      for (const target of targets) {
        const to = folderOf(target);
        if (to === from || to.endsWith(".ts")) continue; // own folder, or src/version.ts
        if (!ALLOWED[from]?.includes(to))
          wrong.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("no import cycles between files", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
        return;
      }
      state.set(file, "visiting");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
