import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { AUTH_ENVIRONMENT_VARIABLES, AuthConfigSchema } from "../auth/auth-config.ts";
import { CatalogSectionSchema } from "../catalog/registries-config.ts";
import { LimitsSchema } from "../http/limits.ts";
import { ProxySchema } from "../proxy/proxy-config.ts";
import { NotificationsSchema } from "../registry/events/notifications-config.ts";
import { AuditSchema } from "../registry/http/audit.ts";
import { GcConfigSchema } from "../registry/lifecycle/gc-service.ts";
import { RetentionSchema } from "../registry/lifecycle/retention-config.ts";
import { MetadataConfigSchema } from "../registry/metadata/metadata-config.ts";
import { ImmutableTagsSchema, QuotasSchema } from "../registry/policy/policy-config.ts";
import { S3_ENVIRONMENT_VARIABLES, S3ConfigSchema } from "../registry/storage/s3-config.ts";
import { StorageReserve } from "../registry/storage-space.ts";
import { TlsSchema } from "../tls/config.ts";
import { ConfigError } from "../util/config-error.ts";
import { Duration } from "../util/duration.ts";
import { parseWatchSection, type WatchConfig } from "../watcher/watch-config.ts";

/**
 * The `watch` section (registries to scan on a schedule, as in `reestr watch`'s file), validated
 * by the watcher's own parser; its problems become issues under `watch`, e.g.
 * `watch.registries[0].url: …`.
 */
const watchSection = z.unknown().transform((value, ctx): WatchConfig => {
  try {
    return parseWatchSection(value, "watch");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) {
      const path = problem.path === "(root)" ? [] : [problem.path];
      ctx.addIssue({ code: "custom", message: problem.message, path, input: value });
    }
    return z.NEVER;
  }
});

export const ConfigSchema = z
  .object({
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(5000),
    dataDir: z.string().min(1).default("./data"),
    log: z
      .object({
        level: z.enum(["debug", "info", "warn", "error"]).default("info"),
        accessLog: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        /** DELETE on manifests, tags and blobs. */
        deleteEnabled: z.boolean().default(true),
        /** Uploads untouched for this long are removed. */
        uploadExpiry: Duration.prefault("24h"),
        /** "full": every metadata commit is fsynced; "normal": survives a crash of Reestr, not of the machine. */
        sync: z.enum(["full", "normal"]).default("full"),
        /**
         * Accept manifests whose blobs or child manifests are not in the repository (yet): for
         * mirrors and pull-through caches that push a manifest before or without its content.
         */
        allowSparseManifests: z.boolean().default(false),
        /**
         * Free space pushes leave on the data directory's disk, for metadata and deletes: a size
         * ("16MiB", or bytes) or a share of the disk ("1%"). Below it pushes get 507 STORAGE_FULL
         * and /readyz is not ready (src/registry/storage-space.ts).
         */
        reserve: StorageReserve.prefault("16MiB"),
        /** Count manifest pulls (GETs) and keep the last pull time per manifest and tag, written in batches. */
        pullStats: z.boolean().default(true),
        /** Blobs in an S3 bucket instead of dataDir/blobs (src/registry/storage/s3-config.ts). */
        s3: S3ConfigSchema.optional(),
      })
      .strict()
      .prefault({}),
    /** Where the metadata lives: metadata.sqlite, or PostgreSQL (src/registry/metadata/metadata-config.ts). */
    metadata: MetadataConfigSchema.optional(),
    /** Garbage collection: what it removes, its grace period and schedule (src/registry/lifecycle/gc.ts). */
    gc: GcConfigSchema.prefault({}),
    /** How long SIGTERM waits for in-flight requests before closing connections. */
    shutdownTimeout: Duration.prefault("30s"),
    /** Users, tokens and access rules on /v2 (src/auth/auth-config.ts); absent: the registry is open. */
    auth: AuthConfigSchema.optional(),
    /** Registries the server's watcher scans on a schedule; results under /api/watch. */
    watch: watchSection.optional(),
    /** HTTPS: automatic local CA and certificate, or your own (src/tls/config.ts). */
    tls: TlsSchema.optional(),
    /** Rate limits, login lockout, size limits, timeouts (src/http/limits.ts). */
    limits: LimitsSchema.optional(),
    /** Audit log of pushes, pulls and deletes (src/registry/http/audit.ts). */
    audit: AuditSchema.optional(),
    /**
     * Redis shared by replicas: locks (blob commits versus GC, the GC leader), cache
     * invalidation, and the catalogue cache when `catalog.cache.redisUrl` is not set
     * (src/registry/redis-coordination.ts). Several replicas on one database need it.
     */
    redis: z
      .object({
        url: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL"),
      })
      .strict()
      .optional(),
    /** The web catalogue's remote registries and cache (src/catalog/registries-config.ts). */
    catalog: CatalogSectionSchema.optional(),
    /** Storage quotas per repository glob (src/registry/policy/policy-config.ts). */
    quotas: QuotasSchema.optional(),
    /** Tags that may be pushed once and never moved or deleted (src/registry/policy/policy-config.ts). */
    immutableTags: ImmutableTagsSchema.optional(),
    /** Tag retention policies and their schedule (src/registry/lifecycle/retention-config.ts). */
    retention: RetentionSchema.optional(),
    /** Webhooks: registry events sent to HTTP receivers (src/registry/events/notifications-config.ts). */
    notifications: NotificationsSchema.optional(),
    /** Pull-through caches of other registries, one per path prefix (docs/pull-through-cache.md). */
    proxy: ProxySchema.optional(),
  })
  .strict();

