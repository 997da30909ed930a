/**
 * The store is the durable record of every task, task type and worker: PostgreSQL through
 * Drizzle (postgres.js in production, PGlite for the embedded default), same schema, same
 * migrations. Every change of a running task is fenced by its attempt: a late or duplicate
 * report can never overwrite a newer state.
 */
import type {
  NewTask,
  ProgressWrite,
  TaskRecord,
  TaskStateName,
  TaskTypeRecord,
  TaskTypeSummary,
  WorkerRecord,
  ServerRecord,
  QueueSettingsRecord,
} from "../core/task-types.js";
import type { ScheduleRecord, ScheduleView } from "../core/schedule-types.js";
import type { AppendedLogs, NewTaskLogLine, TaskLogBounds, TaskLogPage, TaskLogQuery } from "../core/task-logs.js";
import type { LimitOverrideRecord, LimitScope, LimitValues } from "../core/dispatch-limits.js";
import type { NewSchedule } from "./queries/schedules.js";
import type { ScheduleFire } from "./queries/fire-schedule.js";

export type { NewSchedule } from "./queries/schedules.js";
export type { ScheduleFire } from "./queries/fire-schedule.js";

export type { AttemptOutcome, AttemptStartInfo, AttemptStart, StartWrite, AttemptEnd, NotStarted, StartedAttempts } from "./attempts.js";
import type { AttemptOutcome, AttemptStart, StartWrite, StartedAttempts } from "./attempts.js";

/** A dependent task released by its parents, for the reconciler (`listReleased`): with the time it was released. */
export type ReleasedTask = IndexableTask & { updatedAt: Date };

/** What the dispatch index needs of an unfinished task (`listIndexable`). */
export type IndexableTask = Pick<TaskRecord, "id" | "type" | "queue" | "priority" | "state" | "scheduledAt" | "attempt" | "workerId" | "concurrencyKey">;

/**
 * Which tasks a count or a bulk action takes (AdminService's `TaskSelector`, or ids). Every
 * field narrows the selection; `ids` (at most 10,000) may be combined with the rest. An empty
 * list (`ids`, `states`, `excludeTypes`) narrows nothing, as an absent one; ids that are not
 * UUIDs match no task. A bulk action's own states always bound `states` (see each action).
 */
export interface TaskSelection {
  ids?: readonly string[];
  states?: readonly TaskStateName[];
  type?: string;
  queue?: string;
  /** Finished at or after. */
  finishedAfter?: Date;
  /** Finished strictly before. */
  finishedBefore?: Date;
  /** Created strictly before. */
  createdBefore?: Date;
  /** Only the tasks carrying every one of these labels, with these values (`labels @>`, the GIN index). */
  labels?: Readonly<Record<string, string>>;
  /** Tasks of none of these types (the server-wide retention skips types with their own). */
  excludeTypes?: readonly string[];
}

/** One group of `countTasks`. */
export interface TaskCountRow {
  state: TaskStateName;
  /** Set when grouped by type. */
  type?: string;
  /** Set when grouped by queue. */
  queue?: string;
  count: number;
}

/** A task a worker runs now (`WorkerView.running`). */
export interface RunningRef {
  taskId: string;
  attempt: number;
  type: string;
  queue: string;
  startedAt: Date | null;
}

/** A worker as the fleet sees it: its record and the attempts it runs (from the tasks table). */
export interface WorkerView extends WorkerRecord {
  running: RunningRef[];
}

/** One minute's activity of the fleet (`task_minute_stats`): the sum of every server's counts. */
export interface MinuteStatsRecord {
  /** The minute's start. */
  minute: Date;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Attempts started. */
  started: number;
  /** Queue waits of the attempts started, one count per bucket (`WAIT_BUCKETS_MS`, then longer). */
  waitBuckets: number[];
}

/** Figures of one queue, from PostgreSQL (`queueStats`). */
export interface QueueStatsRecord {
  queue: string;
  scheduled: number;
  queued: number;
  /** RUNNING and CANCELLING. */
  running: number;
  /** Creation time of the oldest QUEUED task; null when none. */
  oldestQueuedAt: Date | null;
  succeededLastMinute: number;
  failedLastMinute: number;
  succeededLastHour: number;
  failedLastHour: number;
}

