/**
 * The errors of the worker SDK. Three of them are `AbortSignal` reasons, so task code can tell
 * why its signal fired (`ctx.signal.reason instanceof CancelRequestedError`); two are thrown by
 * task code (to stop retries, to attach details); the last two end `Worker.run()`.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";

/**
 * Thrown by task code when another attempt cannot succeed (bad input, a refused request): the
 * task fails at once instead of being retried. Any error with `retryable === false` has the same
 * effect, so code that cannot import this class can still opt out of retries.
 */
export class NonRetryableError extends Error {
  override readonly name: string = "NonRetryableError";
  /** Always false: read by the worker when it reports the failure. */
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Options of {@link DetailedError}. */
export interface DetailedErrorOptions {
  /** The error this one wraps; its stack is reported after this one's (`Caused by: ...`). */
  cause?: unknown;
  /**
   * Structured facts about the failure, recorded with the attempt and returned by `GetStatus`
   * as `TaskError.details` (a `google.protobuf.Struct`). Kept as `JSON.stringify` makes them;
   * details that do not convert, nest deeper than 32 levels or exceed 16 KiB of JSON are
   * dropped with a note in the message, and the failure is still reported.
   */
  details?: JsonObject;
  /** False: the task fails at once instead of being retried. @default true */
  retryable?: boolean;
}

/**
 * Thrown by task code to attach structured details to a failure, e.g.
 * `throw new DetailedError("upstream refused the invoice", { details: { status: 409 }, cause })`.
 * Any thrown error whose own `details` property is a plain JSON object is reported the same way,
 * so code that cannot import this class can still attach details.
 */
export class DetailedError extends Error {
  override readonly name: string = "DetailedError";
  /** Reported as `TaskError.details`; undefined: none. */
  readonly details: JsonObject | undefined;
  /** Read by the worker when it reports the failure (see {@link isNonRetryable}). */
  readonly retryable: boolean;
  constructor(message: string, options: DetailedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details;
    this.retryable = options.retryable ?? true;
  }
}

/**
 * The reason of a task's `AbortSignal` when a cancel of the task was requested (through the
 * server's `Cancel`). A handler that stops on it without an output ends the task `CANCELLED`.
 * (The client SDK's `TaskCancelledError` is the other side: a result awaited of a task that
 * ended CANCELLED.)
 */
export class CancelRequestedError extends Error {
  override readonly name = "CancelRequestedError";
  /** The reason given with the cancel, as sent by the server. */
  readonly reason: string;
  constructor(reason: string) {
    super(reason ? `task cancelled: ${reason}` : "task cancelled");
    this.reason = reason;
  }
}

/**
 * The reason of a task's `AbortSignal` when the attempt reached its deadline. A handler that
 * ends without an output is reported as `DEADLINE_EXCEEDED` (retryable).
 */
export class TaskTimeoutError extends Error {
  override readonly name = "TaskTimeoutError";
  constructor(readonly deadline: Date) {
    super(`task attempt exceeded its deadline (${deadline.toISOString()})`);
  }
}

/**
 * The reason of a task's `AbortSignal` when the worker shuts down and the task did not finish
 * within the grace period. The attempt is reported as `WORKER_LOST` (retryable), so another
 * worker picks the task up.
 */
export class WorkerShutdownError extends Error {
  override readonly name = "WorkerShutdownError";
  constructor(message = "worker is shutting down") {
    super(message);
  }
}

/** Invalid `WorkerOptions` or task definitions, thrown by the `Worker` constructor. */
export class WorkerConfigError extends Error {
  override readonly name = "WorkerConfigError";
}

/**
 * The server refused the worker for good (a bad Hello, a worker id already connected, no
 * permission): retrying would not help, so `Worker.run()` rejects with this error.
 */
export class WorkerRejectedError extends Error {
  override readonly name = "WorkerRejectedError";
  constructor(
    /** The gRPC status code the server answered with. */
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when a thrown value asks not to be retried: a {@link NonRetryableError} or `retryable === false`. */
export function isNonRetryable(error: unknown): boolean {
  if (error instanceof NonRetryableError) return true;
  return typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === false;
}
