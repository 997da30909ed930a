/**
 * `taskwire.v1.TaskService`: submit, follow, wait for, cancel and list tasks. Every
 * submission is in PostgreSQL before the call answers; the broker index follows.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type {
  TaskService} from "../../../gen/taskwire/v1/task_service_pb.js";
import {
  SubmitBatchResponseSchema,
  SubmitResponseSchema,
  type StreamProgressResponse,
  type SubmitRequest,
  type WaitReason,
} from "../../../gen/taskwire/v1/task_service_pb.js";
import type { Unsubscribe } from "../../broker/broker.js";
import { DEFAULTS } from "../../config/config.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { QUEUE_NAME, TYPE_NAME } from "../../core/limits.js";
import { TERMINAL_STATES } from "../../core/task-states.js";
import { validLabels } from "../../core/labels.js";
import type { NewTask, TaskRecord } from "../../core/task-types.js";
import type { TaskStore, TaskTypeOwner } from "../../store/store.js";
import type { Catalog } from "../engine/catalog.js";
import { stateFromProto, stateToProto, taskToProto, taskTypeToProto } from "../convert.js";
import { buildNewTask, validDurationMs } from "./submission.js";
import { descriptorSetOf } from "./type-descriptors.js";
import { FollowerLimits } from "./follower-limits.js";
import { withSubmitTrace } from "../observability/submit-tracing.js"; // issue 21: traces
import { isTerminalEvent, stateEvent, type TaskEvents } from "../engine/task-events.js";
import type { TaskSubmitter } from "../engine/submitter.js";
import { AsyncQueue } from "../../core/async-queue.js";
import type { TaskLogEvents } from "../engine/task-log-events.js";
import { taskLogCalls } from "./task-logs.js";
import { callerOf, ownedBy, ownerScope, visibleTo, type Caller } from "../auth/index.js"; // issue 3: access control

/** What the task service needs from the rest of the server. */
export interface TaskServiceDeps {
  store: TaskStore;
  catalog: Catalog;
  events: TaskEvents;
  /** Live log lines of tasks, for StreamTaskLogs (issue 17: stored logs). */
  logEvents: TaskLogEvents;
  logger: Logger;
  /** Inserts and indexes submissions, and cancels tasks (shared with the scheduler). */
  submitter: TaskSubmitter;
  /** Workers seen within this many ms count as connected in ListTypes. */
  leaseTimeoutMs: number;
  /** ExplainTask's reasons for a task (`explain-task.ts`). @default none: every task is answered without reasons */
  explain?: (task: TaskRecord) => Promise<WaitReason[]>;
  /** Most parents one task may depend on (`ServerConfig.maxParents`). @default 32 */
  maxParents?: number;
  /**
   * Most `StreamProgress` streams and waiting `GetResult` calls this server holds open on one
   * task (`ServerConfig.maxSubscribersPerTask`); more are refused with `RESOURCE_EXHAUSTED`.
   */
  maxSubscribersPerTask: number;
  /** Most of them one API key holds on this server (`ServerConfig.maxSubscribersPerKey`). @default 1000 */
  maxSubscribersPerKey?: number;
  /** Most of them this server holds in all (`ServerConfig.maxSubscribers`). @default 10000 */
  maxSubscribers?: number;
}

/** Largest SubmitBatch. */
export const MAX_BATCH = 10_000;
/** Largest ListTasks page. */
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A filter's time: a well-formed Timestamp within years 1970 to 9999. */
function validTime(time: Timestamp, field: string): Date {
  const ms = Number(time.seconds) * 1000 + Math.floor(time.nanos / 1e6);
  if (time.nanos < 0 || time.nanos > 999_999_999 || !Number.isFinite(ms) || ms < 0 || ms > 253_402_300_799_999) {
    throw InvalidArgumentError.field(field, "is not a valid time (from 1970 to 9999)");
  }
  return new Date(ms);
}

function validId(id: string, field = "id"): string {
  if (!UUID.test(id)) throw InvalidArgumentError.field(field, id === "" ? "is required" : `"${id.slice(0, 64)}" is not a task id (a UUID)`);
  return id.toLowerCase();
}

function notFound(id: string): NotFoundError {
  return new NotFoundError("TASK_NOT_FOUND", `task ${id} does not exist`);
}

