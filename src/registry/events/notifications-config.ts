/**
 * `notifications`: where registry events are sent (webhooks). One entry per receiver; events
 * are queued in `<dataDir>/notifications.sqlite` and delivered by ./notifier.ts.
 */
import { z } from "zod";
import { Duration, PositiveDuration } from "../../util/duration.ts";
import { RepositoryGlob } from "../../util/repository-glob.ts";

export const NOTIFICATION_ACTIONS = [
  "push",
  "pull",
  "delete",
  "gc",
  "retention",
  "scan",
  "blob-push",
  "blob-mount",
] as const;
export type NotificationAction = (typeof NOTIFICATION_ACTIONS)[number];

/**
 * What an endpoint without `events` gets: everything but blob uploads and mounts, which an
 * image push multiplies by its layer count (ask for them by name, as Distribution sends them).
 */
export const DEFAULT_NOTIFICATION_ACTIONS: readonly NotificationAction[] = NOTIFICATION_ACTIONS.filter(
  (action) => action !== "blob-push" && action !== "blob-mount",
);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const EndpointSchema = z
  .object({
    /** Names the endpoint in logs, metrics and `/api/admin/webhooks/{name}`. */
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "lower-case letters, digits, '.', '_', '-'"),
    url: z.url({ protocol: /^https?$/, error: "an http:// or https:// URL" }),
    /** Sent with every delivery (an Authorization header a receiver asks for, …). */
    headers: z
      .record(z.string().regex(HEADER_NAME, "an HTTP header name"), z.string().regex(/^[^\r\n]*$/))
      .default({}),
    /** Signs each body: `X-Reestr-Signature: sha256=<hex HMAC-SHA256 of the body>`. Never logged. */
    secret: z.string().min(1).optional(),
    /** CNCF Distribution's envelope (existing receivers work) or CloudEvents 1.0 structured mode. */
    format: z.enum(["distribution", "cloudevents"]).default("distribution"),
    /** Which events this endpoint gets (default all but `blob-push`, `blob-mount`). */
    events: z.array(z.enum(NOTIFICATION_ACTIONS)).min(1).optional(),
    /**
     * Only events of repositories matching one of these globs (GC runs have none: always sent;
     * scan events carry the watched repository's name).
     */
    repositories: z.array(RepositoryGlob).min(1).optional(),
    /** One attempt's limit. */
    timeout: PositiveDuration.prefault("5s"),
    /** Attempts before a delivery is given up as failed. */
    maxAttempts: z.number().int().min(1).max(100).default(10),
  })
  .strict();

export const NotificationsSchema = z
  .object({
    endpoints: z.array(EndpointSchema).default([]),
    /** Retry delays double from `retryInitial` up to `retryMax` (each with jitter). */
    retryInitial: PositiveDuration.prefault("1s"),
    retryMax: Duration.prefault("5m"),
    /** Deliveries waiting per endpoint beyond which new events are dropped (and logged). */
    maxPending: z.number().int().min(1).default(10_000),
    /** Delivered and failed deliveries kept per endpoint for the delivery log. */
    keepDelivered: z.number().int().min(0).default(1000),
  })
  .strict()
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.endpoints.forEach((endpoint, index) => {
      if (seen.has(endpoint.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["endpoints", index, "name"],
          message: `duplicate endpoint name "${endpoint.name}"`,
        });
      }
      seen.add(endpoint.name);
    });
  });

export type NotificationsConfig = z.infer<typeof NotificationsSchema>;
export type EndpointConfig = z.infer<typeof EndpointSchema>;
