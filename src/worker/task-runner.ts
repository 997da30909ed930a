/**
 * Running one attempt of a task: decode the input, build the `TaskContext`, call the handler,
 * and turn what happened into an outcome. The reason of the attempt's `AbortSignal` decides how
 * an error is reported: a cancel ends the task `CANCELLED`, a deadline is `DEADLINE_EXCEEDED`, a
 * shutdown is `WORKER_LOST`; any other error is the task's own (`TASK_ERROR`), reported with its
 * stack and details (`error-report.ts`). An output returned despite an abort is still the output.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import { TaskResultSchema, type TaskResult } from "../../gen/taskwire/v1/worker_service_pb.js";
import { packValue, structFromJson, structToJson, unpackValue } from "../common/any.js";
import { ContextValues } from "../common/context-values.js";
import type { ProgressUpdate, TaskContext, TaskDefinition } from "../common/task-definition.js";
import type { Logger } from "../core/logger.js";
import { reportOfError } from "./error-report.js";
import { CancelRequestedError, TaskTimeoutError, WorkerShutdownError, isNonRetryable } from "./errors.js";
import { runWithMiddleware, type WorkerMiddleware } from "./middleware.js";
import { mergeProgress, type ProgressSnapshot } from "./progress.js";
import { runTaskHooks, type SettledAttempt } from "./task-hooks.js";
import { taskParents, type TaskParents } from "./task-parents.js";

/** Levels of `ctx.log`, as sent in `TaskLog.level`. */
export type TaskLogLevel = "debug" | "info" | "warn" | "error";

/** Why an attempt ended without an output, as sent in `TaskFailure`. */
export interface AttemptFailure {
  kind: ErrorKind;
  name: string;
  message: string;
  retryable: boolean;
  /** The stack with its causes, bounded (`reportOfError`); task errors only. */
  stack?: string;
  /** Details attached by task code; task errors only. */
  details?: JsonObject;
}

/** How an attempt ended. */
export type AttemptOutcome =
  | { kind: "output"; output: Any }
  | { kind: "cancelled"; reason: string }
  | { kind: "failure"; failure: AttemptFailure };

/** What an attempt runs with: its identity, its signal, and where progress and log lines go. */
export interface AttemptEnvironment {
  taskId: string;
  attempt: number;
  maxAttempts: number;
  deadline: Date | undefined;
  signal: AbortSignal;
  /** Scoped to the task and attempt; `ctx.log` lines are written here too. */
  logger: Logger;
  /** Called with the merged progress after each `ctx.progress()`. */
  onProgress(snapshot: ProgressSnapshot): void;
  /** Called for each `ctx.log.*` line, with its fields when it has some (checked to be JSON). */
  onLog(level: TaskLogLevel, message: string, fields?: JsonObject): void;
  /** `ctx.parents` (`task-parents.ts`). @default none */
  parents?: TaskParents;
  /** What the task's previous attempts saved in `ctx.context` (`Assignment.context`). @default {} */
  context?: JsonObject;
  /** Called with the whole context after each change of `ctx.context`. @default none */
  onContext?(context: JsonObject): void;
  /** The server's bound on a context (`Welcome.max_context_bytes`); `ctx.context` refuses larger. @default unchecked */
  maxContextBytes?: number;
}

/** A task context and the switch that turns it off once the attempt has ended. */
export interface AttemptContext {
  ctx: TaskContext;
  /** Later `ctx.progress()` and `ctx.log` calls (from stray timers) are dropped. */
  close(): void;
}

/**
 * A line's fields as JSON (a round trip through `google.protobuf.Struct`, as they travel);
 * undefined for none, an empty object, or fields JSON cannot carry (logged, the line is kept).
 */
function logFields(fields: JsonObject | undefined, logger: Logger): JsonObject | undefined {
  if (fields === undefined || fields === null || typeof fields !== "object" || Object.keys(fields).length === 0) return undefined;
  try {
    return structToJson(structFromJson(fields));
  } catch (error) {
    logger.warn({ err: error }, "ctx.log fields are not JSON; the line is logged without them");
    return undefined;
  }
}

/** `ctx.parents` of a task without parents. */
const NO_PARENTS = taskParents([], new Map());

/** Builds the `ctx` a handler receives. */
export function createTaskContext(env: AttemptEnvironment): AttemptContext {
  let open = true;
  let snapshot: ProgressSnapshot | undefined;
  const log =
    (level: TaskLogLevel) =>
    (message: string, fields?: JsonObject): void => {
      if (!open) return;
      const checked = logFields(fields, env.logger);
      if (checked === undefined) env.logger[level](message);
      else env.logger[level]({ fields: checked }, message);
      env.onLog(level, message, checked);
    };
  const ctx: TaskContext = {
    taskId: env.taskId,
    attempt: env.attempt,
    maxAttempts: env.maxAttempts,
    deadline: env.deadline,
    signal: env.signal,
    progress(update: ProgressUpdate): void {
      if (!open) return;
      snapshot = mergeProgress(snapshot, update);
      env.onProgress(snapshot);
    },
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    parents: env.parents ?? NO_PARENTS,
    context: new ContextValues(
      env.context,
      (context) => {
        if (open) env.onContext?.(context);
      },
      env.maxContextBytes,
    ),
  };
  return {
    ctx,
    close: () => {
      open = false;
    },
  };
}

function describe(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name || "Error", message: error.message };
  return { name: "Error", message: typeof error === "string" ? error : String(error) };
}

