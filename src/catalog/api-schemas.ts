/**
 * The catalogue API's shapes (/work/notes/catalog-api-contract.md), as zod schemas: the single
 * source for the OpenAPI 3.1 document (src/catalog/openapi.ts, through `z.toJSONSchema`), the
 * TypeScript types the handler returns, and the parsing of query parameters.
 *
 * Response schemas are plain (no transforms) so they convert to JSON Schema; query schemas
 * coerce strings (a query string holds only text) and carry their defaults.
 */
import { z } from "zod";
import { HTTP_ERROR_CODES } from "../http/errors.ts";
import type { Platform } from "../oci/platform.ts";
import type { GcRun } from "../registry/lifecycle/gc-service.ts";
import type { ScrubRun } from "../registry/lifecycle/scrub-service.ts";
import { DurationText } from "../util/duration.ts";

/** Named schemas: each becomes `#/components/schemas/<id>` in the OpenAPI document. */
export const catalogSchemas = z.registry<{ id: string; description?: string }>();

function named<T extends z.ZodType>(schema: T, id: string, description?: string): T {
  catalogSchemas.add(schema, description ? { id, description } : { id });
  return schema;
}

const count = z.int().min(0);
const bytes = z.int().min(0);
/** One definition of "size" for repositories, tags and manifests (see blobsOf in manifest-view.ts). */
const REPOSITORY_SIZE =
  "bytes of the distinct blobs stored in the repository (layers, configs, attached artifacts), each counted once however many tags share it";
const MANIFEST_SIZE =
  "bytes of the distinct blobs (layers and configs) the manifest references, each counted once; for an index, across all its manifests. Manifests themselves are not counted";
const timestamp = z.string().describe("ISO-8601 time");
const nullableTime = timestamp.nullable();
const stringMap = z.record(z.string(), z.string());

// ---- errors -------------------------------------------------------------------------------

/** The pipeline's codes (src/http/errors.ts) and the catalogue's own, about the registries it reads. */
export const ERROR_CODES = [...HTTP_ERROR_CODES, "UPSTREAM_AUTH_FAILED", "UPSTREAM_UNREACHABLE"] as const;
export type ApiErrorCode = (typeof ERROR_CODES)[number];

export const ApiErrorSchema = named(
  z.object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  }),
  "Error",
  "Every failure: an HTTP status and this body.",
);

// ---- registries ---------------------------------------------------------------------------

export const REGISTRY_STATES = ["ok", "auth_failed", "unreachable", "unknown"] as const;
export const AUTH_MODES = ["none", "basic", "bearer", "unknown"] as const;

export const RegistryCapabilitiesSchema = named(
  z.object({
    catalog: z.boolean().describe("GET /v2/_catalog answers"),
    referrers: z.boolean().describe("the OCI referrers API answers"),
    delete: z.boolean().describe("tags and manifests can be deleted through this API (local registry only)"),
  }),
  "RegistryCapabilities",
);

export const RegistryStatusSchema = named(
  z.object({
    state: z.enum(REGISTRY_STATES),
    authMode: z.enum(AUTH_MODES),
    message: z.string().nullable(),
    lastSync: nullableTime.describe("when the registry was last probed"),
    capabilities: RegistryCapabilitiesSchema,
    missingOperations: z
      .array(z.string())
      .describe("operations the catalogue needs that the registry's OpenAPI document lacks"),
    hint: z.string().nullable(),
  }),
  "RegistryStatus",
);

export const RegistrySummarySchema = named(
  z.object({
    id: z.string(),
    displayName: z.string(),
    description: z.string().nullable(),
    baseUrl: z.string(),
    local: z.boolean().describe("Reestr's own registry (deletes allowed)"),
    status: RegistryStatusSchema,
    counts: z.object({
      repositories: count.nullable(),
      tags: count.nullable(),
    }),
    storageBytes: bytes.nullable(),
  }),
  "RegistrySummary",
);

export const RegistryListSchema = named(
  z.object({ registries: z.array(RegistrySummarySchema) }),
  "RegistryList",
);

export const ResyncResultSchema = named(z.object({ id: z.string(), resyncedAt: timestamp }), "ResyncResult");

// ---- repositories -------------------------------------------------------------------------

