/**
 * The catalogue's registries: a YAML file (`reestr ui -c registries.yaml`, or `catalog.registries`
 * / `catalog.registriesFile` in `reestr serve`'s config) or a typed `defineRegistries([...])` in
 * TypeScript, both validated by the schema below.
 *
 * Secrets never live in the file: credentials come from environment variables
 * (`REESTR_REGISTRY_<ID>_USERNAME`, `_PASSWORD`, `_TOKEN`, or names given by `usernameEnv`,
 * `passwordEnv`, `tokenEnv`). A secret-looking field in the file is an error naming it.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { ConfigError, type ConfigProblem } from "../util/config-error.ts";
import { PositiveDuration } from "../util/duration.ts";
import { formatPath } from "../watcher/spec.ts";

/** Ids are URL path segments and parts of environment variable names. */
const REGISTRY_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Field names that hold secrets: never accepted in a file. */
const SECRET_FIELD = /^(password|passwd|token|secret|accessToken|apiKey|auth|authorization|credentials)$/i;

const envName = z.string().regex(ENV_NAME, "must be an environment variable name");

const AuthSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("anonymous") }).strict(),
  z
    .object({
      type: z.literal("basic"),
      /** Default REESTR_REGISTRY_<ID>_USERNAME. */
      usernameEnv: envName.optional(),
      /** Default REESTR_REGISTRY_<ID>_PASSWORD. */
      passwordEnv: envName.optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal("bearer"),
      /** Default REESTR_REGISTRY_<ID>_TOKEN. */
      tokenEnv: envName.optional(),
      /** For registries that exchange the token at their token service (Docker token spec). Default REESTR_REGISTRY_<ID>_USERNAME, else "token". */
      usernameEnv: envName.optional(),
    })
    .strict(),
]);

export const RegistryDefinitionSchema = z
  .object({
    id: z
      .string()
      .regex(REGISTRY_ID, "must be lowercase letters, digits and dashes (e.g. ghcr, team-registry)"),
    displayName: z.string().min(1).max(200).optional(),
    description: z.string().max(2000).optional(),
    /** The registry's base URL (its /v2/ lives under it). */
    baseUrl: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
    /** An OpenAPI document of the registry's API, checked for the operations the catalogue needs. */
    openapiUrl: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
    auth: AuthSchema.default({ type: "anonymous" }),
    tls: z
      .object({
        /** Trust self-signed or otherwise unverifiable certificates. */
        allowInsecure: z.boolean().default(false),
        /** Permit plain http:// to a non-loopback host. */
        allowHttp: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Feature flags; unset ones are learnt by probing. */
    capabilities: z
      .object({
        /** false: never call /v2/_catalog (list `repositories` instead). */
        catalog: z.boolean().optional(),
        /** false: never call the referrers API. */
        referrers: z.boolean().optional(),
        /** Look for READMEs (annotations, README artifacts). Default true. */
        supportsReadme: z.boolean().optional(),
        /** Look for SBOMs and attestations among referrers. Default true. */
        supportsSbom: z.boolean().optional(),
        supportsMetrics: z.boolean().optional(),
      })
      .strict()
      .prefault({}),
    /** Repositories to show when the registry has no catalog (e.g. Docker Hub: library/nginx). */
    repositories: z.array(z.string().min(1).max(255)).optional(),
    /** Host shown in pull commands, when clients reach the registry under another name. */
    pullHost: z.string().min(1).optional(),
    /** Per-request timeout. Default 10s. */
    timeout: PositiveDuration.optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    let base: URL;
    try {
      base = new URL(value.baseUrl);
    } catch {
      return; // already reported by the field's own check
    }
    if (base.protocol === "http:" && !value.tls?.allowHttp && !isLoopback(base.hostname)) {
      ctx.addIssue({
        code: "custom",
        path: ["baseUrl"],
        message: "plain http:// to a non-loopback host needs tls.allowHttp: true",
      });
    }
    if (base.search || base.hash || base.username || base.password) {
      ctx.addIssue({
        code: "custom",
        path: ["baseUrl"],
        message: "must not carry credentials, a query or a fragment",
      });
    }
  });

export type RegistryDefinitionInput = z.input<typeof RegistryDefinitionSchema>;
export type RegistryDefinition = z.output<typeof RegistryDefinitionSchema>;

const RegistryListSchema = z.array(RegistryDefinitionSchema).superRefine((list, ctx) => {
  const seen = new Map<string, number>();
  list.forEach((entry, index) => {
    if (entry.id === "local") {
      ctx.addIssue({
        code: "custom",
        path: [index, "id"],
        message: '"local" is reserved for the registry of `reestr serve` itself',
      });
    }
    const first = seen.get(entry.id);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [index, "id"],
        message: `duplicate id "${entry.id}" (also registries[${first}])`,
      });
    } else {
      seen.set(entry.id, index);
    }
  });
});

