/**
 * `defineKind()`: one config kind of the deploy kit from its zod schema. The schema is the only
 * description of the kind's options — input type, config type and defaults all come from it —
 * and everything else is typed on it: the builder takes `z.input` and returns the parsed
 * `z.output` as `spec`, the semantic rules and the metadata read that spec, the renderer takes
 * the builder's result.
 */
import type { z } from "zod";
import {
  DEPLOY_API_VERSION,
  type DocumentRenderOptions,
  isPlainObject,
  Problems,
  type RenderedDocument,
} from "./common.ts";
import { issueErrors, parseOrThrow } from "./schema.ts";

/** A builder's result: framework metadata around the parsed config. */
export interface Built<Kind extends string, Metadata, Spec> {
  apiVersion: typeof DEPLOY_API_VERSION;
  kind: Kind;
  metadata: Metadata;
  spec: Spec;
}

/** What every builder's metadata has. */
export interface BaseMetadata {
  name: string;
  namespace?: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: { path: string; message: string }[];
  /** Things the rendered output leaves to the user or cannot express; they do not make the config invalid. */
  warnings: { path: string; message: string }[];
}

export interface KindDefinition<Kind extends string, S extends z.ZodType, Metadata extends BaseMetadata> {
  kind: Kind;
  /** Strict, every field with its default: `schema.parse({})` is the kind's defaults. */
  schema: S;
  /** The builder's metadata, derived from the spec alone (so a result can be rebuilt from its spec). */
  metadata: (spec: z.output<S>) => Metadata;
  /** Semantic rules on a parsed config (the schema has checked shapes and types). */
  problems: (spec: z.output<S>, problems: Problems) => void;
  /** The documents a builder's result renders to, in apply order. */
  render: (built: Built<Kind, Metadata, z.output<S>>, options: DocumentRenderOptions) => RenderedDocument[];
}

/** What dispatch by kind name needs, the same for every kind. */
export interface AnyKind<Kind extends string = string> {
  kind: Kind;
  /** The builder for input of unknown shape (a config file's entry): parsed, so bad input throws. */
  buildUnknown: (name: string, input: unknown) => Built<Kind, BaseMetadata, unknown>;
  /** Schema errors, or else the semantic rules' errors and warnings. */
  validate: (input: unknown) => ValidationResult;
  /** The documents of a result of this kind, rebuilt from its spec (metadata follows from the spec). */
  renderBuilt: (
    built: { metadata: BaseMetadata; spec: unknown },
    options: DocumentRenderOptions,
  ) => RenderedDocument[];
}

export interface Kind<K extends string, S extends z.ZodType, Metadata extends BaseMetadata>
  extends AnyKind<K> {
  /** `builder(name, input)`: `input` (any subset of the options, at any depth) over the defaults. */
  build: (name: string, input?: z.input<S>) => Built<K, Metadata, z.output<S>>;
  buildUnknown: (name: string, input: unknown) => Built<K, Metadata, z.output<S>>;
}

/** The builder's `name` argument is the default of the `name` option. */
function withName(name: string, input: unknown): unknown {
  if (!isPlainObject(input) || input["name"] !== undefined) return input;
  return { ...input, name };
}

export function defineKind<const K extends string, S extends z.ZodType, Metadata extends BaseMetadata>(
  definition: KindDefinition<K, S, Metadata>,
): Kind<K, S, Metadata> {
  const { kind, schema } = definition;
  const buildUnknown = (name: string, input: unknown = {}): Built<K, Metadata, z.output<S>> => {
    const spec = parseOrThrow(schema, withName(name, input), `${kind} "${name}": `);
    return { apiVersion: DEPLOY_API_VERSION, kind, metadata: definition.metadata(spec), spec };
  };
  return {
    kind,
    // One function: typed input for callers, unknown input for dispatch; the schema checks both.
    build: buildUnknown,
    buildUnknown,
    renderBuilt: (built, options) =>
      definition.render(buildUnknown(built.metadata.name, built.spec), options),
    validate: (input) => {
      const parsed = schema.safeParse(input ?? {});
      if (!parsed.success) return { valid: false, errors: issueErrors(parsed.error), warnings: [] };
      const problems = new Problems();
      definition.problems(parsed.data, problems);
      return { valid: problems.errors.length === 0, errors: problems.errors, warnings: problems.warnings };
    },
  };
}
