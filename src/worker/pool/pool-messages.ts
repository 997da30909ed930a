/**
 * The messages between a worker and its pool processes (Node's IPC channel with the `advanced`
 * serialization, so `Date`, `bigint` and `Uint8Array` cross as they are). The worker sends an
 * attempt's input and the data of its environment; the pool process runs the handler and sends
 * back every call the task context makes (progress, log lines, and whatever else the
 * environment offers), its own log lines, and the outcome.
 *
 * Keep in line with the README's "Worker pool" section.
 */
import type { ErrorKind } from "../../../gen/taskwire/v1/task_pb.js";
import type { AttemptFailure } from "../task-runner.js";

/** Why an attempt's signal was aborted, rebuilt as the same error class in the pool process. */
export type AbortReason =
  | { kind: "cancel"; reason: string }
  | { kind: "timeout"; deadline: Date }
  | { kind: "shutdown"; message: string }
  | { kind: "other"; name: string; message: string };

/** Worker → pool process. */
export type ToPoolProcess =
  /** The modules to load (file URLs) and the task types they must define. */
  | { t: "init"; modules: string[]; types: string[] }
  /**
   * Run an attempt: `input` is the binary `google.protobuf.Any`; `data` holds the environment's
   * values (task id, attempt, deadline, …), `calls` the names of its functions.
   */
  | { t: "run"; id: number; type: string; input: Uint8Array; data: Record<string, unknown>; calls: string[]; logLevel: string }
  | { t: "abort"; id: number; reason: AbortReason };

/** How an attempt ended, as it crosses the process boundary (an output as binary `Any`). */
export type PooledOutcome =
  | { kind: "output"; typeUrl: string; value: Uint8Array }
  | { kind: "cancelled"; reason: string }
  | { kind: "failure"; failure: AttemptFailure & { kind: ErrorKind } };

/** Pool process → worker. */
export type FromPoolProcess =
  | { t: "ready"; pid: number }
  | { t: "fatal"; message: string }
  /** The task context called the environment's function `name`. */
  | { t: "call"; id: number; name: string; args: unknown[] }
  /** A log line (pino JSON) the attempt's logger wrote in the pool process. */
  | { t: "log"; id: number; line: string }
  | { t: "done"; id: number; outcome: PooledOutcome };
