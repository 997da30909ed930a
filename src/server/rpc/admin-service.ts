/**
 * `taskwire.v1.AdminService`: the operator's view of the whole fleet and its bulk actions. Any
 * server answers for every server: views are read from PostgreSQL (workers, servers, queue
 * figures, counts), and actions that concern a worker's stream go through the control plane to
 * the server holding it.
 *
 * Bulk actions run in batches of {@link BULK_BATCH} tasks, each one short statement that skips
 * rows another call holds (`for update skip locked`), until a batch comes back short: a bulk
 * action of a million tasks never locks them all, and the same action run from two servers at
 * once splits the work, each task acted on once. After each batch the index and the followers
 * are told (cancelled tasks leave the broker, retried ones enter it, running ones are
 * cancelled on their workers). Keep in line with the README's "Operations" section.
 */
import { keyField } from "../../core/dispatch-limits.js";
import type { ServiceImpl } from "@connectrpc/connect";
import { CountGroup, type AdminService } from "../../../gen/taskwire/v1/admin_service_pb.js";
import type { Broker } from "../../broker/broker.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { ALL_STATES, BLOCKED_STATES, TERMINAL_STATE_LIST, WAITING_STATES, type TaskStateName } from "../../core/task-states.js";
import { TYPE_NAME } from "../../core/limits.js";
import type { TaskRecord, TaskTypeSummary } from "../../core/task-types.js";
import type { TaskSelection, TaskStore, WorkerView } from "../../store/store.js";
import { stateToProto, taskTypeToProto } from "../convert.js";
import type { ControlPlane } from "../engine/control-plane.js";
import { stateEvent, type TaskEvents } from "../engine/task-events.js";
import { SERVER_SILENCE_MS } from "../duties/server-heartbeat.js";
import { isConnected, queueToProto, serverToProto, workerToProto } from "./fleet-convert.js";
import { parseSelection, validQueue } from "./task-selector.js";
import { callerView, readOverview } from "./overview.js";
import { createAdminLimits } from "./admin-limits.js";

/** What the admin service needs from the rest of the server. */
export interface AdminServiceDeps {
  store: TaskStore;
  broker: Broker;
  events: TaskEvents;
  control: ControlPlane;
  /** Queue settings changed here: apply them on this server at once. */
  onQueuesChanged: () => Promise<void>;
  /** Dispatch limits changed here: read them again on this server and tell the others (`admin-limits.ts`). */
  onLimitsChanged: () => Promise<void>;
  /** A worker not seen for this long counts as gone (its server died without closing its stream). */
  leaseTimeoutMs: number;
  logger: Logger;
  /** The principals of the server's keys (`KeyStore.principals`): what a task type may be transferred to. @default none */
  principals: ReadonlySet<string>;
}

/** Tasks per statement of a bulk action. */
export const BULK_BATCH = 1000;

const WORKER_ID = /^[A-Za-z0-9_.:@-]{1,200}$/;

function validTypeName(name: string): string {
  if (!TYPE_NAME.test(name)) throw InvalidArgumentError.field("name", name === "" ? "is required" : "is not a task type name");
  return name;
}

function validWorkerId(id: string): string {
  if (!WORKER_ID.test(id)) throw InvalidArgumentError.field("id", id === "" ? "is required" : "is not a worker id");
  return id;
}

/** Runs `batch` until it changes fewer than {@link BULK_BATCH} tasks. @returns the total. */
async function inBatches<T>(batch: () => Promise<T[]>, after: (changed: T[]) => Promise<void>): Promise<number> {
  let total = 0;
  for (;;) {
    const changed = await batch();
    total += changed.length;
    if (changed.length > 0) await after(changed);
    if (changed.length < BULK_BATCH) return total;
  }
}