/** Pull statistics: Reestr's own registry counts manifest GETs; other registries do not tell (null). */
const pullFields = {
  pulls: count.nullable().describe("manifest GETs counted by the registry; null when it does not tell"),
  lastPulledAt: nullableTime.describe("the latest of those; null when never pulled or unknown"),
};

export const RepositorySummarySchema = named(
  z.object({
    name: z.string(),
    namespace: z.string().nullable().describe("the name up to its last slash; null for a top-level name"),
    tagCount: count.nullable(),
    sizeBytes: bytes.nullable().describe(REPOSITORY_SIZE),
    updatedAt: nullableTime,
    signed: z.boolean().nullable().describe("a signature among the referrers of a tag; null when unknown"),
    ...pullFields,
  }),
  "RepositorySummary",
);

function pageOf<T extends z.ZodType>(item: T, id: string) {
  return named(
    z.object({ items: z.array(item), total: count, page: z.int().min(1), pageSize: z.int().min(1) }),
    id,
  );
}

export const RepositoryPageSchema = pageOf(RepositorySummarySchema, "RepositoryPage");

export const PullCommandsSchema = named(
  z.object({ docker: z.string(), podman: z.string(), ctr: z.string() }),
  "PullCommands",
);

export const RepositoryDetailSchema = named(
  z.object({
    registryId: z.string(),
    name: z.string(),
    namespace: z.string().nullable(),
    tagCount: count.nullable(),
    sizeBytes: bytes.nullable().describe(REPOSITORY_SIZE),
    updatedAt: nullableTime,
    ...pullFields,
    readme: z.string().nullable().describe("from an OCI annotation or a README artifact among the referrers"),
    description: z
      .string()
      .nullable()
      .describe(
        "when there is no README: the org.opencontainers.image.description label of the image config (of the tag the README is looked for on; for an index, its first platform), to be shown as plain text",
      ),
    pullReference: z.string().describe("host/name"),
    pullCommands: PullCommandsSchema,
  }),
  "RepositoryDetail",
);

// ---- tags and manifests -------------------------------------------------------------------

export const SeverityCountsSchema = named(
  z.object({ critical: count, high: count, medium: count, low: count, unknown: count }),
  "SeverityCounts",
);

export const SEVERITY_NAMES = ["critical", "high", "medium", "low", "unknown"] as const;

export const VulnerabilityFindingSchema = named(
  z.object({
    id: z.string().describe("e.g. CVE-2024-1234"),
    severity: z.enum(SEVERITY_NAMES),
    package: z.string(),
    installed: z.string().describe("installed version(s), comma-separated when the package is there twice"),
    fixed: z.string().nullable().describe("the version(s) that fix it, when there is a fix"),
    title: z.string().nullable(),
    url: z.string().nullable().describe("the advisory's primary URL"),
  }),
  "VulnerabilityFinding",
  "One vulnerability of one package, at or above the watch entry's severity threshold.",
);

/**
 * The API's view of an OCI platform (the one `Platform` type is src/oci/platform.ts; its field
 * names are checked here): JSON null for no variant, and no Windows fields.
 */
const platformFields = {
  os: z.string(),
  architecture: z.string(),
  variant: z.string().nullable(),
} satisfies Record<keyof Pick<Platform, "os" | "architecture" | "variant">, z.ZodType>;

export const TagPlatformSchema = named(z.object(platformFields), "TagPlatform");

export const TagSummarySchema = named(
  z.object({
    tag: z.string(),
    digest: z.string(),
    mediaType: z.string(),
    sizeBytes: bytes.nullable().describe(`${MANIFEST_SIZE}; null when a manifest could not be read`),
    platforms: z.array(TagPlatformSchema),
    created: nullableTime,
    vulnerabilities: SeverityCountsSchema.nullable(),
    pulls: count.nullable().describe("GETs of the tag's manifest (by any tag or digest); null when unknown"),
    lastPulledAt: nullableTime.describe(
      "the latest GET of this tag, or of its manifest by digest; null when never pulled or unknown",
    ),
  }),
  "TagSummary",
);

export const TagPageSchema = pageOf(TagSummarySchema, "TagPage");

export const DescriptorSchema = named(
  z.object({ digest: z.string(), mediaType: z.string(), size: bytes }),
  "Descriptor",
);

