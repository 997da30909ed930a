/**
 * Fire times and fire plans with an injected clock (every "now" is a parameter): daylight-saving
 * days in Europe/Vienna, month ends, leap days, seconds, intervals, start and end, the catch-up
 * policies after downtime, jitter, and the refusals naming the field.
 */
import { describe, expect, it } from "vitest";
import { fireTimes, nextFireTimes, type FireTimes } from "../../src/common/schedule-times.js";
import type { ScheduleSpecRecord } from "../../src/core/schedule-types.js";
import { fireKey, jitterOf, LATE_FIRE_MS, planFires } from "../../src/server/engine/fire-plan.js";

const ms = (iso: string): number => new Date(iso).getTime();
const iso = (times: readonly number[]): string[] => times.map((t) => new Date(t).toISOString());
const cron = (expression: string, timeZone = "UTC", more: Partial<ScheduleSpecRecord> = {}): FireTimes =>
  fireTimes({ cron: expression, timeZone, jitterMs: 0, ...more });

describe("cron fire times", () => {
  it("fires a 02:30 daily schedule once at 03:00 on Vienna's spring-forward day", () => {
    // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    const times = nextFireTimes(cron("30 2 * * *", "Europe/Vienna"), ms("2026-03-27T12:00:00Z"), 4);
    expect(iso(times)).toEqual([
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:00:00.000Z", // 03:00 CEST, the first valid time after the gap
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
      "2026-03-31T00:30:00.000Z",
    ]);
  });

  it("fires a 02:30 daily schedule once on Vienna's fall-back day, at the first 02:30", () => {
    // 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET; 02:30 happens twice.
    const times = nextFireTimes(cron("30 2 * * *", "Europe/Vienna"), ms("2026-10-24T12:00:00Z"), 2);
    expect(iso(times)).toEqual(["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });

  it("fires an every-30-minutes cron through both passes of the repeated hour, and skips the gap", () => {
    const fallBack = nextFireTimes(cron("*/30 * * * *", "Europe/Vienna"), ms("2026-10-24T23:59:00Z"), 6);
    // Every 30 minutes of real time: 02:00, 02:30 (CEST), 02:00, 02:30 (CET), 03:00 ...
    expect(iso(fallBack)).toEqual([
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T00:30:00.000Z",
      "2026-10-25T01:00:00.000Z",
      "2026-10-25T01:30:00.000Z",
      "2026-10-25T02:00:00.000Z",
      "2026-10-25T02:30:00.000Z",
    ]);
    const spring = nextFireTimes(cron("*/30 * * * *", "Europe/Vienna"), ms("2026-03-29T00:29:00Z"), 3);
    // 01:30 CET, then 03:00 CEST: 02:00 and 02:30 do not exist.
    expect(iso(spring)).toEqual(["2026-03-29T00:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T01:30:00.000Z"]);
  });

  it("keeps the wall-clock time across a DST change in the zone, and UTC by default", () => {
    const vienna = nextFireTimes(cron("0 9 * * *", "Europe/Vienna"), ms("2026-03-28T12:00:00Z"), 2);
    expect(iso(vienna)).toEqual(["2026-03-29T07:00:00.000Z", "2026-03-30T07:00:00.000Z"]);
    const utc = nextFireTimes(cron("0 9 * * *"), ms("2026-03-28T12:00:00Z"), 2);
    expect(iso(utc)).toEqual(["2026-03-29T09:00:00.000Z", "2026-03-30T09:00:00.000Z"]);
  });

  it("handles month ends and leap days", () => {
    expect(iso(nextFireTimes(cron("0 0 31 * *"), ms("2026-01-15T00:00:00Z"), 3))).toEqual([
      "2026-01-31T00:00:00.000Z",
      "2026-03-31T00:00:00.000Z", // no 31 February, April
      "2026-05-31T00:00:00.000Z",
    ]);
    expect(iso(nextFireTimes(cron("0 0 L * *"), ms("2028-01-15T00:00:00Z"), 3))).toEqual([
      "2028-01-31T00:00:00.000Z",
      "2028-02-29T00:00:00.000Z", // the last day of a leap February
      "2028-03-31T00:00:00.000Z",
    ]);
    expect(iso(nextFireTimes(cron("0 12 29 2 *"), ms("2026-01-01T00:00:00Z"), 2))).toEqual([
      "2028-02-29T12:00:00.000Z",
      "2032-02-29T12:00:00.000Z",
    ]);
  });

  it("takes six fields with seconds, strictly after the time given", () => {
    const times = cron("*/15 * * * * *");
    expect(iso(nextFireTimes(times, ms("2026-01-01T00:00:00.000Z"), 3))).toEqual([
      "2026-01-01T00:00:15.000Z",
      "2026-01-01T00:00:30.000Z",
      "2026-01-01T00:00:45.000Z",
    ]);
    expect(times.previous(ms("2026-01-01T00:00:15.000Z"))).toBe(ms("2026-01-01T00:00:00.000Z"));
    expect(times.previous(ms("2026-01-01T00:00:15.001Z"))).toBe(ms("2026-01-01T00:00:15.000Z"));
  });

  it("fires from start (inclusive) to end (exclusive)", () => {
    const times = cron("0 * * * *", "UTC", { startMs: ms("2026-01-01T03:00:00Z"), endMs: ms("2026-01-01T06:00:00Z") });
    expect(iso(nextFireTimes(times, ms("2025-12-31T00:00:00Z"), 10))).toEqual([
      "2026-01-01T03:00:00.000Z",
      "2026-01-01T04:00:00.000Z",
      "2026-01-01T05:00:00.000Z",
    ]);
    expect(times.previous(ms("2026-01-02T00:00:00Z"))).toBe(ms("2026-01-01T05:00:00Z"));
    expect(times.previous(ms("2026-01-01T03:00:00Z"))).toBeUndefined();
  });
});

describe("interval fire times", () => {
  it("aligns to the Unix epoch, or to the start", () => {
    const hourly = fireTimes({ intervalMs: 3_600_000, timeZone: "UTC", jitterMs: 0 });
    expect(iso(nextFireTimes(hourly, ms("2026-05-05T10:20:00Z"), 2))).toEqual(["2026-05-05T11:00:00.000Z", "2026-05-05T12:00:00.000Z"]);
    expect(hourly.previous(ms("2026-05-05T11:00:00Z"))).toBe(ms("2026-05-05T10:00:00Z"));
    const started = fireTimes({ intervalMs: 90_000, timeZone: "UTC", startMs: ms("2026-05-05T10:00:10Z"), jitterMs: 0 });
    expect(iso(nextFireTimes(started, ms("2026-01-01T00:00:00Z"), 3))).toEqual([
      "2026-05-05T10:00:10.000Z",
      "2026-05-05T10:01:40.000Z",
      "2026-05-05T10:03:10.000Z",
    ]);
  });
});

describe("refusals", () => {
  const fieldOf = (spec: ScheduleSpecRecord): string | undefined => {
    try {
      fireTimes(spec, "schedule.spec");
      return undefined;
    } catch (error) {
      return (error as { violations?: { field: string }[] }).violations?.[0]?.field;
    }
  };
  it("names the field", () => {
    expect(fieldOf({ cron: "61 * * * *", timeZone: "UTC", jitterMs: 0 })).toBe("schedule.spec.cron");
    expect(fieldOf({ cron: "* * *", timeZone: "UTC", jitterMs: 0 })).toBe("schedule.spec.cron");
    expect(fieldOf({ cron: "0 0 0 1 1 * 2030", timeZone: "UTC", jitterMs: 0 })).toBe("schedule.spec.cron");
    expect(fieldOf({ cron: "0 0 30 2 *", timeZone: "UTC", jitterMs: 0 })).toBe("schedule.spec.cron");
    expect(fieldOf({ cron: "0 0 * * *", timeZone: "Mars/Olympus", jitterMs: 0 })).toBe("schedule.spec.time_zone");
    expect(fieldOf({ cron: "0 0 * * *", timeZone: "UTC", jitterMs: 0, startMs: 10, endMs: 5 })).toBe("schedule.spec.end_time");
    expect(fieldOf({ intervalMs: 10, timeZone: "UTC", jitterMs: 0 })).toBe("schedule.spec.interval");
    expect(fieldOf({ timeZone: "UTC", jitterMs: 0 })).toBe("schedule.spec");
    expect(fieldOf({ cron: "@daily", timeZone: "Europe/Vienna", jitterMs: 0 })).toBeUndefined();
  });
});

describe("fire plans after downtime (catch-up)", () => {
  const everyMinute = cron("0 * * * * *");
  const next = ms("2026-06-01T10:00:00Z");

  it("fires a due time, and late times up to a minute old, under every policy", () => {
    for (const policy of ["SKIP_MISSED", "RUN_ONCE", "RUN_ALL"] as const) {
      const onTime = planFires(everyMinute, policy, 100, next, next + 300);
      expect(onTime).toEqual({ fires: [next], skippedMissed: false, nextFireAt: next + 60_000 });
      const late = planFires(everyMinute, policy, 100, next, next + LATE_FIRE_MS);
      expect(late.fires).toEqual([next, next + 60_000]);
    }
    expect(planFires(everyMinute, "SKIP_MISSED", 100, next, next - 1)).toEqual({ fires: [], skippedMissed: false, nextFireAt: next });
  });

  it("SKIP_MISSED skips what was missed; RUN_ONCE fires the latest missed once; RUN_ALL fires them up to its bound", () => {
    const now = next + 10 * 60_000 + 5_000; // ten minutes down: 10:00 … 10:09 missed, 10:10 late
    const skip = planFires(everyMinute, "SKIP_MISSED", 100, next, now);
    expect(iso(skip.fires)).toEqual(["2026-06-01T10:10:00.000Z"]);
    expect(skip.skippedMissed).toBe(true);
    expect(skip.nextFireAt).toBe(ms("2026-06-01T10:11:00Z"));

    const once = planFires(everyMinute, "RUN_ONCE", 100, next, now);
    expect(iso(once.fires)).toEqual(["2026-06-01T10:09:00.000Z", "2026-06-01T10:10:00.000Z"]);

    const all = planFires(everyMinute, "RUN_ALL", 100, next, now);
    expect(all.fires).toHaveLength(11);
    expect(all.skippedMissed).toBe(false);
    const bounded = planFires(everyMinute, "RUN_ALL", 3, next, now);
    expect(iso(bounded.fires)).toEqual(["2026-06-01T10:07:00.000Z", "2026-06-01T10:08:00.000Z", "2026-06-01T10:09:00.000Z", "2026-06-01T10:10:00.000Z"]);
    expect(bounded.skippedMissed).toBe(true);
  });

  it("stays cheap after a long downtime of a per-second schedule", () => {
    const perSecond = cron("* * * * * *");
    const plan = planFires(perSecond, "SKIP_MISSED", 100, next, next + 7 * 86_400_000);
    expect(plan.fires).toHaveLength(61);
    expect(plan.nextFireAt).toBe(next + 7 * 86_400_000 + 1000);
  });

  it("ends when no fire time is left", () => {
    const bounded = cron("0 * * * *", "UTC", { endMs: ms("2026-06-01T11:00:00Z") });
    expect(planFires(bounded, "SKIP_MISSED", 100, next, next)).toEqual({ fires: [next], skippedMissed: false, nextFireAt: undefined });
  });
});

describe("jitter and keys", () => {
  it("delays each fire by the same amount on every server, within the bound", () => {
    const delays = Array.from({ length: 200 }, (_, i) => jitterOf("nightly", 1_000_000 + i * 1000, 30_000));
    expect(delays.every((d) => d >= 0 && d < 30_000)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(150);
    expect(jitterOf("nightly", 1_000_000, 30_000)).toBe(delays[0]);
    expect(jitterOf("nightly", 1_000_000, 0)).toBe(0);
  });

  it("names a fire by the schedule and its time in ISO 8601 UTC", () => {
    expect(fireKey("nightly", ms("2026-03-29T01:00:00Z"))).toBe("schedule:nightly:2026-03-29T01:00:00.000Z");
  });
});