/** Builds the service implementation. */
export function createAdminService(deps: AdminServiceDeps): ServiceImpl<typeof AdminService> {
  const { store, broker, events, control } = deps;

  async function taskType(name: string): Promise<TaskTypeSummary> {
    const found = await store.getTaskType(name);
    if (!found) throw new NotFoundError("TASK_TYPE_NOT_FOUND", `task type "${name}" is not known: no worker has declared it`);
    return found;
  }

  async function typeView(type: TaskTypeSummary, owner: string | null) {
    const counts = await store.countWorkersByType(new Date(Date.now() - deps.leaseTimeoutMs));
    return taskTypeToProto(type, counts.get(type.name) ?? 0, owner);
  }

  async function worker(id: string): Promise<WorkerView> {
    const found = await store.getWorker(validWorkerId(id));
    if (!found) throw new NotFoundError("WORKER_NOT_FOUND", `worker ${id} never connected (or was forgotten by retention)`);
    return found;
  }

  async function queueViews(names?: readonly string[]) {
    const now = new Date();
    const [stats, settings, workers] = await Promise.all([
      store.queueStats(now, names),
      store.listQueueSettings(),
      store.listWorkers({ includeDisconnected: false }),
    ]);
    const statsOf = new Map(stats.map((s) => [s.queue, s]));
    const settingsOf = new Map(settings.map((s) => [s.queue, s]));
    const workersOf = new Map<string, string[]>();
    for (const w of workers) {
      if (!isConnected(w, now.getTime(), deps.leaseTimeoutMs)) continue;
      for (const queue of w.queues) workersOf.set(queue, [...(workersOf.get(queue) ?? []), w.id]);
    }
    const all =
      names ??
      [...new Set([...statsOf.keys(), ...settings.filter((s) => s.pausedAt !== null).map((s) => s.queue), ...workersOf.keys()])].sort();
    return all.map((name) => queueToProto(name, statsOf.get(name), settingsOf.get(name), workersOf.get(name) ?? [], now.getTime()));
  }

  async function setPaused(name: string, paused: boolean) {
    const queue = validQueue(name, "name");
    const now = new Date();
    await store.setQueuePaused(queue, paused ? now : null, now);
    await deps.onQueuesChanged();
    await control.queuesChanged().catch((error: unknown) => {
      deps.logger.warn({ err: error, queue }, "could not tell the other servers; they read the change within a second");
    });
    deps.logger.info({ queue, paused }, paused ? "queue paused" : "queue resumed");
    const [view] = await queueViews([queue]);
    return view;
  }

  /** Cancels waiting tasks of a selection in batches: out of the index, followers told. */
  function cancelWaiting(selection: TaskSelection, reason: string): Promise<number> {
    const now = new Date();
    return inBatches(
      () => store.cancelWaiting(selection, BULK_BATCH, now),
      async (changed: TaskRecord[]) => {
        // Children of cancelled tasks whose policy is RUN may have been released: index those.
        const released = changed.filter((t) => WAITING_STATES.has(t.state));
        const cancelled = changed.filter((t) => !WAITING_STATES.has(t.state));
        await broker.remove(cancelled.map((t) => ({ id: t.id, queue: t.queue, type: t.type, priority: t.priority })));
        if (released.length > 0) {
          await broker.requeue(released.map((t) => ({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t), runAt: t.scheduledAt.getTime() })));
        }
        events.publish(changed.map(stateEvent));
        deps.logger.debug({ tasks: changed.length, reason }, "cancelled waiting tasks");
      },
    );
  }

  /** Marks running tasks of a selection CANCELLING in batches and tells their workers. */
  function cancelRunning(selection: TaskSelection, reason: string): Promise<number> {
    const now = new Date();
    return inBatches(
      () => store.markCancelling(selection, BULK_BATCH, now),
      async (changed: TaskRecord[]) => {
        events.publish(changed.map(stateEvent));
        await control
          .cancel(
            changed.map((t) => ({ taskId: t.id, attempt: t.attempt, workerId: t.workerId })),
            reason,
          )
          .catch((error: unknown) => deps.logger.warn({ err: error }, "could not send cancels to the workers' servers; their cancel sweeps will"));
      },
    );
  }

  return {
    ...createAdminLimits({ store, onLimitsChanged: deps.onLimitsChanged, logger: deps.logger }),

    async listWorkers(request) {
      const queue = request.queue === "" ? undefined : validQueue(request.queue, "queue");
      const now = Date.now();
      const workers = await store.listWorkers({ includeDisconnected: request.includeDisconnected, queue });
      const shown = request.includeDisconnected ? workers : workers.filter((w) => isConnected(w, now, deps.leaseTimeoutMs));
      return { workers: shown.map((w) => workerToProto(w, now, deps.leaseTimeoutMs)) };
    },

    async getWorker(request) {
      return { worker: workerToProto(await worker(request.id), Date.now(), deps.leaseTimeoutMs) };
    },

    async drainWorker(request) {
      const found = await worker(request.id);
      const now = Date.now();
      if (!isConnected(found, now, deps.leaseTimeoutMs)) {
        throw new FailedPreconditionError("WORKER_NOT_CONNECTED", `worker ${found.id} is not connected; there is nothing to drain`);
      }
      await control.drainWorker(found.id, found.serverId, request.reason.slice(0, 1000) || "drained by an operator");
      // The holding server records DRAINING once it told the worker; the answer shows the request.
      return { worker: workerToProto({ ...found, state: "DRAINING" }, now, deps.leaseTimeoutMs) };
    },

    async getOverview() {
      return readOverview(store, deps.leaseTimeoutMs, Date.now());
    },

    getCaller(_request, context) {
      return callerView(context);
    },

    async listServers() {
      const servers = await store.listServers(new Date(Date.now() - SERVER_SILENCE_MS));
      return { servers: servers.map(serverToProto) };
    },

    async listQueues() {
      return { queues: await queueViews() };
    },

    async getQueue(request) {
      const [queue] = await queueViews([validQueue(request.name, "name")]);
      return { queue };
    },

    async pauseQueue(request) {
      return { queue: await setPaused(request.name, true) };
    },

    async resumeQueue(request) {
      return { queue: await setPaused(request.name, false) };
    },

    async purgeQueue(request) {
      const queue = validQueue(request.name, "name");
      const selection = parseSelection([], { $typeName: "taskwire.v1.TaskSelector", states: [], type: request.type, queue, createdBefore: request.createdBefore, labels: {} }, {
        allowed: ["QUEUED", "SCHEDULED"],
        finishTimes: false,
      });
      const cancelled = await cancelWaiting(selection, request.reason.slice(0, 1000) || "purged");
      deps.logger.info({ queue, type: request.type || undefined, cancelled }, "queue purged");
      return { cancelled: BigInt(cancelled) };
    },

    async countTasks(request) {
      const selection = parseSelection([], request.selector, { allowed: ALL_STATES, acceptsEverything: true });
      const groupBy = { type: false, queue: false };
      request.groupBy.forEach((group, i) => {
        if (group === CountGroup.TYPE) groupBy.type = true;
        else if (group === CountGroup.QUEUE) groupBy.queue = true;
        else throw InvalidArgumentError.field(`group_by[${i}]`, `${group} is not TYPE or QUEUE`);
      });
      const rows = await store.countTasks(selection, groupBy);
      return {
        counts: rows.map((r) => ({ state: stateToProto(r.state), type: r.type ?? "", queue: r.queue ?? "", count: BigInt(r.count) })),
        total: BigInt(rows.reduce((sum, r) => sum + r.count, 0)),
      };
    },

    async retryTasks(request) {
      const selection = parseSelection(request.ids, request.selector, { allowed: ["FAILED", "CANCELLED"] });
      const now = new Date();
      const retried = await inBatches(
        () => store.retryTasks(selection, BULK_BATCH, now),
        async (changed: TaskRecord[]) => {
          await broker.enqueue(changed.map((t) => ({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t) })));
          events.publish(changed.map(stateEvent));
        },
      );
      deps.logger.info({ retried }, "tasks retried");
      return { retried: BigInt(retried) };
    },

    async cancelTasks(request) {
      const selection = parseSelection(request.ids, request.selector, { allowed: ["WAITING", "QUEUED", "SCHEDULED", "RUNNING", "CANCELLING"], finishTimes: false });
      const reason = request.reason.slice(0, 1000) || "cancelled by an operator";
      const states: readonly TaskStateName[] = selection.states;
      const cancelled = states.some((s) => WAITING_STATES.has(s) || BLOCKED_STATES.has(s)) ? await cancelWaiting(selection, reason) : 0;
      const cancelling = states.includes("RUNNING") ? await cancelRunning(selection, reason) : 0;
      deps.logger.info({ cancelled, cancelling }, "tasks cancelled");
      return { cancelled: BigInt(cancelled), cancelling: BigInt(cancelling) };
    },

    async deleteTasks(request) {
      const selection = parseSelection(request.ids, request.selector, { allowed: TERMINAL_STATE_LIST });
      let deleted = 0;
      for (;;) {
        const n = await store.deleteFinished(selection, BULK_BATCH);
        deleted += n;
        if (n < BULK_BATCH) break;
      }
      deps.logger.info({ deleted }, "finished tasks deleted");
      return { deleted: BigInt(deleted) };
    },

    // Issue 15: task types owned by their key; an operator transfers or resets one.
    async transferTaskType(request) {
      const name = validTypeName(request.name);
      if (!deps.principals.has(request.owner)) {
        throw InvalidArgumentError.field(
          "owner",
          `"${request.owner}" names no API key or key group of the server: give "key:<id>" of a key in no group, or "group:<name>"`,
        );
      }
      const known = await taskType(name);
      await store.setTaskTypeOwner(name, request.owner, false, new Date());
      deps.logger.warn({ type: name, owner: request.owner }, "task type transferred by an operator");
      return { type: await typeView(known, request.owner) };
    },

    async resetTaskType(request) {
      const name = validTypeName(request.name);
      const known = await taskType(name);
      await store.setTaskTypeOwner(name, null, true, new Date());
      deps.logger.warn({ type: name }, "task type reset by an operator: its next declaration owns it and may change its contract");
      return { type: await typeView(known, null) };
    },
  };
}
