/**
 * `reestr deploy render|validate <config>`: renders the deploy kit's documents from a config
 * file (.yaml, .yml, .json, or a .ts/.js module default-exporting the same shape): Kubernetes
 * objects, Helm values for the vendors' charts, registry API requests, Reestr policies and CI
 * build configs. docs/deploy.md describes the file format.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import {
  DEPLOY_API_VERSION,
  type DocumentType,
  type RenderedDocument,
  type ValidationError,
} from "../deploy/common.ts";
import type { K8sObject } from "../deploy/docker-registry.ts";
import {
  type BuiltConfig,
  buildConfig,
  CONFIG_KINDS,
  type ConfigKind,
  canonicalKind,
  documentsYaml,
  documentYaml,
  isBuiltConfig,
  KIND_ALIASES,
  renderDocuments,
} from "../deploy/kinds.ts";
import {
  type ImagePullSecretConfig,
  imagePullSecret,
  pullSecretProblems,
  type SeedImagePullSecretConfig,
} from "../deploy/pull-secret.ts";
import { dnsLabel } from "../deploy/schema.ts";
import { validateRegistryConfig } from "../deploy/validate.ts";
import { ConfigError } from "../util/config-error.ts";
import type { Command } from "./command.ts";

const usage = `Usage: reestr deploy render <config.yaml|.json|.ts> [-o dir] [--only types] [--json]
       reestr deploy validate <config.yaml|.json|.ts> [--json]

render    prints every document as multi-document YAML; Kubernetes objects apply as they are
          (reestr deploy render x.yaml --only object | kubectl apply -f -), other documents
          start with a "# ..." line saying what they are for. With -o <dir>, writes one file
          per document: Kubernetes objects at the top as <kind>-<name>.yaml (so
          kubectl apply -f <dir> applies them), helm/values-<release>.yaml,
          api/<product>-<name>-NN.json (API requests), policy/<kind>-<name>.yaml,
          build/<name>.yaml. Warnings go to stderr.
validate  prints "valid", or each problem as "path: message" (exit 1 when invalid);
          warnings as "warning: path: message" (they do not fail validation)

The config file holds one entry or a list of entries (or several YAML documents):
  kind: <kind>   name: <name>   config: <the builder's options, all optional, merged over
                                         the defaults>
with <kind> one of (short alias in brackets):
  DockerRegistry (docker-registry)        HarborRegistry (harbor)
  NexusRegistry (nexus)                   ArtifactoryRegistry (artifactory)
  ImageScanPolicy (scan-policy)           ImageRetentionPolicy (retention-policy)
  ImageReplicationPolicy (replication-policy)   ImageBuildConfig (build-config)
  ImagePullSecret (pull-secret)  name, registry, username, password, email?, namespace?
                                 (or config: { registry: { server, username, password } })
A .ts/.js module default-exports the same shape, or objects already built with the builders
from "reestr/deploy" (any other Kubernetes object passes through as is).

Example (registry.yaml):
  - kind: harbor
    name: production
    config:
      coreReplicas: 3
      registryReplicas: 3
      database: { host: postgres.default.svc }
  - kind: retention-policy
    name: cleanup
    config: { retentionDays: 30, schedule: "0 2 * * *" }
  - kind: ImagePullSecret
    name: registry-pull
    registry: registry.example.com
    username: ci
    password: change-me
    namespace: apps

Options:
  -o, --output <dir>   write one file per document into <dir> (created if missing)
  --only <types>       render only these document types, comma-separated: object,
                       helm-values, api-request, reestr-policy, build-config
  --json               render: [{"type","file","comment","content"}] (with -o: the files
                       written);
                       validate: {"valid","errors":[{"path","message"}],"warnings":[...]}
  -h, --help           show this help

Exit codes: 0 ok, 1 invalid config, 2 bad input (missing file, bad YAML/JSON, unknown kind).
Every option with its default: docs/deploy.md; example configs: examples/deploy/.
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

/** One entry of a deploy config, after loading. */
export type DeployEntry =
  | { kind: ConfigKind; name: string; config: Record<string, unknown>; path: string }
  | { kind: "Built"; object: BuiltConfig; path: string }
  | { kind: "ImagePullSecret"; name: string; config: Record<string, unknown>; path: string }
  | { kind: "Object"; object: K8sObject; path: string };

