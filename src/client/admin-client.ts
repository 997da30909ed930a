/**
 * The operator's client (`taskwire.v1.AdminService`): the fleet's workers, servers and queues,
 * counts of tasks, and bulk actions. Reads need a `viewer` or `admin` API key; actions need
 * `admin`. Inputs are plain TypeScript: state names like `"FAILED"`, `Date`s, `"type"` for a
 * count group. Answers are the generated messages (`Worker`, `Queue`…), whose int64 counts are
 * `bigint`s. Reach it as `client.admin` (see `createClient`).
 */
import { create } from "@bufbuild/protobuf";
import type { CallOptions, Client } from "@connectrpc/connect";
import {
  CancelTasksResponseSchema,
  CountGroup,
  DeleteTasksResponseSchema,
  RetryTasksResponseSchema,
  TaskSelectorSchema,
  type AdminService,
  type CancelTasksResponse,
  type CountTasksResponse,
  type DeleteTasksResponse,
  type Limit,
  type PurgeQueueResponse,
  type Queue,
  type RetryTasksResponse,
  type Server,
  type TaskSelector,
  type Worker,
} from "../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState, type TaskType } from "../../gen/taskwire/v1/task_pb.js";
import { buildDispatchLimits, type LimitInput } from "../common/dispatch-limits-message.js";
import type { TaskStateName } from "../core/task-states.js";
import { toTimestamp } from "./durations.js";
import { parseTaskState } from "./states.js";

/** A task state: the generated enum's value, or its name (`"FAILED"`). */
export type TaskStateLike = TaskState | TaskStateName;

/**
 * Which tasks a count or a bulk action takes. Every field narrows the selection; what is left
 * out does not. Each action also narrows the states itself: a retry takes only FAILED and
 * CANCELLED tasks, a cancel only unfinished ones, a delete only finished ones.
 */
export interface TaskSelectorInput {
  /** Any of these states. @default every state the action may take */
  states?: readonly TaskStateLike[];
  /** Only tasks of this type. */
  type?: string;
  /** Only tasks of this queue. */
  queue?: string;
  /** Only tasks that finished at or after this time. */
  finishedAfter?: Date;
  /** Only tasks that finished before this time. */
  finishedBefore?: Date;
  /** Only tasks created before this time. */
  createdBefore?: Date;
  /** Only tasks carrying every one of these labels, e.g. `{ tenant: "acme" }`. */
  labels?: Readonly<Record<string, string>>;
}

/**
 * The tasks a bulk action takes: by id (at most 10,000 per call), or by selector, not both.
 * An empty `ids` takes nothing: the action answers zero without calling the server.
 */
export type TaskTargets =
  | { readonly ids: readonly string[]; readonly selector?: undefined }
  | { readonly selector: TaskSelectorInput; readonly ids?: undefined };

/** The targets of {@link AdminClient.cancelTasks}, with the reason recorded on each task. */
export type CancelTasksOptions = TaskTargets & {
  /** Recorded as each task's cancel reason and passed to the workers. @default "cancelled by an operator" */
  readonly reason?: string;
};

/** A dimension {@link AdminClient.countTasks} groups by, beside the state. */
export type CountGroupName = "type" | "queue";

/** What {@link AdminClient.countTasks} counts. */
export interface CountTasksOptions {
  /** @default every task */
  selector?: TaskSelectorInput;
  /** Also group by these, beside the state. @default by state only */
  groupBy?: readonly CountGroupName[];
}

/** Filter of {@link AdminClient.listWorkers}. */
export interface ListWorkersOptions {
  /** Also list the workers whose stream closed (kept until retention prunes them). @default false */
  includeDisconnected?: boolean;
  /** Only workers serving this queue. @default every queue */
  queue?: string;
}

/** Which waiting tasks of a queue {@link AdminClient.purgeQueue} cancels. */
export interface PurgeQueueOptions {
  /** Only tasks of this type. @default every type */
  type?: string;
  /** Only tasks created before this time. @default whenever created */
  createdBefore?: Date;
  /** Recorded as each task's cancel reason. @default "purged" */
  reason?: string;
}

const COUNT_GROUPS: Readonly<Record<CountGroupName, CountGroup>> = { type: CountGroup.TYPE, queue: CountGroup.QUEUE };

/** The fleet's operations. Get it as `client.admin`; it shares the client's transport and headers. */
export class AdminClient {
  /**
   * @param rpc The generated AdminService client.
   * @internal Use `createClient(...).admin`.
   */
  constructor(private readonly rpc: Client<typeof AdminService>) {}

  /** Workers connected now, and with `includeDisconnected` those that left. */
  async listWorkers(options: ListWorkersOptions = {}, callOptions?: CallOptions): Promise<Worker[]> {
    const request = { includeDisconnected: options.includeDisconnected ?? false, queue: options.queue ?? "" };
    return (await this.rpc.listWorkers(request, callOptions)).workers;
  }

