/**
 * The Taskwire client SDK: submit typed tasks, wait for their results, follow their progress,
 * cancel them, list what exists; operate the fleet (`client.admin`); schedule them (`client.schedules`).
 */
export {
  AdminClient,
  buildTaskSelector,
  type CancelTasksOptions,
  type CountGroupName,
  type CountTasksOptions,
  type LimitInput,
  type LimitTarget,
  type ListWorkersOptions,
  type RateInput,
  type PurgeQueueOptions,
  type TaskSelectorInput,
  type TaskStateLike,
  type TaskTargets,
} from "./admin-client.js";
export {
  batchItem,
  createClient,
  TaskwireClient,
  type BatchHandles,
  type BatchItem,
  type ClientOptions,
  type ListTasksOptions,
  type TaskLike,
  type TaskLogsOptions,
} from "./client.js";
export { durationToMs, toDuration, toTimestamp } from "./durations.js";
export { chainItems, chordItems, flowItems, graphItems, type FlowHandle, type FlowNode, type GraphHandles, type GraphNode } from "./flows.js";
export { AfterSubmitError, type SubmitCall, type SubmitInterceptor, type SubmittedTaskInfo } from "./interceptors.js";
export { formatDuration, parseDuration } from "../core/durations.js";
export {
  buildScheduleDefinition,
  SchedulesClient,
  type NamedScheduleOptions,
  type ScheduleOptions,
  type TypedScheduleOptions,
} from "./schedules-client.js";
export type { ScheduleTiming } from "../common/schedule-options.js";
export { CatchUpPolicy, OverlapPolicy, ScheduleSource } from "../../gen/taskwire/v1/schedule_pb.js";
export type { Schedule, ScheduleDefinition, ScheduleSpec, TaskTemplate } from "../../gen/taskwire/v1/schedule_pb.js";
export type { CatchUpPolicyName, OverlapPolicyName } from "../core/schedule-types.js";
export { ResultTimeoutError, TaskCancelledError, TaskFailedError } from "./errors.js";
export { anyToJson, anyValueToJson, createTaskwireRegistry } from "./json.js";
export { errorKindName, isTerminalState, parseTaskState, TASK_STATES, taskStateName } from "./states.js";
export { buildSubmitRequest, type SubmitOptions } from "./submit-request.js";
export { TaskHandle, type TaskOutput, type WaitOptions } from "./task-handle.js";
export { ErrorKind, TaskState } from "../../gen/taskwire/v1/task_pb.js";
export type { Progress, Task, TaskError, TaskType } from "../../gen/taskwire/v1/task_pb.js";
export type {
  GetTaskLogsResponse,
  ListTasksResponse,
  StreamProgressResponse,
  StreamTaskLogsResponse,
  TaskLogLine,
} from "../../gen/taskwire/v1/task_service_pb.js";
export { CountGroup, ServerState, WorkerState } from "../../gen/taskwire/v1/admin_service_pb.js";
export type {
  CancelTasksResponse,
  CountTasksResponse,
  DeleteTasksResponse,
  PurgeQueueResponse,
  Queue,
  RetryTasksResponse,
  Server,
  TaskCount,
  TaskSelector,
  Worker,
  WorkerTaskRef,
} from "../../gen/taskwire/v1/admin_service_pb.js";
export type { TaskStateName } from "../core/task-states.js";