/** Who owns a task type (`task_type_owners`). */
export interface TaskTypeOwner {
  /** The principal (`key:<id>` or `group:<name>`); null after an operator's reset. */
  owner: string | null;
  /** An operator reset the type: its next declaration may change its input and output messages. */
  contractReset: boolean;
}

/** Filter and page of `listTasks`. */
export interface TaskFilter {
  states?: readonly TaskStateName[];
  type?: string;
  queue?: string;
  /** Only the tasks submitted by this API key id (a client key lists its own). */
  submittedBy?: string;
  /** Only the tasks carrying every one of these labels, with these values. */
  labels?: Readonly<Record<string, string>>;
  /** Only the tasks that depend on this task (a UUID). */
  parentId?: string;
  /** Only the tasks created at or after this time. */
  createdAfter?: Date;
  /** Only the tasks created strictly before this time. */
  createdBefore?: Date;
  /** 1 to 1000. */
  limit: number;
  /** Return tasks older than this id (UUIDv7 order); absent: from the newest. */
  beforeId?: string;
}

/** A parent of an assigned task, as `getParents` reads it. */
export interface ParentRecord {
  id: string;
  type: string;
  state: TaskStateName;
  outputTypeUrl: string | null;
  /** Null when it did not succeed, or its output is over the size asked for. */
  output: Uint8Array | null;
  /** Size of its output; 0 when none. */
  outputBytes: number;
}

/** What `cancelTask` did. */
export type CancelOutcome =
  /** Was waiting (for its parents or a slot); now CANCELLED, with the children that changed with it. */
  | { kind: "cancelled"; task: TaskRecord; children: TaskRecord[] }
  /** Was running; now CANCELLING until its worker reports. */
  | { kind: "cancelling"; task: TaskRecord }
  /** Already finished: refused. */
  | { kind: "finished"; task: TaskRecord };

export interface TaskStore {
  /** Applies pending migrations (idempotent; safe with several servers starting at once). */
  migrate(): Promise<void>;

  /**
   * Inserts tasks in one statement. A task whose idempotency key exists is not inserted; the
   * existing task is returned with `existing: true`. Results are in input order. A batch of
   * which a task names parents (`NewTask.dependsOn`) is inserted in one transaction that also
   * locks and counts the parents (`queries/dependencies.ts`); an unknown parent (or one outside
   * `dependsOn.ownerScope`) refuses it whole with `NotFoundError`.
   */
  insertTasks(tasks: readonly NewTask[]): Promise<{ task: TaskRecord; existing: boolean }[]>;

  getTask(id: string): Promise<TaskRecord | undefined>;

  getTasks(ids: readonly string[]): Promise<TaskRecord[]>;

  /** Tasks newest first, with the number matching the filter. */
  listTasks(filter: TaskFilter): Promise<{ tasks: TaskRecord[]; total: number }>;

  /**
   * Starts an attempt of each task that is still waiting (QUEUED, or SCHEDULED and due) and
   * whose type is in `types`: state RUNNING, attempt + 1, worker and start time set. Tasks in
   * any other state (cancelled meanwhile) or of another type are skipped.
   * @returns the started tasks with their new attempt numbers, and what the others were.
   */
  startAttempts(ids: readonly string[], workerId: string, now: Date, types: readonly string[]): Promise<StartedAttempts>;

  /**
   * Like {@link startAttempts}, without writing: the tasks still waiting whose type is in
   * `types`, read in one statement and returned as they are once started (RUNNING, the next
   * attempt as `core/attempt-numbers.ts` numbers it against `indexBuiltAt`, the worker, `now`).
   * Their starts are written later with {@link recordStarts}, or with their outcomes
   * (`AttemptOutcome.start`).
   */
  beginAttempts(ids: readonly string[], workerId: string, now: Date, types: readonly string[], indexBuiltAt: Date): Promise<StartedAttempts>;

  /**
   * Writes attempts' starts in one statement, each fenced by a waiting state and a stored
   * attempt below its own. @returns one {@link StartWrite} per start, in order.
   */
  recordStarts(starts: readonly AttemptStart[]): Promise<StartWrite[]>;

