/** The error the server records for an attempt it ends on its own (a lost worker, a deadline). */
import type { AttemptError, ErrorKindName } from "../../core/task-types.js";

/** The error recorded for an attempt the server ends on its own. */
export function serverError(attempt: number, kind: ErrorKindName, message: string, workerId: string): AttemptError {
  return {
    attempt,
    kind,
    name: kind === "DEADLINE_EXCEEDED" ? "DeadlineExceeded" : "WorkerLost",
    message,
    retryable: true,
    workerId,
    time: new Date().toISOString(),
  };
}
