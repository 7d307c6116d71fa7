/**
 * Registry policies (seed 002): image scanning, retention and replication.
 *
 * Each policy's schema holds the seed's options with their defaults; its builder (kinds.ts) parses
 * a deep-partial config with it. Each renderer returns two things:
 * - Reestr's own policy configuration, `apiVersion: policy.reestr.dev/v1alpha1` with kind
 *   ScanPolicy, RetentionPolicy or ReplicationPolicy: a normalized, documented object (durations
 *   in seconds, schedules as 5-field cron) that Reestr enforces on its own registry — the
 *   RetentionPolicy loads as a `retention.policies` entry of `reestr serve`
 *   (src/registry/lifecycle/retention-config.ts), the others are for a later release
 *   (docs/deploy.md describes every field);
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
  GO_DURATION,
  goDurationSeconds,
  harborCron,
  MANAGED_BY,
  type PolicyMetadata,
  type Problems,
} from "./common.ts";
import type { Built } from "./define.ts";
import { stringList } from "./schema.ts";

export type { PolicyMetadata } from "./common.ts";

export const POLICY_API_VERSION = "policy.reestr.dev/v1alpha1";

/** Reestr's own policy configuration object (RetentionPolicy: enforced by `reestr serve`'s retention). */
export interface ReestrPolicy<K extends string, S> {
  apiVersion: typeof POLICY_API_VERSION;
  kind: K;
  metadata: PolicyMetadata;
  spec: S;
}

function reestrPolicy<K extends string, S>(kind: K, metadata: PolicyMetadata, spec: S): ReestrPolicy<K, S> {
  return {
    apiVersion: POLICY_API_VERSION,
    kind,
    metadata: { ...metadata, labels: { ...metadata.labels } },
    spec,
  };
}

function harborRequest(
  method: ApiRequest["method"],
  path: string,
  description: string,
  body: unknown,
): ApiRequest {
  return { target: "harbor", method, path, contentType: "application/json", description, body };
}

// ---------------------------------------------------------------- scan policy

const vulnerabilityAction = z.enum(["block", "warn", "allow"]);

function severityRule(action: z.output<typeof vulnerabilityAction>) {
  return z
    .strictObject({ enabled: z.boolean().default(true), action: vulnerabilityAction.default(action) })
    .prefault({});
}

export const imageScanPolicySchema = z.strictObject({
  name: z.string().default("image-scan"),
  scanning: z
    .strictObject({
      enabled: z.boolean().default(true),
      scanner: z.enum(["trivy", "grype", "clair"]).default("trivy"),
      /** Go duration between scans of every image ("24h"); Harbor needs an interval dividing a day, or 168h. */
      scanInterval: z.string().default("24h"),
      onPull: z.boolean().default(true),
      onPush: z.boolean().default(true),
    })
    .prefault({}),
  vulnerabilities: z
    .strictObject({
      critical: severityRule("block"),
      high: severityRule("warn"),
      medium: severityRule("allow"),
    })
    .prefault({}),
  /** Image references or patterns ("docker.io/library/nginx:*") exempt from blocking. */
  exemptions: stringList(),
  /** Reestr extension: the Harbor project whose metadata carries the policy. */
  harbor: z.strictObject({ project: z.string().min(1).default("library") }).prefault({}),
});

/** What imageScanPolicy() takes: any subset of the options, at any depth. */
export type ImageScanPolicyInput = z.input<typeof imageScanPolicySchema>;
export type ImageScanPolicyConfig = z.output<typeof imageScanPolicySchema>;
export type VulnerabilityAction = z.output<typeof vulnerabilityAction>;
export type Severity = keyof ImageScanPolicyConfig["vulnerabilities"];
export type ImageScanPolicy = Built<"ImageScanPolicy", PolicyMetadata, ImageScanPolicyConfig>;

export const IMAGE_SCAN_POLICY_DEFAULTS: ImageScanPolicyConfig = imageScanPolicySchema.parse({});