  /** One worker, connected or not. @throws ConnectError `NotFound` when no worker with this id ever connected. */
  async getWorker(id: string, callOptions?: CallOptions): Promise<Worker> {
    return required((await this.rpc.getWorker({ id }, callOptions)).worker, "worker");
  }

  /**
   * Asks a connected worker, on whatever server holds its stream, to finish the tasks it runs
   * and take no new ones. @returns the worker, DRAINING.
   */
  async drainWorker(id: string, reason?: string, callOptions?: CallOptions): Promise<Worker> {
    return required((await this.rpc.drainWorker({ id, reason: reason ?? "" }, callOptions)).worker, "worker");
  }

  /** The servers that heart-beat recently. */
  async listServers(callOptions?: CallOptions): Promise<Server[]> {
    return (await this.rpc.listServers({}, callOptions)).servers;
  }

  /** Every queue that holds a task, has a worker, or is paused, with its depth, age and throughput. */
  async listQueues(callOptions?: CallOptions): Promise<Queue[]> {
    return (await this.rpc.listQueues({}, callOptions)).queues;
  }

  /** One queue; a queue nobody used answers with zero counts (queues exist by being named). */
  async getQueue(name: string, callOptions?: CallOptions): Promise<Queue> {
    return required((await this.rpc.getQueue({ name }, callOptions)).queue, "queue");
  }

  /**
   * Stops dispatch from a queue on every server. Submissions are still accepted and running
   * tasks go on; the pause survives restarts. @returns the queue, paused.
   */
  async pauseQueue(name: string, callOptions?: CallOptions): Promise<Queue> {
    return required((await this.rpc.pauseQueue({ name }, callOptions)).queue, "queue");
  }

  /** Resumes dispatch from a paused queue. @returns the queue, not paused. */
  async resumeQueue(name: string, callOptions?: CallOptions): Promise<Queue> {
    return required((await this.rpc.resumeQueue({ name }, callOptions)).queue, "queue");
  }

  /**
   * Cancels the queued and scheduled tasks of a queue (optionally only of one type, or created
   * before a time). Running tasks are left alone. @returns how many were cancelled.
   */
  async purgeQueue(name: string, options: PurgeQueueOptions = {}, callOptions?: CallOptions): Promise<PurgeQueueResponse> {
    return this.rpc.purgeQueue(
      {
        name,
        type: options.type ?? "",
        createdBefore: options.createdBefore === undefined ? undefined : toTimestamp(options.createdBefore, "createdBefore"),
        reason: options.reason ?? "",
      },
      callOptions,
    );
  }

  /**
   * Counts tasks by state, and by type and/or queue when asked: non-zero groups, by state, then
   * type, then queue, with the total.
   * @example
   * const { counts, total } = await client.admin.countTasks({ selector: { queue: "emails" }, groupBy: ["type"] });
   */
  async countTasks(options: CountTasksOptions = {}, callOptions?: CallOptions): Promise<CountTasksResponse> {
    const groupBy = [...new Set(options.groupBy ?? [])].map((name) => {
      const group = COUNT_GROUPS[name];
      if (group === undefined) throw new RangeError(`groupBy: expected "type" or "queue", got ${JSON.stringify(name)}`);
      return group;
    });
    return this.rpc.countTasks({ selector: options.selector && buildTaskSelector(options.selector), groupBy }, callOptions);
  }

  /**
   * Puts FAILED or CANCELLED tasks back to QUEUED with a fresh attempt budget (the errors of
   * their earlier attempts are kept). A selector's states may hold only FAILED and CANCELLED.
   * @example
   * const { retried } = await client.admin.retryTasks({ selector: { states: ["FAILED"], queue: "emails" } });
   */
  async retryTasks(targets: TaskTargets, callOptions?: CallOptions): Promise<RetryTasksResponse> {
    const request = targetsRequest(targets);
    if (!request) return create(RetryTasksResponseSchema);
    return this.rpc.retryTasks(request, callOptions);
  }

  /**
   * Cancels tasks in bulk: queued and scheduled ones at once (`cancelled`), running ones through
   * their workers (`cancelling`: they end CANCELLED when the worker answers). A selector's
   * states may hold only unfinished states.
   */
  async cancelTasks(options: CancelTasksOptions, callOptions?: CallOptions): Promise<CancelTasksResponse> {
    const request = targetsRequest(options);
    if (!request) return create(CancelTasksResponseSchema);
    return this.rpc.cancelTasks({ ...request, reason: options.reason ?? "" }, callOptions);
  }