export const ImageConfigSchema = named(
  z.object({
    digest: z.string(),
    mediaType: z.string(),
    size: bytes,
    created: nullableTime,
    os: z.string().nullable(),
    architecture: z.string().nullable(),
    env: z.array(z.string()),
    entrypoint: z.array(z.string()),
    cmd: z.array(z.string()),
    labels: stringMap,
    history: z.array(
      z.object({ created: nullableTime, createdBy: z.string().nullable(), emptyLayer: z.boolean() }),
    ),
  }),
  "ImageConfig",
);

export const REFERRER_KINDS = ["sbom", "signature", "attestation", "other"] as const;

export const ReferrerSchema = named(
  z.object({
    digest: z.string(),
    artifactType: z.string().nullable(),
    mediaType: z.string(),
    size: bytes,
    annotations: stringMap,
    kind: z.enum(REFERRER_KINDS),
  }),
  "Referrer",
);

export const ManifestPlatformSchema = named(
  z.object({
    ...platformFields,
    digest: z.string(),
    sizeBytes: bytes.nullable().describe("the platform image's distinct layers and config"),
  }),
  "ManifestPlatform",
);

export const TagHistoryEntrySchema = named(
  z.object({ tag: z.string(), from: z.string().nullable(), to: z.string().nullable(), at: timestamp }),
  "TagHistoryEntry",
  "A digest move seen by the watcher; `to` is null when the tag disappeared.",
);

export const ManifestDetailSchema = named(
  z.object({
    registryId: z.string(),
    repository: z.string(),
    reference: z.string(),
    digest: z.string(),
    mediaType: z.string(),
    sizeBytes: bytes.describe(MANIFEST_SIZE),
    annotations: stringMap,
    config: ImageConfigSchema.nullable(),
    layers: z.array(DescriptorSchema),
    platforms: z.array(ManifestPlatformSchema).describe("non-empty for an index"),
    referrers: z.array(ReferrerSchema),
    vulnerabilities: z
      .object({
        summary: SeverityCountsSchema,
        scanner: z.string().nullable(),
        scannedAt: nullableTime,
        items: z
          .array(VulnerabilityFindingSchema)
          .describe(
            "most severe first, then by id; empty when the scan found none or its list was not kept (scanned before the watcher stored findings)",
          ),
      })
      .nullable(),
    history: z.array(TagHistoryEntrySchema),
    pullCommands: PullCommandsSchema,
  }),
  "ManifestDetail",
);

// ---- storage ------------------------------------------------------------------------------

export const RepositoryStorageSchema = named(
  z.object({
    name: z.string(),
    bytes: bytes.describe("distinct blobs the repository references"),
    sharedBytes: bytes.describe("of those, bytes also referenced by another repository"),
    tagCount: count,
  }),
  "RepositoryStorage",
);

export const RegistryStorageSchema = named(
  z.object({
    registryId: z.string(),
    totalBytes: bytes.describe("each blob counted once in the registry"),
    computedAt: timestamp,
    repositories: z.array(RepositoryStorageSchema).describe("largest first"),
    total: count,
    page: z.int().min(1),
    pageSize: z.int().min(1),
  }),
  "RegistryStorage",
);

export const StorageOverviewSchema = named(
  z.object({
    totalBytes: bytes,
    computedAt: timestamp,
    registries: z.array(z.object({ id: z.string(), displayName: z.string(), totalBytes: bytes.nullable() })),
  }),
  "StorageOverview",
);

// ---- endpoints of other modules (status, watch), documented here as well --------------

export const ServerStatusSchema = named(
  z.object({
    version: z.string(),
    uptimeSeconds: count,
    repositories: count,
    manifests: count,
    tags: count,
    blobs: count,
    storageBytes: bytes,
  }),
  "ServerStatus",
);

export const QuotaListSchema = named(
  z.object({
    quotas: z.array(
      z.object({
        repositories: z.string().describe("the quota's repository glob, which also names it"),
        limit: bytes,
        used: bytes.describe("bytes its repositories hold, each blob and manifest counted once"),
        percent: z.number().min(0).describe("used as a share of limit, one decimal"),
      }),
    ),
  }),
  "QuotaList",
);

export const WatchEntrySummarySchema = named(
  z.object({
    name: z.string(),
    url: z.string(),
    repository: z.string(),
    scanInterval: count,
    lastScanTime: nullableTime,
    lastScanStatus: z.enum(["Success", "Failed"]).nullable(),
    message: z.string().nullable(),
    images: count,
    scanning: z.boolean(),
  }),
  "WatchEntrySummary",
);

