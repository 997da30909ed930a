/**
 * `ExplainTask`: why a task is not running, each reason that holds it back now, most decisive
 * first. Read from the sources of truth: the task's row (state, run time, parents), the paused
 * queues and the limits in force on this server (both re-read every second from PostgreSQL),
 * the broker's running counts and rate windows (the in-process broker; the Redis broker does
 * not enforce limits), the workers table (connected workers serving the type in the queue, and
 * their slots), and the queued tasks ahead of it. Keep in line with the README's "Limits and fairness".
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { WaitReasonKind, WaitReasonSchema, type WaitReason } from "../../../gen/taskwire/v1/task_service_pb.js";
import type { LimitGate } from "../../broker/memory/limit-gate.js";
import type { LimitTable } from "../../core/dispatch-limits.js";
import type { TaskRecord } from "../../core/task-types.js";
import type { TaskStore } from "../../store/store.js";
import { isConnected } from "./fleet-convert.js";

/** What ExplainTask reads besides the task. */
export interface ExplainDeps {
  store: TaskStore;
  /** Whether dispatch from a queue is paused (`Dispatcher.isPaused`). */
  isPaused: (queue: string) => boolean;
  /** The limits in force (`LimitsRefreshDuty.current`). */
  limits: () => LimitTable;
  /** The running counts of a queue's limits; undefined when the broker keeps none (Redis). */
  limitGate?: (queue: string) => LimitGate | undefined;
  /** A worker not seen for this long is gone. */
  leaseTimeoutMs: number;
}

function reason(kind: WaitReasonKind, message: string, fields: Partial<Omit<WaitReason, "kind" | "message" | "$typeName">> = {}): WaitReason {
  return create(WaitReasonSchema, { kind, message, ...fields });
}

/** The reasons that hold `task` back at `now`; empty when it is running, finished, or about to start. */
export async function explainTask(deps: ExplainDeps, task: TaskRecord, now: number): Promise<WaitReason[]> {
  const reasons: WaitReason[] = [];
  if (task.state === "WAITING") {
    reasons.push(reason(WaitReasonKind.PARENTS, `waiting for its parents: ${task.parentIds.length} named, not all succeeded yet`, { running: task.parentIds.length }));
    return reasons;
  }
  if (task.state !== "QUEUED" && task.state !== "SCHEDULED") return reasons;
  if (task.state === "SCHEDULED" && task.scheduledAt.getTime() > now) {
    reasons.push(reason(WaitReasonKind.RUN_TIME, `runs at ${task.scheduledAt.toISOString()}`, { until: timestampFromMs(task.scheduledAt.getTime()) }));
  }
  if (deps.isPaused(task.queue)) reasons.push(reason(WaitReasonKind.QUEUE_PAUSED, `queue ${task.queue} is paused`));

  const table = deps.limits();
  const gate = deps.limitGate?.(task.queue);
  if (gate !== undefined) {
    const key = task.concurrencyKey ?? undefined;
    for (const hold of gate.explain({ queue: table.queues.get(task.queue), types: table.types }, task.type, key, now)) {
      const what = limitName(hold.scope, task, key);
      if (hold.kind === "concurrency") {
        reasons.push(
          reason(WaitReasonKind.CONCURRENCY_LIMIT, `concurrency limit of ${what} is full: ${hold.running} of ${hold.limit} running`, {
            scope: hold.scope,
            running: hold.running,
            limit: hold.limit,
            holders: hold.holders,
          }),
        );
      } else if (hold.until !== undefined) {
        reasons.push(
          reason(WaitReasonKind.RATE_LIMIT, `rate limit of ${what} (${hold.limit} per interval): next start at ${new Date(hold.until).toISOString()}`, {
            scope: hold.scope,
            limit: hold.limit,
            until: timestampFromMs(hold.until),
          }),
        );
      }
    }
  }

  const serving = (await deps.store.listWorkers({ includeDisconnected: false, queue: task.queue })).filter(
    (worker) => isConnected(worker, now, deps.leaseTimeoutMs) && worker.types.includes(task.type),
  );
  if (serving.length === 0) {
    reasons.push(reason(WaitReasonKind.NO_WORKER, `no connected worker serves type ${task.type} in queue ${task.queue}`));
  } else {
    const slots = serving.reduce((sum, worker) => sum + worker.slots, 0);
    const busy = serving.reduce((sum, worker) => sum + Math.min(worker.slots, worker.running.length), 0);
    if (busy >= slots) {
      reasons.push(reason(WaitReasonKind.SLOTS_BUSY, `all ${slots} slots of the ${serving.length} worker(s) serving it are busy`, { running: busy, limit: slots }));
    }
  }

  if (task.state === "QUEUED") {
    const ahead = await deps.store.countQueuedAhead(task);
    if (ahead > 0) reasons.push(reason(WaitReasonKind.QUEUED_BEHIND, `${ahead} queued task(s) of queue ${task.queue} come before it`, { ahead: BigInt(ahead) }));
  }
  return reasons;
}

function limitName(scope: string, task: TaskRecord, key: string | undefined): string {
  switch (scope) {
    case "queue":
      return `queue ${task.queue}`;
    case "type":
      return `type ${task.type}`;
    case "key of type":
      return `key ${key ?? ""} of type ${task.type}`;
    default:
      return `key ${key ?? ""} of queue ${task.queue}`;
  }
}
