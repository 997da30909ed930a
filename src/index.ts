/**
 * `taskwire`: what a task's contract module needs, shared by the workers that serve it and the
 * clients that submit it. The roles have their own entry points: `taskwire/worker` (serve tasks),
 * `taskwire/client` (submit and follow them), `taskwire/server` (embed a server),
 * `taskwire/contracts/<file>` (the generated API messages and services).
 */
export { defineTask } from "./common/task-definition.js";
export type {
  BackoffOptions,
  ProgressUpdate,
  TaskContext,
  TaskDefinition,
  TaskHandler,
  TaskLogFn,
  TaskSpec,
  TaskValue,
  TaskValueInit,
} from "./common/task-definition.js";
