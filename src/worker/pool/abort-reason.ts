/**
 * An attempt's abort reason across the process boundary: the worker describes the reason its
 * signal was aborted with, and the pool process aborts the handler's signal with the same error
 * class, so `ctx.signal.reason instanceof CancelRequestedError` holds in pooled handlers too.
 */
import { CancelRequestedError, TaskTimeoutError, WorkerShutdownError } from "../errors.js";
import type { AbortReason } from "./pool-messages.js";

/** The description of `reason` (a signal's `reason`). */
export function describeAbortReason(reason: unknown): AbortReason {
  if (reason instanceof CancelRequestedError) return { kind: "cancel", reason: reason.reason };
  if (reason instanceof TaskTimeoutError) return { kind: "timeout", deadline: reason.deadline };
  if (reason instanceof WorkerShutdownError) return { kind: "shutdown", message: reason.message };
  if (reason instanceof Error) return { kind: "other", name: reason.name, message: reason.message };
  return { kind: "other", name: "Error", message: String(reason) };
}

/** The error a described reason stands for. */
export function abortReasonError(reason: AbortReason): Error {
  switch (reason.kind) {
    case "cancel":
      return new CancelRequestedError(reason.reason);
    case "timeout":
      return new TaskTimeoutError(reason.deadline);
    case "shutdown":
      return new WorkerShutdownError(reason.message);
    case "other":
      return Object.assign(new Error(reason.message), { name: reason.name });
  }
}
