/**
 * Registry events as webhooks send them, in two formats:
 *
 * - `distribution`: CNCF Distribution's notification envelope, so receivers written for
 *   Distribution (or Harbor's, which reads the same) work unchanged:
 *     Content-Type: application/vnd.docker.distribution.events.v1+json
 *     {"events":[{"id","timestamp","action":"push|pull|delete","target":{"mediaType","size",
 *       "digest","length","repository","url","tag"},"request":{"id","addr","host","method",
 *       "useragent"},"actor":{"name"},"source":{"addr","instanceID"}}]}
 *   Blob uploads and mounts are `push` and `mount` events with a target of media type
 *   application/octet-stream (filters `blob-push`, `blob-mount`, not sent unless asked for).
 *   Retention deletions are `delete` events with a `retention: {policy, reason}` member; GC runs
 *   and watcher scans (which Distribution has no event for) are actions `gc` and `scan`, with a
 *   `gc` member holding the counts and a `scan` member holding the result.
 * - `cloudevents`: CloudEvents 1.0 in structured mode (application/cloudevents+json), type
 *   `io.reestr.registry.<push|pull|delete|retention|gc|scan|blob-push|blob-mount>`, the Distribution event as `data`.
 *
 * Events are built from what the audit log already derives from a finished request
 * (auditEventOf in ../http/audit.ts), so the two never disagree about what a request was.
 */
import { randomUUID } from "node:crypto";
import type { RequestContext } from "../../http/context.ts";
import { clientIp } from "../../http/limits.ts";
import { type AuditEvent, auditEventOf } from "../http/audit.ts";
import type { NotificationAction } from "./notifications-config.ts";

export const DISTRIBUTION_EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json";
export const CLOUDEVENTS_TYPE = "application/cloudevents+json";

export interface EventTarget {
  mediaType?: string;
  size?: number;
  digest?: string;
  length?: number;
  repository: string;
  url?: string;
  tag?: string;
  /** A blob mount's source repository, when the request named one (`from`). */
  fromRepository?: string;
}

/** One event, as queued: Distribution's event plus the action filters use. */
export interface NotificationEvent {
  id: string;
  timestamp: string;
  action: NotificationAction;
  /** For repository filters; absent for GC runs. */
  repository?: string;
  target?: EventTarget;
  request?: { id: string; addr: string; host: string; method: string; useragent: string };
  actor: { name?: string };
  source: EventSource;
  retention?: { policy?: string; reason?: string };
  gc?: Record<string, unknown>;
  scan?: Record<string, unknown>;
}

export interface EventSource {
  addr: string;
  instanceID: string;
}

function header(value: string | string[] | number | undefined): string | undefined {
  if (Array.isArray(value)) return value[0];
  return value === undefined ? undefined : String(value);
}

function sizeOf(value: string | undefined): number | undefined {
  const n = value === undefined ? Number.NaN : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The event a finished request makes: successful manifest pushes and pulls, manifest, tag and
 * blob deletes (all as the audit log sees them), and blob uploads and mounts (201 Created).
 */
export function eventOfRequest(
  ctx: RequestContext,
  status: number,
  source: EventSource,
): NotificationEvent | undefined {
  if (ctx.route === "blob_upload") return blobEventOf(ctx, status, source);
  const audited = auditEventOf(ctx, status);
  if (audited?.outcome !== "success" || audited.action === "retention") return undefined;
  const { req, res } = ctx;
  const host = hostOf(ctx, source);
  const isDigest = audited.reference.includes(":");
  const kind = ctx.route === "blob" ? "blobs" : "manifests";
  const pushed = audited.action === "push";
  const mediaType = pushed ? header(req.headers["content-type"]) : header(res.getHeader("content-type"));
  const size = pushed
    ? ctx.bytesIn || sizeOf(header(req.headers["content-length"]))
    : sizeOf(header(res.getHeader("content-length")));
  const target: EventTarget = {
    ...(audited.action !== "delete" && mediaType ? { mediaType } : {}),
    ...(size !== undefined && audited.action !== "delete" ? { size, length: size } : {}),
    ...(audited.digest ? { digest: audited.digest } : {}),
    repository: audited.repository,
    ...(audited.digest
      ? { url: `${schemeOf(ctx)}://${host}/v2/${audited.repository}/${kind}/${audited.digest}` }
      : {}),
    ...(isDigest ? {} : { tag: audited.reference }),
  };
  return {
    id: randomUUID(),
    timestamp: audited.time,
    action: audited.action,
    repository: audited.repository,
    target,
    request: requestOf(ctx, host, audited.client),
    actor: audited.user ? { name: audited.user } : {},
    source,
  };
}

/**
 * A blob upload finished (PUT, or a monolithic POST with `digest`) or a blob mounted (POST with
 * `mount`): 201 Created with the digest in Docker-Content-Digest. Distribution's envelope says
 * `push` or `mount` with a target of media type application/octet-stream; the size is left out,
 * since the last request of a chunked upload carries only its last chunk.
 */
function blobEventOf(
  ctx: RequestContext,
  status: number,
  source: EventSource,
): NotificationEvent | undefined {
  const method = ctx.req.method;
  if (status !== 201 || (method !== "PUT" && method !== "POST")) return undefined;
  const repository = ctx.params.name;
  const digest = header(ctx.res.getHeader("docker-content-digest"));
  if (repository === undefined || digest === undefined) return undefined;
  const mount = method === "POST" ? ctx.query.get("mount") : null;
  const from = mount ? ctx.query.get("from") : null;
  const host = hostOf(ctx, source);
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: mount ? "blob-mount" : "blob-push",
    repository,
    target: {
      mediaType: "application/octet-stream",
      digest,
      repository,
      ...(from ? { fromRepository: from } : {}),
      url: `${schemeOf(ctx)}://${host}/v2/${repository}/blobs/${digest}`,
    },
    request: requestOf(ctx, host, clientIp(ctx.req)),
    actor: ctx.user ? { name: ctx.user } : {},
    source,
  };
}