  /**
   * Records how attempts ended, in one statement, each fenced by `(id, attempt)` and a state of
   * RUNNING or CANCELLING. A failure that is retryable with attempts left goes to SCHEDULED at
   * now + back-off (with jitter); otherwise FAILED. Any outcome of a CANCELLING task other than
   * success ends it CANCELLED.
   * A task that finished releases or cancels its WAITING children in the same transaction
   * (`queries/dependencies.ts`).
   * @returns the tasks that changed, after the change; outcomes left out were stale and ignored.
   *   The children released (QUEUED, SCHEDULED) or cancelled follow, after the tasks of the outcomes.
   */
  finishAttempts(outcomes: readonly AttemptOutcome[], now: Date): Promise<TaskRecord[]>;

  /**
   * Persists the last progress and context of running attempts, in one statement, fenced by
   * `(id, attempt)` and a held state. @returns ids updated.
   */
  saveProgress(updates: readonly ProgressWrite[]): Promise<string[]>;

  /**
   * Stores log lines of tasks within each task's bounds, counting the lines past them as
   * dropped (`queries/task-logs.ts`). Lines of unknown tasks are not stored.
   */
  appendLogs(lines: readonly NewTaskLogLine[], bounds: TaskLogBounds): Promise<AppendedLogs>;

  /** A task's stored lines after a cursor, oldest first, with its totals; undefined when no such task. */
  readLogs(query: TaskLogQuery): Promise<TaskLogPage | undefined>;

  /** SCHEDULED tasks whose time came become QUEUED. @returns ids changed. */
  markQueued(ids: readonly string[], now: Date): Promise<string[]>;

  /**
   * Cancels a task: see {@link CancelOutcome}. Undefined when no such task. A task cancelled at
   * once cancels (or releases, by their policy) its WAITING children in the same transaction:
   * they are in the outcome's `children`.
   */
  cancelTask(id: string, reason: string, now: Date): Promise<CancelOutcome | undefined>;

  /**
   * The tasks of `ids` (parents of assigned tasks), with their outputs when at most
   * `maxOutputBytes` (larger ones: `output` null, `outputBytes` says how large).
   */
  getParents(ids: readonly string[], maxOutputBytes: number): Promise<Map<string, ParentRecord>>;

  /**
   * Tasks the broker must index: QUEUED, SCHEDULED, RUNNING and CANCELLING, oldest first, by
   * pages of ids greater than `afterId` (and less than `beforeId` when given); only the columns
   * the index needs (a rebuild reads them all).
   */
  listIndexable(afterId: string | undefined, limit: number, beforeId?: string): Promise<IndexableTask[]>;

  /**
   * Dependent tasks released by a parent's outcome (QUEUED or SCHEDULED) whose last change is in
   * `[since, until)`, oldest change first, at most `limit`: the reconciler's look at tasks whose
   * ids are older than its windows (`queries/dependencies.ts`).
   */
  listReleased(since: Date, until: Date, limit: number): Promise<ReleasedTask[]>;

  // --- Operator views and bulk actions (AdminService). Each bulk call acts on at most `limit`
  // tasks in one short transaction, skipping rows locked by a concurrent call (`for update
  // skip locked`), so two servers running the same action split the work; callers loop until a
  // call returns fewer than `limit`.

  /** Counts by state, and by type and/or queue when asked. Non-zero groups only. */
  countTasks(selection: TaskSelection, groupBy: { type: boolean; queue: boolean }): Promise<TaskCountRow[]>;

  /**
   * FAILED or CANCELLED tasks of the selection back to QUEUED, runnable now, with a fresh
   * attempt budget (`max_attempts = attempt + original budget`), output and finish
   * time cleared, the errors kept. @returns the tasks changed, to index.
   */
  retryTasks(selection: TaskSelection, limit: number, now: Date): Promise<TaskRecord[]>;

  /**
   * WAITING, QUEUED or SCHEDULED tasks of the selection to CANCELLED, with the release of their
   * children in the same transaction. @returns the tasks changed (the children changed with them
   * included), to remove from (or add to) the index.
   */
  cancelWaiting(selection: TaskSelection, limit: number, now: Date): Promise<TaskRecord[]>;

  /** RUNNING tasks of the selection to CANCELLING. @returns the tasks changed, whose workers are to be told. */
  markCancelling(selection: TaskSelection, limit: number, now: Date): Promise<TaskRecord[]>;

