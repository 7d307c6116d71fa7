/**
 * The `Registry` spec and status (seeds 000/001, `registry.kubecontroller.io/v1alpha1`), as zod
 * schemas. This is the single source of truth for the watcher's input and output: the standalone
 * config (`reestr watch`), `reestr serve`'s watch section and the operator's CRD OpenAPI schema
 * (through `z.toJSONSchema`) are all derived from it, so the schemas stay free of transforms.
 *
 * Durations are integer seconds, as the seed's `int64` fields are.
 */
import { z } from "zod";
import { DIGEST_GRAMMAR as DIGEST } from "../oci/digest.ts";
import { MAX_REPOSITORY_NAME_LENGTH, REPOSITORY_NAME } from "../oci/reference.ts";
import { ConfigError, type ConfigProblem } from "../util/config-error.ts";

/** Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label). */
const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
/** An environment variable name. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const seconds = (min: number) => z.int().min(min);

/**
 * A regular expression in JavaScript syntax, without flags, matched anywhere in the tag (anchor
 * with `^…$` for a whole-tag match). Checked at parse time.
 */
const regexPattern = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      message: `invalid regular expression: ${(error as Error).message}`,
    });
  }
});

/** Operator: a Secret in the cluster holding `username` and `password` keys. */
export const CredentialsSecretSchema = z
  .object({
    name: z.string().min(1).max(253).regex(DNS1123_SUBDOMAIN, "must be a Kubernetes object name"),
    /** Defaults to the Registry resource's own namespace. */
    namespace: z
      .string()
      .min(1)
      .max(63)
      .regex(DNS1123_LABEL, "must be a Kubernetes namespace name")
      .optional(),
  })
  .strict();

/**
 * Standalone: credentials given in the config file. The password comes from exactly one of an
 * inline value, an environment variable or a file, so config files need not hold secrets.
 */
export const CredentialsSchema = z
  .object({
    username: z.string().min(1),
    password: z.string().min(1).optional(),
    passwordEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
    passwordFile: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    const sources = (["password", "passwordEnv", "passwordFile"] as const).filter(
      (k) => value[k] !== undefined,
    );
    if (sources.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          sources.length === 0
            ? "one of password, passwordEnv or passwordFile is required"
            : `only one of password, passwordEnv or passwordFile may be given, got ${sources.join(", ")}`,
      });
    }
  });

export const ScanConfigSchema = z
  .object({
    /** Seconds for each registry request. */
    timeout: seconds(1).max(3600).default(30),
    /** Retries after the first attempt on network errors, 5xx and 429. */
    retries: z.int().min(0).max(10).default(3),
    /** Tags fetched at once. */
    concurrency: z.int().min(1).max(64).default(5),
  })
  .strict();

export const TAG_SORTS = ["semver", "alphabetical", "numerical", "created"] as const;
export const SORT_ORDERS = ["descending", "ascending"] as const;

export const TagFilterSchema = z
  .object({
    /** A tag is kept when any pattern matches; none given keeps every tag. */
    include: z.array(regexPattern).default([]),
    /** A tag is dropped when any pattern matches. */
    exclude: z.array(regexPattern).default([]),
    /** Keep the first N tags after include, exclude and sort. */
    limit: z.int().min(1).optional(),
    /** No sort keeps the registry's order (and drops nothing); see tag-filter.ts for each sort. */
    sort: z.enum(TAG_SORTS).optional(),
    /** With sort semver: read partial versions as semver's coerce does (`1.0` → 1.0.0, `v1` → 1.0.0). */
    semverCoerce: z.boolean().optional(),
    /** Descending puts the newest (highest) first. */
    order: z.enum(SORT_ORDERS).default("descending"),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.semverCoerce && value.sort !== "semver") {
      ctx.addIssue({ code: "custom", path: ["semverCoerce"], message: "only applies to sort: semver" });
    }
  });

/** Trivy's severities, lowest first. */
export const SEVERITIES = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;

export const VulnerabilityScanningSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Vulnerabilities of this severity and above are counted; UNKNOWN counts all of them. */
    severityThreshold: z.enum(SEVERITIES).default("UNKNOWN"),
    /** Seconds before an image whose digest has not changed is scanned again. */
    interval: seconds(60).default(86_400),
    /** Seconds one image's scan may take before it is skipped. */
    timeout: seconds(1).max(86_400).default(300),
  })
  .strict();

