/**
 * `reestr deploy render|validate <config>`: renders the deploy kit's Kubernetes objects from a
 * config file (.yaml, .yml, .json, or a .ts/.js module default-exporting the same shape).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { DEPLOY_API_VERSION } from "../deploy/common.ts";
import {
  type DockerRegistry,
  type DockerRegistryConfig,
  dockerRegistry,
  type K8sObject,
  renderDockerRegistry,
  renderYaml,
} from "../deploy/docker-registry.ts";
import { type ImagePullSecretConfig, imagePullSecret } from "../deploy/pull-secret.ts";
import { type ValidationError, validateRegistryConfig } from "../deploy/validate.ts";
import type { Command } from "./command.ts";

const usage = `Usage: reestr deploy render <config.yaml|.json|.ts> [-o dir] [--json]
       reestr deploy validate <config.yaml|.json|.ts> [--json]

render    prints the Kubernetes objects as multi-document YAML (kubectl apply -f -), or with
          -o <dir> writes one file per object, <kind>-<name>.yaml (lowercase)
validate  prints "valid", or each problem as "path: message" (exit 1 when invalid)

The config file holds one entry or a list of entries:
  kind: DockerRegistry      name, config (the dockerRegistry() config: every option optional,
                            merged over the defaults)
  kind: ImagePullSecret     name, registry, username, password, email?, namespace?
A .ts/.js module default-exports the same shape, or objects already built with
dockerRegistry()/imagePullSecret() from "reestr/deploy" (any other Kubernetes object passes
through as is).

Example (registry.yaml):
  - kind: DockerRegistry
    name: registry
    config:
      namespace: registry
      replicas: 2
      storage: { driver: s3, s3: { bucket: images, existingSecret: registry-s3 } }
  - kind: ImagePullSecret
    name: registry-pull
    registry: registry.example.com
    username: ci
    password: change-me
    namespace: apps

Options:
  -o, --output <dir>  write one file per object into <dir> (created if missing)
  --json              render: objects as a JSON array (with -o: the files written);
                      validate: {"valid","errors":[{"path","message"}]}
  -h, --help          show this help

Exit codes: 0 ok, 1 invalid config, 2 bad input (missing file, bad YAML/JSON, unknown kind).
`;

export interface DeployIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Directory relative paths resolve against (default process.cwd()). */
  cwd?: string;
}

const processIo: DeployIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Bad input: printed as is, exit code 2. */
export class DeployInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployInputError";
  }
}

/** One entry of a deploy config, after loading. */
export type DeployEntry =
  | { kind: "DockerRegistry"; name: string; config: Record<string, unknown>; path: string }
  | { kind: "DockerRegistryObject"; object: DockerRegistry; path: string }
  | { kind: "ImagePullSecret"; name: string; config: Record<string, unknown>; path: string }
  | { kind: "Object"; object: K8sObject; path: string };

