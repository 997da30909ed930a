/**
 * Dispatch limits as the SDKs take them (`AdminClient.setLimit`, a task definition's `limits`)
 * turned into the `taskwire.v1.DispatchLimits` message. Rates are `{ count, interval }` or a
 * string like `"10/s"` (`core/dispatch-limits.ts`); the server checks the ranges.
 */
import { create } from "@bufbuild/protobuf";
import { DispatchLimitsSchema, RateLimitSchema, type DispatchLimits } from "../../gen/taskwire/v1/task_pb.js";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { parseRate } from "../core/dispatch-limits.js";
import { parseDuration } from "../core/durations.js";

/** A rate: at most `count` starts per `interval` (ms or a string like "1s"), or a string like `"10/s"`. */
export type RateInput = { count: number; interval: number | string } | string;

/** A rate of a count and an interval in ms or as a duration string; undefined when the interval is not a duration. */
function rateOf(count: number, interval: number | string): { count: number; intervalMs: number } | undefined {
  const intervalMs = typeof interval === "number" ? interval : parseDuration(interval);
  return intervalMs === undefined || !Number.isFinite(intervalMs) || intervalMs < 0 ? undefined : { count, intervalMs: Math.round(intervalMs) };
}

/** The fields of `AdminClient.setLimit` and of a task definition's `limits`; a field left out is kept as it is (declared: no limit). */
export interface LimitInput {
  concurrency?: number;
  perKey?: number;
  rate?: RateInput;
  keyRate?: RateInput;
}

/**
 * The `DispatchLimits` message of {@link LimitInput}.
 * @throws RangeError on a malformed rate, or a count that is not an integer.
 */
export function buildDispatchLimits(input: LimitInput): DispatchLimits {
  const rate = (value: RateInput | undefined, name: string) => {
    if (value === undefined) return undefined;
    const parsed = typeof value === "string" ? parseRate(value, parseDuration) : rateOf(count(value.count, `${name}.count`) ?? 0, value.interval);
    if (parsed === undefined) throw new RangeError(`${name}: expected a rate like "10/s" or "100/1m" (a count, "/", a duration), got ${JSON.stringify(value)}`);
    return create(RateLimitSchema, { count: parsed.count, interval: parsed.count === 0 ? undefined : durationFromMs(parsed.intervalMs) });
  };
  const count = (value: number | undefined, name: string) => {
    // The message's int32 cannot carry anything else; the server checks the range.
    if (value !== undefined && !(Number.isInteger(value) && Math.abs(value) <= 2 ** 31 - 1)) throw new RangeError(`${name}: expected an integer, got ${value}`);
    return value;
  };
  return create(DispatchLimitsSchema, {
    concurrency: count(input.concurrency, "concurrency"),
    perKey: count(input.perKey, "perKey"),
    rate: rate(input.rate, "rate"),
    keyRate: rate(input.keyRate, "keyRate"),
  });
}
