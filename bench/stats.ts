/** Percentiles, medians and a bounded-concurrency runner for the benchmark. */
import { performance } from "node:perf_hooks";

/** Nearest-rank percentile (p in 0..100) of the values; NaN for none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

export function now(): number {
  return performance.now();
}

/**
 * Runs `task(i)` for i in 0..count-1 with at most `concurrency` in flight; answers each task's
 * latency in ms (index i) and the wall time.
 */
export async function runPool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<{ latencies: Float64Array; wallMs: number }> {
  const latencies = new Float64Array(count);
  let next = 0;
  const start = now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = now();
      await task(i);
      latencies[i] = now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { latencies, wallMs: now() - start };
}