export type ReestrConfig = z.infer<typeof ConfigSchema>;

export { ConfigError } from "../util/config-error.ts";

/** Overrides from flags or the environment, by dotted config path. */
export type ConfigOverrides = Record<string, unknown>;

/** Environment variables and the config field each sets. */
type VariableType = "string" | "number" | "boolean" | "duration";

/**
 * `onlyWith`: the variable applies only when that section is configured (by the file or another
 * variable), so a secret in the environment does not conjure up a half-configured section.
 */
export const ENVIRONMENT_VARIABLES: Record<string, { path: string; type: VariableType; onlyWith?: string }> =
  {
    REESTR_HOST: { path: "host", type: "string" },
    REESTR_PORT: { path: "port", type: "number" },
    REESTR_DATA: { path: "dataDir", type: "string" },
    REESTR_LOG_LEVEL: { path: "log.level", type: "string" },
    REESTR_ACCESS_LOG: { path: "log.accessLog", type: "boolean" },
    REESTR_DELETE_ENABLED: { path: "storage.deleteEnabled", type: "boolean" },
    REESTR_UPLOAD_EXPIRY: { path: "storage.uploadExpiry", type: "duration" },
    REESTR_STORAGE_SYNC: { path: "storage.sync", type: "string" },
    REESTR_ALLOW_SPARSE_MANIFESTS: { path: "storage.allowSparseManifests", type: "boolean" },
    REESTR_STORAGE_RESERVE: { path: "storage.reserve", type: "string" },
    REESTR_SHUTDOWN_TIMEOUT: { path: "shutdownTimeout", type: "duration" },
    REESTR_GC_UNTAGGED: { path: "gc.untagged", type: "boolean" },
    REESTR_GC_GRACE_PERIOD: { path: "gc.gracePeriod", type: "duration" },
    REESTR_GC_SCHEDULE: { path: "gc.schedule", type: "string" },
    ...AUTH_ENVIRONMENT_VARIABLES,
    REESTR_TLS: { path: "tls.enabled", type: "boolean" },
    REESTR_TLS_CERT: { path: "tls.cert", type: "string" },
    REESTR_TLS_KEY: { path: "tls.key", type: "string" },
    REESTR_TLS_NAMES: { path: "tls.names", type: "string" },
    REESTR_AUDIT_FILE: { path: "audit.file", type: "string" },
    REESTR_REDIS_URL: { path: "redis.url", type: "string" },
    REESTR_POSTGRES_URL: { path: "metadata.postgres.url", type: "string" },
    REESTR_POSTGRES_POOL_SIZE: { path: "metadata.postgres.poolSize", type: "number" },
    ...Object.fromEntries(
      Object.entries(S3_ENVIRONMENT_VARIABLES).map(([name, spec]) => [
        name,
        { ...spec, onlyWith: "storage.s3" },
      ]),
    ),
  };

