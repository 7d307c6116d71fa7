/**
 * Building blocks of the kinds' zod schemas. Each kind has one schema that is at once its input
 * type (`z.input`: every option optional, at any depth), its config type (`z.output`: every option
 * set) and its defaults (`.default()` on each field, `z.strictObject().prefault({})` on each group), so the three
 * cannot drift apart. Objects are strict: an unknown (misspelt) key is an error naming its path.
 */
import { z } from "zod";
import { DNS_LABEL, type ResourceList, type Resources, type ValidationError } from "./common.ts";

export const dnsLabel = z
  .string()
  .regex(DNS_LABEL, "must be a DNS-1123 label (lowercase letters, digits, '-', at most 63)");
export const integer = z.number().int();
export const port = z.number().int().min(1).max(65535);

/** Free-form string map (labels, annotations), empty by default. */
export function stringMap() {
  return z.record(z.string(), z.string()).prefault({});
}

/** A list of strings, empty by default. */
export function stringList() {
  return z.array(z.string()).prefault([]);
}

/** CPU and memory requests and limits with a kind's defaults. */
export function resourcesSchema(defaults: Resources) {
  const list = (values: ResourceList) =>
    z
      .strictObject({ cpu: z.string().default(values.cpu), memory: z.string().default(values.memory) })
      .prefault({});
  return z.strictObject({ limits: list(defaults.limits), requests: list(defaults.requests) }).prefault({});
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

/** The issues of a failed parse as path-named errors. */
export function issueErrors(error: z.ZodError): ValidationError[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/** `schema`'s output for `input`, or an Error listing each problem as "path: message" (after `prefix`). */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, prefix = ""): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = issueErrors(parsed.error).map((e) => `${e.path}: ${e.message}`);
  throw new Error(`${prefix}${problems.join("; ")}`);
}

/**
 * The first options of every registry: its name (object names; the builder's `name` argument by
 * default), the product version and the namespace (by default the default name).
 */
export function registryIdentity(name: string, version: string) {
  return {
    name: dnsLabel.default(name),
    version: z.string().default(version),
    namespace: dnsLabel.default(name),
  };
}

/** Requests and limits with a kind's defaults, and the labels and annotations put on everything rendered. */
export function workloadFields(resources: Resources) {
  return { resources: resourcesSchema(resources), labels: stringMap(), annotations: stringMap() };
}