export const RegistrySpecSchema = z
  .object({
    /** Registry base URL, e.g. `https://registry-1.docker.io`. */
    url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
    /** Repository path, e.g. `library/nginx`. */
    repository: z
      .string()
      .max(MAX_REPOSITORY_NAME_LENGTH)
      .regex(REPOSITORY_NAME, "must be a repository name such as library/nginx"),
    /** Seconds between scans. */
    scanInterval: seconds(10).default(300),
    credentialsSecret: CredentialsSecretSchema.optional(),
    credentials: CredentialsSchema.optional(),
    insecureSkipVerify: z.boolean().default(false),
    scanConfig: ScanConfigSchema.prefault({}),
    tagFilter: TagFilterSchema.prefault({}),
    vulnerabilityScanning: VulnerabilityScanningSchema.prefault({}),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.credentialsSecret !== undefined && value.credentials !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["credentials"],
        message: "give either credentialsSecret (operator) or credentials (standalone), not both",
      });
    }
  });

const timestamp = z.iso.datetime({ offset: true });
const count = z.int().min(0);
const digest = z.string().regex(DIGEST, "must be a digest such as sha256:…");

export const PlatformInfoSchema = z
  .object({
    os: z.string().min(1),
    architecture: z.string().min(1),
    variant: z.string().min(1).optional(),
    digest,
    /** Bytes: config plus layers of this platform's manifest. */
    size: count,
  })
  .strict();

export const VulnerabilitySummarySchema = z
  .object({
    critical: count,
    high: count,
    medium: count,
    low: count,
    unknown: count,
    /** e.g. `trivy 0.58.1`. */
    scanner: z.string().min(1),
    scannedAt: timestamp,
  })
  .strict();

export const ImageInfoSchema = z
  .object({
    tag: z.string().min(1),
    digest,
    /** Bytes: config plus layers; for an index, the sum over its platforms. */
    size: count,
    platforms: z.array(PlatformInfoSchema).default([]),
    /** The image config's `created`, when it has one. */
    created: timestamp.optional(),
    vulnerabilities: VulnerabilitySummarySchema.optional(),
  })
  .strict();

export const SCAN_STATUSES = ["Success", "Failed"] as const;

export const RegistryStatusSchema = z
  .object({
    lastScanTime: timestamp.optional(),
    lastScanStatus: z.enum(SCAN_STATUSES).optional(),
    /** The cause when Failed; warnings (such as Trivy missing) when Success. */
    message: z.string().optional(),
    images: z.array(ImageInfoSchema).default([]),
  })
  .strict();

/** A spec as written (defaults not yet applied). */
export type RegistrySpecInput = z.input<typeof RegistrySpecSchema>;
/** A parsed spec, every default applied. */
export type RegistrySpec = z.output<typeof RegistrySpecSchema>;
export type CredentialsSecret = z.output<typeof CredentialsSecretSchema>;
export type Credentials = z.output<typeof CredentialsSchema>;
export type ScanConfig = z.output<typeof ScanConfigSchema>;
export type TagFilter = z.output<typeof TagFilterSchema>;
export type TagSort = (typeof TAG_SORTS)[number];
export type SortOrder = (typeof SORT_ORDERS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type VulnerabilityScanning = z.output<typeof VulnerabilityScanningSchema>;
export type RegistryStatus = z.output<typeof RegistryStatusSchema>;
export type ImageInfo = z.output<typeof ImageInfoSchema>;
export type PlatformInfo = z.output<typeof PlatformInfoSchema>;
export type VulnerabilitySummary = z.output<typeof VulnerabilitySummarySchema>;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

/** One problem of a spec: its path (e.g. `tagFilter.include[1]`, `(root)` for the object itself). */
export type SpecProblem = ConfigProblem;

/** A ConfigError listing every problem of a spec, e.g. `invalid registry spec:\n  url: …`. */
export function invalidSpec(what: string, problems: SpecProblem[]): ConfigError {
  return new ConfigError(
    `invalid ${what}:\n  ${problems.map((p) => `${p.path}: ${p.message}`).join("\n  ")}`,
    problems,
  );
}

/** `["tagFilter", "include", 1]` → `tagFilter.include[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

function problemsOf(error: z.ZodError): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      // Name each unknown field itself rather than its parent.
      for (const key of issue.keys)
        problems.push({ path: formatPath([...issue.path, key]), message: "unknown field" });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

function parseWith<T extends z.ZodType>(schema: T, what: string, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalidSpec(what, problemsOf(result.error));
  return result.data;
}

/** Parses a `Registry` spec, applying defaults; throws a ConfigError listing every problem. */
export function parseRegistrySpec(input: unknown): RegistrySpec {
  return parseWith(RegistrySpecSchema, "Registry spec", input);
}

/** Parses a `Registry` status (e.g. one read back from the cluster or the store). */
export function parseRegistryStatus(input: unknown): RegistryStatus {
  return parseWith(RegistryStatusSchema, "Registry status", input);
}
