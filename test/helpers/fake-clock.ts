/**
 * A clock for code that takes a CronClock (cron jobs, retention schedules): time stands still
 * until a test moves it, and timers fire as it passes their time.
 */
import type { CronClock } from "../../src/util/cron.ts";

/** A clock moved by hand: timers fire when `advance` passes their time. */
export class FakeClock implements CronClock {
  time: number;
  #timers = new Map<number, { at: number; run: () => void }>();
  #ids = 0;

  constructor(iso: string) {
    this.time = Date.parse(iso);
  }

  now = () => this.time;

  setTimeout = (run: () => void, ms: number) => {
    const id = ++this.#ids;
    this.#timers.set(id, { at: this.time + ms, run });
    return id;
  };

  clearTimeout = (handle: unknown) => {
    this.#timers.delete(handle as number);
  };

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time to `iso`, firing due timers in order (and the ones they set, when due). */
  async advanceTo(iso: string): Promise<void> {
    const target = Date.parse(iso);
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].run();
      // Let the run's promise chain settle before the next timer.
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.time = target;
  }
}
