/**
 * Dispatch limits of task types and queues: how many tasks may run at once (as a whole and per
 * concurrency key) and how many may start per interval. Workers declare a type's limits with the
 * type (`TaskDefaults.limits`); an operator overrides them field by field (`AdminService.SetLimit`,
 * stored in `dispatch_limits`); the broker's claim enforces what is in force on every server.
 *
 * A field is either unset (`undefined`/`null`: inherit — an override falls back to the declared
 * value, a declared one to no limit) or a number, where 0 is "no limit", said explicitly (so an
 * operator can lift a declared limit). {@link effectiveLimits} resolves both into the positive
 * values the broker enforces.
 *
 * Keep in line with the README's "Limits and fairness" section.
 */

/** At most `count` starts per `intervalMs`: a token bucket of `count` tokens refilled evenly over the interval. */
export interface RateRule {
  count: number;
  intervalMs: number;
}

/** Limits as declared or set: a field left out (or null) inherits; 0 is no limit. */
export interface LimitValues {
  /** Most tasks running at once across the fleet. */
  concurrency?: number | null;
  /** Most tasks of one concurrency key running at once. */
  perKey?: number | null;
  /** Starts per interval of the type or queue as a whole; `count` 0: none. */
  rate?: RateRule | null;
  /** Starts per interval of each concurrency key; `count` 0: none. */
  keyRate?: RateRule | null;
}

/** The limits in force on one type or queue: only positive values, absent fields are no limit. */
export interface EffectiveLimits {
  concurrency?: number;
  perKey?: number;
  rate?: RateRule;
  keyRate?: RateRule;
}

/** What a limit applies to. */
export type LimitScope = "type" | "queue";

/** The limits an operator set on one type or queue (a `dispatch_limits` row). */
export interface LimitOverrideRecord extends LimitValues {
  scope: LimitScope;
  name: string;
  updatedAt: Date;
}

/** Every limit in force, by type and by queue: what the broker's claim enforces. */
export interface LimitTable {
  readonly types: ReadonlyMap<string, EffectiveLimits>;
  readonly queues: ReadonlyMap<string, EffectiveLimits>;
}

/** A table without limits. */
export const NO_LIMITS: LimitTable = { types: new Map(), queues: new Map() };

/** The largest count accepted in a limit (concurrency, per key, rate). */
export const LIMIT_COUNT_MAX = 1_000_000;
/** The shortest and longest rate interval accepted: 1 ms and 1 day. */
export const RATE_INTERVAL_MIN_MS = 1;
export const RATE_INTERVAL_MAX_MS = 86_400_000;

/** Concurrency keys: printable, 1 to 128 characters. */
export const CONCURRENCY_KEY_MAX = 128;

/** `override`'s fields where set, else `declared`'s; then only the positive ones (0 is no limit). */
export function effectiveLimits(declared: LimitValues | null | undefined, override: LimitValues | null | undefined): EffectiveLimits {
  const pick = <K extends keyof LimitValues>(field: K): LimitValues[K] => override?.[field] ?? declared?.[field] ?? null;
  const result: EffectiveLimits = {};
  const concurrency = pick("concurrency");
  if (typeof concurrency === "number" && concurrency > 0) result.concurrency = concurrency;
  const perKey = pick("perKey");
  if (typeof perKey === "number" && perKey > 0) result.perKey = perKey;
  const rate = pick("rate");
  if (rate && rate.count > 0) result.rate = { count: rate.count, intervalMs: rate.intervalMs };
  const keyRate = pick("keyRate");
  if (keyRate && keyRate.count > 0) result.keyRate = { count: keyRate.count, intervalMs: keyRate.intervalMs };
  return result;
}

/** A string equal for equal tables (their entries sorted by name): a broker acts on a change only. */
export function limitSignature(table: LimitTable): string {
  const sorted = (map: ReadonlyMap<string, EffectiveLimits>) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([sorted(table.types), sorted(table.queues)]);
}

/** Whether a limits object limits anything. */
export function hasLimits(limits: EffectiveLimits | undefined): limits is EffectiveLimits {
  return limits !== undefined && (limits.concurrency !== undefined || limits.perKey !== undefined || limits.rate !== undefined || limits.keyRate !== undefined);
}

/**
 * Parses a rate written `<count>/<duration>` (`10/s`, `100/1m`, `5/250ms`; a unit alone means one
 * of it), with `parseDuration` for the interval. @returns undefined when it is not a rate.
 */
export function parseRate(text: string, parseDuration: (text: string) => number | undefined): RateRule | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text);
  if (!match) return undefined;
  const count = Number(match[1]);
  const unit = match[2] ?? "";
  const intervalMs = parseDuration(/^(ms|s|m|h|d)$/.test(unit) ? `1${unit}` : unit);
  if (intervalMs === undefined || !Number.isSafeInteger(count)) return undefined;
  return { count, intervalMs };
}

/** The `key` of a broker entry for a task's concurrency key: `{}` when it has none. */
export function keyField(task: { readonly concurrencyKey: string | null }): { key?: string } {
  return task.concurrencyKey === null ? {} : { key: task.concurrencyKey };
}

/** A concurrency key's problem, or undefined when it is valid (empty is "no key"). */
export function concurrencyKeyProblem(key: string): string | undefined {
  if (key.length > CONCURRENCY_KEY_MAX) return `must be at most ${CONCURRENCY_KEY_MAX} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return "must be printable: no control characters";
  return undefined;
}
