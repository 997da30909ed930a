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
