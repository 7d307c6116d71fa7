/**
 * Strict deep-partial zod schemas derived from a builder's defaults: every key of the defaults is
 * optional and typed like its default value, unknown keys are errors. Fields whose type the
 * default cannot tell (enums, array elements, maps) are given by path in `overrides`.
 */
import { z } from "zod";
import { DNS_LABEL, type ValidationError } from "./common.ts";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A schema for DeepPartial<typeof defaults>; `overrides` keys are dotted paths ("storage.type"). */
export function partialSchema(
  defaults: Record<string, unknown>,
  overrides: Record<string, z.ZodType>,
  path = "",
): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, value] of Object.entries(defaults)) {
    const at = path ? `${path}.${key}` : key;
    shape[key] = (overrides[at] ?? schemaFor(value, overrides, at)).optional();
  }
  return z.strictObject(shape);
}

function schemaFor(value: unknown, overrides: Record<string, z.ZodType>, path: string): z.ZodType {
  if (typeof value === "string") return z.string();
  if (typeof value === "number") return z.number();
  if (typeof value === "boolean") return z.boolean();
  if (Array.isArray(value)) return z.array(z.string());
  if (isPlainObject(value)) {
    // An empty default object is a free-form map (labels, annotations).
    if (Object.keys(value).length === 0) return z.record(z.string(), z.string());
    return partialSchema(value, overrides, path);
  }
  return z.unknown();
}

export const dnsLabel = z
  .string()
  .regex(DNS_LABEL, "must be a DNS-1123 label (lowercase letters, digits, '-', at most 63)");
export const nonNegativeInt = z.number().int().min(0);
export const integer = z.number().int();
export const port = z.number().int().min(1).max(65535);

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

/** Parses `input`; on failure returns the issues as path-named errors. */
export function schemaErrors(
  schema: z.ZodType,
  input: unknown,
): { ok: true; data: unknown } | { ok: false; errors: ValidationError[] } {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, data: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  };
}
