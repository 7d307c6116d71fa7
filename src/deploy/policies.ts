/**
 * Registry policies (seed 002): image scanning, retention and replication.
 *
 * Each builder merges a deep-partial config over the seed's defaults and returns a typed object.
 * Each renderer returns two things:
 * - Reestr's own policy configuration, `apiVersion: policy.reestr.dev/v1alpha1` with kind
 *   ScanPolicy, RetentionPolicy or ReplicationPolicy: a normalized, documented object (durations
 *   in seconds, schedules as 5-field cron) that a later Reestr release enforces on its own
 *   registry (docs/deploy.md describes every field);
 * - Harbor API requests carrying the same policy: project metadata for scan-on-push and
 *   "prevent vulnerable images" with a severity, the scan-all schedule, a tag retention policy
 *   for `/retentions`, a registry endpoint and replication policy for `/replication/policies`.
 *
 * Harbor targets (project name or id, registry endpoint id) are Reestr extensions under `harbor`.
 *
 * @example
 * const scan = imageScanPolicy("vulnerability-scan", { vulnerabilities: { critical: { action: "block" } } });
 * const { policy, api } = renderImageScanPolicy(scan);
 */
import { z } from "zod";
import {
  type ApiRequest,
  type DeepPartial,
  deepMerge,
  GO_DURATION,
  goDurationSeconds,
  harborCron,
  type Labels,
  MANAGED_BY,
  type Problems,
  standardLabels,
} from "./common.ts";
import { partialSchema } from "./schema.ts";

export const POLICY_API_VERSION = "policy.reestr.dev/v1alpha1";
export const DEPLOY_POLICY_API_VERSION = "deploy.reestr.dev/v1alpha1";

export type VulnerabilityAction = "block" | "warn" | "allow";
export type Severity = "critical" | "high" | "medium";
const SEVERITIES: Severity[] = ["critical", "high", "medium"];

export interface PolicyMetadata {
  name: string;
  labels: Labels;
}

/** Reestr's own policy configuration object (enforced by a later release). */
export interface ReestrPolicy<K extends string, S> {
  apiVersion: typeof POLICY_API_VERSION;
  kind: K;
  metadata: PolicyMetadata;
  spec: S;
}

function policyMetadata(kind: string, name: string): PolicyMetadata {
  return { name, labels: standardLabels(kind, name, "policy") };
}

// ---------------------------------------------------------------- scan policy

export interface ImageScanPolicyConfig {
  name: string;
  scanning: {
    enabled: boolean;
    scanner: "trivy" | "grype" | "clair";
    /** Go duration between scans of every image ("24h"); Harbor needs an interval dividing a day, or 168h. */
    scanInterval: string;
    onPull: boolean;
    onPush: boolean;
  };
  vulnerabilities: Record<Severity, { enabled: boolean; action: VulnerabilityAction }>;
  /** Image references or patterns ("docker.io/library/nginx:*") exempt from blocking. */
  exemptions: string[];
  /** Reestr extension: the Harbor project whose metadata carries the policy. */
  harbor: { project: string };
}

export const IMAGE_SCAN_POLICY_DEFAULTS: ImageScanPolicyConfig = {
  name: "image-scan",
  scanning: { enabled: true, scanner: "trivy", scanInterval: "24h", onPull: true, onPush: true },
  vulnerabilities: {
    critical: { enabled: true, action: "block" },
    high: { enabled: true, action: "warn" },
    medium: { enabled: true, action: "allow" },
  },
  exemptions: [],
  harbor: { project: "library" },
};

export interface ImageScanPolicy {
  apiVersion: typeof DEPLOY_POLICY_API_VERSION;
  kind: "ImageScanPolicy";
  metadata: PolicyMetadata;
  spec: ImageScanPolicyConfig;
}

export function imageScanPolicy(
  name: string,
  config: DeepPartial<ImageScanPolicyConfig> = {},
): ImageScanPolicy {
  const spec = deepMerge({ ...IMAGE_SCAN_POLICY_DEFAULTS, name }, config);
  return {
    apiVersion: DEPLOY_POLICY_API_VERSION,
    kind: "ImageScanPolicy",
    metadata: policyMetadata("image-scan-policy", spec.name),
    spec,
  };
}

