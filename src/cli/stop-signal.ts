/**
 * Waits until a long-running command should stop: SIGTERM or SIGINT, or `signal` aborting when
 * a caller (a test) passes one instead of the process's signals. Resolves with what stopped it.
 */
export async function waitForStop(signal?: AbortSignal): Promise<string> {
  let onStop: (reason: string) => void = () => {};
  const stopped = new Promise<string>((done) => {
    onStop = done;
  });
  const onTerm = () => onStop("SIGTERM");
  const onInt = () => onStop("SIGINT");
  const onAbort = () => onStop("abort");
  if (signal) {
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
  } else {
    process.once("SIGTERM", onTerm);
    process.once("SIGINT", onInt);
  }
  try {
    return await stopped;
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    signal?.removeEventListener("abort", onAbort);
  }
}