/** The cache settings shared by `catalog.cache` and the registries file's `cache`. */
export const CatalogCacheSchema = z
  .object({
    /** How long data is served without asking the registry again. */
    ttl: PositiveDuration.prefault("60s"),
    /** After the ttl, stale data is still served (and refreshed in the background) for this long. */
    staleTtl: PositiveDuration.prefault("10m"),
    /** Entries kept by the in-memory cache. */
    maxEntries: z.int().min(10).default(5000),
    /** Redis instead of memory (also REESTR_REDIS_URL). */
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL")
      .optional(),
  })
  .strict();
export type CatalogCacheSettings = z.output<typeof CatalogCacheSchema>;

/** `reestr serve`'s `catalog` section (src/config/config.ts). */
export const CatalogSectionSchema = z
  .object({
    /** Registries shown beside Reestr's own ("local"). */
    registries: z.unknown().optional(),
    /** A registries file (YAML: a list, or `registries: [...]`), instead of `registries`. */
    registriesFile: z.string().min(1).optional(),
    cache: CatalogCacheSchema.prefault({}),
    /** Per-registry probe timeout at start and on resync. */
    probeTimeout: PositiveDuration.prefault("5s"),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.registries !== undefined && value.registriesFile !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["registriesFile"],
        message: "give either registries or registriesFile, not both",
      });
    }
    if (value.registries !== undefined) {
      try {
        parseRegistries(value.registries);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems) {
          // One path element, so the config's joined path reads `catalog.registries[0].baseUrl`.
          ctx.addIssue({ code: "custom", path: [`registries${problem.path}`], message: problem.message });
        }
      }
    }
  });
export type CatalogSection = z.output<typeof CatalogSectionSchema>;

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Secret-looking fields anywhere in a registry entry, with their paths. */
function secretFields(value: unknown, path: PropertyKey[]): PropertyKey[][] {
  if (Array.isArray(value)) return value.flatMap((item, index) => secretFields(item, [...path, index]));
  if (typeof value !== "object" || value === null) return [];
  const found: PropertyKey[][] = [];
  for (const [key, inner] of Object.entries(value)) {
    const here = [...path, key];
    // `auth` is the section itself (an object); a string there is a credential.
    if (SECRET_FIELD.test(key) && !(key === "auth" && typeof inner === "object")) found.push(here);
    else if (key === "username" && path.at(-1) === "auth") found.push(here);
    else found.push(...secretFields(inner, here));
  }
  return found;
}

/** The environment variable prefix of a registry: `REESTR_REGISTRY_TEAM_A_` for id `team-a`. */
export function envPrefix(id: string): string {
  return `REESTR_REGISTRY_${id.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_`;
}

function secretHint(entry: unknown, path: PropertyKey[]): string {
  const id =
    typeof entry === "object" && entry !== null && typeof (entry as { id?: unknown }).id === "string"
      ? (entry as { id: string }).id
      : "<ID>";
  const key = String(path.at(-1)).toLowerCase();
  const suffix = key.includes("user") ? "USERNAME" : key.includes("pass") ? "PASSWORD" : "TOKEN";
  return `secrets must not be written in the file; set the environment variable ${envPrefix(id)}${suffix} instead`;
}

/** Validates a list of registry definitions; a ConfigError names every bad field (`[1].baseUrl`). */
export function parseRegistries(input: unknown): RegistryDefinition[] {
  const problems: ConfigProblem[] = [];
  if (Array.isArray(input)) {
    input.forEach((entry, index) => {
      for (const path of secretFields(entry, [])) {
        problems.push({ path: formatPath([index, ...path]), message: secretHint(entry, path) });
      }
    });
  }
  const result = RegistryListSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          const path = formatPath([...issue.path, key]);
          if (!problems.some((p) => p.path === path)) problems.push({ path, message: "unknown field" });
        }
      } else {
        problems.push({ path: formatPath(issue.path), message: issue.message });
      }
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new ConfigError(
      `invalid registries:\n  ${problems.map((p) => `${p.path}: ${p.message}`).join("\n  ")}`,
      problems,
    );
  }
  return result.data;
}

