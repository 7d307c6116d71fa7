/**
 * Retention over HTTP, for administrators (a module of `reestr serve`):
 *
 *   GET  /api/admin/retention                  the policies, the schedule, the next and the last run
 *   POST /api/admin/retention?dryRun=true      the plan: per repository, every tag with keep/delete
 *                                              and why, and the manifests that would go
 *   POST /api/admin/retention?dryRun=false     a real run: the same plan, carried out, with each
 *                                              deletion's outcome
 *
 * `dryRun` defaults to true, so a POST without it never deletes; `policy=<name>` (repeatable)
 * runs only those policies. A real run on a registry with `storage.deleteEnabled: false` is
 * refused (403). Runs are one at a time: a POST during a run waits for it.
 */
import { queryFlag, sendJson } from "../../http/context.ts";
import { badRequest, forbidden } from "../../http/errors.ts";
import { clientIp } from "../../http/limits.ts";
import type { Module } from "../../http/module.ts";
import { formatDuration } from "../../util/duration.ts";
import type { Retention } from "../lifecycle/retention.ts";
import type { RetentionPolicy } from "../lifecycle/retention-config.ts";

const PATH = "/api/admin/retention";

export interface RetentionApiOptions {
  retention: Retention;
  /** Whether the registry deletes at all (storage.deleteEnabled). */
  deleteEnabled: boolean;
}

/** A policy as configured, durations written back as text ("7d"). */
export function describePolicy(policy: RetentionPolicy): Record<string, unknown> {
  const duration = (ms: number | undefined) => (ms === undefined ? null : formatDuration(ms));
  return {
    name: policy.name,
    repositories: policy.repositories,
    schedule: policy.schedule ?? null,
    keepLast: policy.keepLast ?? null,
    sortBy: policy.sortBy,
    keepPushedWithin: duration(policy.keepPushedWithin),
    keepPulledWithin: duration(policy.keepPulledWithin),
    keepTags: policy.keepTags,
    deleteTags: policy.deleteTags,
    protectedTags: policy.protectedTags,
    deleteUntaggedAfter: duration(policy.deleteUntaggedAfter),
  };
}

export function createRetentionApiModule({ retention, deleteEnabled }: RetentionApiOptions): Module {
  return {
    name: "retention",
    routes: [
      {
        method: "GET",
        path: PATH,
        name: PATH,
        access: "admin",
        handle(ctx) {
          const next = retention.nextRun;
          sendJson(ctx, 200, {
            schedule: retention.config.schedule,
            scheduled: retention.config.scheduled,
            deleteEnabled,
            nextRun: next === undefined ? null : new Date(next).toISOString(),
            policies: retention.config.policies.map(describePolicy),
            lastRun: retention.lastRun ?? null,
          });
        },
      },
      {
        method: "POST",
        path: PATH,
        name: PATH,
        access: "admin",
        // A run reads every repository (and a real one deletes): limited per caller.
        expensive: true,
        async handle(ctx) {
          // Without dryRun=false a POST only plans: deleting takes saying so.
          const dryRun = queryFlag(ctx, "dryRun", true);
          if (!dryRun && !deleteEnabled) {
            throw forbidden(
              "deletion is disabled on this registry (storage.deleteEnabled: false): only dry runs are possible",
            );
          }
          const names = ctx.query.getAll("policy");
          const known = new Set(retention.config.policies.map((policy) => policy.name));
          const unknown = names.filter((name) => !known.has(name));
          if (unknown.length > 0) {
            throw badRequest(
              `policy: no policy named ${unknown.map((n) => `"${n.slice(0, 100)}"`).join(", ")}`,
            );
          }
          const result = await retention.run({
            dryRun,
            trigger: "api",
            user: ctx.user ?? null,
            client: clientIp(ctx.req),
            requestId: ctx.requestId,
            policies: names.length > 0 ? names : undefined,
          });
          sendJson(ctx, 200, result);
        },
      },
    ],
    close: () => retention.close(),
  };
}
