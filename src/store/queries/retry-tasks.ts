/**
 * retryTasks: FAILED and CANCELLED tasks of a selection back to QUEUED, runnable now, at most
 * `limit` per call, in ONE statement.
 *
 * Strategy: `update ... where id = any(array(<locked batch>))` (`inLockedBatch`): the batch is
 * chosen and locked with `for update skip locked`, so two servers retrying the same selection
 * at once split it and each task is retried once; a call never locks more than `limit` rows,
 * and the caller loops until a call returns fewer. Output, its type, the finish time and the worker are cleared; the
 * errors of every earlier attempt are kept (they are the task's history), and so are its
 * attempt count, progress and start time, as a back-off retry keeps them. A QUEUED transition
 * is appended.
 *
 * The fresh attempt budget. A task submitted with a budget of B attempts gets B more, however
 * often it was retried: `max_attempts = attempt + B`. B is not stored, but it is derivable
 * without a new column, because every retry keeps this invariant:
 *
 *     B = max_attempts - (the attempt count at the last retry; 0 if never retried)
 *
 * True at submission (nothing used, `max_attempts = B`), and each retry sets `max_attempts` to
 * `attempt + B` at the attempt count it retries at. That count is read from the transitions:
 * a task leaves a terminal state only by a retry, which does not change the attempt, so the
 * last retry happened at the attempt of the task's second-to-last terminal transition (the last
 * one is the end being retried now). Hence
 *
 *     max_attempts := attempt + max_attempts - coalesce(<attempt of the second-to-last terminal transition>, 0)
 *
 * For example, B = 3 and it failed after 3 attempts: retried with `max_attempts = 6`; failing
 * again at attempt 6, it is retried with `6 + 6 - 3 = 9`. (`attempt + max_attempts` would give
 * 12: the budget would grow with every retry.)
 */
import { sql } from "drizzle-orm";
import { TERMINAL_STATE_LIST } from "../../core/task-states.js";
import type { TaskRecord, TaskStateName } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { byId, toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { appendTransition, SQL_TERMINAL, timestampParam } from "../sql-helpers.js";
import type { TaskSelection } from "../store.js";
import { inLockedBatch, selectionWhere } from "./task-selection.js";

/** The states a task is retried from: every terminal state but a success (FAILED, CANCELLED). */
export const RETRYABLE_STATES: readonly TaskStateName[] = TERMINAL_STATE_LIST.filter((state) => state !== "SUCCEEDED");

/** The attempt count at the task's last retry, 0 if never retried (see the file header). */
const LAST_RETRY_ATTEMPT = sql`coalesce((
  select (t.entry ->> 'attempt')::int
    from jsonb_array_elements(${tasks.transitions}) with ordinality as t(entry, n)
   where t.entry ->> 'state' in ${SQL_TERMINAL}
   order by t.n desc
   offset 1 limit 1), 0)`;

/** Retries up to `limit` tasks of the selection; returns them after the change, by id. */
export async function retryTasks(
  db: TaskwireDatabase,
  selection: TaskSelection,
  limit: number,
  now: Date,
): Promise<TaskRecord[]> {
  const where = selectionWhere(selection, RETRYABLE_STATES);
  if (where === undefined) return [];
  const rows = await db
    .update(tasks)
    .set({
      state: "QUEUED",
      maxAttempts: sql`${tasks.attempt} + ${tasks.maxAttempts} - ${LAST_RETRY_ATTEMPT}`,
      outputTypeUrl: null,
      output: null,
      workerId: null,
      finishedAt: null,
      scheduledAt: timestampParam(now),
      updatedAt: timestampParam(now),
      transitions: appendTransition(tasks.transitions, sql`'QUEUED'`, sql`${tasks.attempt}`, now),
    })
    .where(inLockedBatch(db, where, limit))
    .returning();
  return rows.map(toTaskRecord).sort(byId);
}
