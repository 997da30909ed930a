/**
 * cancelWaiting and markCancelling: a bulk cancel of a selection, in its two halves, at most
 * `limit` tasks per call and ONE statement each.
 *
 * Strategy: as cancel-task.ts does for one task, split by what the task is doing: a waiting
 * task (QUEUED, SCHEDULED) ends CANCELLED at once, finished now; a RUNNING one becomes
 * CANCELLING, and its worker, told by the caller, reports how it ended (finish-attempts.ts
 * makes any outcome but a success CANCELLED). Two statements rather than one CASE, because the
 * caller does different things with each result: it removes the cancelled tasks from the
 * broker's index, and sends the cancelling ones to their workers.
 *
 * Each is `update ... where id = any(array(<locked batch>))` (`inLockedBatch`): the batch is
 * chosen and locked with `for update skip locked`, so concurrent bulk cancels split the work
 * and change each task once, and no call locks more than `limit` rows; the caller loops until
 * a call returns fewer.
 * A task that moved on meanwhile (started, finished) no longer matches the state guard of the
 * locking read, which PostgreSQL re-checks on the newest row version, and is left alone.
 *
 * Tasks waiting for their parents (WAITING) are cancelled with the waiting ones; the children
 * of every task cancelled are cancelled or released by their policy in the same transaction
 * (`dependencies.ts`) and returned with them.
 */
import { sql, type SQL } from "drizzle-orm";
import { BLOCKED_STATE_LIST, WAITING_STATE_LIST } from "../../core/task-states.js";
import type { TaskRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { byId, toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { appendTransition, timestampParam } from "../sql-helpers.js";
import type { TaskSelection } from "../store.js";
import { releaseChildren } from "./dependencies.js";
import { inLockedBatch, selectionWhere } from "./task-selection.js";

/** Cancels up to `limit` waiting tasks of the selection; returns them after the change, by id. */
export async function cancelWaiting(
  db: TaskwireDatabase,
  selection: TaskSelection,
  limit: number,
  now: Date,
): Promise<TaskRecord[]> {
  const where = selectionWhere(selection, [...BLOCKED_STATE_LIST, ...WAITING_STATE_LIST]);
  if (where === undefined) return [];
  return db.transaction(async (tx) => {
    const cancelled = await cancelIn(tx, where, limit, now);
    const children = await releaseChildren(tx, cancelled, now);
    const ids = new Set(cancelled.map((t) => t.id));
    return [...cancelled, ...children.filter((t) => !ids.has(t.id))].sort(byId);
  });
}

async function cancelIn(db: TaskwireDatabase, where: SQL, limit: number, now: Date): Promise<TaskRecord[]> {
  const rows = await db
    .update(tasks)
    .set({
      state: "CANCELLED",
      finishedAt: timestampParam(now),
      updatedAt: timestampParam(now),
      transitions: appendTransition(tasks.transitions, sql`'CANCELLED'`, sql`${tasks.attempt}`, now),
    })
    .where(inLockedBatch(db, where, limit))
    .returning();
  return rows.map(toTaskRecord).sort(byId);
}

/** Marks up to `limit` RUNNING tasks of the selection CANCELLING; returns them after the change, by id. */
export async function markCancelling(
  db: TaskwireDatabase,
  selection: TaskSelection,
  limit: number,
  now: Date,
): Promise<TaskRecord[]> {
  const where = selectionWhere(selection, ["RUNNING"]);
  if (where === undefined) return [];
  const rows = await db
    .update(tasks)
    .set({
      state: "CANCELLING",
      updatedAt: timestampParam(now),
      transitions: appendTransition(tasks.transitions, sql`'CANCELLING'`, sql`${tasks.attempt}`, now),
    })
    .where(inLockedBatch(db, where, limit))
    .returning();
  return rows.map(toTaskRecord).sort(byId);
}
