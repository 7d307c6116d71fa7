/**
 * The part of Kubernetes' CRD schema handling the tests need, over the OpenAPI v3 subset a
 * structural schema uses (type, properties, items, required, enum, pattern, min/max, lengths,
 * format date-time/uri/int64, default): validation as the API server does it on create and
 * update, defaulting (nested defaults applied to objects that exist or are defaulted to `{}`),
 * pruning of unknown fields, and the structural rules themselves (every node typed, no
 * `additionalProperties: false`).
 */

export type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  default?: unknown;
  additionalProperties?: boolean | Schema;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  [key: string]: unknown;
};

export interface SchemaProblem {
  path: string;
  message: string;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Problems of `value` against `schema`, with field paths like `spec.tagFilter.limit`. */
export function validate(schema: Schema, value: unknown, path = ""): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const at = path === "" ? "(root)" : path;
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const ok = schema.type === actual || (schema.type === "number" && actual === "integer");
    if (!ok) return [{ path: at, message: `expected ${schema.type}, got ${actual}` }];
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) {
    problems.push({ path: at, message: `must be one of ${schema.enum.map(String).join(", ")}` });
  }
  if (typeof value === "string") {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
      problems.push({ path: at, message: `must match ${schema.pattern}` });
    }
    if (schema.minLength !== undefined && value.length < schema.minLength)
      problems.push({ path: at, message: `shorter than ${schema.minLength}` });
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      problems.push({ path: at, message: `longer than ${schema.maxLength}` });
    if (schema.format === "date-time" && !DATE_TIME.test(value))
      problems.push({ path: at, message: "must be a date-time" });
    if (schema.format === "uri" && !URL.canParse(value))
      problems.push({ path: at, message: "must be a URI" });
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push({ path: at, message: `less than ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push({ path: at, message: `more than ${schema.maximum}` });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push({ path: at, message: `fewer than ${schema.minItems} items` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problems.push({ path: at, message: `more than ${schema.maxItems} items` });
    if (schema.items) {
      for (const [i, item] of value.entries())
        problems.push(...validate(schema.items, item, `${path}[${i}]`));
    }
  }
  if (actual === "object") {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (object[name] === undefined)
        problems.push({ path: path ? `${path}.${name}` : name, message: "Required value" });
    }
    for (const [name, child] of Object.entries(object)) {
      const childPath = path ? `${path}.${name}` : name;
      const childSchema = schema.properties?.[name];
      if (childSchema) problems.push(...validate(childSchema, child, childPath));
      else if (typeof schema.additionalProperties === "object")
        problems.push(...validate(schema.additionalProperties, child, childPath));
    }
  }
  return problems;
}

/** Applies defaults in place, as the API server does on the way in (and when reading from etcd). */
export function applyDefaults(schema: Schema, value: unknown): unknown {
  if (typeOf(value) === "object" && schema.properties) {
    const object = value as Record<string, unknown>;
    for (const [name, child] of Object.entries(schema.properties)) {
      if (object[name] === undefined && child.default !== undefined)
        object[name] = structuredClone(child.default);
      if (object[name] !== undefined) object[name] = applyDefaults(child, object[name]);
    }
  } else if (Array.isArray(value) && schema.items) {
    return value.map((item) => applyDefaults(schema.items!, item));
  }
  return value;
}

/** Drops fields the schema does not declare (Kubernetes' pruning), in place. */
export function prune(schema: Schema, value: unknown): unknown {
  if (schema["x-kubernetes-preserve-unknown-fields"]) return value;
  if (typeOf(value) === "object" && schema.properties) {
    const object = value as Record<string, unknown>;
    for (const name of Object.keys(object)) {
      const child = schema.properties[name];
      if (!child) delete object[name];
      else prune(child, object[name]);
    }
  } else if (Array.isArray(value) && schema.items) {
    for (const item of value) prune(schema.items, item);
  }
  return value;
}

/** Violations of the structural-schema rules (apiextensions.k8s.io/v1 requires them). */
export function structuralProblems(schema: Schema, path = ""): string[] {
  const at = path === "" ? "(root)" : path;
  const problems: string[] = [];
  if (schema.type === undefined && !schema["x-kubernetes-preserve-unknown-fields"]) {
    problems.push(`${at}: no type`);
  }
  if (schema.additionalProperties === false) problems.push(`${at}: additionalProperties: false`);
  if (schema.additionalProperties !== undefined && schema.properties !== undefined) {
    problems.push(`${at}: both properties and additionalProperties`);
  }
  for (const key of ["$schema", "$ref", "oneOf", "anyOf", "allOf", "not"]) {
    if (key in schema) problems.push(`${at}: ${key} is not allowed here`);
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    problems.push(...structuralProblems(child, path ? `${path}.${name}` : name));
  }
  if (schema.items) problems.push(...structuralProblems(schema.items, `${path}[]`));
  if (schema.default !== undefined) {
    for (const problem of validate(schema, schema.default, `${at}(default)`)) {
      problems.push(`${problem.path}: ${problem.message}`);
    }
  }
  return problems;
}
