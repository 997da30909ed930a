/**
 * Unit-testing task code without a server (the idea of Temporal's `MockActivityEnvironment`):
 * `runTask` runs a handler the way a worker would — input and output through their protobuf
 * encoding, a real `AbortSignal`, a deadline — and records what it reported.
 *
 * @example
 * const { output, progress } = await runTask(factorial, { n: 5 });
 * expect(output.value).toBe(120n);
 * expect(progress.at(-1)?.percent).toBe(100);
 */
import { randomUUID } from "node:crypto";
import type { DescMessage, JsonObject } from "@bufbuild/protobuf";
import { packValue, unpackValue } from "../common/any.js";
import type { TaskDefinition, TaskSpec, TaskValue, TaskValueInit } from "../common/task-definition.js";
import { create } from "@bufbuild/protobuf";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { AssignedParentSchema } from "../../gen/taskwire/v1/worker_service_pb.js";
import { taskParents, type TaskParents } from "./task-parents.js";
import { silentLogger, type Logger } from "../core/logger.js";
import { TaskTimeoutError } from "./errors.js";
import { DEFAULT_RETRIES } from "./hello.js";
import type { ProgressSnapshot } from "./progress.js";
import { runWithMiddleware, type WorkerMiddleware } from "./middleware.js";
import { runTaskHooks } from "./task-hooks.js";
import { createTaskContext, outcomeOfError, type TaskLogLevel } from "./task-runner.js";

/** One `ctx.log.*` call. */
export interface TaskLogEntry {
  level: TaskLogLevel;
  message: string;
  /** The line's structured fields, when it has some. */
  fields?: JsonObject;
}

/** Options of {@link runTask}. */
export interface RunTaskOptions {
  /** `ctx.taskId`. @default a random UUID */
  taskId?: string;
  /** `ctx.attempt`, to test retry-dependent code. @default 1 */
  attempt?: number;
  /** `ctx.maxAttempts`. @default the task's retries + 1 */
  maxAttempts?: number;
  /** `ctx.deadline`; the signal aborts then with a `TaskTimeoutError`. @default none */
  deadline?: Date;
  /**
   * Aborting it aborts `ctx.signal` with the same reason; abort with a `CancelRequestedError` or
   * `WorkerShutdownError` to play a cancel or a shutdown. @default never aborted
   */
  signal?: AbortSignal;
  /** Called with the merged progress after each `ctx.progress()`. */
  onProgress?: (snapshot: ProgressSnapshot) => void;
  /** Called for each `ctx.log.*` line. */
  onLog?: (entry: TaskLogEntry) => void;
  /** Receives `ctx.log` lines too. @default silent */
  logger?: Logger;
  /** `ctx.context` at the start, as an earlier attempt left it (to test resuming). @default {} */
  context?: JsonObject;
  /** `ctx.parents`: the parents the task depends on, with their outputs. @default none */
  parents?: readonly TestParent[];
  /** Middleware around the handler, the first outermost, as `worker.use()` adds them. @default none */
  middleware?: readonly WorkerMiddleware[];
  /**
   * Call the definition's `onSuccess`, `onRetry` or `onFailure` as a worker does, before
   * `runTask` settles (a hook's error is written to `logger`, not thrown). @default true
   */
  hooks?: boolean;
}

/** A parent of the task {@link runTask} runs (`ctx.parents`). */
export interface TestParent<O extends DescMessage = DescMessage> {
  /** Its task definition (or spec): its type and output schema. */
  task: TaskDefinition<DescMessage, O> | TaskSpec<DescMessage, O>;
  /** Its output, when it succeeded. @default none */
  output?: TaskValueInit<O>;
  /** How it ended; FAILED or CANCELLED for a task whose policy is RUN. @default "SUCCEEDED" */
  state?: "SUCCEEDED" | "FAILED" | "CANCELLED";
  /** @default a random UUID */
  taskId?: string;
}

const PARENT_STATES = { SUCCEEDED: TaskState.SUCCEEDED, FAILED: TaskState.FAILED, CANCELLED: TaskState.CANCELLED } as const;

