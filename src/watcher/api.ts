/**
 * The watcher's results over HTTP, as a module of `reestr serve`:
 *
 *   GET  /api/watch/registries                       the watched entries the caller may see
 *   GET  /api/watch/registries/{name}                one entry with its images
 *   GET  /api/watch/registries/{name}/history        digest moves (?tag=&limit=&before=)
 *   POST /api/watch/registries/{name}/scan           scan now (?wait=true: the pass's result)
 *
 * Who may see what: an entry that watches this server's own registry is visible to callers who
 * may pull its repository; an entry of a remote registry (its URL, credentials in use, what is
 * in it) only to administrators. Scanning makes requests to someone else's registry, so it needs
 * an administrator, is rate-limited per caller as an expensive operation, and with a browser
 * session needs the CSRF header (the pipeline checks both). On an open registry (no auth) every
 * caller is an administrator.
 */
import {
  type AccessController,
  type AccessRecord,
  ADMIN_ACCESS,
  type Caller,
  repositoryAccess,
} from "../http/access.ts";
import { pathParam, type RequestContext, sendJson } from "../http/context.ts";
import { badRequest, notFound } from "../http/errors.ts";
import type { Module } from "../http/module.ts";
import type { Route } from "../http/router.ts";
import type { WatchEntry } from "./scheduler.ts";
import type { Watcher } from "./watcher.ts";

const PREFIX = "/api/watch/registries";
const MAX_HISTORY_LIMIT = 1000;

export interface WatchApiOptions {
  /** Absent when the server has no `watch` section: the list is empty. */
  watcher?: Watcher;
  access: AccessController;
  /** Whether an entry watches this server's own registry (known once the server listens). */
  isLocal: (entry: WatchEntry) => boolean;
}

export function createWatchApiModule(options: WatchApiOptions): Module {
  const { watcher, access, isLocal } = options;
  const entryNamed = (name: string) => watcher?.entries.find((entry) => entry.name === name);
  /** What reading an entry needs; an unknown name needs an administrator (no probing for names). */
  const readAccess = (entry: WatchEntry | undefined): AccessRecord[] =>
    entry && isLocal(entry) ? [repositoryAccess(entry.spec.repository, "pull")] : [ADMIN_ACCESS];
  const mayRead = (caller: Caller, entry: WatchEntry) => access.authorize(caller, readAccess(entry)).allowed;
  const known = (ctx: RequestContext): WatchEntry => {
    const name = pathParam(ctx, "name");
    const entry = entryNamed(name);
    if (!watcher || !entry) throw notFound(`no watched registry named "${name.slice(0, 200)}"`);
    return entry;
  };
  const route = (
    method: Route["method"],
    path: string,
    rest: Omit<Route, "method" | "path" | "name">,
  ): Route => ({
    method,
    path: `${PREFIX}${path}`,
    name: `${PREFIX}${path}`,
    ...rest,
  });
  const read = (ctx: RequestContext) => readAccess(entryNamed(pathParam(ctx, "name")));

  return {
    name: "watch",
    routes: [
      route("GET", "", {
        // Filtered to what the caller may see.
        access: "public",
        async handle(ctx) {
          const entries = (watcher?.entries ?? []).filter((entry) => mayRead(ctx.caller, entry));
          const saved = new Map(
            (watcher ? await watcher.store.entries() : []).map((record) => [record.name, record]),
          );
          sendJson(ctx, 200, {
            registries: entries.map(({ name, spec }) => {
              const record = saved.get(name);
              return {
                name,
                url: spec.url,
                repository: spec.repository,
                scanInterval: spec.scanInterval,
                lastScanTime: record?.lastScanTime ?? null,
                lastScanStatus: record?.lastScanStatus ?? null,
                message: record?.message ?? null,
                images: record?.tags ?? 0,
                scanning: watcher?.scheduler.isRunning(name) ?? false,
              };
            }),
          });
        },
      }),
      route("GET", "/{name}", {
        access: read,
        async handle(ctx) {
          const entry = known(ctx);
          const status = await watcher!.store.load(entry.name);
          sendJson(ctx, 200, {
            name: entry.name,
            url: entry.spec.url,
            repository: entry.spec.repository,
            scanInterval: entry.spec.scanInterval,
            scanning: watcher!.scheduler.isRunning(entry.name),
            lastScanTime: status?.lastScanTime ?? null,
            lastScanStatus: status?.lastScanStatus ?? null,
            message: status?.message ?? null,
            images: status?.images ?? [],
          });
        },
      }),
      route("GET", "/{name}/history", {
        access: read,
        async handle(ctx) {
          const entry = known(ctx);
          const tag = ctx.query.get("tag") ?? undefined;
          const rawLimit = ctx.query.get("limit");
          let limit: number | undefined;
          if (rawLimit !== null) {
            limit = Number(rawLimit);
            if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
              throw badRequest(
                `limit: expected an integer from 1 to ${MAX_HISTORY_LIMIT}, got "${rawLimit.slice(0, 50)}"`,
              );
            }
          }
          const before = ctx.query.get("before") ?? undefined;
          if (before !== undefined && Number.isNaN(Date.parse(before))) {
            throw badRequest(`before: expected a timestamp, got "${before.slice(0, 50)}"`);
          }
          const changes = await watcher!.store.history(entry.name, { tag, limit, before });
          sendJson(ctx, 200, {
            name: entry.name,
            repository: entry.spec.repository,
            changes: changes.map(({ tag: changed, from, to, at }) => ({
              tag: changed,
              from: from ?? null,
              to: to ?? null,
              at,
            })),
          });
        },
      }),
      route("POST", "/{name}/scan", {
        access: "admin",
        expensive: true,
        async handle(ctx) {
          const entry = known(ctx);
          // Scan now: 202 at once, or with ?wait=true the pass's result (a pass already running
          // is joined, never doubled).
          const pass = watcher!.scheduler.scanNow(entry.name)!;
          if (ctx.query.get("wait") !== "true") {
            pass.catch(() => {});
            return sendJson(ctx, 202, { name: entry.name, scanning: true });
          }
          const event = await pass;
          sendJson(ctx, 200, {
            name: entry.name,
            url: entry.spec.url,
            repository: entry.spec.repository,
            scanning: false,
            durationMs: event.durationMs,
            changed: event.changed,
            lastScanTime: event.result.lastScanTime ?? null,
            lastScanStatus: event.result.lastScanStatus ?? null,
            message: event.result.message ?? null,
            images: event.result.images,
          });
        },
      }),
    ],
  };
}