export const WatchEntryListSchema = named(
  z.object({ registries: z.array(WatchEntrySummarySchema) }),
  "WatchEntryList",
);

export const WatchEntryDetailSchema = named(
  z.object({
    name: z.string(),
    url: z.string(),
    repository: z.string(),
    scanInterval: count,
    scanning: z.boolean(),
    lastScanTime: nullableTime,
    lastScanStatus: z.enum(["Success", "Failed"]).nullable(),
    message: z.string().nullable(),
    images: z.array(z.looseObject({ tag: z.string(), digest: z.string() })),
  }),
  "WatchEntryDetail",
);

export const WatchHistorySchema = named(
  z.object({
    name: z.string(),
    repository: z.string(),
    changes: z.array(TagHistoryEntrySchema),
  }),
  "WatchHistory",
);

// ---- retention (/api/admin/retention, src/registry/http/retention-api.ts) ------------------

const retentionOutcome = z
  .enum(["deleted", "skipped", "failed"])
  .optional()
  .describe("real runs, deletions only: what happened");
const retentionError = z.string().optional().describe("why a deletion was skipped or failed");

export const RetentionTagDecisionSchema = named(
  z.object({
    tag: z.string(),
    digest: z.string(),
    action: z.enum(["keep", "delete"]),
    reason: z.string().describe('e.g. "among the 5 newest", "pushed 40d ago (more than 1w)"'),
    outcome: retentionOutcome,
    error: retentionError,
  }),
  "RetentionTagDecision",
);

export const RetentionManifestDecisionSchema = named(
  z.object({
    digest: z.string(),
    action: z.literal("delete"),
    reason: z.string(),
    outcome: retentionOutcome,
    error: retentionError,
  }),
  "RetentionManifestDecision",
  "A manifest deleted by digest (manifests that stay are not listed).",
);

export const RetentionPlanSchema = named(
  z.object({
    repository: z.string(),
    policy: z.string().describe("the policy that governs the repository (the first whose globs match)"),
    tags: z.array(RetentionTagDecisionSchema).describe("every tag, by name"),
    manifests: z.array(RetentionManifestDecisionSchema).describe("in the order a run deletes them"),
  }),
  "RetentionPlan",
);

export const RetentionRunSchema = named(
  z.object({
    id: z.string(),
    dryRun: z.boolean(),
    trigger: z.enum(["api", "schedule"]),
    user: z.string().nullable(),
    policies: z.array(z.string()),
    startedAt: timestamp,
    finishedAt: timestamp,
    summary: z.object({
      repositories: count,
      tagsKept: count,
      tagsDeleted: count,
      manifestsDeleted: count,
      skipped: count,
      failed: count,
    }),
  }),
  "RetentionRun",
);

export const RetentionResultSchema = named(
  RetentionRunSchema.extend({ repositories: z.array(RetentionPlanSchema) }),
  "RetentionResult",
  "A dry run's plan, or a real run's plan with the outcome of each deletion.",
);

const durationText = z.string().nullable().describe('e.g. "7d"; null when not set');

export const RetentionStatusSchema = named(
  z.object({
    schedule: z.string().describe("5-field cron, UTC"),
    scheduled: z.boolean(),
    deleteEnabled: z.boolean().describe("false: only dry runs (storage.deleteEnabled)"),
    nextRun: nullableTime,
    policies: z.array(
      z.object({
        name: z.string(),
        repositories: z.array(z.string()),
        schedule: z.string().nullable(),
        keepLast: count.nullable(),
        sortBy: z.enum(["pushed", "semver"]),
        keepPushedWithin: durationText,
        keepPulledWithin: durationText,
        keepTags: z.array(z.string()),
        deleteTags: z.array(z.string()),
        protectedTags: z.array(z.string()),
        deleteUntaggedAfter: durationText,
      }),
    ),
    lastRun: RetentionRunSchema.nullable(),
  }),
  "RetentionStatus",
);

export const RetentionRunQuerySchema = z.object({
  dryRun: z.enum(["true", "false"]).default("true").describe("false: delete what the plan says"),
  policy: z.string().optional().describe("only this policy (repeatable)"),
});

// ---- garbage collection (/api/admin/gc, src/registry/http/gc-api.ts) -----------------------

