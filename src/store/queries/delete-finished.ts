/**
 * deleteFinished: finished tasks of a selection deleted, at most `limit` per call, in ONE
 * statement. Serves DeleteTasks and retention (server-wide, and per type).
 *
 * Strategy: `delete ... where id = any(array(<locked batch>))` (`inLockedBatch`), the batch
 * chosen and locked with `for update skip locked`, so two servers pruning at once split the
 * work and no call holds more than `limit` rows; the caller loops until a call deletes fewer.
 *
 * Only terminal states are ever deleted, whatever the selection says: its states are
 * intersected with SUCCEEDED, FAILED and CANCELLED, so a selection naming RUNNING deletes
 * nothing of it. That list is written out word for word as the predicate of the partial index
 * `tasks_finished_at_idx` (finished tasks by finish time), and the batch is taken oldest finish
 * first (`order by finished_at`, the index's own order): retention's "finished before T" walks
 * that index from its start and stops after `limit` entries, reading neither the unfinished
 * tasks nor the finished ones it keeps. Every terminal task has a finish time (finish-attempts.ts
 * and the cancels set it), so the order leaves none out.
 */
import { TERMINAL_STATE_LIST } from "../../core/task-states.js";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import type { TaskSelection } from "../store.js";
import { inLockedBatch, selectionWhere } from "./task-selection.js";

/** Deletes up to `limit` finished tasks of the selection; returns how many. */
export async function deleteFinished(db: TaskwireDatabase, selection: TaskSelection, limit: number): Promise<number> {
  const where = selectionWhere(selection, TERMINAL_STATE_LIST);
  if (where === undefined) return 0;
  const deleted = await db
    .delete(tasks)
    .where(inLockedBatch(db, where, limit, tasks.finishedAt))
    .returning({ id: tasks.id });
  return deleted.length;
}
