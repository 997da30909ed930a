/**
 * cancellingAmong: which of the attempts a server's workers hold are CANCELLING, for the cancel
 * sweep that repeats cancels whose control message may have been lost.
 *
 * Strategy: one SELECT of two columns by primary key (one `uuid[]` parameter), the state guarded
 * through `unindexed`, so that, as for the other per-task statements, the planner reaches the
 * rows through the ids it is given and never through `tasks_state_id_idx`, whatever the
 * statistics say about how many tasks are CANCELLING.
 */
import { and, sql } from "drizzle-orm";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import { anyOf, isUuid, unindexed } from "../sql-helpers.js";

/** Those of `ids` that are CANCELLING, with their current attempt. */
export async function cancellingAmong(db: TaskwireDatabase, ids: readonly string[]): Promise<{ id: string; attempt: number }[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return db
    .select({ id: tasks.id, attempt: tasks.attempt })
    .from(tasks)
    .where(and(anyOf(tasks.id, valid, "uuid"), sql`${unindexed(tasks.state)} = 'CANCELLING'`));
}
