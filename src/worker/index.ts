/**
 * The Taskwire worker SDK: define tasks, serve them with a `Worker`, unit-test them with
 * `runTask`.
 */
export { Worker } from "./worker.js";
export type { WorkerState, WorkerStateListener } from "./worker.js";
export { WORKER_DEFAULTS } from "./worker-options.js";
export type { WorkerOptions } from "./worker-options.js";
export {
  DetailedError,
  NonRetryableError,
  CancelRequestedError,
  TaskTimeoutError,
  WorkerConfigError,
  WorkerRejectedError,
  WorkerShutdownError,
  isNonRetryable,
} from "./errors.js";
export type { DetailedErrorOptions } from "./errors.js";
export { runTask } from "./testing.js";
export type { RunTaskOptions, TaskLogEntry, TaskRunResult, TestParent } from "./testing.js";
export type { ProgressSnapshot } from "./progress.js";
export type { TaskLogLevel } from "./task-runner.js";
export type { MiddlewareTask, WorkerMiddleware } from "./middleware.js";
export { taskParents } from "./task-parents.js";
export type { ParentState, TaskParent, TaskParents } from "./task-parents.js";
export { ContextTooLargeError } from "../common/context-values.js";
export type { TaskContextValues } from "../common/context-values.js";
export { SDK_VERSION } from "./version.js";
export { defineTask } from "../common/task-definition.js";
export type {
  BackoffOptions,
  ProgressUpdate,
  TaskContext,
  TaskDefinition,
  TaskHandler,
  TaskHooks,
  TaskLogFn,
  TaskSpec,
  TaskValue,
  TaskValueInit,
} from "../common/task-definition.js";