const KNOWN_KINDS = ["DockerRegistry", "ImagePullSecret"];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Loads a config file into its raw entries (one value or a list, per YAML document). */
export async function loadDeployFile(file: string, cwd = process.cwd()): Promise<unknown[]> {
  const path = resolve(cwd, file);
  const ext = extname(path).toLowerCase();
  if (ext === ".ts" || ext === ".mts" || ext === ".js" || ext === ".mjs") {
    let module: { default?: unknown };
    try {
      module = await import(pathToFileURL(path).href);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(path)) {
        throw new DeployInputError(`${file}: no such file`);
      }
      throw new DeployInputError(`${file}: cannot import: ${(error as Error).message}`);
    }
    let value = module.default;
    if (typeof value === "function") value = await (value as () => unknown)();
    if (value === undefined) throw new DeployInputError(`${file}: the module has no default export`);
    return Array.isArray(value) ? value : [value];
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new DeployInputError(
      code === "ENOENT" ? `${file}: no such file` : `${file}: cannot read: ${(error as Error).message}`,
    );
  }
  let values: unknown[];
  if (ext === ".json") {
    try {
      values = [JSON.parse(text)];
    } catch (error) {
      throw new DeployInputError(`${file}: invalid JSON: ${(error as Error).message}`);
    }
  } else if (ext === ".yaml" || ext === ".yml") {
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs)) throw new DeployInputError(`${file}: invalid YAML`);
    values = [];
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        throw new DeployInputError(`${file}: invalid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
      }
      const value = doc.toJS();
      if (value !== null && value !== undefined) values.push(value);
    }
  } else {
    throw new DeployInputError(
      `${file}: unsupported file type "${ext || "(none)"}" (expected .yaml, .yml, .json, .ts)`,
    );
  }
  const entries = values.flatMap((v) => (Array.isArray(v) ? v : [v]));
  if (entries.length === 0) throw new DeployInputError(`${file}: no entries`);
  return entries;
}

/** Checks the structure of raw entries; throws DeployInputError naming the field. */
export function parseEntries(raw: unknown[]): DeployEntry[] {
  const single = raw.length === 1;
  return raw.map((entry, i) => {
    const path = single ? "" : `[${i}]`;
    const at = (field: string) => (path ? `${path}.${field}` : field);
    if (!isObject(entry)) throw new DeployInputError(`${path || "(root)"}: expected an object with a "kind"`);
    const kind = entry.kind;
    if (typeof kind !== "string" || kind === "") {
      throw new DeployInputError(`${at("kind")}: missing (expected one of ${KNOWN_KINDS.join(", ")})`);
    }
    // Objects built in a .ts config: a dockerRegistry() result, or any Kubernetes object.
    if (kind === "DockerRegistry" && entry.apiVersion === DEPLOY_API_VERSION && isObject(entry.spec)) {
      return { kind: "DockerRegistryObject", object: entry as unknown as DockerRegistry, path };
    }
    if (typeof entry.apiVersion === "string" && entry.apiVersion !== DEPLOY_API_VERSION) {
      const metadata = entry.metadata;
      if (!isObject(metadata) || typeof metadata.name !== "string" || metadata.name === "") {
        throw new DeployInputError(`${at("metadata.name")}: missing (a Kubernetes object needs a name)`);
      }
      return { kind: "Object", object: entry as unknown as K8sObject, path };
    }
    if (!KNOWN_KINDS.includes(kind)) {
      throw new DeployInputError(
        `${at("kind")}: unknown kind "${kind}" (expected one of ${KNOWN_KINDS.join(", ")})`,
      );
    }
    const name = entry.name;
    if (typeof name !== "string" || name === "")
      throw new DeployInputError(`${at("name")}: missing or not a string`);
    if (kind === "DockerRegistry") {
      const config = entry.config ?? {};
      if (!isObject(config)) throw new DeployInputError(`${at("config")}: expected an object`);
      for (const key of Object.keys(entry)) {
        if (!["kind", "name", "config"].includes(key)) {
          throw new DeployInputError(`${at(key)}: unknown field (DockerRegistry options go under "config")`);
        }
      }
      return { kind: "DockerRegistry", name, config, path };
    }
    const { kind: _kind, name: _name, config: nested, ...rest } = entry;
    const config = nested === undefined ? rest : nested;
    if (!isObject(config)) throw new DeployInputError(`${at("config")}: expected an object`);
    return { kind: "ImagePullSecret", name, config, path };
  });
}

function prefixed(path: string, sub: string, errors: ValidationError[]): ValidationError[] {
  const base = path ? `${path}.${sub}` : sub;
  return errors.map((e) => ({ path: e.path === "(root)" ? base : `${base}.${e.path}`, message: e.message }));
}

function validatePullSecret(path: string, config: Record<string, unknown>): ValidationError[] {
  const errors: ValidationError[] = [];
  const at = (field: string) => (path ? `${path}.${field}` : field);
  for (const field of ["registry", "username", "password"]) {
    const value = config[field];
    if (typeof value !== "string" || value === "")
      errors.push({ path: at(field), message: "required (a non-empty string)" });
  }
  for (const field of ["email", "namespace"]) {
    const value = config[field];
    if (value !== undefined && typeof value !== "string")
      errors.push({ path: at(field), message: "must be a string" });
  }
  const namespace = config.namespace;
  if (typeof namespace === "string" && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
    errors.push({ path: at("namespace"), message: "must be a DNS-1123 label (lowercase, digits, '-')" });
  }
  for (const key of Object.keys(config)) {
    if (!["registry", "username", "password", "email", "namespace", "labels"].includes(key)) {
      errors.push({ path: at(key), message: "unknown field" });
    }
  }
  return errors;
}

/** Every problem of the entries, each with its path (`[1].config.storage.s3.bucket`). */
export function validateEntries(entries: DeployEntry[]): ValidationError[] {
  const errors: ValidationError[] = [];
  for (const entry of entries) {
    if (entry.kind === "DockerRegistry") {
      errors.push(...prefixed(entry.path, "config", validateRegistryConfig(entry.config).errors));
    } else if (entry.kind === "DockerRegistryObject") {
      const result = validateRegistryConfig(entry.object);
      errors.push(
        ...result.errors.map((e) => ({ ...e, path: entry.path ? `${entry.path}.${e.path}` : e.path })),
      );
    } else if (entry.kind === "ImagePullSecret") {
      errors.push(...validatePullSecret(entry.path, entry.config));
    }
  }
  return errors;
}

/** Renders valid entries into Kubernetes objects, in order. */
export function renderEntries(entries: DeployEntry[]): K8sObject[] {
  return entries.flatMap((entry): K8sObject[] => {
    switch (entry.kind) {
      case "DockerRegistry":
        return renderDockerRegistry(
          dockerRegistry(entry.name, entry.config as Partial<DockerRegistryConfig>),
        );
      case "DockerRegistryObject":
        return renderDockerRegistry(entry.object);
      case "ImagePullSecret":
        return [imagePullSecret(entry.name, entry.config as unknown as ImagePullSecretConfig)];
      default:
        return [entry.object];
    }
  });
}

/** `<kind>-<name>.yaml`, lowercase. */
export function objectFileName(object: K8sObject): string {
  return `${object.kind}-${object.metadata.name}.yaml`.toLowerCase().replace(/[^a-z0-9._-]/g, "-");
}

function formatErrors(errors: ValidationError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}\n`).join("");
}

