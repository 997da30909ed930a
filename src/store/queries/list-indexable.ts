/**
 * listIndexable: the unfinished tasks (QUEUED, SCHEDULED, RUNNING, CANCELLING), oldest first,
 * by pages: what the broker's index is rebuilt from when Redis was lost, or at the start of the
 * embedded mode.
 *
 * Strategy: keyset pages over the partial index `tasks_unfinished_id_idx`, which holds only
 * unfinished tasks, so a rebuild reads none of the (many) finished ones. The state list is
 * inlined, not a parameter, so that the planner can always use that partial index.
 */
import { and, asc, gt, sql } from "drizzle-orm";
import type { TaskRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { isUuid, UNFINISHED_STATES } from "../sql-helpers.js";

/** A page of unfinished tasks with ids greater than `afterId`. */
export async function listIndexable(
  db: TaskwireDatabase,
  afterId: string | undefined,
  limit: number,
): Promise<TaskRecord[]> {
  if (afterId !== undefined && !isUuid(afterId)) throw new TypeError(`listIndexable: afterId is not a UUID: ${afterId}`);
  const unfinished = sql`${tasks.state} in ${UNFINISHED_STATES}`;
  const rows = await db
    .select()
    .from(tasks)
    .where(afterId === undefined ? unfinished : and(unfinished, gt(tasks.id, afterId)))
    .orderBy(asc(tasks.id))
    .limit(Math.max(1, Math.trunc(limit)));
  return rows.map(toTaskRecord);
}