export interface ScanPolicySpec {
  enabled: boolean;
  scanner: string;
  /** Seconds between full rescans. */
  intervalSeconds: number;
  triggers: { push: boolean; pull: boolean };
  /** One rule per enabled severity, most severe first. */
  rules: { severity: "CRITICAL" | "HIGH" | "MEDIUM"; action: VulnerabilityAction }[];
  exemptions: string[];
}

/** Harbor's threshold: the lowest enabled severity whose action is "block", or undefined. */
export function harborBlockSeverity(spec: ImageScanPolicyConfig): Severity | undefined {
  let lowest: Severity | undefined;
  for (const severity of SEVERITIES) {
    const rule = spec.vulnerabilities[severity];
    if (rule.enabled && rule.action === "block") lowest = severity;
  }
  return lowest;
}

/** The cron of Harbor's scan-all schedule for a scan interval (6 fields), or undefined if Harbor cannot express it. */
export function scanIntervalCron(interval: string): string | undefined {
  const seconds = goDurationSeconds(interval);
  if (seconds === 7 * 86400) return "0 0 0 * * 0";
  if (seconds === 86400) return "0 0 0 * * *";
  if (seconds % 3600 === 0 && 86400 % seconds === 0) return `0 0 */${seconds / 3600} * * *`;
  if (seconds % 60 === 0 && 3600 % seconds === 0) return `0 */${seconds / 60} * * * *`;
  return undefined;
}

export function renderImageScanPolicy(policy: ImageScanPolicy): {
  policy: ReestrPolicy<"ScanPolicy", ScanPolicySpec>;
  api: ApiRequest[];
} {
  const spec = policy.spec;
  const block = harborBlockSeverity(spec);
  const cron = GO_DURATION.test(spec.scanning.scanInterval)
    ? scanIntervalCron(spec.scanning.scanInterval)
    : undefined;
  const api: ApiRequest[] = [
    {
      target: "harbor",
      method: "PUT",
      path: `/api/v2.0/projects/${encodeURIComponent(spec.harbor.project)}`,
      contentType: "application/json",
      description: `scan on push and vulnerable-image blocking for project "${spec.harbor.project}"`,
      // Harbor's project metadata values are strings.
      body: {
        metadata: {
          auto_scan: String(spec.scanning.enabled && spec.scanning.onPush),
          prevent_vul: String(spec.scanning.enabled && block !== undefined),
          ...(block ? { severity: block } : {}),
        },
      },
    },
    {
      target: "harbor",
      method: "PUT",
      path: "/api/v2.0/system/scanAll/schedule",
      contentType: "application/json",
      description: `scan every image every ${spec.scanning.scanInterval}`,
      body: {
        schedule: spec.scanning.enabled && cron ? { type: "Custom", cron } : { type: "None" },
      },
    },
  ];
  return {
    policy: {
      apiVersion: POLICY_API_VERSION,
      kind: "ScanPolicy",
      metadata: { ...policy.metadata, labels: { ...policy.metadata.labels } },
      spec: {
        enabled: spec.scanning.enabled,
        scanner: spec.scanning.scanner,
        intervalSeconds: GO_DURATION.test(spec.scanning.scanInterval)
          ? goDurationSeconds(spec.scanning.scanInterval)
          : 0,
        triggers: { push: spec.scanning.onPush, pull: spec.scanning.onPull },
        rules: SEVERITIES.filter((s) => spec.vulnerabilities[s].enabled).map((s) => ({
          severity: s.toUpperCase() as "CRITICAL" | "HIGH" | "MEDIUM",
          action: spec.vulnerabilities[s].action,
        })),
        exemptions: [...spec.exemptions],
      },
    },
    api,
  };
}

const action = z.enum(["block", "warn", "allow"]);
export const imageScanPolicySchema = partialSchema(
  IMAGE_SCAN_POLICY_DEFAULTS as unknown as Record<string, unknown>,
  {
    "scanning.scanner": z.enum(["trivy", "grype", "clair"]),
    "vulnerabilities.critical.action": action,
    "vulnerabilities.high.action": action,
    "vulnerabilities.medium.action": action,
    "harbor.project": z.string().min(1),
  },
);

