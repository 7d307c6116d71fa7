/**
 * The one way tests wait for something that happens on its own time: a server or child process
 * coming up, a log line being flushed, a background scan finishing, a socket being closed.
 *
 * `waitFor` polls a condition until it yields a value. Its timeout is a deadlock guard (a broken
 * build fails with a message saying what never happened, instead of hanging the run), never a
 * performance assertion: keep it generous and do not tune it to make a test "fast enough". Waits
 * for a retry, refill or expiry belong on an injected clock or node:test's `mock.timers`, not here.
 *
 * The helper keeps the real `setTimeout` it saw when loaded and measures its deadline with
 * `performance.now()`, so it still polls in real time when a test has mocked timers or `Date`
 * with `mock.timers` (for example to wait for a request to reach a stand-in server).
 */

const realSetTimeout = globalThis.setTimeout;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

export interface WaitOptions {
  /**
   * What is awaited, for the failure message ("the audit line of the push"). A function is
   * called only when the wait times out, so it can show the latest state (server output, the
   * last answer).
   */
  what?: string | (() => string);
  /** Give up after this long; default 30 s. */
  timeoutMs?: number;
  /** Pause between checks; default 25 ms. */
  intervalMs?: number;
}

/** What a condition returns while what it waits for has not happened yet. */
export type NotYet = undefined | null | false;

/**
 * Calls `condition` (sync or async) until it returns something other than undefined, null or
 * false, and resolves with that value: `await waitFor(() => lines.find(isPush))` gives the line.
 * A condition that throws counts as "not yet" (a server still starting refuses connections; an
 * assertion inside the condition fails until the state is right); when the wait times out, the
 * last error is in the message and is the error's `cause`.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<Exclude<T, NotYet>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, NotYet>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const what = typeof options.what === "function" ? options.what() : (options.what ?? "a condition");
      const why = lastError === undefined ? "" : `; last error: ${String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`, { cause: lastError });
    }
    await pause(intervalMs);
  }
}
