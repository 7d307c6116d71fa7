import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Streaming a large blob allocates a new buffer for every socket read. V8 frees them only
 * when a collection runs, and counts their bytes towards a collection only after they have
 * grown by tens of MiB, so each big push or pull raises the RSS by that much. A young-
 * generation collection every few MiB of streamed data (well under a millisecond) frees them
 * at once. The collector is exposed through V8's own flag, without a command-line switch.
 */
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as ((options?: { type?: "minor" | "major" }) => void) | undefined;

const STREAMED_BYTES_PER_COLLECTION = 16 * 1024 * 1024;
let streamed = 0;

/** Counts streamed bytes and runs a minor collection each time enough have passed through. */
export function noteStreamedBytes(bytes: number): void {
  streamed += bytes;
  if (streamed < STREAMED_BYTES_PER_COLLECTION) return;
  streamed = 0;
  collect?.({ type: "minor" });
}