const KIND_LIST = [...CONFIG_KINDS, "ImagePullSecret"];

function kindOf(kind: string): ConfigKind | "ImagePullSecret" | undefined {
  if (["imagepullsecret", "pull-secret"].includes(kind.toLowerCase())) return "ImagePullSecret";
  return canonicalKind(kind);
}

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
        throw new ConfigError(`${file}: no such file`);
      }
      throw new ConfigError(`${file}: cannot import: ${(error as Error).message}`);
    }
    let value = module.default;
    if (typeof value === "function") value = await (value as () => unknown)();
    if (value === undefined) throw new ConfigError(`${file}: the module has no default export`);
    return Array.isArray(value) ? value : [value];
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new ConfigError(
      code === "ENOENT" ? `${file}: no such file` : `${file}: cannot read: ${(error as Error).message}`,
    );
  }
  let values: unknown[];
  if (ext === ".json") {
    try {
      values = [JSON.parse(text)];
    } catch (error) {
      throw new ConfigError(`${file}: invalid JSON: ${(error as Error).message}`);
    }
  } else if (ext === ".yaml" || ext === ".yml") {
    const docs = parseAllDocuments(text);
    if (!Array.isArray(docs)) throw new ConfigError(`${file}: invalid YAML`);
    values = [];
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        throw new ConfigError(`${file}: invalid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
      }
      const value = doc.toJS();
      if (value !== null && value !== undefined) values.push(value);
    }
  } else {
    throw new ConfigError(
      `${file}: unsupported file type "${ext || "(none)"}" (expected .yaml, .yml, .json, .ts)`,
    );
  }
  const entries = values.flatMap((v) => (Array.isArray(v) ? v : [v]));
  if (entries.length === 0) throw new ConfigError(`${file}: no entries`);
  return entries;
}

/** Checks the structure of raw entries; throws ConfigError naming the field. */
export function parseEntries(raw: unknown[]): DeployEntry[] {
  const single = raw.length === 1;
  return raw.map((entry, i): DeployEntry => {
    const path = single ? "" : `[${i}]`;
    const at = (field: string) => (path ? `${path}.${field}` : field);
    if (!isObject(entry)) throw new ConfigError(`${path || "(root)"}: expected an object with a "kind"`);
    const rawKind = entry.kind;
    if (typeof rawKind !== "string" || rawKind === "") {
      throw new ConfigError(`${at("kind")}: missing (expected one of ${KIND_LIST.join(", ")})`);
    }
    // Objects built in a .ts config: a builder's result, or any Kubernetes object.
    if (isBuiltConfig(entry) && entry.apiVersion !== "v1") {
      return { kind: "Built", object: entry, path };
    }
    if (typeof entry.apiVersion === "string" && entry.apiVersion !== DEPLOY_API_VERSION) {
      const metadata = entry.metadata;
      if (!isObject(metadata) || typeof metadata.name !== "string" || metadata.name === "") {
        throw new ConfigError(`${at("metadata.name")}: missing (a Kubernetes object needs a name)`);
      }
      return { kind: "Object", object: entry as unknown as K8sObject, path };
    }
    const kind = kindOf(rawKind);
    if (!kind) {
      const aliases = Object.keys(KIND_ALIASES).join(", ");
      throw new ConfigError(
        `${at("kind")}: unknown kind "${rawKind}" (expected one of ${KIND_LIST.join(", ")}, or ${aliases}, pull-secret)`,
      );
    }
    const name = entry.name;
    if (typeof name !== "string" || name === "")
      throw new ConfigError(`${at("name")}: missing or not a string`);
    if (kind === "ImagePullSecret") {
      const { kind: _kind, name: _name, config: nested, ...rest } = entry;
      const config = nested === undefined ? rest : nested;
      if (!isObject(config)) throw new ConfigError(`${at("config")}: expected an object`);
      return { kind, name, config, path };
    }
    const config = entry.config ?? {};
    if (!isObject(config)) throw new ConfigError(`${at("config")}: expected an object`);
    for (const key of Object.keys(entry)) {
      if (!["kind", "name", "config"].includes(key)) {
        throw new ConfigError(`${at(key)}: unknown field (${kind} options go under "config")`);
      }
    }
    return { kind, name, config, path };
  });
}

function prefixed(path: string, sub: string, errors: ValidationError[]): ValidationError[] {
  const base = path ? `${path}.${sub}` : sub;
  return errors.map((e) => ({ path: e.path === "(root)" ? base : `${base}.${e.path}`, message: e.message }));
}

/** Every problem of the entries, each with its path (`[1].config.storage.s3.bucket`), and the warnings. */
export function validateEntries(entries: DeployEntry[]): {
  errors: ValidationError[];
  warnings: ValidationError[];
} {
  const errors: ValidationError[] = [];
  const warnings: ValidationError[] = [];
  for (const entry of entries) {
    if (entry.kind === "Object") continue;
    if (entry.kind === "ImagePullSecret") {
      const at = (e: ValidationError) => (entry.path ? `${entry.path}.${e.path}` : e.path);
      errors.push(...pullSecretProblems(entry.config).map((e) => ({ ...e, path: at(e) })));
    } else if (entry.kind === "Built") {
      const result = validateRegistryConfig(entry.object);
      const at = (list: ValidationError[]) =>
        list.map((e) => ({ ...e, path: entry.path ? `${entry.path}.${e.path}` : e.path }));
      errors.push(...at(result.errors));
      warnings.push(...at(result.warnings));
    } else {
      // The builders refuse a name that is not a DNS-1123 label; say so here too, not only at render.
      if (entry.name !== undefined && !dnsLabel.safeParse(entry.name).success) {
        errors.push({
          path: entry.path ? `${entry.path}.name` : "name",
          message: "must be a DNS-1123 label (lowercase letters, digits, '-', at most 63)",
        });
      }
      const result = validateRegistryConfig(entry.config, entry.kind);
      errors.push(...prefixed(entry.path, "config", result.errors));
      warnings.push(...prefixed(entry.path, "config", result.warnings));
    }
  }
  return { errors, warnings };
}

function objectDocument(object: K8sObject): RenderedDocument {
  return { type: "object", file: objectFileName(object), content: object };
}

/** Renders valid entries into documents, in order; a Namespace rendered twice is kept once. */
export function renderEntries(entries: DeployEntry[]): RenderedDocument[] {
  const documents = entries.flatMap((entry): RenderedDocument[] => {
    switch (entry.kind) {
      case "Object":
        return [objectDocument(entry.object)];
      case "ImagePullSecret":
        return [
          objectDocument(
            imagePullSecret(
              entry.name,
              entry.config as unknown as ImagePullSecretConfig | SeedImagePullSecretConfig,
            ),
          ),
        ];
      case "Built": {
        // Rebuilt from its spec: a hand-written object may hold only part of the options, and
        // the builders derive everything else (metadata, labels) from the spec.
        const spec = entry.object.spec as Record<string, unknown>;
        const name = typeof spec.name === "string" ? spec.name : entry.object.metadata.name;
        return renderDocuments(buildConfig(entry.object.kind, name, spec as never));
      }
      default:
        return renderDocuments(buildConfig(entry.kind, entry.name, entry.config as never));
    }
  });
  const namespaces = new Set<string>();
  return documents.filter((d) => {
    const object = d.content as K8sObject;
    if (d.type !== "object" || object.kind !== "Namespace") return true;
    if (namespaces.has(object.metadata.name)) return false;
    namespaces.add(object.metadata.name);
    return true;
  });
}

/** `<kind>-<name>.yaml`, lowercase. */
export function objectFileName(object: K8sObject): string {
  return `${object.kind}-${object.metadata.name}.yaml`.toLowerCase().replace(/[^a-z0-9._-]/g, "-");
}

function formatErrors(errors: ValidationError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}\n`).join("");
}