  /** Deletes finished tasks of the selection (only terminal states are ever deleted). @returns how many. */
  deleteFinished(selection: TaskSelection, limit: number): Promise<number>;

  /**
   * Figures per queue: every queue with an unfinished task or one finished in the last hour, by
   * name; or exactly `queues`, in the order given, each once, with zeros for a queue without tasks.
   */
  queueStats(now: Date, queues?: readonly string[]): Promise<QueueStatsRecord[]>;

  /** Every queue that has settings (paused ones among them). */
  listQueueSettings(): Promise<QueueSettingsRecord[]>;

  /** The limits operators set on task types and queues, types first, each by name. */
  listDispatchLimits(): Promise<LimitOverrideRecord[]>;

  /** Sets the fields `patch` gives (others kept) on one type's or queue's limits. @returns them after the change. */
  setDispatchLimit(scope: LimitScope, name: string, patch: LimitValues, now: Date): Promise<LimitOverrideRecord>;

  /** Drops the limits an operator set on one type or queue. @returns whether there were any. */
  clearDispatchLimit(scope: LimitScope, name: string): Promise<boolean>;

  /** How many QUEUED tasks of the task's queue come before it (higher priority, or earlier): ExplainTask. */
  countQueuedAhead(task: { id: string; queue: string; priority: number }): Promise<number>;

  /** Adds each record's counts to its minute's row (summed with what other servers added). */
  addMinuteStats(records: readonly MinuteStatsRecord[]): Promise<void>;

  /** The minutes from `since` on that have counts, oldest first. */
  readMinuteStats(since: Date): Promise<MinuteStatsRecord[]>;

  /** Deletes the counts of minutes before `before`. @returns how many minutes. */
  pruneMinuteStats(before: Date): Promise<number>;

  /**
   * Pauses (`pausedAt` set) or resumes (`null`) a queue. Pausing a paused queue keeps the time
   * of the first pause; resuming a queue that has no settings writes nothing.
   * @returns its settings after the change.
   */
  setQueuePaused(queue: string, pausedAt: Date | null, now: Date): Promise<QueueSettingsRecord>;

  /** Workers, connected ones only unless `includeDisconnected`; only those serving `queue` when given. */
  listWorkers(filter: { includeDisconnected: boolean; queue?: string }): Promise<WorkerView[]>;

  getWorker(id: string): Promise<WorkerView | undefined>;

  /** Marks a connected worker DRAINING (fenced by its session, as `markWorkerDisconnected`). */
  markWorkerDraining(id: string, sessionId: string): Promise<void>;

  /** Deletes workers whose stream closed before `before`. @returns how many. */
  pruneWorkers(before: Date, limit: number): Promise<number>;

  /** Registers a server or records its heartbeat (state, worker count, time). */
  upsertServer(server: ServerRecord): Promise<void>;

  /** Servers that heart-beat at or after `seenSince`, oldest start first. */
  listServers(seenSince: Date): Promise<ServerRecord[]>;

  /** Deletes servers whose last heartbeat is before `before` (and the row of a server that stopped: `id`). @returns how many. */
  pruneServers(before: Date): Promise<number>;

  /** Deletes one server's row (it stopped cleanly). */
  deleteServer(id: string): Promise<void>;

  /**
   * Of the given task ids, those in CANCELLING, with their current attempt: the cancel sweep
   * asks about the attempts its workers hold, in case a control message was lost. By primary
   * key, only the two columns.
   */
  cancellingAmong(ids: readonly string[]): Promise<{ id: string; attempt: number }[]>;

  /**
   * Adds or updates catalog entries (last declaration wins). Each distinct descriptor set
   * (`descriptorSet`, the SHA-256 of `descriptors`) is stored once, however many types share it.
   */
  upsertTaskTypes(types: readonly Omit<TaskTypeRecord, "updatedAt">[], now: Date): Promise<void>;

  /** One catalog entry, with its descriptor set's bytes. */
  getTaskType(name: string): Promise<TaskTypeRecord | undefined>;

  /** The whole catalog by name, without descriptor bytes: each entry names its set by hash. */
  listTaskTypes(): Promise<TaskTypeSummary[]>;

