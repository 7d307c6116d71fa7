/**
 * The scrub over HTTP, for administrators (`reestr scrub`):
 *
 *   GET  /api/admin/scrub   the run in progress (with its progress) and the last finished run
 *   POST /api/admin/scrub   start a run: ?wait=true answers when it has finished (200), otherwise
 *                           at once (202); ?rate=<size> limits reading to that many bytes per
 *                           second (`50MB`, `100MiB`, or bytes). A run already in progress is not
 *                           doubled: the answer is that run (`started: false`), and with
 *                           ?wait=true its result.
 *
 * Both need registry admin; POST is rate-limited as an expensive operation and, from a browser
 * session, needs the CSRF header (the pipeline checks both).
 */
import { queryFlag, type RequestContext, sendJson } from "../../http/context.ts";
import { badRequest } from "../../http/errors.ts";
import type { Module } from "../../http/module.ts";
import { parseByteSize } from "../../util/size.ts";
import type { ScrubService } from "../lifecycle/scrub-service.ts";

const PATH = "/api/admin/scrub";

export function createScrubModule(options: { scrub: ScrubService }): Module {
  const { scrub } = options;
  return {
    name: "scrub",
    routes: [
      {
        method: "GET",
        path: PATH,
        name: PATH,
        access: "admin",
        handle: (ctx) => sendJson(ctx, 200, { running: scrub.running ?? null, last: scrub.last ?? null }),
      },
      {
        method: "POST",
        path: PATH,
        name: PATH,
        access: "admin",
        expensive: true,
        async handle(ctx) {
          const wait = queryFlag(ctx, "wait", false);
          const rate = rateOf(ctx);
          const { run, done, started } = scrub.start({ rateBytesPerSecond: rate });
          if (!wait) return sendJson(ctx, 202, { started, run }, { Location: PATH });
          sendJson(ctx, 200, { started, run: await done });
        },
      },
    ],
    close: () => scrub.close(),
  };
}

/** `?wait=true|false` (absent: false); anything else is refused, so a typo never means "no". */
function rateOf(ctx: RequestContext): number | undefined {
  const raw = ctx.query.get("rate");
  if (raw === null || raw === "") return undefined;
  let rate: number;
  try {
    rate = parseByteSize(raw);
  } catch (error) {
    throw badRequest(`rate: ${(error as Error).message} per second`);
  }
  if (rate <= 0) throw badRequest("rate: must be more than 0 bytes per second");
  return rate;
}
