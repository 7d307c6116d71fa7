/**
 * Garbage collection over HTTP, for administrators (`reestr gc`, the admin page):
 *
 *   GET  /api/admin/gc     the settings, the run in progress and the last runs (newest first)
 *   POST /api/admin/gc     start a run: ?dryRun=true lists what would go and changes nothing;
 *                          ?wait=true answers when it has finished (200), otherwise at once (202);
 *                          ?untagged=true|false overrides the configured setting for this run.
 *                          A run already in progress: 409 CONFLICT with that run in `details`.
 *
 * Both need registry admin; POST from a browser session needs the CSRF header (the pipeline
 * checks it).
 */
import { queryFlag, sendJson } from "../../http/context.ts";
import { conflict } from "../../http/errors.ts";
import type { Module } from "../../http/module.ts";
import { formatDuration } from "../../util/duration.ts";
import type { GcService } from "../lifecycle/gc-service.ts";

export function createGcApiModule(options: { gc: GcService }): Module {
  const { gc } = options;
  return {
    name: "gc",
    routes: [
      {
        method: "GET",
        path: "/api/admin/gc",
        name: "/api/admin/gc",
        access: "admin",
        handle: (ctx) =>
          sendJson(ctx, 200, {
            config: {
              untagged: gc.config.untagged,
              gracePeriod: formatDuration(gc.config.gracePeriod),
              schedule: gc.config.schedule === "off" ? null : gc.config.schedule,
              nextRun: gc.nextRun === undefined ? null : new Date(gc.nextRun).toISOString(),
            },
            running: gc.running ?? null,
            runs: gc.history(),
          }),
      },
      {
        method: "POST",
        path: "/api/admin/gc",
        name: "/api/admin/gc",
        // Not `expensive`: runs never overlap, so a caller cannot pile up work, and the
        // load test in test/api/gc.test.ts runs hundreds of times in a row.
        access: "admin",
        async handle(ctx) {
          const dryRun = queryFlag(ctx, "dryRun", false);
          const wait = queryFlag(ctx, "wait", false);
          const untagged = ctx.query.has("untagged") ? queryFlag(ctx, "untagged", false) : undefined;
          const { run, done, started } = gc.start({ dryRun, untagged, trigger: "api" });
          if (!started) throw conflict(`garbage collection run ${run.id} is in progress`, run);
          if (!wait) return sendJson(ctx, 202, run, { Location: "/api/admin/gc" });
          sendJson(ctx, 200, await done);
        },
      },
    ],
    close: () => gc.close(),
  };
}
