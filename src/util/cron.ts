/**
 * Cron schedules, the 5-field form of crontab(5): `minute hour day-of-month month day-of-week`,
 * evaluated in **UTC** (a server's schedule then means the same on every machine and in every
 * container, whatever its TZ). Used by retention (and garbage collection) schedules.
 *
 * Each field is `*`, a number, a name (months `jan`…`dec`, weekdays `sun`…`sat`, any case), a
 * range `a-b`, any of those but a name followed by a step `/n` (`a/n` runs from a to the field's
 * end), or a comma list of those. Day of week is 0-7, 0 and 7 both Sunday. As in Vixie cron, when both day of month and day
 * of week are restricted (neither starts with `*`) a day matching either runs. The macros
 * `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` stand for
 * their usual expressions. A schedule that can never run (`0 0 30 2 *`) is refused.
 */
// parseCron("0,30 8-18 * * mon-fri").next(new Date()): the next half hour of a work day, in UTC.
import { z } from "zod";
import { ConfigError } from "./config-error.ts";

export interface CronSchedule {
  /** The expression as written. */
  readonly expression: string;
  /** The first minute strictly after `after` the schedule matches (seconds are zero), in UTC. */
  next(after: Date): Date;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** The longest a month can be, February counted at 29 days. */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MINUTE_MS = 60_000;
/** Every schedule that can run does so within 8 years (29 February skips 2100). */
const SEARCH_YEARS = 8;

/** Why an expression is not a schedule: a message naming the field and the part at fault. */
function problem(expression: string, message: string): string {
  return `invalid cron expression "${expression.slice(0, 100)}": ${message}`;
}

function value(token: string, spec: FieldSpec): number | undefined {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const index = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  return index < 0 ? undefined : spec.min + index;
}

/** The values one field allows, or a message saying what is wrong with it. */
function parseField(field: string, spec: FieldSpec): Set<number> | string {
  const values = new Set<number>();
  for (const part of field.split(",")) {
    const [range, stepText, extra] = part.split("/");
    if (extra !== undefined || range === undefined || range === "") return `malformed "${part}"`;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^[1-9]\d*$/.test(stepText)) return `bad step "${stepText}"`;
      step = Number(stepText);
    }
    let low = spec.min;
    let high = spec.max;
    if (range !== "*") {
      const bounds = range.split("-");
      if (bounds.length > 2) return `bad range "${range}"`;
      const numbers = bounds.map((bound) => value(bound, spec));
      if (numbers.some((n) => n === undefined)) return `"${range}" is outside ${spec.min}-${spec.max}`;
      low = numbers[0]!;
      // `a/n` runs from a to the end of the field; a lone `a` is just a.
      high = numbers.length === 2 ? numbers[1]! : stepText !== undefined ? spec.max : low;
      if (low > high) return `descending range "${range}"`;
    }
    for (let n = low; n <= high; n += step) values.add(n);
  }
  return values;
}

class ParsedCron implements CronSchedule {
  readonly expression: string;
  readonly #minutes: Set<number>;
  readonly #hours: Set<number>;
  readonly #days: Set<number>;
  readonly #months: Set<number>;
  readonly #weekdays: Set<number>;
  /** Vixie cron: both day fields restricted means either may match. */
  readonly #eitherDay: boolean;
  readonly #anyDay: boolean;
  readonly #anyWeekday: boolean;