/** `ctx.parents` of the test parents, as a worker builds it from an Assignment. */
function testParents(parents: readonly TestParent[], definition: TaskDefinition): TaskParents {
  const assigned = parents.map((parent) => {
    const spec = "spec" in parent.task ? parent.task.spec : parent.task;
    const state = parent.state ?? "SUCCEEDED";
    return create(AssignedParentSchema, {
      taskId: parent.taskId ?? randomUUID(),
      type: spec.name,
      state: PARENT_STATES[state],
      output: state === "SUCCEEDED" && parent.output !== undefined ? packValue(spec.output, parent.output) : undefined,
    });
  });
  const definitions = new Map<string, TaskDefinition>([[definition.name, definition]]);
  for (const parent of parents) if ("spec" in parent.task) definitions.set(parent.task.name, parent.task as TaskDefinition);
  return taskParents(assigned, definitions);
}

/** What a handler returned and reported. */
export interface TaskRunResult<O extends DescMessage> {
  /** The output, after a round trip through its encoding (as a client would get it). */
  output: TaskValue<O>;
  /** Every progress value, in order, each merged with the ones before. */
  progress: ProgressSnapshot[];
  /** Every log line, in order. */
  logs: TaskLogEntry[];
  /** `ctx.context` when the handler returned (what the next attempt would start from). */
  context: JsonObject;
}

/**
 * Runs one attempt of `definition` on `input` in memory, inside `options.middleware`, then calls
 * its hooks as a worker would. Rejects with whatever the handler (or a middleware) threw (so
 * `rejects.toThrow(NonRetryableError)` works), or when the input or output does not encode as
 * its message type.
 */
export async function runTask<I extends DescMessage, O extends DescMessage>(
  definition: TaskDefinition<I, O>,
  input: TaskValueInit<I>,
  options: RunTaskOptions = {},
): Promise<TaskRunResult<O>> {
  const { spec } = definition;
  const value = unpackValue(spec.input, packValue(spec.input, input));
  const progress: ProgressSnapshot[] = [];
  const logs: TaskLogEntry[] = [];
  const controller = new AbortController();
  const { deadline, signal } = options;
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const timer = deadline
    ? setTimeout(() => controller.abort(new TaskTimeoutError(deadline)), Math.max(0, deadline.getTime() - Date.now()))
    : undefined;
  const logger = options.logger ?? silentLogger();
  const { ctx, close } = createTaskContext({
    taskId: options.taskId ?? randomUUID(),
    attempt: options.attempt ?? 1,
    maxAttempts: options.maxAttempts ?? (spec.retries ?? DEFAULT_RETRIES) + 1,
    deadline,
    signal: controller.signal,
    logger,
    onProgress: (snapshot) => {
      progress.push(snapshot);
      options.onProgress?.(snapshot);
    },
    context: options.context,
    parents: testParents(options.parents ?? [], definition as unknown as TaskDefinition),
    onLog: (level, message, fields) => {
      const entry: TaskLogEntry = { level, message, ...(fields && { fields }) };
      logs.push(entry);
      options.onLog?.(entry);
    },
  });
  try {
    const call = (): Promise<unknown> => definition.handler(value, ctx);
    const middleware = options.middleware ?? [];
    const hooks = options.hooks !== false;
    const untyped = definition as unknown as TaskDefinition;
    let returned: unknown;
    try {
      returned = await (middleware.length === 0 ? call() : runWithMiddleware(middleware, { name: definition.name, definition: untyped, input: value }, ctx, call));
    } catch (error) {
      if (hooks) await runTaskHooks(untyped, { outcome: outcomeOfError(error, controller.signal), error }, ctx, value, logger);
      throw error;
    }
    const packed = packValue(spec.output, returned as TaskValueInit<O>);
    if (hooks) await runTaskHooks(untyped, { outcome: { kind: "output", output: packed }, returned }, ctx, value, logger);
    return { output: unpackValue(spec.output, packed), progress, logs, context: ctx.context.toJSON() };
  } finally {
    close();
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