/** Most severe first, with the name Reestr's policy uses. */
const SEVERITIES: Severity[] = ["critical", "high", "medium"];
const SEVERITY_NAMES: Record<Severity, ScanPolicySpec["rules"][number]["severity"]> = {
  critical: "CRITICAL",
  high: "HIGH",
  medium: "MEDIUM",
};

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

function scanPolicySpec(spec: ImageScanPolicyConfig): ScanPolicySpec {
  const interval = spec.scanning.scanInterval;
  return {
    enabled: spec.scanning.enabled,
    scanner: spec.scanning.scanner,
    intervalSeconds: GO_DURATION.test(interval) ? goDurationSeconds(interval) : 0,
    triggers: { push: spec.scanning.onPush, pull: spec.scanning.onPull },
    rules: SEVERITIES.filter((s) => spec.vulnerabilities[s].enabled).map((s) => ({
      severity: SEVERITY_NAMES[s],
      action: spec.vulnerabilities[s].action,
    })),
    exemptions: [...spec.exemptions],
  };
}

/** Harbor: scan on push and vulnerable-image blocking as project metadata, the scan-all schedule. */
function scanApiRequests(spec: ImageScanPolicyConfig): ApiRequest[] {
  const block = harborBlockSeverity(spec);
  const interval = spec.scanning.scanInterval;
  const cron = GO_DURATION.test(interval) ? scanIntervalCron(interval) : undefined;
  const project = spec.harbor.project;
  return [
    harborRequest(
      "PUT",
      `/api/v2.0/projects/${encodeURIComponent(project)}`,
      `scan on push and vulnerable-image blocking for project "${project}"`,
      // Harbor's project metadata values are strings.
      {
        metadata: {
          auto_scan: String(spec.scanning.enabled && spec.scanning.onPush),
          prevent_vul: String(spec.scanning.enabled && block !== undefined),
          ...(block ? { severity: block } : {}),
        },
      },
    ),
    harborRequest("PUT", "/api/v2.0/system/scanAll/schedule", `scan every image every ${interval}`, {
      schedule: spec.scanning.enabled && cron ? { type: "Custom", cron } : { type: "None" },
    }),
  ];
}

export function renderImageScanPolicy(policy: ImageScanPolicy): {
  policy: ReestrPolicy<"ScanPolicy", ScanPolicySpec>;
  api: ApiRequest[];
} {
  return {
    policy: reestrPolicy("ScanPolicy", policy.metadata, scanPolicySpec(policy.spec)),
    api: scanApiRequests(policy.spec),
  };
}

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

export const imageRetentionPolicySchema = z.strictObject({
  name: z.string().default("image-retention"),
  /** Keep images pushed within this many days. */
  retentionDays: z.number().int().default(30),
  /** Keep every tagged image, whatever its age (untagged ones follow retentionDays). */
  keepTagged: z.boolean().default(true),
  /** Keep the `latest` tag. */
  keepLatest: z.boolean().default(true),
  /** Repository patterns (doublestar: "team/**") the policy applies to; empty = all. */
  repositories: stringList(),
  /** More repository (image name) patterns, added to `repositories`. */
  images: stringList(),
  schedule: z.string().default("0 2 * * *"),
  /** Reestr extension: the Harbor project id the retention policy belongs to. */
  harbor: z.strictObject({ projectId: z.number().int().min(1).default(1) }).prefault({}),
});

/** What imageRetentionPolicy() takes: any subset of the options, at any depth. */
export type ImageRetentionPolicyInput = z.input<typeof imageRetentionPolicySchema>;
export type ImageRetentionPolicyConfig = z.output<typeof imageRetentionPolicySchema>;
export type ImageRetentionPolicy = Built<"ImageRetentionPolicy", PolicyMetadata, ImageRetentionPolicyConfig>;

export const IMAGE_RETENTION_POLICY_DEFAULTS: ImageRetentionPolicyConfig = imageRetentionPolicySchema.parse(
  {},
);

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
    policy: reestrPolicy("RetentionPolicy", policy.metadata, {
      schedule: spec.schedule,
      maxAgeDays: spec.retentionDays,
      keep: { tagged: spec.keepTagged, latest: spec.keepLatest },
      repositories: [...new Set([...spec.repositories, ...spec.images])],
    }),
    api: [
      harborRequest(
        "POST",
        "/api/v2.0/retentions",
        `tag retention for project id ${spec.harbor.projectId}: ${spec.retentionDays} days`,
        harborRetentionPolicy(spec),
      ),
    ],
  };
}

