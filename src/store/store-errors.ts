/**
 * Which failures mean "PostgreSQL cannot be reached, try again" (the server answers
 * UNAVAILABLE) and which are bugs or bad data (they propagate as they are).
 */
import { DrizzleQueryError } from "drizzle-orm";
import { UnavailableError } from "../core/errors.js";

/** Socket errors of Node, and postgres.js's own connection errors. */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "STORE_TIMEOUT", // StoreTimeoutError: PostgreSQL answered nothing within the operation timeout
  // SQLSTATEs: the server is shutting down, starting up, or full.
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "57014", // query_canceled: the statement ran past `statement_timeout` (the only cancel Taskwire makes)
]);

function codeOf(error: object): unknown {
  return "code" in error ? error.code : undefined;
}

/** Whether `error`, or an error it wraps, says PostgreSQL cannot be reached. */
export function isUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 5) return false;
  const code = codeOf(error);
  // SQLSTATE class 08: connection exceptions.
  if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  // Node reports a failed connection to every address of a host as an AggregateError.
  if (error instanceof AggregateError && error.errors.some((inner) => isUnavailable(inner, depth + 1))) return true;
  return "cause" in error && isUnavailable(error.cause, depth + 1);
}

/**
 * The error to throw for a failed store operation: an {@link UnavailableError} with reason
 * `STORE_UNAVAILABLE` when PostgreSQL cannot be reached; otherwise the driver's own error.
 * Either way Drizzle's `DrizzleQueryError` wrapper is dropped: its message repeats every
 * parameter of the query (a whole batch of inputs), which must not reach logs.
 */
export function toStoreError(error: unknown, operation: string): unknown {
  const cause = error instanceof DrizzleQueryError && error.cause !== undefined ? error.cause : error;
  if (isUnavailable(cause)) {
    const message = cause instanceof StoreTimeoutError ? cause.message : `PostgreSQL is unavailable (${operation})`;
    return new UnavailableError("STORE_UNAVAILABLE", message, { cause });
  }
  return cause;
}

/** What {@link withinTimeout} rejects with; its `code` makes {@link isUnavailable} true. */
export class StoreTimeoutError extends Error {
  override readonly name = "StoreTimeoutError";
  readonly code = "STORE_TIMEOUT";

  constructor(operation: string, timeoutMs: number) {
    super(`PostgreSQL did not answer within ${timeoutMs} ms (${operation})`);
  }
}

/**
 * Resolves like `promise`, or rejects with a {@link StoreTimeoutError} once `timeoutMs` have passed
 * without an answer. The operation goes on (a statement sent cannot be taken back; a late result is
 * dropped), so callers must treat a timeout as "may or may not have happened", as a lost connection.
 */
export function withinTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(operation, timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