/**
 * For TypeScript configs (`registry.config.ts`): the same validation as the YAML file, at load.
 *
 *   export default defineRegistries([{ id: "ghcr", baseUrl: "https://ghcr.io", auth: { type: "bearer" } }]);
 */
export function defineRegistries(registries: RegistryDefinitionInput[]): RegistryDefinition[] {
  return parseRegistries(registries);
}

export interface RegistriesFile {
  registries: RegistryDefinition[];
  cache?: CatalogCacheSettings;
}

/** Reads a registries file: YAML (or JSON) holding a list, or `{ registries: [...], cache: {...} }`. */
export async function loadRegistriesFile(path: string): Promise<RegistriesFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read registries file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    const { parse } = await import("yaml");
    parsed = parse(text);
  } catch (error) {
    throw new ConfigError(`registries file ${path} is not valid YAML: ${(error as Error).message}`);
  }
  const where = (error: unknown) =>
    error instanceof ConfigError
      ? new ConfigError(`${path}: ${error.message}`, error.problems)
      : (error as Error);
  if (Array.isArray(parsed)) {
    try {
      return { registries: parseRegistries(parsed) };
    } catch (error) {
      throw where(error);
    }
  }
  if (typeof parsed !== "object" || parsed === null) {
    throw new ConfigError(
      `registries file ${path} must hold a list of registries or a mapping with "registries"`,
    );
  }
  const { registries, cache, ...rest } = parsed as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new ConfigError(`${path}: ${unknown.join(", ")}: unknown setting`);
  let list: RegistryDefinition[];
  try {
    list = parseRegistries(registries ?? []);
  } catch (error) {
    if (error instanceof ConfigError) {
      const problems = error.problems.map((p) => ({
        ...p,
        path: `registries${p.path.startsWith("[") ? "" : "."}${p.path}`,
      }));
      throw new ConfigError(
        `${path}: invalid registries:\n  ${problems.map((p) => `${p.path}: ${p.message}`).join("\n  ")}`,
        problems,
      );
    }
    throw error;
  }
  let cacheSettings: CatalogCacheSettings | undefined;
  if (cache !== undefined) {
    const result = CatalogCacheSchema.safeParse(cache);
    if (!result.success) {
      const problems = result.error.issues.map(
        (issue) => `cache.${formatPath(issue.path)}: ${issue.message}`,
      );
      throw new ConfigError(`${path}: invalid cache settings:\n  ${problems.join("\n  ")}`);
    }
    cacheSettings = result.data;
  }
  return { registries: list, ...(cacheSettings ? { cache: cacheSettings } : {}) };
}

/** Credentials resolved from the environment; never serialized, never logged. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** A static bearer token sent on every request. */
  token?: string;
}

export type CredentialResolution =
  | { ok: true; credentials: RegistryCredentials }
  | { ok: false; message: string };

/** Reads a registry's secrets from the environment; a missing variable is named in the message. */
export function resolveCredentials(
  definition: RegistryDefinition,
  env: NodeJS.ProcessEnv = process.env,
): CredentialResolution {
  const prefix = envPrefix(definition.id);
  const auth = definition.auth;
  if (auth.type === "anonymous") return { ok: true, credentials: {} };
  if (auth.type === "basic") {
    const userVar = auth.usernameEnv ?? `${prefix}USERNAME`;
    const passVar = auth.passwordEnv ?? `${prefix}PASSWORD`;
    const missing = [userVar, passVar].filter((name) => !env[name]);
    if (missing.length > 0)
      return { ok: false, message: `basic auth needs ${missing.join(" and ")} to be set` };
    return { ok: true, credentials: { username: env[userVar]!, password: env[passVar]! } };
  }
  const tokenVar = auth.tokenEnv ?? `${prefix}TOKEN`;
  const token = env[tokenVar];
  if (!token) return { ok: false, message: `bearer auth needs ${tokenVar} to be set` };
  const username = env[auth.usernameEnv ?? `${prefix}USERNAME`] ?? "token";
  return { ok: true, credentials: { token, username, password: token } };
}

/** Replaces every occurrence of the secrets in a text (error messages from upstream, logs). */
export function maskSecrets(text: string, credentials: RegistryCredentials | undefined): string {
  let masked = text;
  for (const secret of [credentials?.password, credentials?.token]) {
    if (secret && secret.length >= 4) masked = masked.split(secret).join("****");
  }
  return masked;
}
