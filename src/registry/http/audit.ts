/**
 * The audit log: who pushed, pulled and deleted what. One JSON line per event:
 *
 *   {"time":"…","action":"push","outcome":"success","user":"ci","repository":"team/app",
 *    "reference":"v1","digest":"sha256:…","client":"10.0.0.7","status":201,"requestId":"…"}
 *
 * Events: push = manifest PUT, pull = manifest GET (not HEAD, which only checks), delete =
 * manifest, tag or blob DELETE. Successes, and refusals by access rules (403 DENIED) as
 * outcome "denied"; 401s are left out (every client meets one before it sends credentials).
 * retention = a tag or manifest deleted by a retention run (src/registry/lifecycle/retention.ts):
 * `user` and `client` are whoever started the run (`client` "scheduler" for scheduled runs),
 * `requestId` the run's request (or the run id), and `policy` and `reason` say why.
 *
 * Written to a file (config `audit.file`, relative to the data directory) with O_APPEND, lines
 * batched per event-loop turn into one write; with `audit.sync` each batch is fdatasynced
 * before the next, so a crash loses at most the batch being written. `audit.log` also sends the
 * events to the main log.
 */
import { closeSync, openSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import type { RequestContext } from "../../http/context.ts";
import { clientIp } from "../../http/limits.ts";
import { makeDirectorySync } from "../../util/fs.ts";
import type { Logger } from "../../util/logger.ts";

export const AuditSchema = z
  .object({
    /** A file to append events to; relative paths are under the data directory. */
    file: z.string().min(1).optional(),
    /** Also write events to the main log. */
    log: z.boolean().default(false),
    /** fdatasync the file after each batch of lines. */
    sync: z.boolean().default(false),
  })
  .strict();

export type AuditConfig = z.infer<typeof AuditSchema>;

export interface AuditEvent {
  time: string;
  action: "push" | "pull" | "delete" | "retention";
  outcome: "success" | "denied";
  user: string | null;
  repository: string;
  reference: string;
  digest: string | null;
  client: string;
  status: number;
  requestId: string;
  /** Retention events: the policy that deleted, and its reason. */
  policy?: string;
  reason?: string;
}

/** The event a finished request makes, or undefined when it is none of push, pull, delete. */
export function auditEventOf(ctx: RequestContext, status: number, now = new Date()): AuditEvent | undefined {
  if (ctx.route !== "manifest" && ctx.route !== "blob") return undefined;
  const method = ctx.req.method ?? "GET";
  let action: "push" | "pull" | "delete";
  if (method === "DELETE") action = "delete";
  else if (ctx.route !== "manifest") return undefined;
  else if (method === "PUT") action = "push";
  else if (method === "GET") action = "pull";
  else return undefined;
  let outcome: AuditEvent["outcome"];
  if (status >= 200 && status < 400) outcome = "success";
  else if (status === 403) outcome = "denied";
  else return undefined;
  const repository = ctx.params.name;
  const reference = ctx.params.reference ?? ctx.params.digest;
  if (repository === undefined || reference === undefined) return undefined;
  const header = ctx.res.getHeader("docker-content-digest");
  const digest = typeof header === "string" ? header : reference.includes(":") ? reference : null;
  return {
    time: now.toISOString(),
    action,
    outcome,
    user: ctx.user ?? null,
    repository,
    reference,
    digest,
    client: clientIp(ctx.req),
    status,
    requestId: ctx.requestId,
  };
}

export class AuditLog {
  readonly path: string | undefined;
  readonly #logger: Logger | undefined;
  readonly #sync: boolean;
  #handle: Promise<FileHandle> | undefined;
  #pending: string[] = [];
  #writing: Promise<void> = Promise.resolve();
  #scheduled = false;
  #lastError = "";
  #errorLogger: Logger;

  /** Opens (creating) the file now, so a path that can't be written stops the server's start. */
  constructor(options: { config: AuditConfig; dataDir: string; logger: Logger }) {
    const { config, dataDir, logger } = options;
    this.#sync = config.sync;
    this.#logger = config.log ? logger.child({ component: "audit" }) : undefined;
    this.#errorLogger = logger;
    if (config.file) {
      this.path = resolve(dataDir, config.file);
      makeDirectorySync(dirname(this.path));
      // Fail fast (permissions, a directory in the way); the handle used for writing follows.
      closeSync(openSync(this.path, "a", 0o600));
      this.#handle = open(this.path, "a");
      this.#handle.catch(() => {}); // a failure is reported by the first write
    }
  }

  get enabled(): boolean {
    return this.#handle !== undefined || this.#logger !== undefined;
  }

  /** Called once per finished request (the v2 module's onFinished). */
  record(ctx: RequestContext, status: number): void {
    const event = auditEventOf(ctx, status);
    if (event) this.write(event);
  }

  write(event: AuditEvent): void {
    this.#logger?.info("audit", { ...event });
    if (!this.#handle) return;
    this.#pending.push(`${JSON.stringify(event)}\n`);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#writing = this.#writing.then(() => this.#flushBatch());
    });
  }

  async #flushBatch(): Promise<void> {
    if (this.#pending.length === 0 || !this.#handle) return;
    const text = this.#pending.join("");
    this.#pending = [];
    try {
      const handle = await this.#handle;
      await handle.appendFile(text);
      if (this.#sync) await handle.datasync();
      this.#lastError = "";
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.#lastError) {
        this.#errorLogger.error("audit log write failed", { file: this.path, error: message });
      }
      this.#lastError = message;
    }
  }

  /** Writes what is queued and waits for it (tests, shutdown). */
  async flush(): Promise<void> {
    this.#writing = this.#writing.then(() => this.#flushBatch());
    await this.#writing;
  }

  async close(): Promise<void> {
    await this.flush();
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await (await handle).close();
  }
}
