/**
 * Webhooks end to end: a real server, a real HTTP receiver on loopback. Pushes, pulls and
 * deletes arrive in CNCF Distribution's envelope (or as CloudEvents), signed with HMAC-SHA256;
 * filters hold back what an endpoint did not ask for; a failing receiver is retried with backoff
 * and reported in the admin API and /readyz without making the server unready; pending
 * deliveries survive a restart; a receiver that hangs never holds up a push.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { startServer as startReestr } from "../../src/app/server.ts";
import { ConfigSchema } from "../../src/config/config.ts";
import type { Delivery, EndpointStatus } from "../../src/registry/events/notifier.ts";
import { JsonLogger } from "../../src/util/logger.ts";
import { parseWatchSection } from "../../src/watcher/watch-config.ts";
import {
  http,
  metricValue,
  pushImage,
  startServer,
  type TestServer,
  testServerConfig,
} from "../api/helpers.ts";
import { waitFor } from "../helpers/wait.ts";
import { finding, InMemoryScanner } from "../watcher/in-memory-scanner.ts";

interface Received {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A Distribution event as received (what the tests read of it). */
interface WireEvent {
  id: string;
  timestamp: string;
  action: string;
  target: {
    mediaType?: string;
    size?: number;
    length?: number;
    digest?: string;
    repository: string;
    url?: string;
    tag?: string;
    fromRepository?: string;
  };
  request: { id: string; addr: string; host: string; method: string; useragent: string };
  actor: { name?: string };
  source: { addr: string; instanceID: string };
  retention?: { policy?: string; reason?: string };
  gc?: { status: string; removed: { blobs: number } };
  scan?: {
    entry: string;
    status: string;
    vulnerabilities: { critical: number };
    images: { tag: string; digest: string; critical?: number }[];
  };
}

interface WireCloudEvent {
  specversion: string;
  id: string;
  type: string;
  source: string;
  subject?: string;
  data: WireEvent;
}

