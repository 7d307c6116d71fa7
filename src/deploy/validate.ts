/**
 * `validateRegistryConfig(config)`: checks a Docker Registry config (the deep-partial input of
 * `dockerRegistry`, or the object it returns) and reports every problem with its path.
 *
 * Two layers: schema errors (unknown keys, wrong types, bad enum values) from a strict zod
 * schema of DockerRegistryConfig, then semantic rules on the config merged over the defaults:
 * S3 enabled without bucket, TLS enabled without certificate and key, invalid CPU/memory
 * quantities, replicas < 1, token/htpasswd auth missing what it needs.
 */
import { z } from "zod";
import { cronError, type DeepPartial, deepMerge, isValidQuantity } from "./common.ts";
import { DOCKER_REGISTRY_DEFAULTS, type DockerRegistryConfig, portOf, usesS3 } from "./docker-registry.ts";

export interface ValidationError {
  /** Dotted path, array indices in brackets: `storage.s3.bucket`, `notifications.endpoints[0].url`. */
  path: string;
  message: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: ValidationError[];
}

const resourceList = z.strictObject({ cpu: z.string(), memory: z.string() }).partial();
const middlewareEntry = z.strictObject({
  name: z.string().min(1),
  options: z.record(z.string(), z.unknown()).optional(),
});
const stringMap = z.record(z.string(), z.string());

/** DeepPartial<DockerRegistryConfig>, strict (unknown keys are errors). */
const dockerRegistrySchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label (lowercase, digits, '-')"),
    version: z.string(),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label (lowercase, digits, '-')"),
    replicas: z.number().int(),
    image: z.string().min(1),
    storage: z
      .strictObject({
        driver: z.enum(["filesystem", "s3"]),
        filesystem: z
          .strictObject({ rootdirectory: z.string().min(1), maxthreads: z.number().int().min(25) })
          .partial(),
        s3: z
          .strictObject({
            enabled: z.boolean(),
            accesskey: z.string(),
            secretkey: z.string(),
            region: z.string(),
            bucket: z.string(),
            encrypt: z.boolean(),
            secure: z.boolean(),
            regionendpoint: z.string(),
            existingSecret: z.string(),
          })
          .partial(),
        delete: z.strictObject({ enabled: z.boolean() }).partial(),
        persistence: z
          .strictObject({
            enabled: z.boolean(),
            size: z.string(),
            storageClassName: z.string(),
            accessModes: z.array(
              z.enum(["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]),
            ),
          })
          .partial(),
      })
      .partial(),
    http: z
      .strictObject({
        addr: z.string(),
        net: z.enum(["tcp", "unix"]),
        tlsenabled: z.boolean(),
        tlscertificate: z.string(),
        tlskey: z.string(),
        tlsSecretName: z.string(),
        tlsMountPath: z.string(),
        secret: z.string(),
        debugAddr: z.string(),
      })
      .partial(),
    auth: z
      .strictObject({
        enabled: z.boolean(),
        scheme: z.enum(["bearer", "htpasswd"]),
        token: z
          .strictObject({
            realm: z.string(),
            service: z.string(),
            issuer: z.string(),
            rootcertbundle: z.string(),
            secretName: z.string(),
          })
          .partial(),
        htpasswd: z
          .strictObject({
            realm: z.string(),
            path: z.string(),
            secretName: z.string(),
            entries: z.array(z.string()),
          })
          .partial(),
      })
      .partial(),
    middleware: z
      .strictObject({ storage: z.array(middlewareEntry), registry: z.array(middlewareEntry) })
      .partial(),
    log: z
      .strictObject({
        level: z.enum(["error", "warn", "info", "debug"]),
        format: z.enum(["json", "text", "logstash"]),
      })
      .partial(),
    notifications: z
      .strictObject({
        endpoints: z.array(
          z.strictObject({
            name: z.string().min(1),
            url: z.url(),
            headers: z.record(z.string(), z.array(z.string())).optional(),
            timeout: z.string().optional(),
            threshold: z.number().int().min(1).optional(),
            backoff: z.string().optional(),
            disabled: z.boolean().optional(),
            ignoredmediatypes: z.array(z.string()).optional(),
          }),
        ),
      })
      .partial(),
    resources: z.strictObject({ limits: resourceList, requests: resourceList }).partial(),
    labels: stringMap,
    annotations: stringMap,
  })
  .partial();

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

