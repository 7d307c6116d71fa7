/**
 * `npm run bench:logger`: one access-log line per request, as `reestr serve` writes them, with
 * Reestr's JsonLogger (src/util/logger.ts: lines batched per event-loop turn into one write,
 * secrets masked by key name anywhere in a line) and with pino, the ecosystem's choice (its
 * asynchronous destination, ISO times and level names as Reestr writes them; with and without
 * its path-based redaction). Both write to /dev/null; the median of 5 rounds of 200,000 lines.
 *
 * The figures decided that Reestr keeps its own logger behind the one `Logger` interface (see
 * docs/architecture.md): it is faster on this path and its redaction needs no list of paths.
 */
import { openSync, writeSync } from "node:fs";
import pino from "pino";
import { JsonLogger } from "../src/util/logger.ts";
import { median } from "./stats.ts";

const LINES = 200_000;
const fields = (i: number) => ({
  requestId: "3f1c2d3e-aaaa-bbbb-cccc-0123456789ab",
  method: "GET",
  route: "manifest",
  path: `/v2/team/app/manifests/v${i % 50}`,
  status: 200,
  bytesIn: 0,
  bytesOut: 1234,
  durationMs: 0.42,
  user: "alice",
  remote: "127.0.0.1",
});

async function microsPerLine(log: (i: number) => void, flushed: () => Promise<void>): Promise<number> {
  const rounds: number[] = [];
  for (let round = 0; round < 6; round++) {
    const started = performance.now();
    for (let i = 0; i < LINES; i++) log(i);
    await flushed();
    if (round > 0) rounds.push(((performance.now() - started) / LINES) * 1000);
  }
  return median(rounds);
}

const results: [string, number][] = [];
const fd = openSync("/dev/null", "w");
const json = new JsonLogger({ level: "info", sink: { write: (chunk: string) => writeSync(fd, chunk) } });
results.push([
  "JsonLogger (key-name redaction)",
  await microsPerLine(
    (i) => json.info("request", fields(i)),
    () => new Promise((resolve) => setImmediate(() => resolve(json.flush()))),
  ),
]);
for (const redact of [undefined, ["password", "authorization", "*.password", "*.authorization"]]) {
  const destination = pino.destination({ dest: "/dev/null", sync: false, minLength: 4096 });
  const logger = pino(
    {
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(redact ? { redact } : {}),
    },
    destination,
  );
  results.push([
    redact ? "pino (path redaction)" : "pino (no redaction)",
    await microsPerLine(
      (i) => logger.info(fields(i), "request"),
      () => new Promise<void>((resolve) => destination.flush(() => resolve())),
    ),
  ]);
}
const reference = results[0]![1];
console.log(`one access-log line, ${LINES.toLocaleString("en-US")} lines a round, median of 5`);
for (const [label, micros] of results) {
  console.log(
    `  ${label.padEnd(34)} ${micros.toFixed(2)} µs/line   ${(micros / reference).toFixed(2)}× JsonLogger`,
  );
}
