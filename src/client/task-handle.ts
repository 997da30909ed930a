/**
 * A handle on one submitted task: its state, its typed result, its progress, its cancel.
 */
import type { DescMessage, JsonValue } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { CallOptions } from "@connectrpc/connect";
import { TaskState, type Task } from "../../gen/taskwire/v1/task_pb.js";
import type { StreamProgressResponse } from "../../gen/taskwire/v1/task_service_pb.js";
import type { TaskValue } from "../common/task-definition.js";
import { durationToMs } from "./durations.js";
import { ResultTimeoutError, TaskCancelledError, TaskFailedError } from "./errors.js";
import { isTerminalState } from "./states.js";

/**
 * What `result()` resolves to: the output message of a typed handle (a `JsonObject` for Struct),
 * or, for an untyped handle (`O` = `DescMessage`), the output as proto JSON.
 */
export type TaskOutput<O extends DescMessage> = DescMessage extends O ? JsonValue : TaskValue<O>;

/** Options of {@link TaskHandle.wait} and {@link TaskHandle.result}. */
export interface WaitOptions {
  /** Give up after this long (milliseconds or "30s") with a `ResultTimeoutError`. @default no limit */
  timeout?: number | string;
  /** Stops waiting; the call rejects with a `ConnectError` of code `Canceled`. The task is not cancelled. */
  signal?: AbortSignal;
}

/**
 * The calls a handle makes; implemented by `TaskwireClient`.
 * @internal
 */
export interface TaskCalls {
  getStatus(id: string, options?: CallOptions): Promise<Task>;
  getResult(id: string, wait?: number | string, options?: CallOptions): Promise<Task>;
  cancel(id: string, reason?: string, options?: CallOptions): Promise<Task>;
  streamProgress(id: string, options?: CallOptions): AsyncIterable<StreamProgressResponse>;
}

/** Longest wait asked of one `GetResult` call; `result()` loops until the task ends. */
const WAIT_SLICE_MS = 20_000;
/** Added to the wait for the call's own deadline, so a lost connection cannot hang a caller. */
const CALL_MARGIN_MS = 10_000;
/** Least time between two `GetResult` calls when a server answers before the wait is over. */
const MIN_POLL_INTERVAL_MS = 250;

/** A submitted task. Get one from `client.submit(...)`, or rebuild it with `client.handle(id, task)`. */
export class TaskHandle<O extends DescMessage = DescMessage> {
  /**
   * @param id The task's id (UUIDv7).
   * @param existing True when the submission's idempotency key matched an existing task.
   * @internal Use `client.submit` or `client.handle`.
   */
  constructor(
    private readonly calls: TaskCalls,
    readonly id: string,
    private readonly decode: (output: Any) => TaskOutput<O>,
    readonly existing = false,
  ) {}

  /** The task's current state, progress, attempts and errors. */
  status(options?: CallOptions): Promise<Task> {
    return this.calls.getStatus(this.id, options);
  }

  /**
   * Waits until the task is SUCCEEDED, FAILED or CANCELLED and returns it, whatever the outcome.
   * @throws ResultTimeoutError when `timeout` passes first.
   */
  async wait(options: WaitOptions = {}): Promise<Task> {
    const timeoutMs = options.timeout === undefined ? undefined : durationToMs(options.timeout, "timeout");
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (;;) {
      const remaining = deadline === undefined ? WAIT_SLICE_MS : Math.max(0, deadline - Date.now());
      const waitMs = Math.min(remaining, WAIT_SLICE_MS);
      const started = Date.now();
      const task = await this.calls.getResult(this.id, waitMs, {
        signal: options.signal,
        timeoutMs: waitMs + CALL_MARGIN_MS,
      });
      if (isTerminalState(task.state)) return task;
      if (deadline !== undefined && Date.now() >= deadline) {
        throw new ResultTimeoutError(task, timeoutMs ?? 0);
      }
      const elapsed = Date.now() - started;
      if (elapsed < MIN_POLL_INTERVAL_MS) await pause(MIN_POLL_INTERVAL_MS - elapsed, options.signal);
    }
  }

  /**
   * Waits for the task to end and returns its output.
   * @throws TaskFailedError when it FAILED (with every attempt's error).
   * @throws TaskCancelledError when it was CANCELLED.
   * @throws ResultTimeoutError when `timeout` passes first.
   */
  async result(options: WaitOptions = {}): Promise<TaskOutput<O>> {
    return this.outputOf(await this.wait(options));
  }

  /**
   * The output of a finished task, decoded as this handle's output type.
   * @throws TaskFailedError, TaskCancelledError as {@link result}; Error when the task has not finished.
   */
  outputOf(task: Task): TaskOutput<O> {
    switch (task.state) {
      case TaskState.SUCCEEDED:
        if (!task.output) throw new Error(`task ${task.id} succeeded without an output`);
        return this.decode(task.output);
      case TaskState.FAILED:
        throw new TaskFailedError(task);
      case TaskState.CANCELLED:
        throw new TaskCancelledError(task);
      default:
        throw new Error(`task ${task.id} has not finished`);
    }
  }

  /**
   * The task's current state, then every progress and state event, ending after the terminal
   * state. Break out of the loop (or abort `signal`) to stop following.
   */
  progress(options?: CallOptions): AsyncIterable<StreamProgressResponse> {
    return this.calls.streamProgress(this.id, options);
  }

  /**
   * Cancels the task: a queued or scheduled one at once, a running one once its worker stops it.
   * @returns the task after the cancel, CANCELLED or CANCELLING.
   * @throws ConnectError `FailedPrecondition` when the task has already finished.
   */
  cancel(reason?: string, options?: CallOptions): Promise<Task> {
    return this.calls.cancel(this.id, reason, options);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