export function imageRetentionPolicyProblems(spec: ImageRetentionPolicyConfig, problems: Problems): void {
  problems.atLeastOne("retentionDays", spec.retentionDays);
  problems.cron("schedule", spec.schedule);
  for (const key of ["repositories", "images"] as const) {
    spec[key].forEach((pattern, i) => {
      if (pattern.trim() === "") problems.error(`${key}[${i}]`, "must not be empty");
    });
  }
}

// --------------------------------------------------------- replication policy

export const imageReplicationPolicySchema = z.strictObject({
  name: z.string().default("image-replication"),
  source: z
    .strictObject({
      registry: z.string().default("docker.io"),
      namespace: z.string().default(""),
      repository: z.string().default(""),
    })
    .prefault({}),
  destination: z
    .strictObject({ registry: z.string().default("registry.local"), namespace: z.string().default("") })
    .prefault({}),
  rules: z
    .strictObject({
      /** true: the destination pulls from the source (Harbor pull-based); false: push to the destination. */
      pullImage: z.boolean().default(true),
      /** Delete images at the destination when they are deleted at the source. */
      deleteImage: z.boolean().default(false),
    })
    .prefault({}),
  schedule: z.string().default("0 */6 * * *"),
  enabled: z.boolean().default(true),
  /** Reestr extension: id of the Harbor registry endpoint for the remote side (created by the first request). */
  harbor: z.strictObject({ registryId: z.number().int().min(1).default(1) }).prefault({}),
});

/** What imageReplicationPolicy() takes: any subset of the options, at any depth. */
export type ImageReplicationPolicyInput = z.input<typeof imageReplicationPolicySchema>;
export type ImageReplicationPolicyConfig = z.output<typeof imageReplicationPolicySchema>;
export type ImageReplicationPolicy = Built<
  "ImageReplicationPolicy",
  PolicyMetadata,
  ImageReplicationPolicyConfig
>;

export const IMAGE_REPLICATION_POLICY_DEFAULTS: ImageReplicationPolicyConfig =
  imageReplicationPolicySchema.parse({});

export interface ReplicationPolicySpec {
  enabled: boolean;
  schedule: string;
  mode: "pull" | "push";
  source: { registry: string; namespace: string; repository: string };
  destination: { registry: string; namespace: string };
  deleteRemoved: boolean;
}

const DOCKER_HUB_HOSTS = ["docker.io", "registry-1.docker.io", "index.docker.io"];

function isDockerHub(registry: string): boolean {
  return DOCKER_HUB_HOSTS.includes(registry);
}

/** Harbor's endpoint for a registry host: Docker Hub or a Distribution-compatible registry. */
export function harborRegistryEndpoint(name: string, registry: string): Record<string, unknown> {
  const hub = isDockerHub(registry);
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
  const mode = spec.rules.pullImage ? "pull" : "push";
  const remote = spec.rules.pullImage ? spec.source.registry : spec.destination.registry;
  return {
    policy: reestrPolicy("ReplicationPolicy", policy.metadata, {
      enabled: spec.enabled,
      schedule: spec.schedule,
      mode,
      source: { ...spec.source },
      destination: { ...spec.destination },
      deleteRemoved: spec.rules.deleteImage,
    }),
    api: [
      harborRequest(
        "POST",
        "/api/v2.0/registries",
        `registry endpoint for ${remote} (its id goes into harbor.registryId)`,
        harborRegistryEndpoint(`${spec.name}-remote`, remote),
      ),
      harborRequest(
        "POST",
        "/api/v2.0/replication/policies",
        `${mode} replication ${spec.source.registry} → ${spec.destination.registry}`,
        harborReplicationPolicy(spec),
      ),
    ],
  };
}

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
  if (
    isDockerHub(spec.source.registry) &&
    spec.rules.pullImage &&
    !spec.source.namespace &&
    !spec.source.repository
  ) {
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