  constructor(expression: string, fields: Set<number>[], restricted: { days: boolean; weekdays: boolean }) {
    this.expression = expression;
    [this.#minutes, this.#hours, this.#days, this.#months, this.#weekdays] = fields as [
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
    ];
    if (this.#weekdays.delete(7)) this.#weekdays.add(0);
    this.#anyDay = !restricted.days;
    this.#anyWeekday = !restricted.weekdays;
    this.#eitherDay = restricted.days && restricted.weekdays;
  }

  /** Whether some month of the schedule has a day it allows (else it would never run). */
  get canRun(): boolean {
    if (!this.#anyWeekday) return true; // every weekday occurs in every month
    return [...this.#months].some((month) => [...this.#days].some((day) => day <= MONTH_DAYS[month - 1]!));
  }

  #dayMatches(date: Date): boolean {
    const day = this.#days.has(date.getUTCDate());
    const weekday = this.#weekdays.has(date.getUTCDay());
    if (this.#eitherDay) return day || weekday;
    return (this.#anyDay || day) && (this.#anyWeekday || weekday);
  }

  next(after: Date): Date {
    // The minute after `after`, then forward field by field: a month that does not match skips
    // to the next month's first day, a day to the next day's midnight, and so on.
    const t = new Date(Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
    const limit = t.getUTCFullYear() + SEARCH_YEARS;
    while (t.getUTCFullYear() <= limit) {
      if (!this.#months.has(t.getUTCMonth() + 1)) {
        t.setUTCMonth(t.getUTCMonth() + 1, 1);
        t.setUTCHours(0, 0, 0, 0);
      } else if (!this.#dayMatches(t)) {
        t.setUTCDate(t.getUTCDate() + 1);
        t.setUTCHours(0, 0, 0, 0);
      } else if (!this.#hours.has(t.getUTCHours())) {
        t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      } else if (!this.#minutes.has(t.getUTCMinutes())) {
        t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      } else {
        return t;
      }
    }
    // Unreachable for a schedule parseCron accepted (canRun); kept as a guard against a loop.
    throw new Error(`cron expression "${this.expression}" has no run within ${SEARCH_YEARS} years`);
  }
}

/** The schedule `text` stands for, or why it stands for none. */
function compile(text: string): ParsedCron | string {
  const trimmed = text.trim();
  const expanded = trimmed.startsWith("@") ? MACROS[trimmed.toLowerCase()] : trimmed;
  if (expanded === undefined) return problem(text, `unknown macro "${trimmed}"`);
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) {
    return problem(
      text,
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`,
    );
  }
  const fields: Set<number>[] = [];
  for (const [i, part] of parts.entries()) {
    const parsed = parseField(part, FIELDS[i]!);
    if (typeof parsed === "string") return problem(text, `${FIELDS[i]!.name} field: ${parsed}`);
    fields.push(parsed);
  }
  const schedule = new ParsedCron(trimmed, fields, {
    days: !parts[2]!.startsWith("*"),
    weekdays: !parts[4]!.startsWith("*"),
  });
  return schedule.canRun ? schedule : problem(text, "no month has the days it names: it would never run");
}

/** Why `text` is not a cron schedule, or undefined when it is one. */
export function cronProblem(text: string): string | undefined {
  const compiled = compile(text);
  return typeof compiled === "string" ? compiled : undefined;
}

/**
 * Parses a 5-field cron expression or macro. Throws a ConfigError naming `field` (the setting
 * it came from, e.g. `retention.schedule`) and what is wrong.
 */
export function parseCron(text: string, field = "schedule"): CronSchedule {
  const compiled = compile(text);
  if (typeof compiled !== "string") return compiled;
  throw new ConfigError(`${field}: ${compiled}`, [{ path: field, message: compiled }]);
}

/**
 * A cron expression setting: text that parseCron accepts (kept as text, so the parsed config
 * still shows it as written). Problems are reported at the setting's own path.
 */
export const CronExpression = z.string().superRefine((text, ctx) => {
  const message = cronProblem(text);
  if (message) ctx.addIssue({ code: "custom", message });
});

/** What a cron job needs of time; tests pass a fake one they move by hand. */
export interface CronClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time: timers are unref'd, so a pending run never keeps the process alive. */
export const SYSTEM_CLOCK: CronClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The longest single timer: setTimeout fires at once for anything above 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface CronJob {
  /** When the job runs next (epoch ms); undefined once stopped. */
  readonly nextRun: number | undefined;
  /** No more runs; a run in progress finishes. */
  stop(): void;
}

/**
 * Runs `run` at every time the schedule names, one run at a time: a run still going at the next
 * time makes that time be skipped (the one after is planned when the run ends). A run that
 * throws or rejects is reported to `onError` and the schedule carries on.
 */
export function startCronJob(
  schedule: CronSchedule,
  run: () => Promise<void> | void,
  options: { clock?: CronClock; onError?: (error: unknown) => void } = {},
): CronJob {
  const clock = options.clock ?? SYSTEM_CLOCK;
  let nextRun: number | undefined;
  let timer: unknown;
  let stopped = false;
  const plan = () => {
    if (stopped) return;
    nextRun = schedule.next(new Date(clock.now())).getTime();
    arm();
  };
  // Long waits are cut into timers of at most MAX_TIMER_MS, each re-checking the clock.
  const arm = () => {
    const wait = Math.max(0, nextRun! - clock.now());
    timer = clock.setTimeout(wait > MAX_TIMER_MS ? arm : fire, Math.min(wait, MAX_TIMER_MS));
  };
  const fire = async () => {
    timer = undefined;
    if (stopped) return;
    try {
      await run();
    } catch (error) {
      options.onError?.(error);
    }
    plan();
  };
  plan();
  return {
    get nextRun() {
      return stopped ? undefined : nextRun;
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