/** Runs `reestr deploy <argv>`; returns the exit code. */
export async function runDeploy(argv: string[], io: DeployIo = processIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  let values: { output?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: "string", short: "o" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.stderr(`reestr deploy: ${(error as Error).message}\nRun \`reestr deploy --help\` for usage.\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(usage);
    return 0;
  }
  const [sub, file, ...extra] = positionals;
  if (sub !== "render" && sub !== "validate") {
    io.stderr(
      `reestr deploy: ${sub === undefined ? "missing subcommand" : `unknown subcommand "${sub}"`} (expected render or validate)\nRun \`reestr deploy --help\` for usage.\n`,
    );
    return 2;
  }
  if (file === undefined || extra.length > 0) {
    io.stderr(
      `reestr deploy ${sub}: expected exactly one config file\nRun \`reestr deploy --help\` for usage.\n`,
    );
    return 2;
  }
  if (sub === "validate" && values.output !== undefined) {
    io.stderr(`reestr deploy validate: -o/--output only applies to render\n`);
    return 2;
  }
  let entries: DeployEntry[];
  try {
    entries = parseEntries(await loadDeployFile(file, cwd));
  } catch (error) {
    if (error instanceof DeployInputError) {
      io.stderr(`reestr deploy ${sub}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const errors = validateEntries(entries);
  if (sub === "validate") {
    if (values.json) io.stdout(`${JSON.stringify({ valid: errors.length === 0, errors }, null, 2)}\n`);
    else io.stdout(errors.length === 0 ? "valid\n" : formatErrors(errors));
    return errors.length === 0 ? 0 : 1;
  }
  if (errors.length > 0) {
    io.stderr(`reestr deploy render: ${file} is invalid:\n${formatErrors(errors)}`);
    return 1;
  }
  const objects = renderEntries(entries);
  if (values.output === undefined) {
    io.stdout(values.json ? `${JSON.stringify(objects, null, 2)}\n` : renderYaml(objects));
    return 0;
  }
  const dir = resolve(cwd, values.output);
  const names = objects.map(objectFileName);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      io.stderr(`reestr deploy render: two objects would both be written to ${name}\n`);
      return 2;
    }
    seen.add(name);
  }
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (let i = 0; i < objects.length; i++) {
    const path = join(dir, names[i]!);
    await writeFile(path, renderYaml([objects[i]!]));
    written.push(path);
  }
  if (values.json) io.stdout(`${JSON.stringify({ files: written }, null, 2)}\n`);
  else io.stdout(written.map((p) => `wrote ${p}\n`).join(""));
  return 0;
}

export default {
  name: "deploy",
  summary: "render or validate deploy-kit configs (Kubernetes YAML for Docker Registry, pull secrets)",
  usage,
  run: (argv) => runDeploy(argv),
} satisfies Command;
