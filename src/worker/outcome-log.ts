/**
 * The log line of each attempt's outcome, written by the worker that ran it: info when it
 * succeeded or was cancelled, warn with the error (name, message, stack with its causes) when it
 * failed, so a failing task shows up where a newcomer looks: the worker's terminal.
 */
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import type { Assignment } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { Logger } from "../core/logger.js";
import { formatDuration } from "../core/durations.js";
import type { AttemptOutcome } from "./task-runner.js";

/** Logs how the attempt of `assignment` ended, `ms` after it started. */
export function logOutcome(logger: Logger, assignment: Pick<Assignment, "type" | "attempt" | "maxAttempts">, outcome: AttemptOutcome, ms: number): void {
  const { type, attempt, maxAttempts } = assignment;
  const durationMs = Math.round(ms);
  const which = maxAttempts > 0 ? `attempt ${attempt} of ${maxAttempts}` : `attempt ${attempt}`;
  switch (outcome.kind) {
    case "output":
      logger.info({ outcome: "succeeded", durationMs }, `${type} ${which} succeeded in ${formatDuration(durationMs)}`);
      return;
    case "cancelled":
      logger.info({ outcome: "cancelled", reason: outcome.reason, durationMs }, `${type} ${which} was cancelled: ${outcome.reason}`);
      return;
    case "failure": {
      const { failure } = outcome;
      const retried = failure.retryable && attempt < maxAttempts ? "; it will be retried" : "";
      logger.warn(
        {
          outcome: "failed",
          errorKind: ErrorKind[failure.kind],
          retryable: failure.retryable,
          durationMs,
          error: { name: failure.name, message: failure.message, ...(failure.stack ? { stack: failure.stack } : {}) },
          ...(failure.details ? { details: failure.details } : {}),
        },
        `${type} ${which} failed: ${failure.name}: ${failure.message}${retried}`,
      );
    }
  }
}
