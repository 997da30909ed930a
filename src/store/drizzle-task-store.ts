/**
 * The {@link TaskStore} over any Drizzle PostgreSQL database: postgres.js in production
 * (`createPostgresStore`), PGlite for the embedded mode. Driver-specific code (building the
 * client, closing it) stays in the factories; everything here is the query builder and `sql`.
 *
 * Each operation's SQL lives in `queries/<operation>.ts` with the reasons for its strategy; this
 * class adds the one error boundary: PostgreSQL unreachable → `UnavailableError`, and, with
 * `operationTimeoutMs`, PostgreSQL silent for that long → `UnavailableError` too (a hung server
 * answers nothing, not even an error).
 */
import { eq, sql } from "drizzle-orm";
import type { Logger } from "../core/logger.js";
import type {
  NewTask,
  QueueSettingsRecord,
  ServerRecord,
  ProgressWrite,
  TaskRecord,
  TaskTypeRecord,
  TaskTypeSummary,
  WorkerRecord,
} from "../core/task-types.js";
import type { ScheduleRecord, ScheduleView } from "../core/schedule-types.js";
import type { TaskwireDatabase } from "./database.js";
import { migrate } from "./migrate.js";
import { cancelTask } from "./queries/cancel-task.js";
import { cancelWaiting, markCancelling } from "./queries/cancel-tasks.js";
import { cancellingAmong } from "./queries/cancelling-among.js";
import { countTasks } from "./queries/count-tasks.js";
import { deleteFinished } from "./queries/delete-finished.js";
import { finishAttempts } from "./queries/finish-attempts.js";
import { beginAttempts, recordStarts } from "./queries/lazy-starts.js";
import { fireSchedule, type ScheduleFire } from "./queries/fire-schedule.js";
import { insertTasks } from "./queries/insert-tasks.js";
import { getParents, insertDependent, listReleased } from "./queries/dependencies.js";
import { listIndexable } from "./queries/list-indexable.js";
import { listTasks } from "./queries/list-tasks.js";
import { markQueued } from "./queries/mark-queued.js";
import { listQueueSettings, setQueuePaused } from "./queries/queue-settings.js";
import { clearDispatchLimit, listDispatchLimits, setDispatchLimit } from "./queries/dispatch-limits.js";
import { countQueuedAhead } from "./queries/queued-ahead.js";
import type { LimitOverrideRecord, LimitScope, LimitValues } from "../core/dispatch-limits.js";
import { queueStats } from "./queries/queue-stats.js";
import { addMinuteStats, pruneMinuteStats, readMinuteStats } from "./queries/minute-stats.js";
import { retryTasks } from "./queries/retry-tasks.js";
import { saveProgress } from "./queries/save-progress.js";
import { appendLogs, readLogs } from "./queries/task-logs.js";
import type { AppendedLogs, NewTaskLogLine, TaskLogBounds, TaskLogPage, TaskLogQuery } from "../core/task-logs.js";
import {
  createSchedule,
  declareSchedules,
  deleteSchedule,
  dueSchedules,
  getSchedule,
  listSchedules,
  setSchedulePaused,
  updateSchedule,
  upsertSchedule,
  type NewSchedule,
} from "./queries/schedules.js";
import { deleteServer, listServers, pruneServers, upsertServer } from "./queries/servers.js";
import { startAttempts } from "./queries/start-attempts.js";
import { getDescriptorSets, getTaskType, listTaskTypes, upsertTaskTypes } from "./queries/task-types.js";
import {
  countWorkersByType,
  getWorker,
  listWorkers,
  markWorkerDisconnected,
  markWorkerDraining,
  pruneWorkers,
  touchWorkers,
  upsertWorker,
  workerOwner,
} from "./queries/workers.js";
import { claimTaskTypes, getTaskTypeOwners, setTaskTypeOwner } from "./queries/task-type-owners.js";
import { inOrderOf, toTaskRecord } from "./records.js";
import { tasks } from "./schema.js";
import { anyOf, isUuid } from "./sql-helpers.js";
import { toStoreError, withinTimeout } from "./store-errors.js";
import type {
  AttemptOutcome,
  AttemptStart,
  StartWrite,
  CancelOutcome,
  IndexableTask,
  ParentRecord,
  ReleasedTask,
  MinuteStatsRecord,
  QueueStatsRecord,
  StartedAttempts,
  TaskCountRow,
  TaskFilter,
  TaskSelection,
  TaskStore,
  TaskTypeOwner,
  WorkerView,
} from "./store.js";

