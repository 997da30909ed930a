/**
 * Durations and times of the client's options, converted to their protobuf well-known types.
 * Durations are milliseconds or strings with their unit like "500ms", "10s", "1m30s", "2h" (the
 * grammar of `src/core/durations.ts`, shared with the server's configuration and the CLI).
 */
import { durationFromMs, timestampFromDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { durationHint, parseDuration } from "../core/durations.js";

/**
 * Milliseconds of a duration given as a number of milliseconds or a string with its unit like "10s".
 * @param name The option's name, used in the error message.
 * @throws RangeError when the value is negative, not finite, or not a duration.
 */
export function durationToMs(value: number | string, name: string): number {
  const ms = typeof value === "number" ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    const expected = typeof value === "number" ? "a non-negative duration in milliseconds" : `a non-negative duration in milliseconds, or ${durationHint(value)}`;
    throw new RangeError(`${name}: expected ${expected}, got ${JSON.stringify(value)}`);
  }
  return Math.round(ms);
}

/** A duration option as a `google.protobuf.Duration`; see {@link durationToMs}. */
export function toDuration(value: number | string, name: string): Duration {
  return durationFromMs(durationToMs(value, name));
}

/**
 * A date option as a `google.protobuf.Timestamp`.
 * @throws RangeError when the date is invalid.
 */
export function toTimestamp(value: Date, name: string): Timestamp {
  if (Number.isNaN(value.getTime())) throw new RangeError(`${name}: invalid date`);
  return timestampFromDate(value);
}