const sizedDigest = z.object({ digest: z.string(), size: bytes });

export const GcRunSchema = named(
  z.object({
    id: count,
    trigger: z.enum(["api", "schedule"]),
    dryRun: z.boolean(),
    untagged: z.boolean().describe("untagged manifests were collected too"),
    gracePeriod: z.string().describe('e.g. "1h": nothing newer was touched'),
    status: z.enum(["running", "succeeded", "failed"]),
    phase: z
      .enum(["sweeping metadata", "deleting blobs", "sweeping stray files", "expiring uploads"])
      .optional()
      .describe("while running: the current step"),
    startedAt: timestamp,
    finishedAt: timestamp.optional(),
    durationMs: count.optional(),
    removed: z
      .object({
        manifests: count,
        manifestBytes: bytes,
        links: count,
        blobs: count,
        blobBytes: bytes,
        repositories: count,
        strayFiles: count,
        strayBytes: bytes,
        uploads: count.describe("expired uploads removed"),
        bytesFreed: bytes.describe("blob storage freed: blobs and stray files"),
      })
      .optional()
      .describe("once succeeded; in a dry run, what would go"),
    items: z
      .object({
        manifests: z.array(z.object({ repository: z.string(), digest: z.string(), size: bytes })),
        blobs: z.array(sizedDigest),
        strayFiles: z.array(sizedDigest).describe("files in the blob store no blob row accounts for"),
        repositories: z.array(z.string()).describe("repositories left empty and removed"),
        truncated: z.boolean().describe("a list was cut (1000 entries each at most)"),
      })
      .optional()
      .describe("once succeeded: what went (or would go)"),
    error: z.string().optional().describe("why the run failed"),
  }),
  "GcRun",
  "One garbage-collection run.",
);

export const GcStatusSchema = named(
  z.object({
    config: z.object({
      untagged: z.boolean(),
      gracePeriod: z.string(),
      schedule: z.string().nullable().describe("5-field cron; null: runs only when asked"),
      nextRun: nullableTime,
    }),
    running: GcRunSchema.nullable(),
    runs: z.array(GcRunSchema).describe("the last runs, newest first (the running one included)"),
  }),
  "GcStatus",
);

const queryBoolean = z.enum(["true", "false"]);

export const GcRunQuerySchema = z.object({
  dryRun: queryBoolean.default("false").describe("true: list what would go and change nothing"),
  wait: queryBoolean.default("false").describe("true: answer 200 once the run has finished"),
  untagged: queryBoolean.optional().describe("overrides gc.untagged for this run"),
});

// ---- scrub (/api/admin/scrub, src/registry/http/scrub-api.ts) ----------------------------

export const ScrubResultSchema = named(
  z.object({
    startedAt: timestamp,
    finishedAt: timestamp,
    durationMs: count,
    blobsChecked: count,
    bytesChecked: bytes,
    manifestsChecked: count,
    corrupt: z
      .array(
        z.object({
          digest: z.string(),
          actual: z.string().describe("what the bytes hash to"),
          size: bytes,
          quarantined: z.boolean().describe("moved out of the blob store"),
        }),
      )
      .describe("blobs whose bytes do not match their digest"),
    missing: z
      .array(
        z.object({
          repository: z.string(),
          manifest: z.string().describe("the manifest that names it"),
          digest: z.string(),
          kind: z.enum(["blob", "manifest"]),
          problem: z.enum(["not linked", "no bytes", "not in repository"]),
        }),
      )
      .describe("references of manifests the registry cannot serve"),
    unreadable: z.array(z.object({ digest: z.string(), error: z.string() })),
    counts: z.object({ corrupt: count, missing: count, unreadable: count }).describe("whole counts"),
    truncated: z.boolean().describe("a list was cut (1000 entries each at most)"),
  }),
  "ScrubResult",
);

export const ScrubRunSchema = named(
  z.object({
    id: count,
    status: z.enum(["running", "succeeded", "failed"]),
    startedAt: timestamp,
    rateBytesPerSecond: count.nullable().describe("the read limit; null: none"),
    progress: z.object({
      phase: z.enum(["blobs", "manifests"]),
      blobsChecked: count,
      bytesChecked: bytes,
      manifestsChecked: count,
      corrupt: count,
      missing: count,
    }),
    result: ScrubResultSchema.optional().describe("once succeeded"),
    error: z.string().optional().describe("why the run failed"),
  }),
  "ScrubRun",
  "One integrity check of every blob and manifest.",
);

