/**
 * Which fire times a schedule fires now: the pure part of the scheduler, tested with an
 * injected clock. A fire time up to {@link LATE_FIRE_MS} old is *late* (the duty changed
 * hands, a server restarted) and fires under every policy; an older one was *missed* (no
 * server ran) and follows the catch-up policy. Keep in line with the README's "Schedules".
 */
import { createHash } from "node:crypto";
import type { FireTimes } from "../../common/schedule-times.js";
import type { CatchUpPolicyName } from "../../core/schedule-types.js";

/** How late a fire time may be and still fire whatever the catch-up policy. */
export const LATE_FIRE_MS = 60_000;
/** Most late fire times fired at once (a per-second cron reaches 61). */
const MAX_LATE_FIRES = 1000;

/** What to fire now. */
export interface FirePlan {
  /** Fire times to fire now, oldest first. */
  fires: number[];
  /** Whether missed fire times were left out (SKIP_MISSED, or RUN_ALL past its bound). */
  skippedMissed: boolean;
  /** The next fire time after now; undefined when the schedule has ended. */
  nextFireAt: number | undefined;
}

/**
 * Plans a schedule whose next fire time is `nextFireAt`, at `now`.
 * @param catchUpLimit the most missed fire times RUN_ALL fires (the latest ones).
 */
export function planFires(times: FireTimes, catchUp: CatchUpPolicyName, catchUpLimit: number, nextFireAt: number, now: number): FirePlan {
  if (nextFireAt > now) return { fires: [], skippedMissed: false, nextFireAt };
  const boundary = now - LATE_FIRE_MS;
  const late: number[] = [];
  for (let at = nextFireAt >= boundary ? nextFireAt : times.next(boundary - 1); at !== undefined && at <= now; at = times.next(at)) {
    late.push(at);
    if (late.length >= MAX_LATE_FIRES) break;
  }
  const missed: number[] = [];
  let skippedMissed = false;
  if (nextFireAt < boundary) {
    const limit = catchUp === "RUN_ALL" ? catchUpLimit : catchUp === "RUN_ONCE" ? 1 : 0;
    let at = times.previous(boundary);
    while (at !== undefined && at >= nextFireAt && missed.length < limit) {
      missed.unshift(at);
      at = times.previous(at);
    }
    skippedMissed = catchUp === "SKIP_MISSED" || (catchUp === "RUN_ALL" && at !== undefined && at >= nextFireAt);
  }
  return { fires: [...missed, ...late], skippedMissed, nextFireAt: times.next(now) };
}

/**
 * The delay of the task fired at `fireMs`: from 0 up to `jitterMs`, the same on every server
 * (a digest of the schedule and the fire time), so racing servers build the same task.
 */
export function jitterOf(scheduleId: string, fireMs: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  const digest = createHash("sha256").update(`${scheduleId}\n${fireMs}`).digest();
  return Math.floor((digest.readUIntBE(0, 6) / 2 ** 48) * jitterMs);
}

/** The idempotency key of a fire: `schedule:<id>:<fire time, ISO 8601 UTC>`. */
export function fireKey(scheduleId: string, fireMs: number): string {
  return `schedule:${scheduleId}:${new Date(fireMs).toISOString()}`;
}
