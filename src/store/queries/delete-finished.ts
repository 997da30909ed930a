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
 *
 * The stored log lines of the deleted tasks (`task_logs`) go in the same transaction, by
 * `task_logs_task_id_id_idx`; a line being appended meanwhile waits for the task's row lock
 * (task-logs.ts) and then finds no task, so no line outlives its task.
 */
import { TERMINAL_STATE_LIST } from "../../core/task-states.js";
import type { TaskwireDatabase } from "../database.js";
import { taskLogs, tasks } from "../schema.js";
import { anyOf } from "../sql-helpers.js";
import type { TaskSelection } from "../store.js";
import { inLockedBatch, selectionWhere } from "./task-selection.js";

/** Deletes up to `limit` finished tasks of the selection; returns how many. */
export async function deleteFinished(db: TaskwireDatabase, selection: TaskSelection, limit: number): Promise<number> {
  const where = selectionWhere(selection, TERMINAL_STATE_LIST);
  if (where === undefined) return 0;
  return db.transaction(async (tx) => {
    const deleted = await tx
      .delete(tasks)
      .where(inLockedBatch(tx, where, limit, tasks.finishedAt))
      .returning({ id: tasks.id });
    if (deleted.length > 0) await tx.delete(taskLogs).where(anyOf(taskLogs.taskId, deleted.map((row) => row.id), "uuid"));
    return deleted.length;
  });
}