export const ScrubStatusSchema = named(
  z.object({ running: ScrubRunSchema.nullable(), last: ScrubRunSchema.nullable() }),
  "ScrubStatus",
);

export const ScrubStartSchema = named(
  z.object({
    started: z.boolean().describe("false: a run was already in progress; `run` is that one"),
    run: ScrubRunSchema,
  }),
  "ScrubStart",
);

export const ScrubRunQuerySchema = z.object({
  wait: queryBoolean.default("false").describe("true: answer 200 once the run has finished"),
  rate: z.string().optional().describe("read at most this many bytes per second (`50MB`, `100MiB`)"),
});

// ---- query parameters ---------------------------------------------------------------------

const pageNumber = z.coerce.number().int().min(1).default(1);
export const RepositoryQuerySchema = z.object({
  q: z.string().max(256).optional().describe("substring of the repository name, case-insensitive"),
  namespace: z.string().max(256).optional().describe("only names under this namespace (prefix before /)"),
  updatedWithin: DurationText.optional().describe("only repositories updated within this long, e.g. 7d"),
  signed: z
    .enum(["true", "false"])
    .optional()
    .describe("only signed (true) or unsigned (false) repositories"),
  sort: z.enum(["name", "size", "updated", "pulled"]).default("name").describe("pulled: by last pull time"),
  order: z.enum(["asc", "desc"]).default("asc"),
  page: pageNumber,
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
});

export const TagQuerySchema = z.object({
  q: z.string().max(256).optional().describe("substring of the tag, case-insensitive"),
  sort: z.enum(["name", "created", "size", "pulled"]).default("name").describe("pulled: by last pull time"),
  order: z.enum(["asc", "desc"]).default("asc"),
  page: pageNumber,
  pageSize: z.coerce.number().int().min(1).max(10_000).default(100),
});

export const StorageQuerySchema = z.object({
  page: pageNumber,
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
});

export type RepositoryQuery = z.output<typeof RepositoryQuerySchema>;
export type TagQuery = z.output<typeof TagQuerySchema>;
export type StorageQuery = z.output<typeof StorageQuerySchema>;

// ---- types --------------------------------------------------------------------------------

export type ApiError = z.output<typeof ApiErrorSchema>;
/** `Actual` must fit `Documented`: what a service sends is what the document says (checked by tsc). */
type Fits<Actual extends Documented, Documented> = Actual;
export type GcRunBody = Fits<GcRun, z.output<typeof GcRunSchema>>;
export type ScrubRunBody = Fits<ScrubRun, z.output<typeof ScrubRunSchema>>;
export type RegistryCapabilities = z.output<typeof RegistryCapabilitiesSchema>;
export type RegistryStatus = z.output<typeof RegistryStatusSchema>;
export type RegistrySummary = z.output<typeof RegistrySummarySchema>;
export type RepositorySummary = z.output<typeof RepositorySummarySchema>;
export type RepositoryPage = z.output<typeof RepositoryPageSchema>;
export type RepositoryDetail = z.output<typeof RepositoryDetailSchema>;
export type PullCommands = z.output<typeof PullCommandsSchema>;
export type SeverityCounts = z.output<typeof SeverityCountsSchema>;
export type VulnerabilityFinding = z.output<typeof VulnerabilityFindingSchema>;
export type TagPlatform = z.output<typeof TagPlatformSchema>;
export type TagSummary = z.output<typeof TagSummarySchema>;
export type TagPage = z.output<typeof TagPageSchema>;
export type ImageConfig = z.output<typeof ImageConfigSchema>;
export type Referrer = z.output<typeof ReferrerSchema>;
export type ReferrerKind = (typeof REFERRER_KINDS)[number];
export type ManifestPlatform = z.output<typeof ManifestPlatformSchema>;
export type TagHistoryEntry = z.output<typeof TagHistoryEntrySchema>;
export type ManifestDetail = z.output<typeof ManifestDetailSchema>;
export type RepositoryStorage = z.output<typeof RepositoryStorageSchema>;
export type RegistryStorage = z.output<typeof RegistryStorageSchema>;
export type StorageOverview = z.output<typeof StorageOverviewSchema>;