/** Builds the service implementation. */
export function createTaskService(deps: TaskServiceDeps): ServiceImpl<typeof TaskService> {
  const { store, catalog, events, submitter } = deps;
  /** Open StreamProgress streams and waiting GetResult calls, per task, per key and in all. */
  const followers = new FollowerLimits({
    maxSubscribersPerTask: deps.maxSubscribersPerTask,
    maxSubscribersPerKey: deps.maxSubscribersPerKey ?? DEFAULTS.maxSubscribersPerKey,
    maxSubscribers: deps.maxSubscribers ?? DEFAULTS.maxSubscribers,
  });

  /**
   * Takes a follower place on task `id` for `caller`, or refuses with `RESOURCE_EXHAUSTED` when
   * the task, the caller's key or the server has none left (`FollowerLimits`). @returns the
   * release of the place; safe to call twice.
   */
  function follow(id: string, caller: Caller | undefined): () => void {
    return followers.take(id, caller?.keyId);
  }

  /** The task, if `caller` may see it (a client key only its own): else NOT_FOUND, as for no task. */
  async function getTask(id: string, caller: Caller | undefined): Promise<TaskRecord> {
    const task = await store.getTask(validId(id));
    if (!task || !visibleTo(task, caller)) throw notFound(id);
    return task;
  }

  /** Waits until the task reaches a terminal state or `signal` aborts; resolves either way. */
  async function waitTerminal(id: string, waitMs: number, signal: AbortSignal): Promise<void> {
    const done = new AbortController();
    const unsubscribe = await events.subscribe(id, (event) => {
      if (isTerminalEvent(event)) done.abort();
    });
    try {
      const current = await store.getTask(id);
      if (!current || TERMINAL_STATES.has(current.state)) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        const stop = () => {
          clearTimeout(timer);
          resolve();
        };
        done.signal.addEventListener("abort", stop, { once: true });
        signal.addEventListener("abort", stop, { once: true });
      });
    } finally {
      await unsubscribe();
    }
  }

  return {
    ...taskLogCalls({ store, events, logEvents: deps.logEvents, getTask, follow }),

    async submit(request: SubmitRequest, context: HandlerContext) {
      const caller = callerOf(context);
      const built = await buildNewTask(catalog, request, new Date(), "", { maxParents: deps.maxParents, ownerScope: ownerScope(caller) });
      const task = withSubmitTrace(ownedBy(built, caller), context);
      const [result] = await submitter.submit([task]);
      if (!result) throw new Error("insert returned no row");
      return create(SubmitResponseSchema, { task: taskToProto(result.task), existing: result.existing });
    },

    async submitBatch(request, context: HandlerContext) {
      if (request.tasks.length === 0) throw InvalidArgumentError.field("tasks", "must hold at least one task");
      if (request.tasks.length > MAX_BATCH) throw InvalidArgumentError.field("tasks", `must hold at most ${MAX_BATCH} tasks, got ${request.tasks.length}`);
      const now = new Date();
      const tasks: NewTask[] = [];
      const caller = callerOf(context);
      const scope = ownerScope(caller);
      for (const [i, item] of request.tasks.entries()) {
        const built = await buildNewTask(catalog, item, now, `tasks[${i}]`, { maxParents: deps.maxParents, batchIndex: i, ownerScope: scope });
        tasks.push(withSubmitTrace(ownedBy(built, caller), context));
      }
      const results = await submitter.submit(tasks);
      return create(SubmitBatchResponseSchema, {
        tasks: results.map((r) => ({ id: r.task.id, state: stateToProto(r.task.state), existing: r.existing })),
      });
    },

    async getStatus(request, context: HandlerContext) {
      return { task: taskToProto(await getTask(request.id, callerOf(context))) };
    },

    async explainTask(request, context: HandlerContext) {
      const task = await getTask(request.id, callerOf(context));
      return { task: taskToProto(task), reasons: deps.explain ? await deps.explain(task) : [] };
    },

    async getResult(request, context: HandlerContext) {
      const id = validId(request.id);
      const caller = callerOf(context);
      const waitMs = request.wait ? validDurationMs(request.wait, "wait") : 0;
      if (waitMs > 0) {
        if (ownerScope(caller) !== undefined) await getTask(id, caller); // no waiting on others' tasks
        const unfollow = follow(id, caller);
        try {
          await waitTerminal(id, waitMs, context.signal);
        } finally {
          unfollow();
        }
      }
      return { task: taskToProto(await getTask(id, caller)) };
    },

    async *streamProgress(request, context: HandlerContext) {
      const id = validId(request.id);
      const unfollow = follow(id, callerOf(context));
      const queue = new AsyncQueue<StreamProgressResponse>();
      const onAbort = () => queue.end();
      let unsubscribe: Unsubscribe | undefined;
      try {
        // Subscribe before reading, so no event between the read and the subscription is lost.
        unsubscribe = await events.subscribe(id, (event) => queue.push(event));
        context.signal.addEventListener("abort", onAbort, { once: true });
        // A caller gone while subscribing would otherwise hold its place forever.
        if (context.signal.aborted) return;
        const task = await store.getTask(id);
        if (!task || !visibleTo(task, callerOf(context))) throw notFound(id);
        yield stateEvent(task);
        if (TERMINAL_STATES.has(task.state)) return;
        for await (const event of queue) {
          yield event;
          if (isTerminalEvent(event)) return;
        }
      } finally {
        context.signal.removeEventListener("abort", onAbort);
        queue.end();
        unfollow();
        await unsubscribe?.();
      }
    },

    async cancel(request, context: HandlerContext) {
      const id = validId(request.id);
      const caller = callerOf(context);
      if (ownerScope(caller) !== undefined) await getTask(id, caller); // a client key cancels only its own
      const reason = request.reason.slice(0, 1000) || "cancelled by request";
      const outcome = await submitter.cancel(id, reason);
      if (!outcome) throw notFound(id);
      const { task } = outcome;
      if (outcome.kind === "finished") {
        throw new FailedPreconditionError("TASK_FINISHED", `task ${id} already finished (${task.state}); it cannot be cancelled`);
      }
      return { task: taskToProto(task) };
    },

    async listTypes(_request, context: HandlerContext) {
      const [types, counts] = await Promise.all([
        store.listTaskTypes(),
        store.countWorkersByType(new Date(Date.now() - deps.leaseTimeoutMs)),
      ]);
      // Issue 15: who may declare each type, for operators (viewer and admin keys); a client key
      // is not shown other teams' key ids.
      const owners = ownerScope(callerOf(context)) === undefined ? await store.getTaskTypeOwners(types.map((t) => t.name)) : new Map<string, TaskTypeOwner>();
      return { types: types.map((t) => taskTypeToProto(t, counts.get(t.name) ?? 0, owners.get(t.name)?.owner)) };
    },

    async getTaskType(request, context: HandlerContext) {
      if (!TYPE_NAME.test(request.name)) throw InvalidArgumentError.field("name", request.name === "" ? "is required" : "is not a valid task type name");
      const entry = await catalog.get(request.name);
      const [counts, owners] = await Promise.all([
        store.countWorkersByType(new Date(Date.now() - deps.leaseTimeoutMs)),
        ownerScope(callerOf(context)) === undefined ? store.getTaskTypeOwners([request.name]) : new Map<string, TaskTypeOwner>(),
      ]);
      return {
        type: taskTypeToProto(entry.record, counts.get(request.name) ?? 0, owners.get(request.name)?.owner),
        descriptors: descriptorSetOf([entry.input, entry.output]),
      };
    },

    async listTasks(request, context: HandlerContext) {
      const states = request.states.map((s, i) => {
        const name = stateFromProto(s);
        if (!name) throw InvalidArgumentError.field(`states[${i}]`, `${s} is not a task state`);
        return name;
      });
      if (request.type !== "" && !TYPE_NAME.test(request.type)) throw InvalidArgumentError.field("type", "is not a valid task type name");
      if (request.queue !== "" && !QUEUE_NAME.test(request.queue)) throw InvalidArgumentError.field("queue", "is not a valid queue name");
      if (request.pageSize < 0 || request.pageSize > MAX_PAGE) throw InvalidArgumentError.field("page_size", `must be from 0 to ${MAX_PAGE}`);
      const limit = request.pageSize || DEFAULT_PAGE;
      const beforeId = request.pageToken === "" ? undefined : decodePageToken(request.pageToken);
      const createdAfter = request.createdAfter === undefined ? undefined : validTime(request.createdAfter, "created_after");
      const createdBefore = request.createdBefore === undefined ? undefined : validTime(request.createdBefore, "created_before");
      if (createdAfter !== undefined && createdBefore !== undefined && createdBefore.getTime() <= createdAfter.getTime()) {
        throw InvalidArgumentError.field("created_before", "must be after created_after");
      }
      const { tasks, total } = await store.listTasks({
        states,
        type: request.type || undefined,
        queue: request.queue || undefined,
        submittedBy: ownerScope(callerOf(context)),
        labels: validLabels(request.labels, "labels"),
        parentId: request.parentId === "" ? undefined : validId(request.parentId, "parent_id"),
        createdAfter,
        createdBefore,
        limit,
        beforeId,
      });
      const last = tasks.at(-1);
      return {
        tasks: tasks.map((t) => taskToProto(t, { input: false })),
        nextPageToken: tasks.length === limit && last ? encodePageToken(last.id) : "",
        totalCount: BigInt(total),
      };
    },
  };
}

function encodePageToken(id: string): string {
  return Buffer.from(`before:${id}`).toString("base64url");
}

function decodePageToken(token: string): string {
  const text = Buffer.from(token, "base64url").toString();
  const id = text.startsWith("before:") ? text.slice("before:".length) : "";
  if (!UUID.test(id)) throw InvalidArgumentError.field("page_token", "is not a token returned by ListTasks");
  return id;
}
