/**
 * `proxy:` — pull-through caches of other registries. Each entry maps a first path segment of
 * this registry (`prefix`) onto an upstream: `/v2/<prefix>/<repository>/…` is fetched from
 * `<upstream>/v2/<repository>/…` on first use and kept in the normal stores.
 */
import { z } from "zod";
import { Duration } from "../util/duration.ts";
import { RepositoryGlob } from "../util/repository-glob.ts";

const PREFIX = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const ProxyEntrySchema = z
  .object({
    /** The first path segment of the proxied repositories here (`dockerhub` → `dockerhub/library/nginx`). */
    prefix: z.string().regex(PREFIX, "must be one lowercase repository path component, e.g. dockerhub"),
    /** The upstream registry's base URL (`https://registry-1.docker.io`). */
    upstream: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    /** Basic credentials for the upstream (its token flow uses them too). */
    credentials: z
      .object({ username: z.string().min(1), password: z.string() })
      .strict()
      .optional(),
    /** How long a cached tag is served before it is revalidated with a HEAD upstream. */
    tagTtl: Duration.prefault("10m"),
    /** Upstream repositories that may be fetched (globs such as `library/*`); default all. */
    repositories: z.array(RepositoryGlob).min(1).optional(),
    /** Attempts after the first on 5xx, resets and 429 (short: a cached copy is served instead). */
    retries: z.number().int().min(0).max(10).default(1),
  })
  .strict();

export const ProxySchema = z.array(ProxyEntrySchema).superRefine((entries, ctx) => {
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    if (seen.has(entry.prefix)) {
      ctx.addIssue({
        code: "custom",
        path: [index, "prefix"],
        message: `prefix "${entry.prefix}" appears twice`,
      });
    }
    seen.add(entry.prefix);
  });
});

export type ProxyEntry = z.output<typeof ProxyEntrySchema>;
