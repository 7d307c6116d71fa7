/**
 * Webhooks: registry events (push, pull, delete, retention deletions, GC runs) delivered to
 * the configured endpoints (./notifications-config.ts), in CNCF Distribution's notification
 * envelope or as CloudEvents (./envelopes.ts).
 *
 * Why it is built this way:
 * - A push is never slowed by a receiver: `publish` only appends the event to an in-memory
 *   batch; the batch is inserted into the queue in one SQLite transaction on the next turn of
 *   the event loop, and delivery runs on its own.
 * - The queue is `<dataDir>/notifications.sqlite`, so deliveries survive a restart: on start
 *   every endpoint's worker picks up its pending rows.
 * - One worker per endpoint sends that endpoint's deliveries one at a time, oldest first, so a
 *   receiver sees events in order; a failure (an error, a timeout, a non-2xx answer) retries the
 *   same delivery after an exponential backoff with jitter (`retryInitial` … `retryMax`) until
 *   `maxAttempts`, then marks it failed and moves on. One slow endpoint never holds up another.
 * - Each endpoint's queue is bounded (`maxPending`): beyond it new events are dropped, with a
 *   log line when dropping starts and one with the count when it stops.
 */
import { createHmac, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../util/logger.ts";
import type { Counter, Gauge, MetricsRegistry } from "../../util/prometheus.ts";
import { redactString } from "../../util/redact.ts";
import { compileRepositoryGlob } from "../../util/repository-glob.ts";
import { SqliteFile } from "../../util/sqlite.ts";
import { DATA_DIR_FILES } from "../layout.ts";
import { type EventSource, type NotificationEvent, renderBody } from "./envelopes.ts";
import {
  DEFAULT_NOTIFICATION_ACTIONS,
  type EndpointConfig,
  type NotificationsConfig,
} from "./notifications-config.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint TEXT NOT NULL,
  event_id TEXT NOT NULL,
  action TEXT NOT NULL,
  repository TEXT,
  event TEXT NOT NULL,              -- the NotificationEvent as JSON; the body is rendered per attempt
  state TEXT NOT NULL,              -- pending | delivered | failed
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER,              -- the receiver's last HTTP status, if it answered
  last_error TEXT,
  created_at INTEGER NOT NULL,      -- epoch ms
  next_attempt_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (endpoint, state, id);
`;

export type DeliveryState = "pending" | "delivered" | "failed";

/** One row of the delivery log, as `/api/admin/webhooks/{name}/deliveries` shows it. */
export interface Delivery {
  id: number;
  eventId: string;
  action: string;
  repository: string | null;
  state: DeliveryState;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  nextAttemptAt: string | null;
  finishedAt: string | null;
}

/** An endpoint as `/api/admin/webhooks` shows it (its secret and header values never). */
export interface EndpointStatus {
  name: string;
  url: string;
  format: EndpointConfig["format"];
  events: string[] | null;
  repositories: string[] | null;
  signed: boolean;
  state: "healthy" | "backing-off";
  pending: number;
  delivered: number;
  failed: number;
  dropped: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastDeliveredAt: string | null;
}

interface DeliveryRow {
  id: number;
  event_id: string;
  action: string;
  repository: string | null;
  event: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  next_attempt_at: number;
  finished_at: number | null;
}

export interface NotifierOptions {
  config: NotificationsConfig;
  dataDir: string;
  logger: Logger;
  metrics: MetricsRegistry;
  /** Epoch ms (tests may pass their own). */
  now?: () => number;
  /** 0..1, for the backoff's jitter (tests pass a constant). */
  random?: () => number;
}

export class Notifier {
  readonly #file: SqliteFile;
  readonly #logger: Logger;
  readonly #workers: EndpointWorker[];
  readonly #pending: NotificationEvent[] = [];
  #scheduled = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Who sends: `addr` is set to this server's host:port once it listens. */
  readonly source: EventSource = { addr: hostname(), instanceID: randomUUID() };

  constructor(options: NotifierOptions) {
    const { config, logger, metrics } = options;
    this.#logger = logger;
    this.#file = new SqliteFile(join(options.dataDir, DATA_DIR_FILES.notifications), {
      name: "notifications",
      schema: SCHEMA,
      schemaVersion: 1,
      // Normal: a delivery lost to a power cut is a receiver missing one event, not data loss.
      synchronous: "normal",
    });
    const deliveries = metrics.counter(
      "reestr_webhook_deliveries_total",
      "Webhook delivery attempts by endpoint and result (delivered, retry, failed, dropped).",
    );
    const pending = metrics.labelledGauge(
      "reestr_webhook_queue_pending",
      "Webhook deliveries waiting, by endpoint.",
    );
    // Deliveries of endpoints no longer configured would wait forever: they go, and the log says so.
    const names = config.endpoints.map((endpoint) => endpoint.name);
    const orphans = this.#file
      .sql(`DELETE FROM deliveries WHERE endpoint NOT IN (SELECT value FROM json_each(?))`)
      .run(JSON.stringify(names)).changes;
    if (Number(orphans) > 0) {
      logger.warn("dropped webhook deliveries of endpoints no longer configured", {
        deliveries: Number(orphans),
      });
    }
    const now = options.now ?? Date.now;
    const random = options.random ?? Math.random;
    this.#workers = config.endpoints.map(
      (endpoint) =>
        new EndpointWorker({
          endpoint,
          config,
          file: this.#file,
          logger: logger.child({ component: "webhooks", endpoint: endpoint.name }),
          deliveries,
          pending,
          now,
          random,
        }),
    );
  }

  /**
   * Starts delivering: pending deliveries of a previous run first, tried at once (a restart is
   * often what a receiver's outage was waiting for; failures back off from there again).
   */
  start(): void {
    this.#file.sql("UPDATE deliveries SET next_attempt_at = ? WHERE state = 'pending'").run(Date.now());
    for (const worker of this.#workers) worker.wake();
  }

  get endpoints(): readonly string[] {
    return this.#workers.map((worker) => worker.name);
  }

  /** Queues an event for every endpoint that wants it; returns at once (the insert follows). */
  publish(event: NotificationEvent): void {
    if (this.#closed || this.#workers.length === 0) return;
    this.#pending.push(event);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Inserts the batch of published events in one transaction and wakes the workers. */
  #flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0);
    const woken = new Set<EndpointWorker>();
    try {
      this.#file.transaction(() => {
        for (const event of batch) {
          for (const worker of this.#workers) if (worker.enqueue(event)) woken.add(worker);
        }
      });
    } catch (error) {
      this.#logger.error("webhook events could not be queued", { events: batch.length, err: error });
      for (const worker of this.#workers) worker.recount();
      return;
    }
    for (const worker of woken) worker.publishGauge();
    for (const worker of woken) worker.wake();
  }

  status(): EndpointStatus[] {
    return this.#workers.map((worker) => worker.status());
  }

  /** The delivery log of one endpoint, newest first; undefined for an unknown endpoint. */
  deliveries(name: string, limit: number): Delivery[] | undefined {
    return this.#workers.find((worker) => worker.name === name)?.deliveries(limit);
  }

  /** Queued events inserted and every in-flight attempt settled (tests, shutdown). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#flush();
      this.#closed = true;
      await Promise.all(this.#workers.map((worker) => worker.stop()));
      this.#file.close();
    })();
    return this.#closing;
  }
}

interface WorkerOptions {
  endpoint: EndpointConfig;
  config: NotificationsConfig;
  file: SqliteFile;
  logger: Logger;
  deliveries: Counter;
  pending: Gauge;
  now: () => number;
  random: () => number;
}

/** One endpoint's queue: filter, insert, and the delivery loop. */
class EndpointWorker {
  readonly name: string;
  readonly #o: WorkerOptions;
  readonly #repositories: RegExp[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  readonly #abort = new AbortController();
  #dropped = 0;
  /** Pending rows of this endpoint, kept in memory: enqueue must not count the queue each time. */
  #pendingCount: number;
  #droppingSince = 0;
  #lastError: { message: string; at: number } | undefined;
  #lastDeliveredAt: number | undefined;
  #backingOff = false;

  constructor(options: WorkerOptions) {
    this.#o = options;
    this.name = options.endpoint.name;
    this.#repositories = options.endpoint.repositories?.map(compileRepositoryGlob);
    this.#pendingCount = this.#count("pending");
    this.publishGauge();
  }

  #wants(event: NotificationEvent): boolean {
    const events = this.#o.endpoint.events ?? DEFAULT_NOTIFICATION_ACTIONS;
    if (!events.includes(event.action)) return false;
    // GC runs concern the whole registry: a repository filter does not hold them back.
    if (this.#repositories && event.repository !== undefined) {
      return this.#repositories.some((glob) => glob.test(event.repository!));
    }
    return true;
  }

  #count(state: DeliveryState): number {
    const row = this.#o.file
      .sql("SELECT COUNT(*) AS n FROM deliveries WHERE endpoint = ? AND state = ?")
      .get(this.name, state) as { n: number };
    return Number(row.n);
  }

  /** Inserts a delivery (inside the caller's transaction); false when filtered out or dropped. */
  enqueue(event: NotificationEvent): boolean {
    if (!this.#wants(event)) return false;
    const pending = this.#pendingCount;
    if (pending >= this.#o.config.maxPending) {
      if (this.#dropped === 0) {
        this.#droppingSince = this.#o.now();
        this.#o.logger.warn("webhook queue full: dropping events", {
          pending,
          maxPending: this.#o.config.maxPending,
        });
      }
      this.#dropped++;
      this.#o.deliveries.inc(1, { endpoint: this.name, result: "dropped" });
      return false;
    }
    if (this.#droppingSince !== 0) {
      this.#o.logger.warn("webhook queue has room again", {
        dropped: this.#dropped,
        since: new Date(this.#droppingSince).toISOString(),
      });
      this.#droppingSince = 0;
    }
    const now = this.#o.now();
    this.#o.file
      .sql(
        `INSERT INTO deliveries (endpoint, event_id, action, repository, event, state, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(this.name, event.id, event.action, event.repository ?? null, JSON.stringify(event), now, now);
    // Counted before the transaction commits; a rolled-back batch is recounted by the caller.
    this.#pendingCount++;
    return true;
  }

  /** Runs the delivery loop now (or again once the current pass ends). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop()
      .catch((error: unknown) => {
        // The queue file failing (a full disk): log, and try again later rather than crash.
        this.#o.logger.error("webhook delivery loop failed", { err: error });
        if (!this.#stopped) {
          this.#timer = setTimeout(() => this.wake(), Math.max(this.#o.config.retryInitial, 1000));
          this.#timer.unref();
        }
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again && !this.#stopped) {
          this.#again = false;
          this.wake();
        }
      });
  }

  async #loop(): Promise<void> {
    // Bounded per pass; the next wake or timer continues.
    for (let sent = 0; sent < 1000 && !this.#stopped; sent++) {
      const row = this.#o.file
        .sql("SELECT * FROM deliveries WHERE endpoint = ? AND state = 'pending' ORDER BY id LIMIT 1")
        .get(this.name) as DeliveryRow | undefined;
      if (!row) {
        this.#backingOff = false;
        return;
      }
      const wait = row.next_attempt_at - this.#o.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.wake(), wait);
        this.#timer.unref();
        return;
      }
      await this.#attempt(row);
    }
    if (!this.#stopped) setImmediate(() => this.wake());
  }

  async #attempt(row: DeliveryRow): Promise<void> {
    const { endpoint } = this.#o;
    const event = JSON.parse(row.event) as NotificationEvent;
    const { body, contentType } = renderBody(endpoint.format, event);
    const headers: Record<string, string> = {
      ...endpoint.headers,
      "Content-Type": contentType,
      "User-Agent": "reestr-notifications",
      "X-Reestr-Event": event.action,
      "X-Reestr-Delivery": String(row.id),
    };
    if (endpoint.secret) {
      headers["X-Reestr-Signature"] =
        `sha256=${createHmac("sha256", endpoint.secret).update(body).digest("hex")}`;
    }
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(endpoint.url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(endpoint.timeout), this.#abort.signal]),
      });
      status = response.status;
      await response.body?.cancel().catch(() => {});
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (caught) {
      const err = caught as Error;
      if (this.#stopped) return; // shutting down: the delivery stays pending for the next start
      error =
        err.name === "TimeoutError"
          ? `no answer within ${endpoint.timeout} ms`
          : `${err.message}${err.cause ? `: ${(err.cause as Error).message}` : ""}`;
    }
    const attempts = row.attempts + 1;
    const now = this.#o.now();
    if (error === null) {
      this.#o.file
        .sql(
          "UPDATE deliveries SET state = 'delivered', attempts = ?, last_status = ?, last_error = NULL, finished_at = ? WHERE id = ?",
        )
        .run(attempts, status, now, row.id);
      this.#o.deliveries.inc(1, { endpoint: this.name, result: "delivered" });
      this.#settled();
      this.#lastDeliveredAt = now;
      this.#backingOff = false;
      this.#prune();
      return;
    }
    this.#lastError = { message: error, at: now };
    if (attempts >= endpoint.maxAttempts) {
      this.#o.file
        .sql(
          "UPDATE deliveries SET state = 'failed', attempts = ?, last_status = ?, last_error = ?, finished_at = ? WHERE id = ?",
        )
        .run(attempts, status, error, now, row.id);
      this.#o.deliveries.inc(1, { endpoint: this.name, result: "failed" });
      this.#settled();
      this.#o.logger.warn("webhook delivery failed", {
        delivery: row.id,
        event: row.event_id,
        attempts,
        error,
      });
      this.#prune();
      return;
    }
    const delay = this.#backoff(attempts);
    this.#o.file
      .sql(
        "UPDATE deliveries SET attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
      )
      .run(attempts, status, error, now + delay, row.id);
    this.#o.deliveries.inc(1, { endpoint: this.name, result: "retry" });
    if (!this.#backingOff) {
      this.#o.logger.warn("webhook endpoint failing: backing off", {
        delivery: row.id,
        attempts,
        error,
        retryInMs: delay,
      });
    }
    this.#backingOff = true;
  }

  /** retryInitial · 2^(attempts-1), capped at retryMax, scaled by a jitter of 50–100 %. */
  #backoff(attempts: number): number {
    const { retryInitial, retryMax } = this.#o.config;
    const base = Math.min(Math.max(retryMax, retryInitial), retryInitial * 2 ** Math.min(attempts - 1, 30));
    return Math.round(base * (0.5 + this.#o.random() / 2));
  }

  /** Keeps the last `keepDelivered` finished rows of this endpoint. */
  #prune(): void {
    this.#o.file
      .sql(
        `DELETE FROM deliveries WHERE endpoint = ? AND state != 'pending' AND id NOT IN (
           SELECT id FROM deliveries WHERE endpoint = ? AND state != 'pending' ORDER BY id DESC LIMIT ?)`,
      )
      .run(this.name, this.name, this.#o.config.keepDelivered);
  }

  /** A pending delivery was delivered or given up. */
  #settled(): void {
    this.#pendingCount = Math.max(0, this.#pendingCount - 1);
    this.publishGauge();
  }

  /** Reads the pending count from the file again (after a batch that rolled back). */
  recount(): void {
    this.#pendingCount = this.#count("pending");
    this.publishGauge();
  }

  publishGauge(): void {
    this.#o.pending.set(this.#pendingCount, { endpoint: this.name });
  }

  status(): EndpointStatus {
    const { endpoint } = this.#o;
    const pending = this.#pendingCount;
    return {
      name: this.name,
      // A password or token in the URL is masked, as in the logs.
      url: redactString(endpoint.url),
      format: endpoint.format,
      events: endpoint.events ?? null,
      repositories: endpoint.repositories ?? null,
      signed: endpoint.secret !== undefined,
      state: this.#backingOff && pending > 0 ? "backing-off" : "healthy",
      pending,
      delivered: this.#count("delivered"),
      failed: this.#count("failed"),
      dropped: this.#dropped,
      lastError: this.#lastError?.message ?? null,
      lastErrorAt: this.#lastError ? new Date(this.#lastError.at).toISOString() : null,
      lastDeliveredAt:
        this.#lastDeliveredAt === undefined ? null : new Date(this.#lastDeliveredAt).toISOString(),
    };
  }

  deliveries(limit: number): Delivery[] {
    const rows = this.#o.file
      .sql("SELECT * FROM deliveries WHERE endpoint = ? ORDER BY id DESC LIMIT ?")
      .all(this.name, limit) as unknown as DeliveryRow[];
    const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
    return rows.map((row) => ({
      id: Number(row.id),
      eventId: row.event_id,
      action: row.action,
      repository: row.repository,
      state: row.state,
      attempts: Number(row.attempts),
      lastStatus: row.last_status === null ? null : Number(row.last_status),
      lastError: row.last_error,
      createdAt: iso(row.created_at)!,
      nextAttemptAt: row.state === "pending" ? iso(row.next_attempt_at) : null,
      finishedAt: iso(row.finished_at),
    }));
  }

  /** Stops the loop: an attempt in flight is aborted and stays pending. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#abort.abort();
    await this.#running;
  }
}