  /**
   * Deletes finished tasks (SUCCEEDED, FAILED, CANCELLED); their idempotency keys become free.
   * A selector's states may hold only finished states.
   */
  async deleteTasks(targets: TaskTargets, callOptions?: CallOptions): Promise<DeleteTasksResponse> {
    const request = targetsRequest(targets);
    if (!request) return create(DeleteTasksResponseSchema);
    return this.rpc.deleteTasks(request, callOptions);
  }

  /**
   * Hands a task type to another API key (`{ key: id }`, a key in no group) or key group
   * (`{ group: name }`): from now on only its keys may declare the type.
   * @returns the type with its new owner.
   * @throws ConnectError `NotFound` for a type no worker declared; `InvalidArgument` for a key or group the server does not have.
   */
  async transferTaskType(name: string, to: { key: string } | { group: string }, callOptions?: CallOptions): Promise<TaskType> {
    const owner = "key" in to ? `key:${to.key}` : `group:${to.group}`;
    return required((await this.rpc.transferTaskType({ name, owner }, callOptions)).type, "task type");
  }

  /**
   * Forgets a task type's owner and lets its next declaration change its input and output
   * messages; the key that declares it next owns it. @returns the type, without an owner.
   */
  async resetTaskType(name: string, callOptions?: CallOptions): Promise<TaskType> {
    return required((await this.rpc.resetTaskType({ name }, callOptions)).type, "task type");
  }

  /**
   * Sets dispatch limits of a task type or a queue: the fields given replace the operator's
   * earlier values, the others are kept; 0 lifts a limit (a declared one too). In force on every
   * server within a second. Rates are `{ count, interval }` with the interval in milliseconds or
   * a string like "1s", or a string like "10/s" or "100/1m".
   * @returns the limits after the change.
   * @throws RangeError on a malformed rate or interval (the server checks the ranges).
   */
  async setLimit(target: LimitTarget, limits: LimitInput, callOptions?: CallOptions): Promise<Limit> {
    const request = { target: limitTarget(target), limits: buildDispatchLimits(limits) };
    return required((await this.rpc.setLimit(request, callOptions)).limit, "limit");
  }

  /** Drops an operator's limits of a task type or a queue. @returns the limits in force after (a type's declared ones). */
  async clearLimit(target: LimitTarget, callOptions?: CallOptions): Promise<Limit> {
    return required((await this.rpc.clearLimit({ target: limitTarget(target) }, callOptions)).limit, "limit");
  }

  /** The task types and queues with limits: in force, declared, set by an operator. */
  async listLimits(callOptions?: CallOptions): Promise<Limit[]> {
    return (await this.rpc.listLimits({}, callOptions)).limits;
  }
}

export type { LimitInput, RateInput } from "../common/dispatch-limits-message.js";

/** What a limit applies to: one task type or one queue. */
export type LimitTarget = { type: string } | { queue: string };

function limitTarget(target: LimitTarget): { case: "type"; value: string } | { case: "queue"; value: string } {
  return "type" in target ? { case: "type", value: target.type } : { case: "queue", value: target.queue };
}

/**
 * A `TaskSelector` message from its plain form.
 * @throws RangeError on an unknown state name or an invalid date.
 */
export function buildTaskSelector(input: TaskSelectorInput): TaskSelector {
  const time = (value: Date | undefined, name: string) => (value === undefined ? undefined : toTimestamp(value, name));
  return create(TaskSelectorSchema, {
    states: [...new Set((input.states ?? []).map(toTaskState))],
    type: input.type ?? "",
    queue: input.queue ?? "",
    finishedAfter: time(input.finishedAfter, "finishedAfter"),
    finishedBefore: time(input.finishedBefore, "finishedBefore"),
    createdBefore: time(input.createdBefore, "createdBefore"),
    labels: { ...input.labels },
  });
}

function toTaskState(state: TaskStateLike): TaskState {
  const value = typeof state === "number" ? (TaskState[state] === undefined ? undefined : state) : parseTaskState(state);
  if (value === undefined || value === TaskState.UNSPECIFIED) {
    throw new RangeError(`states: ${JSON.stringify(state)} is not a task state`);
  }
  return value;
}

/** The ids or selector of a bulk request; undefined when `ids` is empty (nothing to do). */
function targetsRequest(targets: TaskTargets): { ids: string[]; selector?: TaskSelector } | undefined {
  if (targets.ids !== undefined && targets.selector !== undefined) {
    throw new RangeError("give ids or a selector, not both");
  }
  if (targets.ids !== undefined) return targets.ids.length === 0 ? undefined : { ids: [...targets.ids] };
  if (targets.selector === undefined) throw new RangeError("give ids or a selector");
  return { ids: [], selector: buildTaskSelector(targets.selector) };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the server answered without a ${what}`);
  return value;
}
