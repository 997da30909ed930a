/**
 * Conversions between stored records (`src/core/task-types.ts`) and the generated protobuf
 * messages. The one place that knows both shapes.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, timestampFromDate, type Duration } from "@bufbuild/protobuf/wkt";
import {
  BackoffSchema,
  ErrorKind,
  ProgressSchema,
  TaskErrorSchema,
  TaskSchema,
  TaskState,
  ParentFailurePolicy,
  TaskTypeSchema,
  TransitionSchema,
  type Backoff,
  type Progress,
  type Task,
  type TaskError,
  type TaskType,
} from "../../gen/taskwire/v1/task_pb.js";
import type {
  AttemptError,
  BackoffPolicy,
  ErrorKindName,
  TaskProgress,
  TaskRecord,
  TaskStateName,
  TaskTypeSummary,
} from "../core/task-types.js";
import { shownIdempotencyKey } from "./auth/ownership.js";
import { storableJson, storableText } from "../core/storable-text.js";
import { limitValuesToProto } from "./rpc/limits-convert.js";

const STATE_TO_PROTO: Record<TaskStateName, TaskState> = {
  WAITING: TaskState.WAITING,
  SCHEDULED: TaskState.SCHEDULED,
  QUEUED: TaskState.QUEUED,
  RUNNING: TaskState.RUNNING,
  CANCELLING: TaskState.CANCELLING,
  SUCCEEDED: TaskState.SUCCEEDED,
  FAILED: TaskState.FAILED,
  CANCELLED: TaskState.CANCELLED,
};

const KIND_TO_PROTO: Record<ErrorKindName, ErrorKind> = {
  TASK_ERROR: ErrorKind.TASK_ERROR,
  DEADLINE_EXCEEDED: ErrorKind.DEADLINE_EXCEEDED,
  WORKER_LOST: ErrorKind.WORKER_LOST,
  CANCELLED: ErrorKind.CANCELLED,
  UNSUPPORTED: ErrorKind.UNSUPPORTED,
};

/** The proto enum value of a stored state. */
export function stateToProto(state: TaskStateName): TaskState {
  return STATE_TO_PROTO[state];
}

/** The stored name of a proto state; undefined for UNSPECIFIED and unknown values. */
export function stateFromProto(state: TaskState): TaskStateName | undefined {
  for (const [name, value] of Object.entries(STATE_TO_PROTO)) {
    if (value === state) return name as TaskStateName;
  }
  return undefined;
}

/** The stored name of a proto error kind; TASK_ERROR for UNSPECIFIED and unknown values. */
export function errorKindFromProto(kind: ErrorKind): ErrorKindName {
  for (const [name, value] of Object.entries(KIND_TO_PROTO)) {
    if (value === kind) return name as ErrorKindName;
  }
  return "TASK_ERROR";
}

/** A duration message in whole milliseconds. */
export function durationToMs(duration: Duration): number {
  return Number(duration.seconds) * 1000 + Math.trunc(duration.nanos / 1_000_000);
}

export function backoffToProto(backoff: BackoffPolicy): Backoff {
  return create(BackoffSchema, {
    initial: durationFromMs(backoff.initialMs),
    max: durationFromMs(backoff.maxMs),
    multiplier: backoff.multiplier,
    jitter: backoff.jitter,
  });
}

export function errorToProto(error: AttemptError): TaskError {
  return create(TaskErrorSchema, {
    attempt: error.attempt,
    kind: KIND_TO_PROTO[error.kind],
    name: error.name,
    message: error.message,
    retryable: error.retryable,
    workerId: error.workerId,
    time: timestampFromDate(new Date(error.time)),
    stack: error.stack ?? "",
    details: error.details,
  });
}

export function progressToProto(progress: TaskProgress): Progress {
  return create(ProgressSchema, {
    percent: progress.percent,
    message: progress.message,
    current: progress.current === undefined ? undefined : BigInt(progress.current),
    total: progress.total === undefined ? undefined : BigInt(progress.total),
    details: progress.details,
    updateTime: timestampFromDate(new Date(progress.updateTime)),
  });
}

