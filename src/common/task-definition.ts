/**
 * Typed task contracts, shared by the worker SDK (which runs them) and the client SDK (which
 * submits them). The protobuf schemas are the contract: a task defined with `input: XSchema`
 * gets `input` typed as `X` and must return its output message. A schema of
 * `google.protobuf.Struct` means free-form JSON: the handler gets and returns a `JsonObject`.
 */
import type { LimitInput } from "./dispatch-limits-message.js";
import type { DescMessage, JsonObject, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { StructSchema } from "@bufbuild/protobuf/wkt";
import type { DeclaredScheduleOptions } from "./schedule-options.js";
import type { TaskParents } from "../worker/task-parents.js";
import type { TaskContextValues } from "./context-values.js";

/** What a handler receives for a schema: the message, or a `JsonObject` for `google.protobuf.Struct`. */
export type TaskValue<S extends DescMessage> = S extends typeof StructSchema ? JsonObject : MessageShape<S>;

/** What a caller may pass for a schema: a message init object, or a `JsonObject` for Struct. */
export type TaskValueInit<S extends DescMessage> = S extends typeof StructSchema ? JsonObject : MessageInitShape<S>;

/** Exponential back-off between attempts; durations in milliseconds or strings like "10s". */
export interface BackoffOptions {
  /** Delay before the second attempt. @default 1000 ms */
  initial?: number | string;
  /** Upper bound of any delay. @default 5 min */
  max?: number | string;
  /** Growth per attempt. @default 2 */
  multiplier?: number;
  /** Random spread as a fraction (0.2 = ±20 %). @default 0.2 */
  jitter?: number;
}

/** The contract of a task type: its name, messages and defaults. */
export interface TaskSpec<I extends DescMessage, O extends DescMessage> {
  /** Unique name of the type, e.g. `reports.generate`. */
  name: string;
  /** Schema of the input message (`XSchema` from generated code, or `StructSchema` for JSON). */
  input: I;
  /** Schema of the output message. */
  output: O;
  /** Default queue; when absent the priority convention applies (> 5 high_priority, < 0 low_priority, else default). */
  queue?: string;
  /** Default priority, higher first. @default 0 */
  priority?: number;
  /** Default per-attempt timeout in milliseconds or as "30s"; absent: none. */
  timeout?: number | string;
  /** Retries after the first attempt (max attempts = retries + 1). @default 2 */
  retries?: number;
  /** Back-off between attempts. */
  backoff?: BackoffOptions;
  /**
   * How long finished tasks of the type are kept, in milliseconds or as "30d": the server
   * deletes them this long after they finish. From 1 minute to 3650 days.
   * @default none: the server's `--retain-finished` applies (and without it, tasks are kept)
   */
  retention?: number | string;
  /**
   * Dispatch limits of the type, enforced by the server on every claim (README "Limits and
   * fairness"): at most `concurrency` running across the fleet, `perKey` per concurrency key,
   * `rate` starts per interval (`"10/s"`), `keyRate` per key. An operator's
   * `taskwire limits set` overrides them field by field. @default none
   */
  limits?: LimitInput;
  /** Shown by `ListTypes`. */
  description?: string;
  /**
   * Schedules of the type, upserted on the server when a worker serving it connects. A schedule
   * changed by hand (`taskwire schedules pause`, UpdateSchedule) stays as changed until a worker
   * declares it differently. Ids default to the task's name.
   * @example
   * schedules: [{ cron: "30 2 * * *", timeZone: "Europe/Vienna", input: { month: "auto" } }]
   */
  schedules?: readonly DeclaredScheduleOptions<I>[];
}

/**
 * Logs a line attached to the running task, with optional structured fields (a JSON object):
 * stored with the task (`taskwire logs <id>`, `GetTaskLogs`) and written to the worker's log.
 */
export type TaskLogFn = (message: string, fields?: JsonObject) => void;

/** A progress update: a percent (0–100) or the full form. */
export type ProgressUpdate =
  | number
  | {
      percent?: number;
      message?: string;
      current?: number;
      total?: number;
      details?: JsonObject;
    };

/** What a running task can use. */
export interface TaskContext {
  /** The task's id (UUIDv7). */
  readonly taskId: string;
  /** The attempt running, numbered from 1. */
  readonly attempt: number;
  /** The task's maximum number of attempts. */
  readonly maxAttempts: number;
  /** The attempt's deadline, when the task has a timeout. */
  readonly deadline: Date | undefined;
  /**
   * Aborted on cancel, timeout or worker shutdown; `signal.reason` says which. The one
   * cancellation path: pass it to every I/O call.
   */
  readonly signal: AbortSignal;
  /** Reports progress; the server keeps the last value and streams it to subscribers. */
  progress(update: ProgressUpdate): void;
  /** Lines attached to the task: stored with it on the server, and written to the worker's log. */
  readonly log: { debug: TaskLogFn; info: TaskLogFn; warn: TaskLogFn; error: TaskLogFn };
  /**
   * The tasks this one depends on (`depends_on`), in the order it named them, with their outputs:
   * `ctx.parents.outputOf(chargeCard)` is the typed output of the parent of that definition's
   * type. Empty for a task without parents.
   */
  readonly parents: TaskParents;
  /**
   * The task's context: JSON values under dotted keys, saved with its progress and kept across
   * retries (each attempt starts from what the last one saved: a checkpoint to resume from), shown
   * in `Task.context`.
   * @example
   * if (ctx.context.get("validation.status") !== "ok") { await validate(); ctx.context.set("validation.status", "ok"); }
   */
  readonly context: TaskContextValues;
}

/** Runs one attempt of a task. */
export type TaskHandler<I extends DescMessage, O extends DescMessage> = (
  input: TaskValue<I>,
  ctx: TaskContext,
) => Promise<TaskValueInit<O>>;

/**
 * Per-type hooks, called by the worker after an attempt's handler (and its middleware) ended,
 * before the outcome is reported, with the attempt's `ctx` still open (its `ctx.log` lines are
 * kept). A hook that throws or rejects does not change the outcome: the error is logged on the
 * worker and the outcome is reported as it was. A cancelled attempt calls no hook.
 */
export interface TaskHooks<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  /** The attempt returned `output`: what the handler returned, through the worker's middleware, before its encoding. */
  onSuccess?(output: TaskValueInit<O>, ctx: TaskContext, input: TaskValue<I>): void | Promise<void>;
  /**
   * The attempt failed and the task will not be retried: its last attempt, or an error marked
   * not retryable (`NonRetryableError`), or an output that does not encode as the output type.
   */
  onFailure?(error: unknown, ctx: TaskContext, input: TaskValue<I>): void | Promise<void>;
  /** The attempt failed and the server will run another one (`ctx.attempt < ctx.maxAttempts`, retryable). */
  onRetry?(error: unknown, ctx: TaskContext, input: TaskValue<I>): void | Promise<void>;
}

/** A task type with its handler, ready to be served by a worker and submitted by a client. */
export interface TaskDefinition<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  readonly spec: TaskSpec<I, O>;
  readonly handler: TaskHandler<I, O>;
  /** Same as `spec.name`. */
  readonly name: string;
  /** `onSuccess`, `onFailure`, `onRetry`, as given to {@link defineTask}. @default none */
  readonly hooks?: TaskHooks<I, O>;
}

/**
 * Defines a task type: its contract, the code that runs it, and optionally its hooks.
 *
 * @example
 * const factorial = defineTask(
 *   { name: "examples.factorial", input: FactorialInputSchema, output: FactorialOutputSchema },
 *   async (input) => ({ value: factorialOf(input.n) }),
 *   { onFailure: (error, ctx) => alerts.notify(ctx.taskId, error) },
 * );
 */
export function defineTask<I extends DescMessage, O extends DescMessage>(
  spec: TaskSpec<I, O>,
  handler: TaskHandler<I, O>,
  hooks?: TaskHooks<I, O>,
): TaskDefinition<I, O> {
  return hooks === undefined ? { spec, handler, name: spec.name } : { spec, handler, name: spec.name, hooks };
}
