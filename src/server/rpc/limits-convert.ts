/**
 * Dispatch limits between the contract (`taskwire.v1.DispatchLimits`, `Limit`) and the domain
 * (`core/dispatch-limits.ts`), with the validation every entry point shares: a worker's declared
 * type limits (Hello) and an operator's SetLimit.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { LimitSchema, type Limit } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { DispatchLimitsSchema, RateLimitSchema, type DispatchLimits, type RateLimit } from "../../../gen/taskwire/v1/task_pb.js";
import {
  LIMIT_COUNT_MAX,
  RATE_INTERVAL_MAX_MS,
  RATE_INTERVAL_MIN_MS,
  type EffectiveLimits,
  type LimitScope,
  type LimitValues,
  type RateRule,
} from "../../core/dispatch-limits.js";
import { InvalidArgumentError } from "../../core/errors.js";

/**
 * The limits of a `DispatchLimits` message, validated: counts from 0 to 1,000,000, a rate's
 * interval from 1 ms to 1 day (any when its count is 0). `field` names the message in errors.
 * @throws InvalidArgumentError naming the bad field
 */
export function limitValuesFromProto(message: DispatchLimits, field: string): LimitValues {
  const values: LimitValues = {};
  if (message.concurrency !== undefined) values.concurrency = validCount(message.concurrency, `${field}.concurrency`);
  if (message.perKey !== undefined) values.perKey = validCount(message.perKey, `${field}.per_key`);
  if (message.rate !== undefined) values.rate = validRate(message.rate, `${field}.rate`);
  if (message.keyRate !== undefined) values.keyRate = validRate(message.keyRate, `${field}.key_rate`);
  return values;
}

function validCount(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > LIMIT_COUNT_MAX) {
    throw InvalidArgumentError.field(field, `must be from 0 (no limit) to ${LIMIT_COUNT_MAX}, got ${value}`);
  }
  return value;
}

function validRate(rate: RateLimit, field: string): RateRule {
  const count = validCount(rate.count, `${field}.count`);
  if (count === 0) return { count: 0, intervalMs: 0 };
  if (rate.interval === undefined) throw InvalidArgumentError.field(`${field}.interval`, "is required with a count above 0");
  if (rate.interval.seconds < 0n || rate.interval.nanos < 0) throw InvalidArgumentError.field(`${field}.interval`, "must not be negative");
  const intervalMs = rate.interval.seconds > BigInt(RATE_INTERVAL_MAX_MS / 1000) ? Infinity : Math.round(Number(rate.interval.seconds) * 1000 + rate.interval.nanos / 1e6);
  if (!(intervalMs >= RATE_INTERVAL_MIN_MS && intervalMs <= RATE_INTERVAL_MAX_MS)) {
    throw InvalidArgumentError.field(`${field}.interval`, "must be from 1ms to 1d");
  }
  return { count, intervalMs };
}

/** The message of limits; `undefined` fields stay unset. */
export function limitValuesToProto(values: LimitValues | EffectiveLimits): DispatchLimits {
  return create(DispatchLimitsSchema, {
    concurrency: values.concurrency ?? undefined,
    perKey: values.perKey ?? undefined,
    rate: values.rate ? rateToProto(values.rate) : undefined,
    keyRate: values.keyRate ? rateToProto(values.keyRate) : undefined,
  });
}

function rateToProto(rate: RateRule): RateLimit {
  return create(RateLimitSchema, { count: rate.count, interval: rate.count === 0 ? undefined : durationFromMs(rate.intervalMs) });
}

/** One entry of ListLimits / SetLimit / ClearLimit. */
export function limitToProto(entry: {
  scope: LimitScope;
  name: string;
  effective: EffectiveLimits;
  declared: LimitValues | null;
  override: LimitValues | null;
  updatedAt: Date | null;
}): Limit {
  return create(LimitSchema, {
    target: entry.scope === "type" ? { case: "type", value: entry.name } : { case: "queue", value: entry.name },
    effective: limitValuesToProto(entry.effective),
    declared: entry.declared ? limitValuesToProto(entry.declared) : undefined,
    override: entry.override ? limitValuesToProto(entry.override) : undefined,
    updateTime: entry.updatedAt ? timestampFromDate(entry.updatedAt) : undefined,
  });
}