/** What a {@link DrizzleTaskStore} needs besides its database. */
export interface DrizzleTaskStoreOptions {
  /** The PostgreSQL schema holding the tables; the database's connections must search it. */
  schema: string;
  logger: Logger;
  /** Releases the driver (closes the pool); called once by `close()`. */
  close: () => Promise<void>;
  /**
   * How long an operation may wait for PostgreSQL before it fails with `UnavailableError`
   * (`STORE_UNAVAILABLE`); `migrate` is exempt. The operation itself is not stopped: a statement
   * sent to a PostgreSQL that hangs may still run once it answers again (see `ServerConfig.databaseTimeoutMs`).
   * @default none: wait as long as the driver does
   */
  operationTimeoutMs?: number;
}

/** A {@link TaskStore} on a Drizzle database; see the file header. */
export class DrizzleTaskStore implements TaskStore {
  readonly #db: TaskwireDatabase;
  readonly #options: DrizzleTaskStoreOptions;
  #closing: Promise<void> | undefined;

  constructor(db: TaskwireDatabase, options: DrizzleTaskStoreOptions) {
    this.#db = db;
    this.#options = options;
  }

  async migrate(): Promise<void> {
    // Migrations may wait for another server's (advisory lock) and build indexes on big tables: no timeout.
    await this.#run("migrate", () => migrate(this.#db, { schema: this.#options.schema, logger: this.#options.logger }), false);
  }

  insertTasks(batch: readonly NewTask[]): Promise<{ task: TaskRecord; existing: boolean }[]> {
    // A batch naming parents is inserted with their lock and count, in one transaction.
    const dependent = batch.some((task) => task.dependsOn !== undefined);
    return this.#run("insertTasks", () => (dependent ? insertDependent(this.#db, batch) : insertTasks(this.#db, batch)));
  }

  listReleased(since: Date, until: Date, limit: number): Promise<ReleasedTask[]> {
    return this.#run("listReleased", () => listReleased(this.#db, since, until, limit));
  }

  getParents(ids: readonly string[], maxOutputBytes: number): Promise<Map<string, ParentRecord>> {
    return this.#run("getParents", () => getParents(this.#db, ids.filter(isUuid), maxOutputBytes));
  }