function unsupported(message: string): AttemptOutcome {
  return {
    kind: "failure",
    failure: { kind: ErrorKind.UNSUPPORTED, name: "UnsupportedTaskError", message, retryable: false },
  };
}

/** The outcome of a handler that threw `error` while its signal was in the state `signal`. */
export function outcomeOfError(error: unknown, signal: AbortSignal): AttemptOutcome {
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  if (reason instanceof CancelRequestedError) return { kind: "cancelled", reason: reason.reason || "cancelled" };
  if (reason instanceof TaskTimeoutError) {
    return {
      kind: "failure",
      failure: { kind: ErrorKind.DEADLINE_EXCEEDED, name: reason.name, message: reason.message, retryable: true },
    };
  }
  if (reason instanceof WorkerShutdownError) {
    return {
      kind: "failure",
      failure: { kind: ErrorKind.WORKER_LOST, name: reason.name, message: reason.message, retryable: true },
    };
  }
  if (error instanceof ReportedFailure) return { kind: "failure", failure: error.failure };
  return { kind: "failure", failure: { kind: ErrorKind.TASK_ERROR, ...reportOfError(error), retryable: !isNonRetryable(error) } };
}

/**
 * Calls the handler of an attempt: in this process by default; a process pool passes one that
 * runs it in a pool process. Resolves with what the handler returned, rejects with what it threw
 * (a pool's failures as a {@link ReportedFailure}).
 */
export type HandlerInvoker = (definition: TaskDefinition, value: unknown, ctx: TaskContext, input: Any, env: AttemptEnvironment) => Promise<unknown>;

/** What runs around a handler: the worker's middleware and where the handler runs. */
export interface AttemptRunOptions {
  /** `worker.use()` middleware, first outermost. @default none */
  middleware?: readonly WorkerMiddleware[];
  /** @default the definition's handler, called in this process */
  invoke?: HandlerInvoker;
  /** Call the definition's hooks once the outcome is known. @default true */
  hooks?: boolean;
}

/**
 * A failure already described as it is reported: what a pool process sends back for a handler
 * that failed there, rethrown in the worker's process so its middleware and hooks see it (with
 * the name, message and stack of the original). Reported unchanged when it reaches the end.
 */
export class ReportedFailure extends Error {
  override readonly name: string;
  /** As the failure says: read by {@link isNonRetryable} when middleware wraps this error. */
  readonly retryable: boolean;
  readonly details: JsonObject | undefined;
  constructor(readonly failure: AttemptFailure) {
    super(failure.message);
    this.name = failure.name;
    this.retryable = failure.retryable;
    this.details = failure.details;
    this.stack = failure.stack ?? `${failure.name}: ${failure.message}`;
  }
}

const invokeHere: HandlerInvoker = (definition, value, ctx) => definition.handler(value as never, ctx);

/**
 * Runs one attempt of `definition` (undefined: the worker does not serve `type`) on `input`,
 * inside `options.middleware`, then calls the definition's hooks (`task-hooks.ts`).
 * Never rejects: every way the attempt can end is an {@link AttemptOutcome}.
 */
export async function runAttempt(
  definition: TaskDefinition | undefined,
  type: string,
  input: Any | undefined,
  env: AttemptEnvironment,
  options: AttemptRunOptions = {},
): Promise<AttemptOutcome> {
  if (!definition) return unsupported(`this worker does not serve the task type "${type}"`);
  const packed = input ?? create(AnySchema);
  let value: unknown;
  try {
    value = unpackValue(definition.spec.input, packed);
  } catch (error) {
    return unsupported(`cannot decode the input of "${type}": ${describe(error).message}`);
  }
  const { ctx, close } = createTaskContext(env);
  try {
    const invoke = options.invoke ?? invokeHere;
    const handler = (): Promise<unknown> => invoke(definition, value, ctx, packed, env);
    const middleware = options.middleware ?? [];
    const settled = await settle(definition, type, env.signal, () =>
      middleware.length === 0 ? handler() : runWithMiddleware(middleware, { name: type, definition, input: value }, ctx, handler),
    );
    if (options.hooks !== false) await runTaskHooks(definition, settled, ctx, value, env.logger);
    return settled.outcome;
  } finally {
    close();
  }
}

async function settle(definition: TaskDefinition, type: string, signal: AbortSignal, run: () => Promise<unknown>): Promise<SettledAttempt> {
  let returned: unknown;
  try {
    returned = await run();
  } catch (error) {
    return { outcome: outcomeOfError(error, signal), error };
  }
  try {
    return { outcome: { kind: "output", output: packValue(definition.spec.output, returned as never) }, returned };
  } catch (error) {
    // The handler broke its contract; the same code would break it again.
    const failure: AttemptFailure = {
      kind: ErrorKind.TASK_ERROR,
      name: "OutputEncodingError",
      message: `the output of "${type}" is not a valid ${definition.spec.output.typeName}: ${describe(error).message}`,
      retryable: false,
    };
    return { outcome: { kind: "failure", failure }, error: new ReportedFailure(failure) };
  }
}

/** The `TaskResult` reporting `outcome` for `(taskId, attempt)`. */
export function taskResultOf(taskId: string, attempt: number, outcome: AttemptOutcome): TaskResult {
  switch (outcome.kind) {
    case "output":
      return create(TaskResultSchema, { taskId, attempt, outcome: { case: "output", value: outcome.output } });
    case "cancelled":
      return create(TaskResultSchema, { taskId, attempt, outcome: { case: "cancelled", value: outcome.reason } });
    case "failure":
      return create(TaskResultSchema, { taskId, attempt, outcome: { case: "failure", value: outcome.failure } });
  }
}