/** Go duration syntax as Distribution parses it: "10s", "1m30s", "500ms". */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function semanticErrors(spec: DockerRegistryConfig): ValidationError[] {
  const errors: ValidationError[] = [];
  const add = (path: string, message: string) => errors.push({ path, message });

  if (spec.replicas < 1) add("replicas", `must be at least 1, got ${spec.replicas}`);

  if (usesS3(spec)) {
    if (!spec.storage.s3.bucket) add("storage.s3.bucket", "S3 storage is enabled but no bucket is set");
    if (!spec.storage.s3.region && !spec.storage.s3.regionendpoint) {
      add("storage.s3.region", "S3 storage needs a region (or a regionendpoint)");
    }
    if (Boolean(spec.storage.s3.accesskey) !== Boolean(spec.storage.s3.secretkey)) {
      add("storage.s3.secretkey", "accesskey and secretkey must be set together");
    }
  }
  if (!usesS3(spec) && spec.storage.persistence.enabled) {
    const size = spec.storage.persistence.size;
    if (!isValidQuantity(size)) add("storage.persistence.size", `invalid storage quantity "${size}"`);
  }

  if (spec.http.tlsenabled) {
    if (!spec.http.tlscertificate)
      add("http.tlscertificate", "TLS is enabled but no certificate path is set");
    if (!spec.http.tlskey) add("http.tlskey", "TLS is enabled but no key path is set");
  }
  for (const key of ["addr", "debugAddr"] as const) {
    const addr = spec.http[key];
    if (key === "debugAddr" && addr === "") continue;
    try {
      const port = portOf(addr);
      if (port < 1 || port > 65535) add(`http.${key}`, `port ${port} out of range`);
    } catch {
      add(`http.${key}`, `"${addr}" is not a listen address like ":5000"`);
    }
  }

  if (spec.auth.enabled) {
    if (spec.auth.scheme === "bearer") {
      for (const key of ["realm", "service", "issuer", "rootcertbundle"] as const) {
        if (!spec.auth.token[key]) add(`auth.token.${key}`, `token auth is enabled but ${key} is empty`);
      }
    } else if (spec.auth.htpasswd.entries.length === 0 && !spec.auth.htpasswd.secretName) {
      add("auth.htpasswd", "htpasswd auth needs entries or the name of a Secret holding them");
    }
  }

  for (const group of ["limits", "requests"] as const) {
    for (const key of ["cpu", "memory"] as const) {
      const value = spec.resources[group][key];
      if (!isValidQuantity(value)) add(`resources.${group}.${key}`, `invalid ${key} quantity "${value}"`);
    }
  }

  (spec.notifications.endpoints ?? []).forEach((endpoint, i) => {
    for (const key of ["timeout", "backoff"] as const) {
      const value = endpoint[key];
      if (value !== undefined && !GO_DURATION.test(value)) {
        add(`notifications.endpoints[${i}].${key}`, `invalid duration "${value}" (e.g. "1s", "500ms")`);
      }
    }
  });
  return errors;
}

/**
 * Validates a Docker Registry config (deep-partial input, or a `dockerRegistry()` result, whose
 * `spec` is checked and reported under `spec.`).
 */
export function validateRegistryConfig(config: unknown): ValidationResult {
  let input = config;
  let prefix = "";
  if (
    typeof config === "object" &&
    config !== null &&
    (config as { kind?: unknown }).kind === "DockerRegistry"
  ) {
    input = (config as { spec?: unknown }).spec;
    prefix = "spec.";
  }
  const parsed = dockerRegistrySchema.safeParse(input);
  if (!parsed.success) {
    return {
      valid: false,
      errors: parsed.error.issues.map((issue) => ({
        path: prefix + formatPath(issue.path),
        message: issue.message,
      })),
    };
  }
  const spec = deepMerge(DOCKER_REGISTRY_DEFAULTS, parsed.data as DeepPartial<DockerRegistryConfig>);
  const errors = semanticErrors(spec).map((e) => ({ ...e, path: prefix + e.path }));
  return { valid: errors.length === 0, errors };
}

/** Validates a cron schedule field; exported for the policies and Harbor configs of later slices. */
export function validateCron(path: string, expression: string): ValidationError[] {
  const error = cronError(expression);
  return error ? [{ path, message: `invalid cron schedule "${expression}": ${error}` }] : [];
}