  getTask(id: string): Promise<TaskRecord | undefined> {
    return this.#run("getTask", async () => {
      if (!isUuid(id)) return undefined;
      const [row] = await this.#db.select().from(tasks).where(eq(tasks.id, id));
      return row && toTaskRecord(row);
    });
  }

  getTasks(ids: readonly string[]): Promise<TaskRecord[]> {
    return this.#run("getTasks", async () => {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return [];
      const rows = await this.#db.select().from(tasks).where(anyOf(tasks.id, valid, "uuid"));
      return inOrderOf(valid, rows.map(toTaskRecord));
    });
  }

  listTasks(filter: TaskFilter): Promise<{ tasks: TaskRecord[]; total: number }> {
    return this.#run("listTasks", () => listTasks(this.#db, filter));
  }

  startAttempts(ids: readonly string[], workerId: string, now: Date, types: readonly string[]): Promise<StartedAttempts> {
    return this.#run("startAttempts", () => startAttempts(this.#db, ids, workerId, now, types));
  }

  beginAttempts(ids: readonly string[], workerId: string, now: Date, types: readonly string[], indexBuiltAt: Date): Promise<StartedAttempts> {
    return this.#run("beginAttempts", () => beginAttempts(this.#db, ids, workerId, now, types, indexBuiltAt));
  }

  recordStarts(starts: readonly AttemptStart[]): Promise<StartWrite[]> {
    return this.#run("recordStarts", () => recordStarts(this.#db, starts));
  }

  finishAttempts(outcomes: readonly AttemptOutcome[], now: Date): Promise<TaskRecord[]> {
    return this.#run("finishAttempts", () => finishAttempts(this.#db, outcomes, now));
  }

  saveProgress(updates: readonly ProgressWrite[]): Promise<string[]> {
    return this.#run("saveProgress", () => saveProgress(this.#db, updates));
  }

  appendLogs(lines: readonly NewTaskLogLine[], bounds: TaskLogBounds): Promise<AppendedLogs> {
    return this.#run("appendLogs", () => appendLogs(this.#db, lines, bounds));
  }

  readLogs(query: TaskLogQuery): Promise<TaskLogPage | undefined> {
    return this.#run("readLogs", () => readLogs(this.#db, query));
  }

  markQueued(ids: readonly string[], now: Date): Promise<string[]> {
    return this.#run("markQueued", () => markQueued(this.#db, ids, now));
  }

  cancelTask(id: string, reason: string, now: Date): Promise<CancelOutcome | undefined> {
    return this.#run("cancelTask", async () => {
      const outcome = await cancelTask(this.#db, id, now);
      if (outcome && outcome.kind !== "finished") {
        this.#options.logger.debug({ taskId: id, state: outcome.task.state, reason }, "task cancel recorded");
      }
      return outcome;
    });
  }

  listIndexable(afterId: string | undefined, limit: number, beforeId?: string): Promise<IndexableTask[]> {
    return this.#run("listIndexable", () => listIndexable(this.#db, afterId, limit, beforeId));
  }

  countTasks(selection: TaskSelection, groupBy: { type: boolean; queue: boolean }): Promise<TaskCountRow[]> {
    return this.#run("countTasks", () => countTasks(this.#db, selection, groupBy));
  }

  retryTasks(selection: TaskSelection, limit: number, now: Date): Promise<TaskRecord[]> {
    return this.#run("retryTasks", () => retryTasks(this.#db, selection, limit, now));
  }

  cancelWaiting(selection: TaskSelection, limit: number, now: Date): Promise<TaskRecord[]> {
    return this.#run("cancelWaiting", () => cancelWaiting(this.#db, selection, limit, now));
  }

  markCancelling(selection: TaskSelection, limit: number, now: Date): Promise<TaskRecord[]> {
    return this.#run("markCancelling", () => markCancelling(this.#db, selection, limit, now));
  }

  deleteFinished(selection: TaskSelection, limit: number): Promise<number> {
    return this.#run("deleteFinished", () => deleteFinished(this.#db, selection, limit));
  }

  queueStats(now: Date, queues?: readonly string[]): Promise<QueueStatsRecord[]> {
    return this.#run("queueStats", () => queueStats(this.#db, now, queues));
  }

  listQueueSettings(): Promise<QueueSettingsRecord[]> {
    return this.#run("listQueueSettings", () => listQueueSettings(this.#db));
  }

  listDispatchLimits(): Promise<LimitOverrideRecord[]> {
    return this.#run("listDispatchLimits", () => listDispatchLimits(this.#db));
  }

  setDispatchLimit(scope: LimitScope, name: string, patch: LimitValues, now: Date): Promise<LimitOverrideRecord> {
    return this.#run("setDispatchLimit", () => setDispatchLimit(this.#db, scope, name, patch, now));
  }

  clearDispatchLimit(scope: LimitScope, name: string): Promise<boolean> {
    return this.#run("clearDispatchLimit", () => clearDispatchLimit(this.#db, scope, name));
  }

  countQueuedAhead(task: { id: string; queue: string; priority: number }): Promise<number> {
    return this.#run("countQueuedAhead", () => countQueuedAhead(this.#db, task));
  }

  addMinuteStats(records: readonly MinuteStatsRecord[]): Promise<void> {
    return this.#run("addMinuteStats", () => addMinuteStats(this.#db, records));
  }

  readMinuteStats(since: Date): Promise<MinuteStatsRecord[]> {
    return this.#run("readMinuteStats", () => readMinuteStats(this.#db, since));
  }

  pruneMinuteStats(before: Date): Promise<number> {
    return this.#run("pruneMinuteStats", () => pruneMinuteStats(this.#db, before));
  }

  setQueuePaused(queue: string, pausedAt: Date | null, now: Date): Promise<QueueSettingsRecord> {
    return this.#run("setQueuePaused", () => setQueuePaused(this.#db, queue, pausedAt, now));
  }

  cancellingAmong(ids: readonly string[]): Promise<{ id: string; attempt: number }[]> {
    return this.#run("cancellingAmong", () => cancellingAmong(this.#db, ids));
  }

  upsertTaskTypes(types: readonly Omit<TaskTypeRecord, "updatedAt">[], now: Date): Promise<void> {
    return this.#run("upsertTaskTypes", () => upsertTaskTypes(this.#db, types, now));
  }

  getTaskType(name: string): Promise<TaskTypeRecord | undefined> {
    return this.#run("getTaskType", () => getTaskType(this.#db, name));
  }

  listTaskTypes(): Promise<TaskTypeSummary[]> {
    return this.#run("listTaskTypes", () => listTaskTypes(this.#db));
  }

  getDescriptorSets(hashes: readonly string[]): Promise<Map<string, Uint8Array>> {
    return this.#run("getDescriptorSets", () => getDescriptorSets(this.#db, hashes));
  }

  upsertWorker(worker: WorkerRecord, owner?: string): Promise<boolean> {
    return this.#run("upsertWorker", () => upsertWorker(this.#db, worker, owner));
  }

  workerOwner(id: string): Promise<string | null | undefined> {
    return this.#run("workerOwner", () => workerOwner(this.#db, id));
  }

  getTaskTypeOwners(names: readonly string[]): Promise<Map<string, TaskTypeOwner>> {
    return this.#run("getTaskTypeOwners", () => getTaskTypeOwners(this.#db, names));
  }

  claimTaskTypes(names: readonly string[], owner: string | null, now: Date): Promise<string[]> {
    return this.#run("claimTaskTypes", () => claimTaskTypes(this.#db, names, owner, now));
  }

  setTaskTypeOwner(name: string, owner: string | null, contractReset: boolean, now: Date): Promise<void> {
    return this.#run("setTaskTypeOwner", () => setTaskTypeOwner(this.#db, name, owner, contractReset, now));
  }

  touchWorkers(ids: readonly string[], now: Date): Promise<void> {
    return this.#run("touchWorkers", () => touchWorkers(this.#db, ids, now));
  }

  markWorkerDisconnected(id: string, sessionId: string, now: Date): Promise<void> {
    return this.#run("markWorkerDisconnected", () => markWorkerDisconnected(this.#db, id, sessionId, now));
  }

  countWorkersByType(seenSince: Date): Promise<Map<string, number>> {
    return this.#run("countWorkersByType", () => countWorkersByType(this.#db, seenSince));
  }

  listWorkers(filter: { includeDisconnected: boolean; queue?: string }): Promise<WorkerView[]> {
    return this.#run("listWorkers", () => listWorkers(this.#db, filter));
  }

  getWorker(id: string): Promise<WorkerView | undefined> {
    return this.#run("getWorker", () => getWorker(this.#db, id));
  }

  markWorkerDraining(id: string, sessionId: string): Promise<void> {
    return this.#run("markWorkerDraining", () => markWorkerDraining(this.#db, id, sessionId));
  }

  pruneWorkers(before: Date, limit: number): Promise<number> {
    return this.#run("pruneWorkers", () => pruneWorkers(this.#db, before, limit));
  }

  upsertServer(server: ServerRecord): Promise<void> {
    return this.#run("upsertServer", () => upsertServer(this.#db, server));
  }

  listServers(seenSince: Date): Promise<ServerRecord[]> {
    return this.#run("listServers", () => listServers(this.#db, seenSince));
  }

  pruneServers(before: Date): Promise<number> {
    return this.#run("pruneServers", () => pruneServers(this.#db, before));
  }

  deleteServer(id: string): Promise<void> {
    return this.#run("deleteServer", () => deleteServer(this.#db, id));
  }

  createSchedule(schedule: NewSchedule, now: Date): Promise<boolean> {
    return this.#run("createSchedule", () => createSchedule(this.#db, schedule, now));
  }

  upsertSchedule(schedule: NewSchedule, now: Date): Promise<boolean> {
    return this.#run("upsertSchedule", () => upsertSchedule(this.#db, schedule, now));
  }

  declareSchedules(declared: readonly NewSchedule[], now: Date): Promise<string[]> {
    return this.#run("declareSchedules", () => declareSchedules(this.#db, declared, now));
  }

  updateSchedule(schedule: NewSchedule, now: Date): Promise<boolean> {
    return this.#run("updateSchedule", () => updateSchedule(this.#db, schedule, now));
  }

  setSchedulePaused(id: string, pausedAt: Date | null, nextFireAt: Date | null, now: Date): Promise<boolean> {
    return this.#run("setSchedulePaused", () => setSchedulePaused(this.#db, id, pausedAt, nextFireAt, now));
  }

  deleteSchedule(id: string): Promise<boolean> {
    return this.#run("deleteSchedule", () => deleteSchedule(this.#db, id));
  }

  getSchedule(id: string): Promise<ScheduleView | undefined> {
    return this.#run("getSchedule", () => getSchedule(this.#db, id));
  }

  listSchedules(filter: { type?: string; afterId?: string; limit: number }): Promise<ScheduleView[]> {
    return this.#run("listSchedules", () => listSchedules(this.#db, filter));
  }

  dueSchedules(now: Date, limit: number): Promise<ScheduleRecord[]> {
    return this.#run("dueSchedules", () => dueSchedules(this.#db, now, limit));
  }

  fireSchedule(fire: ScheduleFire): Promise<{ task: TaskRecord; existing: boolean }[] | undefined> {
    return this.#run("fireSchedule", () => fireSchedule(this.#db, fire));
  }

  ping(): Promise<void> {
    return this.#run("ping", async () => {
      await this.#db.execute(sql`select 1`);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#options.close();
    return this.#closing;
  }

  /** Runs one operation behind the error boundary (see `store-errors.ts`), within the operation timeout unless `timed` is false. */
  async #run<T>(operation: string, body: () => Promise<T>, timed = true): Promise<T> {
    const timeoutMs = timed ? this.#options.operationTimeoutMs : undefined;
    try {
      return await (timeoutMs === undefined ? body() : withinTimeout(body(), timeoutMs, operation));
    } catch (error) {
      throw toStoreError(error, operation);
    }
  }
}