/** A receiver on 127.0.0.1: records every request; `answer` decides each reply (or hangs). */
class Receiver {
  readonly received: Received[] = [];
  answer: (request: Received, index: number) => number | "hang" = () => 200;
  readonly #server = createServer((req, res) => this.#handle(req, res));
  readonly #hanging: ServerResponse[] = [];
  url = "";

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = {
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      const index = this.received.filter((r) => r.path === request.path).length;
      this.received.push(request);
      const status = this.answer(request, index);
      if (status === "hang") {
        this.#hanging.push(res);
        return;
      }
      res.writeHead(status).end();
    });
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Distribution events received on `path`, in order. */
  events(path: string): WireEvent[] {
    return this.on(path).flatMap((r) => (JSON.parse(r.body) as { events: WireEvent[] }).events);
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

async function webhooks(server: TestServer): Promise<EndpointStatus[]> {
  const res = await http(server, "GET", "/api/admin/webhooks");
  assert.equal(res.status, 200, res.text());
  return res.json<{ endpoints: EndpointStatus[] }>().endpoints;
}

async function deliveries(server: TestServer, name: string): Promise<Delivery[]> {
  const res = await http(server, "GET", `/api/admin/webhooks/${name}/deliveries?limit=100`);
  assert.equal(res.status, 200, res.text());
  return res.json<{ deliveries: Delivery[] }>().deliveries;
}

const SECRET = "s3cret-for-tests";

describe("webhooks", () => {
  const receiver = new Receiver();
  before(() => receiver.start());
  after(() => receiver.close());

  test("push, pull and delete arrive in Distribution's envelope, signed; filters and CloudEvents", async () => {
    const server = await startServer({
      deleteEnabled: true,
      config: {
        notifications: {
          endpoints: [
            {
              name: "all",
              url: `${receiver.url}/all`,
              secret: SECRET,
              headers: { Authorization: "Bearer receiver-token" },
            },
            { name: "team-push", url: `${receiver.url}/team`, events: ["push"], repositories: ["team/**"] },
            { name: "ce", url: `${receiver.url}/ce`, format: "cloudevents", events: ["push"] },
          ],
        },
      },
    });
    try {
      const pushed = await pushImage(server, "team/app", "v1");
      await pushImage(server, "other/app", "v1");
      const pull = await http(server, "GET", "/v2/team/app/manifests/v1", {
        headers: { Accept: pushed.mediaType, "User-Agent": "webhook-test/1" },
      });
      assert.equal(pull.status, 200);
      // A HEAD only checks, and a blob upload is not an event: neither is sent.
      await http(server, "HEAD", "/v2/team/app/manifests/v1");
      const deleted = await http(server, "DELETE", `/v2/team/app/manifests/${pushed.digest}`);
      assert.equal(deleted.status, 202, deleted.text());

      const events = await waitFor(() => receiver.events("/all").length === 4 && receiver.events("/all"), {
        what: "four events at /all",
      });
      assert.deepEqual(
        events.map((e) => [e.action, e.target.repository]),
        [
          ["push", "team/app"],
          ["push", "other/app"],
          ["pull", "team/app"],
          ["delete", "team/app"],
        ],
        "in order, one per request",
      );
      const [push, , pulled, deletion] = events as [WireEvent, WireEvent, WireEvent, WireEvent];
      assert.equal(push.target.mediaType, pushed.mediaType);
      assert.equal(push.target.digest, pushed.digest);
      assert.equal(push.target.tag, "v1");
      assert.equal(push.target.size, pushed.bytes.byteLength);
      assert.equal(push.target.length, pushed.bytes.byteLength);
      assert.equal(push.target.url, `${server.url}/v2/team/app/manifests/${pushed.digest}`);
      assert.equal(push.request.method, "PUT");
      assert.equal(push.request.addr, "127.0.0.1");
      assert.equal(push.request.host, new URL(server.url).host);
      assert.match(push.id, /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(push.timestamp)));
      assert.match(push.source.addr, new RegExp(`:${server.port}$`));
      assert.match(push.source.instanceID, /^[0-9a-f-]{36}$/);
      assert.deepEqual(push.actor, {});
      assert.equal(pulled.request.useragent, "webhook-test/1");
      assert.equal(pulled.request.method, "GET");
      assert.equal(pulled.target.digest, pushed.digest);
      assert.equal(pulled.target.size, pushed.bytes.byteLength);
      assert.equal(deletion.target.digest, pushed.digest);
      assert.equal(deletion.target.tag, undefined);

      for (const request of receiver.on("/all")) {
        assert.equal(request.headers["content-type"], "application/vnd.docker.distribution.events.v1+json");
        assert.equal(request.headers.authorization, "Bearer receiver-token");
        const expected = `sha256=${createHmac("sha256", SECRET).update(request.body).digest("hex")}`;
        assert.equal(request.headers["x-reestr-signature"], expected, "the signature is the body's HMAC");
      }

      // The filtered endpoint: pushes of team/** only; unsigned without a secret.
      const team = await waitFor(() => receiver.events("/team").length >= 1 && receiver.events("/team"));
      const ce = await waitFor(() => receiver.on("/ce").length >= 2 && receiver.on("/ce"));
      await waitFor(async () => (await webhooks(server)).every((e) => e.pending === 0), {
        what: "queues empty",
      });
      assert.deepEqual(
        receiver.events("/team").map((e) => [e.action, e.target.repository]),
        [["push", "team/app"]],
      );
      assert.equal(receiver.on("/team")[0]!.headers["x-reestr-signature"], undefined);
      assert.equal(team[0]!.target.digest, pushed.digest);

      // CloudEvents, structured mode.
      assert.equal(ce.length, 2);
      assert.equal(ce[0]!.headers["content-type"], "application/cloudevents+json");
      const cloudEvent = JSON.parse(ce[0]!.body) as WireCloudEvent;
      assert.equal(cloudEvent.specversion, "1.0");
      assert.equal(cloudEvent.type, "io.reestr.registry.push");
      assert.equal(cloudEvent.subject, "team/app");
      assert.equal(cloudEvent.id, push.id, "the same event, in the other format");
      assert.match(cloudEvent.source, /^reestr:\/\//);
      assert.equal(cloudEvent.data.target.digest, pushed.digest);

      // The delivery log and the metrics.
      const log = await deliveries(server, "all");
      assert.deepEqual(
        log.map((d) => [d.action, d.state, d.attempts, d.lastStatus]),
        [
          ["delete", "delivered", 1, 200],
          ["pull", "delivered", 1, 200],
          ["push", "delivered", 1, 200],
          ["push", "delivered", 1, 200],
        ],
      );
      assert.equal(log[3]!.eventId, push.id);
      const status = await webhooks(server);
      assert.deepEqual(
        status.map((e) => [e.name, e.state, e.delivered, e.signed]),
        [
          ["all", "healthy", 4, true],
          ["team-push", "healthy", 1, false],
          ["ce", "healthy", 2, false],
        ],
      );
      assert.ok(!JSON.stringify(status).includes(SECRET), "the secret is never shown");
      assert.ok(!JSON.stringify(status).includes("receiver-token"), "header values are never shown");
      const metrics = (await http(server, "GET", "/metrics")).text();
      assert.equal(
        metricValue(metrics, "reestr_webhook_deliveries_total", { endpoint: "all", result: "delivered" }),
        4,
      );
      assert.equal(metricValue(metrics, "reestr_webhook_queue_pending", { endpoint: "all" }), 0);

      assert.equal((await http(server, "GET", "/api/admin/webhooks/nope/deliveries")).status, 404);
      assert.equal((await http(server, "GET", "/api/admin/webhooks/all/deliveries?limit=0")).status, 400);
      assert.ok(!server.logs.some((line) => line.includes(SECRET)), "the secret is never logged");
    } finally {
      await server.cleanup();
    }
  });

  test("blob uploads, mounts and deletes are events for an endpoint that asks for them", async () => {
    const server = await startServer({
      deleteEnabled: true,
      config: {
        notifications: {
          endpoints: [
            { name: "blobs", url: `${receiver.url}/blobs`, events: ["blob-push", "blob-mount", "delete"] },
            { name: "default", url: `${receiver.url}/default` },
            {
              name: "ce-blobs",
              url: `${receiver.url}/ce-blobs`,
              format: "cloudevents",
              events: ["blob-mount"],
            },
          ],
        },
      },
    });
    try {
      const pushed = await pushImage(server, "team/app", "v1");
      const image = pushed.manifest as { config: { digest: string }; layers: { digest: string }[] };
      const layer = image.layers[0]!.digest;
      const mounted = await http(server, "POST", `/v2/other/app/blobs/uploads/?mount=${layer}&from=team/app`);
      assert.equal(mounted.status, 201, mounted.text());
      const deleted = await http(server, "DELETE", `/v2/other/app/blobs/${layer}`);
      assert.equal(deleted.status, 202, deleted.text());

      const events = await waitFor(
        () => receiver.events("/blobs").length === 4 && receiver.events("/blobs"),
        {
          what: "four events at /blobs",
        },
      );
      assert.deepEqual(
        events.map((e) => [e.action, e.target.repository, e.target.digest, e.request.method]),
        [
          ["push", "team/app", image.config.digest, "POST"], // pushBlob: one POST with ?digest=
          ["push", "team/app", layer, "POST"],
          ["mount", "other/app", layer, "POST"],
          ["delete", "other/app", layer, "DELETE"],
        ],
        "Distribution's actions for blobs; the manifest push is not asked for",
      );
      const [push, , mount, deletion] = events as [WireEvent, WireEvent, WireEvent, WireEvent];
      assert.equal(push.target.mediaType, "application/octet-stream");
      assert.equal(push.target.url, `${server.url}/v2/team/app/blobs/${image.config.digest}`);
      assert.equal(mount.target.fromRepository, "team/app");
      assert.equal(deletion.target.url, `${server.url}/v2/other/app/blobs/${layer}`);

      // Without `events`: the manifest push and the blob delete, no blob uploads nor mounts.
      const defaults = await waitFor(
        () => receiver.events("/default").length === 2 && receiver.events("/default"),
      );
      assert.deepEqual(
        defaults.map((e) => [e.action, e.target.mediaType ?? null]),
        [
          ["push", pushed.mediaType],
          ["delete", null],
        ],
      );
      const [cloudEvent] = await waitFor(
        () => receiver.on("/ce-blobs").length === 1 && receiver.on("/ce-blobs"),
      );
      assert.equal((JSON.parse(cloudEvent!.body) as WireCloudEvent).type, "io.reestr.registry.blob-mount");
      await waitFor(async () => (await webhooks(server)).every((e) => e.pending === 0), {
        what: "queues empty",
      });
      assert.deepEqual(
        (await deliveries(server, "blobs")).map((d) => d.action),
        ["delete", "blob-mount", "blob-push", "blob-push"],
        "the delivery log names the filter's action",
      );
    } finally {
      await server.cleanup();
    }
  });

  test("a failing receiver is retried with backoff until it answers; a dead one is given up", async () => {
    receiver.answer = (request, index) => (request.path === "/dead" || index < 2 ? 500 : 200);
    const server = await startServer({
      config: {
        notifications: {
          retryInitial: "10ms",
          retryMax: "40ms",
          endpoints: [
            { name: "flaky", url: `${receiver.url}/flaky` },
            { name: "dead", url: `${receiver.url}/dead`, maxAttempts: 2 },
          ],
        },
      },
    });
    try {
      await pushImage(server, "app", "v1");
      const [flaky] = await waitFor(async () => {
        const log = await deliveries(server, "flaky");
        return log[0]?.state === "delivered" && log;
      });
      assert.equal(flaky!.attempts, 3);
      assert.equal(flaky!.lastStatus, 200);
      assert.equal(flaky!.lastError, null);
      const bodies = receiver.on("/flaky").map((r) => r.body);
      assert.equal(bodies.length, 3);
      assert.ok(
        bodies.every((body) => body === bodies[0]),
        "a retry sends the same event",
      );

      const [dead] = await waitFor(async () => {
        const log = await deliveries(server, "dead");
        return log[0]?.state === "failed" && log;
      });
      assert.equal(dead!.attempts, 2);
      assert.equal(dead!.lastStatus, 500);
      assert.equal(dead!.lastError, "HTTP 500");
      assert.equal(receiver.on("/dead").length, 2, "no attempt beyond maxAttempts");
      const metrics = (await http(server, "GET", "/metrics")).text();
      assert.equal(
        metricValue(metrics, "reestr_webhook_deliveries_total", { endpoint: "flaky", result: "retry" }),
        2,
      );
      assert.equal(
        metricValue(metrics, "reestr_webhook_deliveries_total", { endpoint: "dead", result: "failed" }),
        1,
      );
    } finally {
      receiver.answer = () => 200;
      await server.cleanup();
    }
  });

  test("pending deliveries survive a restart; a backing-off endpoint shows in /readyz but leaves it ready", async () => {
    let failing = true;
    receiver.answer = () => (failing ? 503 : 200);
    const server = await startServer({
      config: {
        notifications: {
          // Long enough that only the restart brings the next attempt.
          retryInitial: "1h",
          endpoints: [{ name: "down", url: `${receiver.url}/down`, secret: SECRET }],
        },
      },
    });
    try {
      const pushed = await pushImage(server, "app", "v1");
      const [status] = await waitFor(async () => {
        const endpoints = await webhooks(server);
        return endpoints[0]?.state === "backing-off" && endpoints;
      });
      assert.equal(status!.pending, 1);
      assert.equal(status!.lastError, "HTTP 503");

      const ready = await http(server, "GET", "/readyz");
      assert.equal(ready.status, 200, "a receiver's outage does not take the registry out of service");
      const check = ready
        .json<{ checks: { name: string; status: string; informational?: boolean; message?: string }[] }>()
        .checks.find((c) => c.name === "webhook:down");
      assert.equal(check?.status, "unhealthy");
      assert.equal(check?.informational, true);
      assert.match(check?.message ?? "", /HTTP 503; 1 pending/);
      const metrics = (await http(server, "GET", "/metrics")).text();
      assert.equal(metricValue(metrics, "reestr_webhook_queue_pending", { endpoint: "down" }), 1);

      await server.stop();
      failing = false;
      await server.restart();
      const [delivery] = await waitFor(async () => {
        const log = await deliveries(server, "down");
        return log[0]?.state === "delivered" && log;
      });
      assert.equal(delivery!.attempts, 2, "the attempt before the restart counts");
      const received = receiver.on("/down");
      assert.equal(received.length, 2);
      assert.equal(received[1]!.body, received[0]!.body);
      const event = receiver.events("/down")[1]!;
      assert.equal(event.action, "push");
      assert.equal(event.target.digest, pushed.digest);
      assert.equal((await webhooks(server))[0]!.state, "healthy");
    } finally {
      receiver.answer = () => 200;
      await server.cleanup();
    }
  });

  test("a full queue drops new events, says so in the log, and counts them", async () => {
    receiver.answer = () => 500;
    const server = await startServer({
      config: {
        notifications: {
          retryInitial: "1h",
          maxPending: 1,
          endpoints: [{ name: "full", url: `${receiver.url}/full?token=receiver-secret-1` }],
        },
      },
    });
    try {
      await pushImage(server, "app", "v1");
      await waitFor(async () => (await webhooks(server))[0]!.state === "backing-off");
      await pushImage(server, "app", "v2");
      await pushImage(server, "app", "v3");
      const [status] = await waitFor(async () => {
        const endpoints = await webhooks(server);
        return endpoints[0]!.dropped === 2 && endpoints;
      });
      assert.equal(status!.pending, 1);
      assert.equal(status!.url, `${receiver.url}/full?token=[REDACTED]`, "a token in the URL is masked");
      assert.equal(receiver.on("/full?token=receiver-secret-1").length, 1, "the receiver gets the real URL");
      assert.equal((await deliveries(server, "full")).length, 1);
      const warnings = server.logs.filter((line) => line.includes("webhook queue full"));
      assert.equal(warnings.length, 1, "one line when dropping starts, not one per event");
      const metrics = (await http(server, "GET", "/metrics")).text();
      assert.equal(
        metricValue(metrics, "reestr_webhook_deliveries_total", { endpoint: "full", result: "dropped" }),
        2,
      );

      // The endpoint removed from the configuration: its pending delivery goes at the next start.
      await server.stop();
      const logs: string[] = [];
      const again = await startReestr(
        testServerConfig(
          { config: { notifications: { endpoints: [{ name: "other", url: `${receiver.url}/other` }] } } },
          server.dataDir,
        ),
        { logger: new JsonLogger({ level: "info", sink: { write: (chunk: string) => logs.push(chunk) } }) },
      );
      await again.close();
      const dropped = logs
        .join("")
        .split("\n")
        .find((line) => line.includes("no longer configured"));
      assert.ok(dropped, logs.join(""));
      assert.equal((JSON.parse(dropped) as { deliveries: number }).deliveries, 1);
    } finally {
      receiver.answer = () => 200;
      await server.cleanup();
    }
  });

  test("a receiver that hangs never holds up a push", async () => {
    receiver.answer = (request) => (request.path === "/hang" ? "hang" : 200);
    const server = await startServer({
      config: {
        notifications: { endpoints: [{ name: "hang", url: `${receiver.url}/hang`, timeout: "10m" }] },
      },
    });
    try {
      await pushImage(server, "app", "v1");
      // The first delivery is now held by the receiver …
      await waitFor(() => receiver.on("/hang").length === 1, {
        what: "the receiver holding the first delivery",
      });
      // … and further pushes still complete while it is.
      const second = await pushImage(server, "app", "v2");
      assert.match(second.digest, /^sha256:/, "the second push completed");
      const log = await deliveries(server, "hang");
      assert.equal(log.length >= 1, true);
      assert.ok(
        log.every((d) => d.state === "pending" && d.attempts === 0),
        "nothing delivered yet",
      );
      assert.equal(receiver.on("/hang").length, 1, "one at a time, in order");
    } finally {
      receiver.answer = () => 200;
      // Closing aborts the attempt in flight; it stays pending for the next start.
      await server.cleanup();
    }
  });

  test("GC runs and retention deletions are events too", async () => {
    const server = await startServer({
      deleteEnabled: true,
      config: {
        retention: { scheduled: false, policies: [{ name: "cleanup", keepTags: ["^keep$"] }] },
        notifications: {
          endpoints: [{ name: "ops", url: `${receiver.url}/ops`, events: ["gc", "retention"] }],
        },
      },
    });
    try {
      await pushImage(server, "app", "keep");
      const dropped = await pushImage(server, "app", "drop");
      const retention = await http(server, "POST", "/api/admin/retention?dryRun=false&wait=true");
      assert.ok(retention.status < 300, retention.text());
      const gc = await http(server, "POST", "/api/admin/gc?wait=true");
      assert.equal(gc.status, 200, gc.text());
      const events = await waitFor(() => {
        const got = receiver.events("/ops");
        return got.some((e) => e.action === "gc") && got;
      });
      const deletion = events.find((e) => e.target?.tag === "drop");
      assert.ok(deletion, JSON.stringify(events));
      assert.equal(deletion.action, "delete", "Distribution receivers see a delete");
      assert.equal(deletion.retention?.policy, "cleanup");
      assert.equal(deletion.target.digest, dropped.digest);
      assert.equal(deletion.target.repository, "app");
      const gcEvent = events.find((e) => e.action === "gc")!;
      assert.equal(gcEvent.gc?.status, "succeeded");
      assert.equal(typeof gcEvent.gc?.removed.blobs, "number");
      assert.ok(!events.some((e) => e.action === "push"), "the event filter holds pushes back");
    } finally {
      await server.cleanup();
    }
  });

  test("a watcher scan is an event with its vulnerability counts", async () => {
    const upstream = await startServer();
    const image = await pushImage(upstream, "team/app", "v1");
    const server = await startServer({
      watch: parseWatchSection({
        registries: [
          {
            name: "upstream",
            url: upstream.url,
            repository: "team/app",
            scanInterval: 3600,
            vulnerabilityScanning: { enabled: true },
          },
        ],
      }),
      watchScanner: new InMemoryScanner({
        vulnerabilities: () => [finding("CVE-2024-0001", "CRITICAL", "openssl")],
      }),
      watchInitialDelay: () => 3_600_000,
      config: {
        notifications: { endpoints: [{ name: "scans", url: `${receiver.url}/scans`, events: ["scan"] }] },
      },
    });
    try {
      const scan = await http(server, "POST", "/api/watch/registries/upstream/scan?wait=true");
      assert.equal(scan.status, 200, scan.text());
      const [event] = await waitFor(
        () => receiver.events("/scans").length === 1 && receiver.events("/scans"),
      );
      assert.equal(event!.action, "scan");
      assert.equal(event!.target.repository, "team/app");
      assert.equal(event!.target.url, upstream.url);
      assert.equal(event!.scan?.entry, "upstream");
      assert.equal(event!.scan?.status, "Success");
      assert.equal(event!.scan?.vulnerabilities.critical, 1);
      assert.deepEqual(
        event!.scan?.images.map((i) => [i.tag, i.digest, i.critical]),
        [["v1", image.digest, 1]],
      );
    } finally {
      await server.cleanup();
      await upstream.cleanup();
    }
  });

  test("configuration errors name the field", () => {
    const bad = (endpoint: Record<string, unknown>) =>
      ConfigSchema.safeParse({
        notifications: { endpoints: [{ name: "a", url: "http://127.0.0.1/", ...endpoint }] },
      });
    const paths = (result: ReturnType<typeof bad>) =>
      result.success ? [] : result.error.issues.map((issue) => issue.path.join("."));
    assert.deepEqual(paths(bad({ url: "ftp://x" })), ["notifications.endpoints.0.url"]);
    assert.deepEqual(paths(bad({ events: ["push", "tag"] })), ["notifications.endpoints.0.events.1"]);
    assert.deepEqual(paths(bad({ repositories: ["Team/*"] })), ["notifications.endpoints.0.repositories.0"]);
    assert.deepEqual(paths(bad({ timeout: "0s" })), ["notifications.endpoints.0.timeout"]);
    assert.deepEqual(paths(bad({ format: "xml" })), ["notifications.endpoints.0.format"]);
    const duplicate = ConfigSchema.safeParse({
      notifications: {
        endpoints: [
          { name: "a", url: "http://127.0.0.1/" },
          { name: "a", url: "http://127.0.0.1/" },
        ],
      },
    });
    assert.deepEqual(paths(duplicate), ["notifications.endpoints.1.name"]);
    const parsed = ConfigSchema.parse({
      notifications: { endpoints: [{ name: "a", url: "http://127.0.0.1/" }] },
    });
    const endpoint = parsed.notifications!.endpoints[0]!;
    assert.deepEqual(
      [endpoint.format, endpoint.timeout, endpoint.maxAttempts, parsed.notifications!.retryInitial],
      ["distribution", 5000, 10, 1000],
    );
  });
});
