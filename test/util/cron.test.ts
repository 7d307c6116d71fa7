import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../../src/util/config-error.ts";
import { CronExpression, cronProblem, parseCron, startCronJob } from "../../src/util/cron.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const at = (iso: string) => new Date(iso);
const nextOf = (expression: string, after: string) => parseCron(expression).next(at(after)).toISOString();

/** The first `count` runs after `after`. */
function runs(expression: string, after: string, count: number): string[] {
  const schedule = parseCron(expression);
  const out: string[] = [];
  let t = at(after);
  for (let i = 0; i < count; i++) {
    t = schedule.next(t);
    out.push(t.toISOString());
  }
  return out;
}

describe("parseCron: next run, in UTC", () => {
  test("every minute: the next whole minute, strictly after", () => {
    assert.equal(nextOf("* * * * *", "2025-03-01T10:00:00.000Z"), "2025-03-01T10:01:00.000Z");
    assert.equal(nextOf("* * * * *", "2025-03-01T10:00:59.999Z"), "2025-03-01T10:01:00.000Z");
  });

  test("a daily time, today when still ahead, else tomorrow", () => {
    assert.equal(nextOf("0 4 * * *", "2025-03-01T03:59:00Z"), "2025-03-01T04:00:00.000Z");
    assert.equal(nextOf("0 4 * * *", "2025-03-01T04:00:00Z"), "2025-03-02T04:00:00.000Z");
  });

  test("steps, ranges and lists", () => {
    assert.deepEqual(runs("*/20 * * * *", "2025-01-01T00:00:00Z", 4), [
      "2025-01-01T00:20:00.000Z",
      "2025-01-01T00:40:00.000Z",
      "2025-01-01T01:00:00.000Z",
      "2025-01-01T01:20:00.000Z",
    ]);
    assert.deepEqual(runs("5,10 8-9 * * *", "2025-01-01T00:00:00Z", 5), [
      "2025-01-01T08:05:00.000Z",
      "2025-01-01T08:10:00.000Z",
      "2025-01-01T09:05:00.000Z",
      "2025-01-01T09:10:00.000Z",
      "2025-01-02T08:05:00.000Z",
    ]);
    assert.deepEqual(runs("0 10-20/5 * * *", "2025-01-01T00:00:00Z", 4), [
      "2025-01-01T10:00:00.000Z",
      "2025-01-01T15:00:00.000Z",
      "2025-01-01T20:00:00.000Z",
      "2025-01-02T10:00:00.000Z",
    ]);
    // `a/n`: from a to the end of the field.
    assert.deepEqual(runs("50/5 0 * * *", "2025-01-01T00:00:00Z", 3), [
      "2025-01-01T00:50:00.000Z",
      "2025-01-01T00:55:00.000Z",
      "2025-01-02T00:50:00.000Z",
    ]);
  });

  test("month and weekday names, any case; 7 is Sunday", () => {
    // 2025-03-01 is a Saturday.
    assert.equal(nextOf("0 0 * * MON", "2025-03-01T00:00:00Z"), "2025-03-03T00:00:00.000Z");
    assert.equal(nextOf("0 0 * * 7", "2025-03-01T00:00:00Z"), "2025-03-02T00:00:00.000Z");
    assert.equal(nextOf("0 0 * * 0", "2025-03-01T00:00:00Z"), "2025-03-02T00:00:00.000Z");
    assert.equal(nextOf("0 0 1 jun *", "2025-03-01T00:00:00Z"), "2025-06-01T00:00:00.000Z");
    assert.equal(nextOf("0 12 * * mon-fri", "2025-03-01T00:00:00Z"), "2025-03-03T12:00:00.000Z");
  });

  test("day of month and day of week both restricted: either one runs (Vixie cron)", () => {
    // The 15th (a Saturday in March 2025) or any Monday.
    assert.deepEqual(runs("0 0 15 * mon", "2025-03-01T00:00:00Z", 3), [
      "2025-03-03T00:00:00.000Z",
      "2025-03-10T00:00:00.000Z",
      "2025-03-15T00:00:00.000Z",
    ]);
    // Only day of week restricted: every Monday, whatever the date.
    assert.equal(nextOf("0 0 * * mon", "2025-03-04T00:00:00Z"), "2025-03-10T00:00:00.000Z");
  });

  test("crosses months and years; 29 February waits for a leap year", () => {
    assert.equal(nextOf("0 0 31 * *", "2025-04-01T00:00:00Z"), "2025-05-31T00:00:00.000Z");
    assert.equal(nextOf("30 23 31 12 *", "2025-12-31T23:30:00Z"), "2026-12-31T23:30:00.000Z");
    assert.equal(nextOf("0 0 29 2 *", "2025-01-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
  });

  test("macros", () => {
    assert.equal(nextOf("@daily", "2025-03-01T10:00:00Z"), "2025-03-02T00:00:00.000Z");
    assert.equal(nextOf("@hourly", "2025-03-01T10:00:00Z"), "2025-03-01T11:00:00.000Z");
    assert.equal(nextOf("@weekly", "2025-03-01T10:00:00Z"), "2025-03-02T00:00:00.000Z");
    assert.equal(nextOf("@monthly", "2025-03-01T10:00:00Z"), "2025-04-01T00:00:00.000Z");
    assert.equal(nextOf("@yearly", "2025-03-01T10:00:00Z"), "2026-01-01T00:00:00.000Z");
    assert.equal(parseCron("  @daily ").expression, "@daily");
  });
});

describe("parseCron: refusals name the field and the fault", () => {
  const cases: [string, RegExp][] = [
    ["", /expected 5 fields/],
    ["* * * *", /expected 5 fields.*got 4/],
    ["* * * * * *", /got 6/],
    ["60 * * * *", /minute field: "60" is outside 0-59/],
    ["* 24 * * *", /hour field/],
    ["* * 0 * *", /day of month field/],
    ["* * * 13 *", /month field/],
    ["* * * * 8", /day of week field/],
    ["*/0 * * * *", /bad step "0"/],
    ["5-1 * * * *", /descending range/],
    ["1-2-3 * * * *", /bad range/],
    [",5 * * * *", /malformed/],
    ["* * * foo *", /month field/],
    ["@sometimes", /unknown macro/],
    ["0 0 30 2 *", /never run/],
    ["0 0 31 4,6 *", /never run/],
  ];
  for (const [expression, message] of cases) {
    test(`"${expression}"`, () => {
      assert.throws(
        () => parseCron(expression, "retention.schedule"),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message.startsWith("retention.schedule: invalid cron expression") &&
          message.test(error.message) &&
          error.problems[0]?.path === "retention.schedule",
      );
      assert.match(cronProblem(expression) ?? "", message);
    });
  }

  test("the zod schema reports the problem at the setting and keeps the text", () => {
    assert.equal(CronExpression.parse("0 4 * * *"), "0 4 * * *");
    const result = CronExpression.safeParse("0 4 * *");
    assert.equal(result.success, false);
    assert.match(result.error!.issues[0]!.message, /expected 5 fields/);
  });
});

describe("startCronJob", () => {
  test("runs at each scheduled time and plans the next one", async () => {
    const clock = new FakeClock("2025-03-01T03:00:00Z");
    const ran: string[] = [];
    const job = startCronJob(
      parseCron("0 4 * * *"),
      () => void ran.push(new Date(clock.now()).toISOString()),
      {
        clock,
      },
    );
    assert.equal(new Date(job.nextRun!).toISOString(), "2025-03-01T04:00:00.000Z");
    await clock.advanceTo("2025-03-01T03:59:59Z");
    assert.deepEqual(ran, []);
    await clock.advanceTo("2025-03-03T05:00:00Z");
    assert.deepEqual(ran, [
      "2025-03-01T04:00:00.000Z",
      "2025-03-02T04:00:00.000Z",
      "2025-03-03T04:00:00.000Z",
    ]);
    assert.equal(new Date(job.nextRun!).toISOString(), "2025-03-04T04:00:00.000Z");
    job.stop();
    assert.equal(job.nextRun, undefined);
    assert.equal(clock.pending, 0, "stop() clears the timer");
    await clock.advanceTo("2025-03-10T00:00:00Z");
    assert.equal(ran.length, 3);
  });

  test("a failing run is reported and the schedule carries on", async () => {
    const clock = new FakeClock("2025-03-01T00:00:30Z");
    const errors: string[] = [];
    let calls = 0;
    const job = startCronJob(
      parseCron("* * * * *"),
      async () => {
        calls++;
        throw new Error(`run ${calls} failed`);
      },
      { clock, onError: (error) => errors.push((error as Error).message) },
    );
    await clock.advanceTo("2025-03-01T00:02:00Z");
    assert.deepEqual(errors, ["run 1 failed", "run 2 failed"]);
    job.stop();
  });

  test("a wait longer than one timer can hold is cut into several timers", async () => {
    const clock = new FakeClock("2025-01-01T00:00:00Z");
    let ran = 0;
    const job = startCronJob(parseCron("0 0 1 1 *"), () => void ran++, { clock });
    await clock.advanceTo("2025-06-01T00:00:00Z");
    assert.equal(ran, 0, "an early timer does not run the job");
    await clock.advanceTo("2026-01-01T00:00:00Z");
    assert.equal(ran, 1);
    job.stop();
  });
});