/** A progress message as stored; `updateTime` defaults to `now`. */
export function progressFromProto(progress: Progress, now: Date): TaskProgress {
  const stored: TaskProgress = {
    percent: progress.percent,
    message: storableText(progress.message),
    updateTime: (progress.updateTime ? timestampDate(progress.updateTime) : now).toISOString(),
  };
  if (progress.current !== undefined) stored.current = Number(progress.current);
  if (progress.total !== undefined) stored.total = Number(progress.total);
  if (progress.details !== undefined) stored.details = storableJson(progress.details) as TaskProgress["details"];
  return stored;
}

/** Options of {@link taskToProto}. */
export interface TaskViewOptions {
  /** Include the input (large); false for listings. @default true */
  input?: boolean;
}

/** A stored task as the API's `Task` message. */
export function taskToProto(task: TaskRecord, options: TaskViewOptions = {}): Task {
  const lastError = task.errors.at(-1);
  return create(TaskSchema, {
    id: task.id,
    type: task.type,
    queue: task.queue,
    priority: task.priority,
    state: STATE_TO_PROTO[task.state],
    input: options.input === false ? undefined : { typeUrl: task.inputTypeUrl, value: task.input },
    output: task.output && task.outputTypeUrl ? { typeUrl: task.outputTypeUrl, value: task.output } : undefined,
    error: lastError ? errorToProto(lastError) : undefined,
    errors: task.errors.map(errorToProto),
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    progress: task.progress ? progressToProto(task.progress) : undefined,
    timeout: task.timeoutMs === null ? undefined : durationFromMs(task.timeoutMs),
    backoff: backoffToProto(task.backoff),
    idempotencyKey: shownIdempotencyKey(task) ?? "", // without the scope of its key (issue 3)
    labels: task.labels,
    parentIds: task.parentIds,
    childrenCount: task.childrenCount,
    // Only for a task with parents (unset, the default CANCEL, for the others: their JSON stays as it was).
    onParentFailure:
      task.parentIds.length === 0 ? ParentFailurePolicy.UNSPECIFIED : task.onParentFailure === "RUN" ? ParentFailurePolicy.RUN : ParentFailurePolicy.CANCEL,
    context: task.context,
    concurrencyKey: task.concurrencyKey ?? "",
    workerId: task.workerId ?? "",
    createTime: timestampFromDate(task.createdAt),
    scheduleTime: timestampFromDate(task.scheduledAt),
    startTime: task.startedAt ? timestampFromDate(task.startedAt) : undefined,
    finishTime: task.finishedAt ? timestampFromDate(task.finishedAt) : undefined,
    transitions: task.transitions.map((t) =>
      create(TransitionSchema, {
        state: STATE_TO_PROTO[t.state],
        attempt: t.attempt,
        time: timestampFromDate(new Date(t.time)),
      }),
    ),
  });
}

/** A catalog entry as the API's `TaskType` message. */
export function taskTypeToProto(type: TaskTypeSummary, workerCount: number, owner?: string | null): TaskType {
  return create(TaskTypeSchema, {
    name: type.name,
    owner: owner ?? "",
    inputType: type.inputType,
    outputType: type.outputType,
    description: type.description,
    workerCount,
    defaults: {
      queue: type.defaults.queue ?? "",
      priority: type.defaults.priority,
      timeout: type.defaults.timeoutMs === null ? undefined : durationFromMs(type.defaults.timeoutMs),
      maxAttempts: type.defaults.maxAttempts,
      backoff: backoffToProto(type.defaults.backoff),
      retention: typeof type.defaults.retentionMs === "number" ? durationFromMs(type.defaults.retentionMs) : undefined,
      limits: type.defaults.limits ? limitValuesToProto(type.defaults.limits) : undefined,
    },
    updateTime: timestampFromDate(type.updatedAt),
  });
}