  /** The bytes of the descriptor sets of these hashes (`TaskTypeSummary.descriptorSet`) that exist. */
  getDescriptorSets(hashes: readonly string[]): Promise<Map<string, Uint8Array>>;

  /**
   * Records a worker's connection. With `owner` (a principal: `key:<id>` or `group:<name>`), the
   * worker id is bound to it when bound to none, and nothing is written when it is bound to
   * another; without, its binding is left as it is.
   * @returns false when the id is bound to another principal (nothing written).
   */
  upsertWorker(worker: WorkerRecord, owner?: string): Promise<boolean>;

  /** The principal a worker id is bound to: null when none, undefined when no worker ever had the id. */
  workerOwner(id: string): Promise<string | null | undefined>;

  /** The stored owners of task types, by name; a name nobody claimed is left out. */
  getTaskTypeOwners(names: readonly string[]): Promise<Map<string, TaskTypeOwner>>;

  /**
   * Claims task types for `owner`, all or none: a type without an owner becomes its, a type it
   * owns stays its, and an operator's contract reset is used up. With `owner` null (an admin
   * key's declaration) nothing is claimed and resets are used up.
   * @returns the names another principal owns; then nothing was written.
   */
  claimTaskTypes(names: readonly string[], owner: string | null, now: Date): Promise<string[]>;

  /** Sets a type's owner (`owner` a principal), or resets it (`owner` null, `contractReset` true). */
  setTaskTypeOwner(name: string, owner: string | null, contractReset: boolean, now: Date): Promise<void>;

  /** Marks workers seen now (heartbeats), in one statement. */
  touchWorkers(ids: readonly string[], now: Date): Promise<void>;

  /** Marks a worker's stream closed. */
  markWorkerDisconnected(id: string, sessionId: string, now: Date): Promise<void>;

  /** Connected workers serving each type (seen within `seenSince`). */
  countWorkersByType(seenSince: Date): Promise<Map<string, number>>;

  // --- Schedules (ScheduleService, worker declarations, the scheduler duty): see
  // `queries/schedules.ts` and `queries/fire-schedule.ts`. Every write bumps the revision.

  /** Creates a schedule. @returns false when the id is taken (nothing written). */
  createSchedule(schedule: NewSchedule, now: Date): Promise<boolean>;

  /**
   * Creates the schedule or replaces its definition; an existing one keeps its pause, its last
   * fire and, when its spec is unchanged, its next fire time. @returns whether it was created.
   */
  upsertSchedule(schedule: NewSchedule, now: Date): Promise<boolean>;

  /** Upserts worker-declared schedules, each only if its declaration changed (`declaredHash`). @returns the ids written. */
  declareSchedules(schedules: readonly NewSchedule[], now: Date): Promise<string[]>;

  /** Replaces the definition of an existing schedule, as `upsertSchedule`. @returns false when none has the id. */
  updateSchedule(schedule: NewSchedule, now: Date): Promise<boolean>;

  /** Pauses (`pausedAt`) or resumes (null, firing from `nextFireAt`) a schedule. @returns false when none has the id. */
  setSchedulePaused(id: string, pausedAt: Date | null, nextFireAt: Date | null, now: Date): Promise<boolean>;

  /** Deletes a schedule (its tasks stay). @returns false when none has the id. */
  deleteSchedule(id: string): Promise<boolean>;

  /** One schedule with its last task's state. */
  getSchedule(id: string): Promise<ScheduleView | undefined>;

  /** Schedules by id, after `afterId`, of one type when given. */
  listSchedules(filter: { type?: string; afterId?: string; limit: number }): Promise<ScheduleView[]>;

  /** Active schedules due at `now`, soonest first. */
  dueSchedules(now: Date, limit: number): Promise<ScheduleRecord[]>;

  /**
   * A fire in one transaction: the schedule advanced (fenced by its revision) and its tasks
   * inserted under their fire keys. @returns the tasks, or undefined when the revision moved.
   */
  fireSchedule(fire: ScheduleFire): Promise<{ task: TaskRecord; existing: boolean }[] | undefined>;

  /** Answers when PostgreSQL can be reached; throws otherwise. */
  ping(): Promise<void>;

  /** Closes the connection pool; safe to call twice. */
  close(): Promise<void>;
}
