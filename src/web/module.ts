/**
 * The built web catalogue as a module: every GET that no API route takes is the app (its files,
 * or index.html for a client-side route). Paths under /api/ that no route takes stay JSON 404s,
 * so a typo in a script never gets a page of HTML.
 */
import { notFound } from "../http/errors.ts";
import type { Module } from "../http/module.ts";
import { StaticSite } from "./static.ts";

export function createWebAppModule(options: { root?: string } = {}): Module {
  let site: StaticSite | undefined;
  return {
    name: "web",
    routes: [
      {
        method: "*",
        path: "/api/{rest*}",
        name: "not_found",
        access: "public",
        handle: (ctx) => {
          throw notFound(`no such endpoint: ${ctx.path.slice(0, 200)}`);
        },
      },
      {
        method: "GET",
        path: "/{path*}",
        name: "web",
        access: "public",
        async handle(ctx) {
          // Built lazily: a server used only as a registry never reads the app's files.
          site ??= new StaticSite(options.root ? { root: options.root } : {});
          await site.handle(ctx.req, ctx.res, ctx.path);
        },
      },
    ],
  };
}
