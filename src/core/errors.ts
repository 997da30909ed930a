/**
 * Typed domain errors. Core code throws these; the server's one error mapper
 * (`src/server/rpc/error-mapper.ts`) turns them into `ConnectError` codes. Anything else thrown
 * reaches clients as `Code.Internal` with no internals in the message.
 */

/** Stable, machine-readable reasons, one per kind of refusal. */
export type ErrorReason =
  | "TASK_NOT_FOUND"
  | "TASK_TYPE_NOT_FOUND"
  | "WORKER_NOT_FOUND"
  | "SCHEDULE_NOT_FOUND"
  | "SCHEDULE_ALREADY_EXISTS"
  | "WORKER_NOT_CONNECTED"
  | "INVALID_ARGUMENT"
  | "INPUT_TYPE_MISMATCH"
  | "INPUT_TOO_LARGE"
  | "TASK_FINISHED"
  | "WORKER_ALREADY_CONNECTED"
  | "STORE_UNAVAILABLE"
  | "BROKER_UNAVAILABLE"
  | "SHUTTING_DOWN"
  | "API_KEY_MISSING"
  | "API_KEY_INVALID"
  | "ROLE_NOT_ALLOWED"
  | "TASK_TYPE_OWNED"
  | "WORKER_ID_TAKEN"
  | "TASK_TYPE_CONTRACT_CHANGED"
  | "IDEMPOTENCY_RACE"
  | "TOO_MANY_SUBSCRIBERS"
  | "TOO_MANY_TASK_TYPES"
  | "DESCRIPTORS_TOO_LARGE";

/** Base class of every error Taskwire raises on purpose. */
export abstract class TaskwireError extends Error {
  abstract readonly reason: ErrorReason;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A named thing (task, task type) does not exist. */
export class NotFoundError extends TaskwireError {
  override readonly name = "NotFoundError";
  constructor(
    readonly reason: "TASK_NOT_FOUND" | "TASK_TYPE_NOT_FOUND" | "WORKER_NOT_FOUND" | "SCHEDULE_NOT_FOUND",
    message: string,
  ) {
    super(message);
  }
}

/** One field of a request that is wrong, and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** A request that can never succeed as sent. Nothing is written for it. */
export class InvalidArgumentError extends TaskwireError {
  override readonly name = "InvalidArgumentError";
  constructor(
    message: string,
    readonly violations: readonly FieldViolation[] = [],
    readonly reason: "INVALID_ARGUMENT" | "INPUT_TYPE_MISMATCH" | "INPUT_TOO_LARGE" = "INVALID_ARGUMENT",
  ) {
    super(message);
  }

  /** Builds the error for a single bad field. */
  static field(field: string, description: string): InvalidArgumentError {
    return new InvalidArgumentError(`${field}: ${description}`, [{ field, description }]);
  }
}

/** The request is valid but the task (or worker) is in a state that does not allow it. */
export class FailedPreconditionError extends TaskwireError {
  override readonly name = "FailedPreconditionError";
  constructor(
    readonly reason: "TASK_FINISHED" | "WORKER_NOT_CONNECTED" | "TASK_TYPE_CONTRACT_CHANGED" | "IDEMPOTENCY_RACE",
    message: string,
  ) {
    super(message);
  }
}

/** Something with the same identity already exists. */
export class AlreadyExistsError extends TaskwireError {
  override readonly name = "AlreadyExistsError";
  constructor(
    readonly reason: "WORKER_ALREADY_CONNECTED" | "SCHEDULE_ALREADY_EXISTS",
    message: string,
  ) {
    super(message);
  }
}

/** A configured limit of this server is reached (e.g. subscribers per task): try again later. */
export class ResourceExhaustedError extends TaskwireError {
  override readonly name = "ResourceExhaustedError";
  constructor(
    readonly reason: "TOO_MANY_SUBSCRIBERS" | "TOO_MANY_TASK_TYPES" | "DESCRIPTORS_TOO_LARGE",
    message: string,
  ) {
    super(message);
  }
}

/** A dependency (PostgreSQL, Redis) cannot be reached, or the server is stopping: try again. */
export class UnavailableError extends TaskwireError {
  override readonly name = "UnavailableError";
  constructor(
    readonly reason: "STORE_UNAVAILABLE" | "BROKER_UNAVAILABLE" | "SHUTTING_DOWN",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// Issue 3: access control.

/** The call carries no API key, a malformed `authorization` header, or a key the server does not know. */
export class UnauthenticatedError extends TaskwireError {
  override readonly name = "UnauthenticatedError";
  constructor(
    readonly reason: "API_KEY_MISSING" | "API_KEY_INVALID",
    message: string,
  ) {
    super(message);
  }
}

/** The API key is valid, but its role may not make this call. */
export class PermissionDeniedError extends TaskwireError {
  override readonly name = "PermissionDeniedError";
  constructor(
    readonly reason: "ROLE_NOT_ALLOWED" | "TASK_TYPE_OWNED" | "WORKER_ID_TAKEN",
    message: string,
  ) {
    super(message);
  }
}
