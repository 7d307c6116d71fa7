/**
 * V8 settings for a server that receives big request bodies.
 *
 * Every body chunk node:http hands over is a fresh ArrayBuffer, so a 256 MiB push allocates
 * 4,096 of them, and V8 runs a scavenge every few MiB to free them. After each scavenge V8 asks
 * whether to start marking the old generation, and by default it does as soon as the room left
 * below its limit is smaller than the young generation's capacity. With a heap that hardly
 * grows (as here: nearly nothing survives), V8 sets that limit only a few MiB above the live
 * heap, so the answer was yes right after every mark-compact too: 10–17 mark-compacts per push,
 * 0.55 s of CPU per 256 MiB push instead of 0.25 s, and half the throughput.
 *
 * With the two triggers set, marking starts once the old generation has used half (soft: a
 * task soon) or 80 % (hard: at once) of its room since the last mark-compact, whatever the
 * young generation's size: 0–1 mark-compact per push, measured over runs of 256 MiB pushes.
 * V8's heap limits stay its own. Garbage that only a mark-compact frees now waits longer for
 * one, which is why upload bodies are copied out of node:http's chunks at once
 * (registry/storage/upload-writer.ts): the chunks then die young and scavenges free them.
 */
import { setFlagsFromString } from "node:v8";

export const GC_FLAGS = ["--incremental-marking-soft-trigger=50", "--incremental-marking-hard-trigger=80"];

/** Applies GC_FLAGS to this process. V8 reads them each time it decides, so late is fine. */
export function tuneGarbageCollection(): void {
  for (const flag of GC_FLAGS) setFlagsFromString(flag);
}
