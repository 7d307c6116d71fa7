import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Streaming a large blob allocates a new buffer for every socket read. V8 frees them only
 * when a collection runs, and counts their bytes towards a collection only after they have
 * grown by tens of MiB, so each big push or pull raises the RSS by that much. A young-
 * generation collection every few MiB of streamed data (well under a millisecond) frees them
 * at once.
 *
 * The collector is exposed through V8's own flag, without a command-line switch — a process-wide
 * change, so only a composition root calls this, once, and hands the returned counter to the
 * HTTP pipeline (`onBodyBytes`).
 */
export function createStreamingCollector(bytesPerCollection = 16 * 1024 * 1024): (bytes: number) => void {
  setFlagsFromString("--expose-gc");
  const collect = runInNewContext("gc") as ((options?: { type?: "minor" | "major" }) => void) | undefined;
  let streamed = 0;
  return (bytes) => {
    streamed += bytes;
    if (streamed < bytesPerCollection) return;
    streamed = 0;
    collect?.({ type: "minor" });
  };
}
