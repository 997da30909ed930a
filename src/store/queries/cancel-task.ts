/**
 * cancelTask: one task, atomically.
 *
 * Strategy: one UPDATE whose CASE picks the next state from the locked row: QUEUED or
 * SCHEDULED → CANCELLED (finished now), RUNNING → CANCELLING (the worker is told and reports).
 * Only when it matches nothing is the task read: it is then CANCELLING or finished, states that
 * never go back to the ones the UPDATE handles, so the answer cannot be overtaken by a race.
 * The reason is not stored here; for a running task it reaches the worker, and the worker's
 * "cancelled" outcome records it (see finish-attempts.ts).
 *
 * A WAITING task (waiting for its parents) is cancelled at once too. A task cancelled at once
 * cancels or releases its WAITING children in the same transaction (`dependencies.ts`); a
 * RUNNING one does when its worker's outcome is recorded.
 */
import { and, eq, sql } from "drizzle-orm";
import type { TaskwireDatabase } from "../database.js";
import { toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import type { CancelOutcome } from "../store.js";
import { BLOCKED_STATE_LIST, sqlStateList, WAITING_STATE_LIST } from "../../core/task-states.js";
import { appendTransition, isUuid } from "../sql-helpers.js";
import { releaseChildren } from "./dependencies.js";

/** States a cancel ends at once: waiting for parents or for a slot. */
const AT_ONCE = sql.raw(sqlStateList([...BLOCKED_STATE_LIST, ...WAITING_STATE_LIST]));

/** A CANCELLING task is already cancelled: only waiting and RUNNING tasks change. */
const CANCELLABLE = sql.raw(sqlStateList([...BLOCKED_STATE_LIST, ...WAITING_STATE_LIST, "RUNNING"]));

const NEXT_STATE = sql`(case when ${tasks.state} in ${AT_ONCE} then 'CANCELLED' else 'CANCELLING' end)`;

/** Cancels the task; undefined when there is no such task. */
export async function cancelTask(db: TaskwireDatabase, id: string, now: Date): Promise<CancelOutcome | undefined> {
  if (!isUuid(id)) return undefined;
  return db.transaction((tx) => cancelIn(tx, id, now));
}

async function cancelIn(db: TaskwireDatabase, id: string, now: Date): Promise<CancelOutcome | undefined> {
  const [changed] = await db
    .update(tasks)
    .set({
      state: NEXT_STATE,
      finishedAt: sql`case when ${NEXT_STATE} = 'CANCELLED' then ${now.toISOString()}::timestamptz else ${tasks.finishedAt} end`,
      updatedAt: now,
      transitions: appendTransition(tasks.transitions, NEXT_STATE, sql`${tasks.attempt}`, now),
    })
    .where(and(eq(tasks.id, id), sql`${tasks.state} in ${CANCELLABLE}`))
    .returning();
  if (changed) {
    const task = toTaskRecord(changed);
    if (task.state !== "CANCELLED") return { kind: "cancelling", task };
    return { kind: "cancelled", task, children: await releaseChildren(db, [task], now) };
  }
  const [row] = await db.select().from(tasks).where(eq(tasks.id, id));
  if (!row) return undefined;
  const task = toTaskRecord(row);
  return { kind: task.state === "CANCELLING" ? "cancelling" : "finished", task };
}