export function overridesFromEnvironment(env: NodeJS.ProcessEnv): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  for (const [name, { path, type }] of Object.entries(ENVIRONMENT_VARIABLES)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    overrides[path] = coerce(raw, type, name);
  }
  return overrides;
}

export function coerce(raw: string, type: VariableType, source: string): unknown {
  if (type === "number" || (type === "duration" && /^\d+(\.\d+)?$/.test(raw))) {
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new ConfigError(`${source}: expected a number, got "${raw}"`);
    return value;
  }
  if (type === "boolean") {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${source}: expected true or false, got "${raw}"`);
  }
  return raw;
}

/**
 * Builds the configuration: defaults < YAML file < environment < flags. Every problem is
 * reported with the field it concerns, e.g. `port: expected number, received string`.
 */
export async function loadConfig(options: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: ConfigOverrides;
}): Promise<ReestrConfig> {
  let fromFile: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = await readFile(options.file, "utf8");
    } catch (error) {
      throw new ConfigError(`cannot read config file ${options.file}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      // Loaded only when a file is given: the YAML parser costs memory a flag-only start doesn't need.
      const { parse: parseYaml } = await import("yaml");
      parsed = parseYaml(text);
    } catch (error) {
      throw new ConfigError(`config file ${options.file} is not valid YAML: ${(error as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new ConfigError(`config file ${options.file} must hold a mapping of settings`);
      }
      fromFile = parsed as Record<string, unknown>;
    }
  }
  const merged = structuredClone(fromFile);
  // An unset flag (undefined) must not hide the environment's value for the same setting.
  const flags = Object.entries(options.flags ?? {}).filter(([, value]) => value !== undefined);
  const overrides = Object.entries({
    ...overridesFromEnvironment(options.env ?? {}),
    ...Object.fromEntries(flags),
  });
  const conditional = new Map(
    Object.values(ENVIRONMENT_VARIABLES).flatMap((spec) =>
      spec.onlyWith ? [[spec.path, spec.onlyWith]] : [],
    ),
  );
  for (const [path, value] of overrides) if (!conditional.has(path)) setPath(merged, path, value);
  for (const [path, value] of overrides) {
    const section = conditional.get(path);
    if (section !== undefined && getPath(merged, section) !== undefined) setPath(merged, path, value);
  }
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const where = options.file ? ` (file ${options.file}, environment and flags)` : "";
    const problems = result.error.issues.map((issue) => {
      const path = fieldPath(issue.path) || "(root)";
      return issue.code === "unrecognized_keys"
        ? `${path === "(root)" ? "" : `${path}.`}${issue.keys.join(", ")}: unknown setting`
        : `${path}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration${where}:\n  ${problems.join("\n  ")}`);
  }
  const config = result.data;
  config.dataDir = resolve(config.dataDir);
  if (config.auth?.htpasswd) config.auth.htpasswd = resolve(config.auth.htpasswd);
  return config;
}

/** A zod issue path as people write it: `immutableTags[0].tags`. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === "number") return `${text}[${key}]`;
    return text ? `${text}.${String(key)}` : String(key);
  }, "");
}

function getPath(target: Record<string, unknown>, path: string): unknown {
  let node: unknown = target;
  for (const key of path.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}
