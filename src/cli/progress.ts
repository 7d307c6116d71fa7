/**
 * Progress reporting for push and pull. On a terminal: live bars (one per blob in flight plus a
 * total with the transfer rate), redrawn in place at most ten times a second. Elsewhere (CI logs,
 * pipes): one plain line per finished blob and manifest, so logs stay readable.
 */
import type { TransferEvent } from "../client/push-image.ts";
import { formatBytes } from "./args.ts";

export type ProgressMode = "bars" | "lines" | "none";

export interface ProgressReporter {
  onEvent(event: TransferEvent): void;
  /** Draws the final state and stops redrawing. */
  finish(): void;
}

interface Output {
  write(text: string): unknown;
  columns?: number;
}

export function progressMode(stream: { isTTY?: boolean }, json: boolean): ProgressMode {
  if (stream.isTTY) return "bars";
  return json ? "none" : "lines";
}

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return `[${"=".repeat(Math.max(filled - 1, 0))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}]`;
}

export function createProgress(
  mode: ProgressMode,
  verb: "push" | "pull",
  out: Output = process.stderr,
  now: () => number = Date.now,
): ProgressReporter {
  if (mode === "none") return { onEvent() {}, finish() {} };
  if (mode === "lines") return linesReporter(verb, out);
  return barsReporter(verb, out, now);
}

function linesReporter(verb: "push" | "pull", out: Output): ProgressReporter {
  const done = { push: "pushed", pull: "pulled" }[verb];
  return {
    onEvent(event) {
      switch (event.type) {
        case "plan":
          out.write(`${event.blobs} blobs (${formatBytes(event.bytes)}), ${event.manifests} manifest(s)\n`);
          break;
        case "blob-done": {
          const what =
            event.result === "uploaded" || event.result === "downloaded"
              ? done
              : event.result === "mounted"
                ? "mounted"
                : "already present";
          out.write(`blob ${short(event.digest)} ${formatBytes(event.size)}: ${what}\n`);
          break;
        }
        case "manifest":
          out.write(`manifest ${event.digest} (${event.mediaType}) as ${event.reference}\n`);
          break;
      }
    },
    finish() {},
  };
}

function barsReporter(verb: "push" | "pull", out: Output, now: () => number): ProgressReporter {
  const active = new Map<string, { size: number; bytes: number }>();
  let totalBytes = 0;
  let doneBytes = 0;
  let blobsTotal = 0;
  let blobsDone = 0;
  let drawnLines = 0;
  let lastDraw = 0;
  const started = now();
  const label = verb === "push" ? "Pushing" : "Pulling";

  const draw = (force: boolean) => {
    const t = now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    const width = Math.max(20, Math.min(out.columns ?? 80, 120) - 50);
    const inFlight = [...active.values()].reduce((sum, b) => sum + b.bytes, 0);
    const sent = doneBytes + inFlight;
    const seconds = Math.max((t - started) / 1000, 0.001);
    const lines = [...active].map(
      ([digest, b]) =>
        `  ${short(digest)} ${bar(b.size ? b.bytes / b.size : 1, width)} ${formatBytes(b.bytes)} / ${formatBytes(b.size)}`,
    );
    lines.push(
      `${label} ${blobsDone}/${blobsTotal} blobs ${bar(totalBytes ? sent / totalBytes : 1, width)} ` +
        `${formatBytes(sent)} / ${formatBytes(totalBytes)}  ${formatBytes(sent / seconds)}/s`,
    );
    // Move up over what we drew last time and clear each line before rewriting it.
    let text = drawnLines > 0 ? `\x1b[${drawnLines}A` : "";
    for (const line of lines) text += `\x1b[2K\r${line}\n`;
    for (let i = lines.length; i < drawnLines; i++) text += "\x1b[2K\n";
    const extra = Math.max(drawnLines - lines.length, 0);
    if (extra > 0) text += `\x1b[${extra}A`;
    drawnLines = lines.length;
    out.write(text);
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case "plan":
          totalBytes = event.bytes;
          blobsTotal = event.blobs;
          break;
        case "blob-start":
          active.set(event.digest, { size: event.size, bytes: 0 });
          break;
        case "blob-progress": {
          const blob = active.get(event.digest);
          if (blob) blob.bytes = event.bytes;
          break;
        }
        case "blob-done":
          active.delete(event.digest);
          blobsDone++;
          // Skipped and mounted blobs count as done: the total is what the image needs.
          doneBytes += event.size;
          break;
        case "manifest":
          break;
      }
      draw(event.type === "blob-done" || event.type === "plan");
    },
    finish() {
      draw(true);
    },
  };
}
