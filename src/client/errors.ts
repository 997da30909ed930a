/**
 * Errors the client SDK raises about a task's outcome. Refusals by the server (unknown type,
 * bad input, finished task…) are not wrapped: they reach callers as `ConnectError`s with their
 * code.
 */
import type { Task, TaskError } from "../../gen/taskwire/v1/task_pb.js";

/** The task ended FAILED: its last attempt failed, or the error was not retryable. */
export class TaskFailedError extends Error {
  override readonly name = "TaskFailedError";

  /** @param task The task as last read from the server, in state FAILED. */
  constructor(readonly task: Task) {
    super(failureMessage(task));
  }

  /** The error of every failed attempt, oldest first. */
  get errors(): readonly TaskError[] {
    return this.task.errors;
  }

  /** The error of the last failed attempt. */
  get lastError(): TaskError | undefined {
    return this.task.error ?? this.task.errors.at(-1);
  }
}

/** The task ended CANCELLED, before or while it ran. */
export class TaskCancelledError extends Error {
  override readonly name = "TaskCancelledError";

  /** @param task The task as last read from the server, in state CANCELLED. */
  constructor(readonly task: Task) {
    super(`task ${task.id} (${task.type}) was cancelled`);
  }
}

/** `result({ timeout })` gave up waiting: the task had not finished in time. It keeps running. */
export class ResultTimeoutError extends Error {
  override readonly name = "ResultTimeoutError";

  /**
   * @param task The task as last read from the server, not in a terminal state.
   * @param timeoutMs How long the caller waited.
   */
  constructor(
    readonly task: Task,
    readonly timeoutMs: number,
  ) {
    super(`task ${task.id} (${task.type}) has not finished after ${timeoutMs} ms`);
  }
}

function failureMessage(task: Task): string {
  const last = task.error ?? task.errors.at(-1);
  const attempts = task.attempt === 1 ? "1 attempt" : `${task.attempt} attempts`;
  const cause = last ? `: ${last.name ? `${last.name}: ` : ""}${last.message}` : "";
  return `task ${task.id} (${task.type}) failed after ${attempts}${cause}`;
}