function hostOf(ctx: RequestContext, source: EventSource): string {
  return header(ctx.req.headers.host) ?? source.addr;
}

function schemeOf(ctx: RequestContext): string {
  return "encrypted" in ctx.req.socket ? "https" : "http";
}

function requestOf(
  ctx: RequestContext,
  host: string,
  addr: string,
): NonNullable<NotificationEvent["request"]> {
  return {
    id: ctx.requestId,
    addr,
    host,
    method: ctx.req.method ?? "GET",
    useragent: header(ctx.req.headers["user-agent"]) ?? "",
  };
}

/** A retention deletion (the audit event retention writes) as a notification event. */
export function eventOfRetention(event: AuditEvent, source: EventSource): NotificationEvent {
  const isDigest = event.reference.includes(":");
  return {
    id: randomUUID(),
    timestamp: event.time,
    action: "retention",
    repository: event.repository,
    target: {
      ...(event.digest ? { digest: event.digest } : {}),
      repository: event.repository,
      ...(isDigest ? {} : { tag: event.reference }),
    },
    request: {
      id: event.requestId,
      addr: event.client,
      host: source.addr,
      method: "DELETE",
      useragent: "reestr-retention",
    },
    actor: event.user ? { name: event.user } : {},
    source,
    retention: { policy: event.policy, reason: event.reason },
  };
}

/** A finished (non-dry) GC run as a notification event. */
export function eventOfGcRun(run: Record<string, unknown>, source: EventSource): NotificationEvent {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: "gc",
    actor: {},
    source,
    gc: run,
  };
}

/** What a watcher scan pass reports (src/watcher/scheduler.ts ScanEvent, structurally). */
export interface ScanSummary {
  entry: string;
  url: string;
  repository: string;
  status: string;
  message?: string;
  tags: number;
  changed: number;
  result: {
    images: {
      tag: string;
      digest: string;
      vulnerabilities?: { critical: number; high: number; medium: number; low: number; unknown: number };
    }[];
  };
}

/** Images listed per scan event at most (a big repository's event stays small). */
const SCAN_IMAGES = 100;

/** A watcher scan pass (its vulnerability counts per image) as a notification event. */
export function eventOfScan(pass: ScanSummary, source: EventSource): NotificationEvent {
  const severities = ["critical", "high", "medium", "low", "unknown"] as const;
  const totals = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  for (const image of pass.result.images) {
    for (const severity of severities) totals[severity] += image.vulnerabilities?.[severity] ?? 0;
  }
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action: "scan",
    repository: pass.repository,
    target: { repository: pass.repository, url: pass.url },
    actor: {},
    source,
    scan: {
      entry: pass.entry,
      status: pass.status,
      ...(pass.message ? { message: pass.message } : {}),
      tags: pass.tags,
      changed: pass.changed,
      vulnerabilities: totals,
      images: pass.result.images.slice(0, SCAN_IMAGES).map((image) => ({
        tag: image.tag,
        digest: image.digest,
        ...(image.vulnerabilities
          ? Object.fromEntries(severities.map((s) => [s, image.vulnerabilities![s]]))
          : {}),
      })),
      truncated: pass.result.images.length > SCAN_IMAGES,
    },
  };
}

/** The Distribution event of a queued event (the filter-only fields left out). */
function distributionEvent(event: NotificationEvent): Record<string, unknown> {
  const { repository: _repository, action, ...rest } = event;
  return { ...rest, action: DISTRIBUTION_ACTIONS[action] ?? action };
}

/** Distribution's `action` where it differs from the filter's name. */
const DISTRIBUTION_ACTIONS: Partial<Record<NotificationAction, string>> = {
  retention: "delete",
  "blob-push": "push",
  "blob-mount": "mount",
};

export function renderBody(
  format: "distribution" | "cloudevents",
  event: NotificationEvent,
): { body: string; contentType: string } {
  if (format === "distribution") {
    return {
      body: JSON.stringify({ events: [distributionEvent(event)] }),
      contentType: DISTRIBUTION_EVENTS_TYPE,
    };
  }
  const cloudEvent = {
    specversion: "1.0",
    id: event.id,
    source: `reestr://${event.source.addr}`,
    type: `io.reestr.registry.${event.action}`,
    time: event.timestamp,
    ...(event.repository ? { subject: event.repository } : {}),
    datacontenttype: "application/json",
    data: distributionEvent(event),
  };
  return { body: JSON.stringify(cloudEvent), contentType: CLOUDEVENTS_TYPE };
}
