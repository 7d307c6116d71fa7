/**
 * The standalone watch config (`reestr watch -c watch.yaml`), YAML or JSON:
 *
 *   dataDir: ./data            # optional; watch.sqlite goes here
 *   registries:
 *     - name: nginx            # unique; the key of the entry's status and history
 *       url: https://registry-1.docker.io
 *       repository: library/nginx
 *       ...any other Registry spec field (src/watcher/spec.ts)
 *
 * Every problem is reported with its field, e.g.
 * `registries[1].tagFilter.include[0]: invalid regular expression: …`. `parseWatchSection` takes
 * an already parsed object so `reestr serve`'s config can hold the same section.
 */
import { readFile } from "node:fs/promises";
import { ConfigError } from "../util/config-error.ts";
import type { WatchEntry } from "./scheduler.ts";
import { parseRegistrySpec, type SpecProblem } from "./spec.ts";

export interface WatchConfig {
  /** As written (relative paths are the caller's to resolve). */
  dataDir?: string;
  registries: WatchEntry[];
}

/** Entry names: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
const ENTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_ENTRY_NAME = 253;
const TOP_LEVEL_FIELDS = new Set(["dataDir", "registries"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Validates a parsed watch section; throws a ConfigError listing every problem with its field. */
export function parseWatchSection(input: unknown, where = "watch config"): WatchConfig {
  const problems: SpecProblem[] = [];
  const config: WatchConfig = { registries: [] };
  if (!isRecord(input)) {
    const problem = { path: "(root)", message: `expected a mapping, got ${typeName(input)}` };
    throw new ConfigError(`invalid ${where}:\n  ${problem.path}: ${problem.message}`, [problem]);
  }
  for (const key of Object.keys(input)) {
    if (!TOP_LEVEL_FIELDS.has(key)) problems.push({ path: key, message: "unknown field" });
  }
  if (input.dataDir !== undefined) {
    if (typeof input.dataDir === "string" && input.dataDir !== "") config.dataDir = input.dataDir;
    else problems.push({ path: "dataDir", message: "expected a non-empty string (a directory)" });
  }
  const registries = input.registries;
  if (!Array.isArray(registries)) {
    problems.push({
      path: "registries",
      message:
        registries === undefined
          ? "required: a list of registries to watch"
          : `expected a list, got ${typeName(registries)}`,
    });
  } else {
    if (registries.length === 0)
      problems.push({ path: "registries", message: "must list at least one registry" });
    const firstByName = new Map<string, number>();
    registries.forEach((item: unknown, index: number) => {
      const at = `registries[${index}]`;
      if (!isRecord(item)) {
        problems.push({ path: at, message: `expected a mapping, got ${typeName(item)}` });
        return;
      }
      const { name, ...specInput } = item;
      let validName: string | undefined;
      if (typeof name !== "string" || name === "") {
        problems.push({
          path: `${at}.name`,
          message: name === undefined ? "required" : "expected a non-empty string",
        });
      } else if (name.length > MAX_ENTRY_NAME || !ENTRY_NAME.test(name)) {
        problems.push({
          path: `${at}.name`,
          message: `"${name}" is not a valid name: letters, digits, ".", "_" and "-", at most ${MAX_ENTRY_NAME}`,
        });
      } else {
        const first = firstByName.get(name);
        if (first !== undefined) {
          problems.push({
            path: `${at}.name`,
            message: `duplicate name "${name}" (also registries[${first}])`,
          });
        } else {
          firstByName.set(name, index);
          validName = name;
        }
      }
      try {
        const spec = parseRegistrySpec(specInput);
        if (validName !== undefined) config.registries.push({ name: validName, spec });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems) {
          problems.push({
            path: problem.path === "(root)" ? at : `${at}.${problem.path}`,
            message: problem.message,
          });
        }
      }
    });
  }
  if (problems.length > 0) {
    throw new ConfigError(
      `invalid ${where}:\n  ${problems.map((p) => `${p.path}: ${p.message}`).join("\n  ")}`,
      problems,
    );
  }
  return config;
}

/** Reads and validates a watch config file (YAML, of which JSON is a subset). */
export async function loadWatchConfig(file: string): Promise<WatchConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read watch config file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    const { parse: parseYaml } = await import("yaml");
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`watch config file ${file} is not valid YAML: ${(error as Error).message}`);
  }
  return parseWatchSection(parsed ?? {}, `watch config file ${file}`);
}
