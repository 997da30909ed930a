/**
 * Rows to domain records: the one place that knows how a row of each table becomes the
 * `TaskRecord`, `TaskTypeRecord`, `WorkerRecord`, `ServerRecord`, `QueueSettingsRecord` or `ScheduleRecord` the
 * rest of Taskwire sees.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import type {
  NewTask,
  QueueSettingsRecord,
  ServerRecord,
  TaskRecord,
  TaskTransition,
  TaskTypeSummary,
  WorkerRecord,
} from "../core/task-types.js";
import type { ScheduleRecord } from "../core/schedule-types.js";
import type { QueueSettingsRow, ScheduleRow, ServerRow, TaskRow, TaskTypeRow, WorkerRow } from "./schema.js";

/** A `tasks` row as a {@link TaskRecord}. */
export function toTaskRecord(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    type: row.type,
    queue: row.queue,
    priority: row.priority,
    state: row.state,
    inputTypeUrl: row.inputTypeUrl,
    input: row.input,
    outputTypeUrl: row.outputTypeUrl,
    output: row.output,
    errors: row.errors,
    attempt: row.attempt,
    maxAttempts: row.maxAttempts,
    progress: row.progress,
    timeoutMs: row.timeoutMs,
    backoff: row.backoff,
    idempotencyKey: row.idempotencyKey,
    workerId: row.workerId,
    createdAt: row.createdAt,
    scheduledAt: row.scheduledAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    transitions: row.transitions,
    submittedBy: row.submittedBy,
    labels: row.labels,
    traceparent: row.traceparent,
    tracestate: row.tracestate,
    parentIds: row.parentIds ?? [],
    childrenCount: row.childrenCount,
    onParentFailure: row.onParentFailure,
    context: row.context as JsonObject,
    concurrencyKey: row.concurrencyKey,
  };
}

/**
 * The record of a task as `insertTasks` writes it, without reading the row back: what was
 * inserted, with the columns' starting values. Keep in line with `COLUMN_VALUES` of
 * `queries/insert-tasks.ts`.
 */
export function insertedTaskRecord(task: NewTask): TaskRecord {
  return {
    id: task.id,
    type: task.type,
    queue: task.queue,
    priority: task.priority,
    state: task.state,
    inputTypeUrl: task.inputTypeUrl,
    input: task.input,
    outputTypeUrl: null,
    output: null,
    errors: task.errors ?? [],
    attempt: 0,
    maxAttempts: task.maxAttempts,
    progress: null,
    timeoutMs: task.timeoutMs,
    backoff: task.backoff,
    idempotencyKey: task.idempotencyKey,
    workerId: null,
    createdAt: task.createdAt,
    scheduledAt: task.scheduledAt,
    startedAt: null,
    finishedAt: task.finishedAt ?? null,
    transitions: [initialTransition(task)],
    submittedBy: task.submittedBy ?? null,
    labels: task.labels ?? {},
    traceparent: task.traceparent ?? null,
    tracestate: task.tracestate ?? null,
    parentIds: task.parentIds ?? [],
    childrenCount: task.childrenCount ?? 0,
    onParentFailure: task.onParentFailure ?? "CANCEL",
    context: {},
    concurrencyKey: task.concurrencyKey ?? null,
  };
}

/** The first entry of a task's `transitions`. */
export function initialTransition(task: NewTask): TaskTransition {
  return { state: task.state, attempt: 0, time: task.createdAt.toISOString() };
}

/**
 * A `task_types` row as a {@link TaskTypeSummary}; `descriptorSet` is the row's hash as read (the
 * queries compute it for rows of older versions, which hold their own bytes).
 */
export function toTaskTypeSummary(row: Omit<TaskTypeRow, "descriptors" | "descriptorSet"> & { descriptorSet: string }): TaskTypeSummary {
  return {
    name: row.name,
    inputType: row.inputType,
    outputType: row.outputType,
    description: row.description,
    defaults: row.defaults,
    descriptorSet: row.descriptorSet,
    updatedAt: row.updatedAt,
  };
}

/** A `workers` row as a {@link WorkerRecord}. */
export function toWorkerRecord(row: WorkerRow): WorkerRecord {
  return {
    id: row.id,
    host: row.host,
    pid: row.pid,
    queues: row.queues,
    slots: row.slots,
    types: row.types,
    sdk: row.sdk,
    sessionId: row.sessionId,
    connectedAt: row.connectedAt,
    lastSeenAt: row.lastSeenAt,
    disconnectedAt: row.disconnectedAt,
    serverId: row.serverId,
    state: row.state,
  };
}

/** A `servers` row as a {@link ServerRecord}. */
export function toServerRecord(row: ServerRow): ServerRecord {
  return {
    id: row.id,
    host: row.host,
    pid: row.pid,
    version: row.version,
    address: row.address,
    state: row.state,
    startedAt: row.startedAt,
    lastHeartbeatAt: row.lastHeartbeatAt,
    workerCount: row.workerCount,
  };
}

/** A `queue_settings` row as a {@link QueueSettingsRecord}. */
export function toQueueSettingsRecord(row: QueueSettingsRow): QueueSettingsRecord {
  return { queue: row.queue, pausedAt: row.pausedAt, updatedAt: row.updatedAt };
}

/** A `schedules` row as a {@link ScheduleRecord}. */
export function toScheduleRecord(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    spec: row.spec,
    type: row.type,
    inputTypeUrl: row.inputTypeUrl,
    input: row.input,
    options: row.options,
    overlap: row.overlap,
    catchUp: row.catchUp,
    catchUpLimit: row.catchUpLimit,
    description: row.description,
    pausedAt: row.pausedAt,
    nextFireAt: row.nextFireAt,
    lastFireAt: row.lastFireAt,
    lastTaskId: row.lastTaskId,
    lastError: row.lastError,
    source: row.source,
    declaredHash: row.declaredHash,
    revision: row.revision,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** `records` in the order of `ids` (as asked by the caller), whatever order PostgreSQL returned them in. */
export function inOrderOf<T extends { id: string }>(ids: readonly string[], records: T[]): T[] {
  const position = new Map<string, number>();
  ids.forEach((id, index) => {
    const key = id.toLowerCase();
    if (!position.has(key)) position.set(key, index);
  });
  return records.sort((a, b) => (position.get(a.id) ?? 0) - (position.get(b.id) ?? 0));
}

/** Compares records by id: UUIDv7 order, which is submission order. */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