export function imageScanPolicyProblems(spec: ImageScanPolicyConfig, problems: Problems): void {
  const interval = spec.scanning.scanInterval;
  if (!GO_DURATION.test(interval)) {
    problems.error("scanning.scanInterval", `invalid duration "${interval}" (e.g. "24h", "30m")`);
  } else if (goDurationSeconds(interval) < 60) {
    problems.error("scanning.scanInterval", "must be at least 1m");
  } else if (!scanIntervalCron(interval)) {
    problems.warn(
      "scanning.scanInterval",
      `Harbor's scan-all schedule cannot express "${interval}" (use a divisor of a day, or 168h): not scheduled in Harbor`,
    );
  }
  // Harbor blocks by threshold: blocking a severity blocks every higher one too.
  const block = harborBlockSeverity(spec);
  if (block) {
    for (const severity of SEVERITIES.slice(0, SEVERITIES.indexOf(block))) {
      const rule = spec.vulnerabilities[severity];
      if (!rule.enabled || rule.action !== "block") {
        problems.warn(
          `vulnerabilities.${severity}.action`,
          `Harbor blocks ${severity} images as well, because ${block} is blocked (Harbor uses a threshold)`,
        );
      }
    }
  }
  spec.exemptions.forEach((exemption, i) => {
    if (exemption.trim() === "") problems.error(`exemptions[${i}]`, "must not be empty");
  });
}

// ----------------------------------------------------------- retention policy

export interface ImageRetentionPolicyConfig {
  name: string;
  /** Keep images pushed within this many days. */
  retentionDays: number;
  /** Keep every tagged image, whatever its age (untagged ones follow retentionDays). */
  keepTagged: boolean;
  /** Keep the `latest` tag. */
  keepLatest: boolean;
  /** Repository patterns (doublestar: "team/**") the policy applies to; empty = all. */
  repositories: string[];
  /** More repository (image name) patterns, added to `repositories`. */
  images: string[];
  schedule: string;
  /** Reestr extension: the Harbor project id the retention policy belongs to. */
  harbor: { projectId: number };
}

export const IMAGE_RETENTION_POLICY_DEFAULTS: ImageRetentionPolicyConfig = {
  name: "image-retention",
  retentionDays: 30,
  keepTagged: true,
  keepLatest: true,
  repositories: [],
  images: [],
  schedule: "0 2 * * *",
  harbor: { projectId: 1 },
};

export interface ImageRetentionPolicy {
  apiVersion: typeof DEPLOY_POLICY_API_VERSION;
  kind: "ImageRetentionPolicy";
  metadata: PolicyMetadata;
  spec: ImageRetentionPolicyConfig;
}

export function imageRetentionPolicy(
  name: string,
  config: DeepPartial<ImageRetentionPolicyConfig> = {},
): ImageRetentionPolicy {
  const spec = deepMerge({ ...IMAGE_RETENTION_POLICY_DEFAULTS, name }, config);
  return {
    apiVersion: DEPLOY_POLICY_API_VERSION,
    kind: "ImageRetentionPolicy",
    metadata: policyMetadata("image-retention-policy", spec.name),
    spec,
  };
}

export interface RetentionPolicySpec {
  schedule: string;
  maxAgeDays: number;
  keep: { tagged: boolean; latest: boolean };
  /** Repository patterns (doublestar); empty = every repository. */
  repositories: string[];
}

/** One doublestar pattern for Harbor's selectors: the pattern, "{a,b}" for several, "**" for none. */
function doublestar(patterns: string[]): string {
  if (patterns.length === 0) return "**";
  if (patterns.length === 1) return patterns[0]!;
  return `{${patterns.join(",")}}`;
}

/** The body of POST /api/v2.0/retentions. */
export function harborRetentionPolicy(spec: ImageRetentionPolicyConfig): Record<string, unknown> {
  const scope = {
    repository: [
      {
        kind: "doublestar",
        decoration: "repoMatches",
        pattern: doublestar([...spec.repositories, ...spec.images]),
      },
    ],
  };
  const rule = (template: string, params: Record<string, unknown>, pattern: string, untagged: boolean) => ({
    disabled: false,
    action: "retain",
    template,
    params,
    tag_selectors: [
      { kind: "doublestar", decoration: "matches", pattern, extras: JSON.stringify({ untagged }) },
    ],
    scope_selectors: scope,
  });
  const rules = [rule("nDaysSinceLastPush", { nDaysSinceLastPush: spec.retentionDays }, "**", true)];
  if (spec.keepTagged) rules.push(rule("always", {}, "**", false));
  if (spec.keepLatest && !spec.keepTagged) rules.push(rule("always", {}, "latest", false));
  return {
    algorithm: "or",
    rules,
    trigger: { kind: "Schedule", settings: { cron: harborCron(spec.schedule) }, references: {} },
    scope: { level: "project", ref: spec.harbor.projectId },
  };
}

