/**
 * Ranges and conventions every entry point validates against.
 * Keep in line with the README's "API" section.
 */

/**
 * Priorities are validated into this range so that the broker's score,
 * `(PRIORITY_MAX - priority) * 2^32 + arrival counter`, stays an exact double (< 2^53).
 */
export const PRIORITY_MIN = -1_000_000;
/** See {@link PRIORITY_MIN}. */
export const PRIORITY_MAX = 1_000_000;

/** Queue names: letters, digits, `_`, `-` and `.`, 1 to 128 characters (they become Redis key parts). */
export const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** Task type names: like protobuf full names or kebab names, 1 to 200 characters. */
export const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;
/** Idempotency keys: printable, at most 200 characters. */
export const IDEMPOTENCY_KEY_MAX = 200;

/** The queue a submission goes to when neither it nor its type names one. */
export function conventionalQueue(priority: number): string {
  if (priority > 5) return "high_priority";
  if (priority < 0) return "low_priority";
  return "default";
}

/** The largest delay or timeout accepted: 366 days. */
export const MAX_DURATION_MS = 366 * 24 * 3600 * 1000;
/** The largest number of attempts accepted. */
export const MAX_ATTEMPTS_LIMIT = 1000;

/**
 * The shortest retention a task type may declare: one minute (a shorter one would delete a
 * result before a client that polls once a minute has read it).
 */
export const MIN_RETENTION_MS = 60_000;
/** The longest retention a task type may declare: 3,650 days (10 years). */
export const MAX_RETENTION_MS = 3650 * 86_400_000;
/** {@link MIN_RETENTION_MS} to {@link MAX_RETENTION_MS} in words, for error messages. */
export const RETENTION_RANGE = `from ${MIN_RETENTION_MS / 60_000} minute to ${MAX_RETENTION_MS / 86_400_000} days`;