const DOCUMENT_TYPES: DocumentType[] = [
  "object",
  "helm-values",
  "api-request",
  "reestr-policy",
  "build-config",
];
const TYPE_ALIASES: Record<string, DocumentType> = {
  objects: "object",
  values: "helm-values",
  helm: "helm-values",
  api: "api-request",
  policy: "reestr-policy",
  policies: "reestr-policy",
  build: "build-config",
};

function parseOnly(value: string): DocumentType[] {
  return value.split(",").map((part) => {
    const name = part.trim();
    const type = (DOCUMENT_TYPES as string[]).includes(name) ? (name as DocumentType) : TYPE_ALIASES[name];
    if (!type) {
      throw new ConfigError(
        `--only: unknown document type "${name}" (expected ${DOCUMENT_TYPES.join(", ")})`,
      );
    }
    return type;
  });
}

/** The file content of a document written with -o: JSON for API requests, YAML otherwise. */
function documentFile(document: RenderedDocument): string {
  if (document.file.endsWith(".json")) return `${JSON.stringify(document.content, null, 2)}\n`;
  return documentYaml(document);
}

function formatWarnings(warnings: ValidationError[]): string {
  return warnings.map((w) => `warning: ${w.path}: ${w.message}\n`).join("");
}

/** Runs `reestr deploy <argv>`; returns the exit code. */
export async function runDeploy(argv: string[], io: DeployIo = processIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  let values: { output?: string; json?: boolean; help?: boolean; only?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: "string", short: "o" },
        only: { type: "string" },
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
  if (sub === "validate" && (values.output !== undefined || values.only !== undefined)) {
    io.stderr(`reestr deploy validate: -o/--output and --only only apply to render\n`);
    return 2;
  }
  let entries: DeployEntry[];
  let only: DocumentType[] | undefined;
  try {
    only = values.only === undefined ? undefined : parseOnly(values.only);
    entries = parseEntries(await loadDeployFile(file, cwd));
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`reestr deploy ${sub}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const { errors, warnings } = validateEntries(entries);
  if (sub === "validate") {
    if (values.json) {
      io.stdout(`${JSON.stringify({ valid: errors.length === 0, errors, warnings }, null, 2)}\n`);
    } else {
      io.stdout((errors.length === 0 ? "valid\n" : formatErrors(errors)) + formatWarnings(warnings));
    }
    return errors.length === 0 ? 0 : 1;
  }
  if (errors.length > 0) {
    io.stderr(`reestr deploy render: ${file} is invalid:\n${formatErrors(errors)}`);
    return 1;
  }
  io.stderr(formatWarnings(warnings));
  let documents = renderEntries(entries);
  if (only) {
    const wanted = new Set(only);
    documents = documents.filter((d) => wanted.has(d.type));
  }
  if (values.output === undefined) {
    if (values.json) {
      io.stdout(`${JSON.stringify(documents, null, 2)}\n`);
    } else {
      io.stdout(documentsYaml(documents));
    }
    return 0;
  }
  const dir = resolve(cwd, values.output);
  const seen = new Set<string>();
  for (const document of documents) {
    if (seen.has(document.file)) {
      io.stderr(`reestr deploy render: two documents would both be written to ${document.file}\n`);
      return 2;
    }
    seen.add(document.file);
  }
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const document of documents) {
    const path = join(dir, document.file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, documentFile(document));
    written.push(path);
  }
  if (values.json) io.stdout(`${JSON.stringify({ files: written }, null, 2)}\n`);
  else io.stdout(written.map((p) => `wrote ${p}\n`).join(""));
  return 0;
}

export default {
  name: "deploy",
  summary: "render or validate deploy-kit configs (Kubernetes YAML, Helm values, registry policies)",
  usage,
  run: (argv) => runDeploy(argv),
} satisfies Command;