export function renderImageRetentionPolicy(policy: ImageRetentionPolicy): {
  policy: ReestrPolicy<"RetentionPolicy", RetentionPolicySpec>;
  api: ApiRequest[];
} {
  const spec = policy.spec;
  return {
    policy: {
      apiVersion: POLICY_API_VERSION,
      kind: "RetentionPolicy",
      metadata: { ...policy.metadata, labels: { ...policy.metadata.labels } },
      spec: {
        schedule: spec.schedule,
        maxAgeDays: spec.retentionDays,
        keep: { tagged: spec.keepTagged, latest: spec.keepLatest },
        repositories: [...new Set([...spec.repositories, ...spec.images])],
      },
    },
    api: [
      {
        target: "harbor",
        method: "POST",
        path: "/api/v2.0/retentions",
        contentType: "application/json",
        description: `tag retention for project id ${spec.harbor.projectId}: ${spec.retentionDays} days`,
        body: harborRetentionPolicy(spec),
      },
    ],
  };
}

export const imageRetentionPolicySchema = partialSchema(
  IMAGE_RETENTION_POLICY_DEFAULTS as unknown as Record<string, unknown>,
  {
    retentionDays: z.number().int(),
    "harbor.projectId": z.number().int().min(1),
  },
);

export function imageRetentionPolicyProblems(spec: ImageRetentionPolicyConfig, problems: Problems): void {
  if (spec.retentionDays < 1)
    problems.error("retentionDays", `must be at least 1, got ${spec.retentionDays}`);
  problems.cron("schedule", spec.schedule);
  for (const key of ["repositories", "images"] as const) {
    spec[key].forEach((pattern, i) => {
      if (pattern.trim() === "") problems.error(`${key}[${i}]`, "must not be empty");
    });
  }
}

// --------------------------------------------------------- replication policy

export interface ImageReplicationPolicyConfig {
  name: string;
  source: { registry: string; namespace: string; repository: string };
  destination: { registry: string; namespace: string };
  rules: {
    /** true: the destination pulls from the source (Harbor pull-based); false: push to the destination. */
    pullImage: boolean;
    /** Delete images at the destination when they are deleted at the source. */
    deleteImage: boolean;
  };
  schedule: string;
  enabled: boolean;
  /** Reestr extension: id of the Harbor registry endpoint for the remote side (created by the first request). */
  harbor: { registryId: number };
}

export const IMAGE_REPLICATION_POLICY_DEFAULTS: ImageReplicationPolicyConfig = {
  name: "image-replication",
  source: { registry: "docker.io", namespace: "", repository: "" },
  destination: { registry: "registry.local", namespace: "" },
  rules: { pullImage: true, deleteImage: false },
  schedule: "0 */6 * * *",
  enabled: true,
  harbor: { registryId: 1 },
};

export interface ImageReplicationPolicy {
  apiVersion: typeof DEPLOY_POLICY_API_VERSION;
  kind: "ImageReplicationPolicy";
  metadata: PolicyMetadata;
  spec: ImageReplicationPolicyConfig;
}

export function imageReplicationPolicy(
  name: string,
  config: DeepPartial<ImageReplicationPolicyConfig> = {},
): ImageReplicationPolicy {
  const spec = deepMerge({ ...IMAGE_REPLICATION_POLICY_DEFAULTS, name }, config);
  return {
    apiVersion: DEPLOY_POLICY_API_VERSION,
    kind: "ImageReplicationPolicy",
    metadata: policyMetadata("image-replication-policy", spec.name),
    spec,
  };
}

export interface ReplicationPolicySpec {
  enabled: boolean;
  schedule: string;
  mode: "pull" | "push";
  source: { registry: string; namespace: string; repository: string };
  destination: { registry: string; namespace: string };
  deleteRemoved: boolean;
}

/** Harbor's endpoint for a registry host: Docker Hub or a Distribution-compatible registry. */
export function harborRegistryEndpoint(name: string, registry: string): Record<string, unknown> {
  const hub =
    registry === "docker.io" || registry === "registry-1.docker.io" || registry === "index.docker.io";
  return {
    name,
    type: hub ? "docker-hub" : "docker-registry",
    url: hub ? "https://hub.docker.com" : /^https?:\/\//.test(registry) ? registry : `https://${registry}`,
    insecure: false,
  };
}

