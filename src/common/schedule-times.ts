/**
 * The fire times of a schedule spec: cron expressions (croner) in an IANA time zone, or fixed
 * intervals, bounded by the spec's start (inclusive) and end (exclusive). Shared by the server,
 * which fires schedules, and the CLI's `taskwire schedules next`, which previews them without a
 * server. Keep in line with the README's "Schedules" section.
 *
 * Daylight-saving time follows croner (Vixie cron's rule):
 * - a *fixed-time* cron (one value in each of seconds, minutes and hours, e.g. `30 2 * * *`)
 *   whose time does not exist on a spring-forward day fires once, at the first valid time after
 *   the gap (02:30 in Europe/Vienna fires at 03:00); a time that occurs twice on a fall-back day
 *   fires once, at its first occurrence;
 * - an *interval-like* cron (a wildcard, step, range or list in seconds, minutes or hours, e.g.
 *   `*\/15 * * * *`) skips the times in the gap and fires on both passes of a repeated hour, as
 *   it fires in real time every 15 minutes.
 *
 * Intervals are plain arithmetic on real time (UTC): `start + k × interval`, aligned to the
 * spec's start, else to the Unix epoch; time zones do not apply to them.
 */
import { Cron } from "croner";
import { InvalidArgumentError } from "../core/errors.js";
import type { ScheduleSpecRecord } from "../core/schedule-types.js";

/** The shortest interval. */
export const MIN_INTERVAL_MS = 1000;
/** The longest interval and the largest jitter. */
export const MAX_INTERVAL_MS = 366 * 86_400_000;
export const MAX_JITTER_MS = 86_400_000;

/** The fire times of one spec; every answer is within the spec's start and end. */
export interface FireTimes {
  /** The first fire time strictly after `afterMs`; undefined when none is left. */
  next(afterMs: number): number | undefined;
  /** The last fire time strictly before `beforeMs`; undefined when none is. */
  previous(beforeMs: number): number | undefined;
}

/** Whether `zone` is a time zone this runtime knows (IANA names, `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Fire times without the start and end bounds. */
function unbounded(spec: ScheduleSpecRecord, field: string): FireTimes {
  if (spec.intervalMs !== undefined) {
    const every = spec.intervalMs;
    const anchor = spec.startMs ?? 0;
    return {
      next: (after) => anchor + (Math.floor((after - anchor) / every) + 1) * every,
      previous: (before) => anchor + (Math.ceil((before - anchor) / every) - 1) * every,
    };
  }
  const pattern = spec.cron ?? "";
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone: spec.timeZone, mode: "5-or-6-parts", paused: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^CronPattern: /, "") : String(error);
    throw InvalidArgumentError.field(`${field}.cron`, `"${pattern}" is not a cron expression of 5 fields, or 6 with seconds (${reason})`);
  }
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
    previous: (before) => cron.previousRuns(1, new Date(before))[0]?.getTime(),
  };
}

/**
 * Compiles a spec, validating it.
 * @param field the spec's field in error messages, e.g. `schedule.spec`.
 * @throws InvalidArgumentError naming the field: a bad cron expression, an unknown time zone,
 *   an interval out of range, an end not after the start, a cron that never fires.
 */
export function fireTimes(spec: ScheduleSpecRecord, field = "spec"): FireTimes {
  if ((spec.cron === undefined) === (spec.intervalMs === undefined)) {
    throw InvalidArgumentError.field(field, "must give a cron expression or an interval");
  }
  if (!isTimeZone(spec.timeZone)) {
    throw InvalidArgumentError.field(`${field}.time_zone`, `"${spec.timeZone}" is not an IANA time zone (like Europe/Vienna or UTC)`);
  }
  if (spec.intervalMs !== undefined && !(Number.isInteger(spec.intervalMs) && spec.intervalMs >= MIN_INTERVAL_MS && spec.intervalMs <= MAX_INTERVAL_MS)) {
    throw InvalidArgumentError.field(`${field}.interval`, "must be from 1 s to 366 days, in whole milliseconds");
  }
  if (!(spec.jitterMs >= 0 && spec.jitterMs <= MAX_JITTER_MS)) throw InvalidArgumentError.field(`${field}.jitter`, "must be from 0 to 24 h");
  const { startMs, endMs } = spec;
  if (startMs !== undefined && endMs !== undefined && endMs <= startMs) {
    throw InvalidArgumentError.field(`${field}.end_time`, "must be after start_time");
  }
  const raw = unbounded(spec, field);
  if (spec.cron !== undefined && raw.next(Date.now()) === undefined) {
    throw InvalidArgumentError.field(`${field}.cron`, `"${spec.cron}" never fires (no date matches it)`);
  }
  return {
    next(after) {
      const from = startMs !== undefined && after < startMs - 1 ? startMs - 1 : after;
      const next = raw.next(from);
      return next === undefined || (endMs !== undefined && next >= endMs) ? undefined : next;
    },
    previous(before) {
      const previous = raw.previous(endMs !== undefined && before > endMs ? endMs : before);
      return previous === undefined || (startMs !== undefined && previous < startMs) ? undefined : previous;
    },
  };
}

/** The next `count` fire times strictly after `afterMs` (fewer when the schedule ends). */
export function nextFireTimes(times: FireTimes, afterMs: number, count: number): number[] {
  const found: number[] = [];
  let at = afterMs;
  while (found.length < count) {
    const next = times.next(at);
    if (next === undefined) break;
    found.push(next);
    at = next;
  }
  return found;
}