/** The body of POST /api/v2.0/replication/policies. */
export function harborReplicationPolicy(spec: ImageReplicationPolicyConfig): Record<string, unknown> {
  const { namespace, repository } = spec.source;
  const filter = namespace ? `${namespace}/${repository || "**"}` : repository || "**";
  const remote = { id: spec.harbor.registryId };
  return {
    name: spec.name,
    description: `managed by ${MANAGED_BY}`,
    src_registry: spec.rules.pullImage ? remote : null,
    dest_registry: spec.rules.pullImage ? null : remote,
    ...(spec.destination.namespace
      ? { dest_namespace: spec.destination.namespace, dest_namespace_replace_count: namespace ? 1 : 0 }
      : {}),
    filters: [{ type: "name", value: filter }],
    trigger: { type: "scheduled", trigger_settings: { cron: harborCron(spec.schedule) } },
    deletion: spec.rules.deleteImage,
    override: true,
    enabled: spec.enabled,
    speed: -1,
  };
}

export function renderImageReplicationPolicy(policy: ImageReplicationPolicy): {
  policy: ReestrPolicy<"ReplicationPolicy", ReplicationPolicySpec>;
  api: ApiRequest[];
} {
  const spec = policy.spec;
  const remote = spec.rules.pullImage ? spec.source.registry : spec.destination.registry;
  return {
    policy: {
      apiVersion: POLICY_API_VERSION,
      kind: "ReplicationPolicy",
      metadata: { ...policy.metadata, labels: { ...policy.metadata.labels } },
      spec: {
        enabled: spec.enabled,
        schedule: spec.schedule,
        mode: spec.rules.pullImage ? "pull" : "push",
        source: { ...spec.source },
        destination: { ...spec.destination },
        deleteRemoved: spec.rules.deleteImage,
      },
    },
    api: [
      {
        target: "harbor",
        method: "POST",
        path: "/api/v2.0/registries",
        contentType: "application/json",
        description: `registry endpoint for ${remote} (its id goes into harbor.registryId)`,
        body: harborRegistryEndpoint(`${spec.name}-remote`, remote),
      },
      {
        target: "harbor",
        method: "POST",
        path: "/api/v2.0/replication/policies",
        contentType: "application/json",
        description: `${spec.rules.pullImage ? "pull" : "push"} replication ${spec.source.registry} → ${spec.destination.registry}`,
        body: harborReplicationPolicy(spec),
      },
    ],
  };
}

export const imageReplicationPolicySchema = partialSchema(
  IMAGE_REPLICATION_POLICY_DEFAULTS as unknown as Record<string, unknown>,
  { "harbor.registryId": z.number().int().min(1) },
);

/** host[:port] or an http(s) URL. */
const REGISTRY_HOST = /^(https?:\/\/)?[A-Za-z0-9.-]+(:\d{1,5})?\/?$/;

export function imageReplicationPolicyProblems(spec: ImageReplicationPolicyConfig, problems: Problems): void {
  problems.cron("schedule", spec.schedule);
  for (const side of ["source", "destination"] as const) {
    const registry = spec[side].registry;
    if (!registry) problems.error(`${side}.registry`, "required");
    else if (!REGISTRY_HOST.test(registry))
      problems.error(`${side}.registry`, `"${registry}" is not a registry host`);
  }
  const hub = ["docker.io", "registry-1.docker.io", "index.docker.io"].includes(spec.source.registry);
  if (hub && spec.rules.pullImage && !spec.source.namespace && !spec.source.repository) {
    problems.warn(
      "source.namespace",
      'Docker Hub cannot list every repository: name a namespace (e.g. "library") or a repository',
    );
  }
  if (spec.source.registry && spec.source.registry === spec.destination.registry) {
    problems.error("destination.registry", "source and destination are the same registry");
  }
  for (const [path, value] of [
    ["source.namespace", spec.source.namespace],
    ["source.repository", spec.source.repository],
    ["destination.namespace", spec.destination.namespace],
  ] as const) {
    if (value && !/^[a-z0-9*{},._/-]+$/.test(value)) {
      problems.error(path, `"${value}" is not a repository name or pattern (lowercase, digits, . _ - / *)`);
    }
  }
}
