/**
 * saveProgress: the last progress of running attempts, as ONE statement.
 *
 * Strategy: like finishAttempts, the updates travel as one `json` parameter joined in
 * `update ... from`, fenced by `(id, attempt)` and a held state (RUNNING or CANCELLING), so a
 * report of an earlier attempt never lands on a retry. Only the last update per attempt in the
 * batch is kept (they arrive in order on one stream). Progress is not a state change: neither
 * `updated_at` nor `transitions` move.
 */
import { and, sql } from "drizzle-orm";
import type { TaskProgress } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import { anyOf, SQL_HELD, isUuid, jsonParam, unindexed } from "../sql-helpers.js";

/** Saves the progress; returns the ids of the tasks updated. */
export async function saveProgress(
  db: TaskwireDatabase,
  updates: readonly { id: string; attempt: number; progress: TaskProgress }[],
): Promise<string[]> {
  // The last update of each (id, attempt) wins.
  const latest = new Map<string, { id: string; attempt: number; progress: TaskProgress }>();
  for (const update of updates) {
    if (isUuid(update.id)) latest.set(`${update.id.toLowerCase()}/${update.attempt}`, update);
  }
  if (latest.size === 0) return [];
  const rows = [...latest.values()];
  const updated = await db
    .update(tasks)
    .set({ progress: sql`v.progress` })
    .from(sql`json_to_recordset(${jsonParam(rows)}) as v(id uuid, attempt int, progress jsonb)`)
    .where(
      and(
        anyOf(tasks.id, rows.map((row) => row.id), "uuid"),
        sql`${tasks.id} = v.id`,
        sql`${tasks.attempt} = v.attempt`,
        sql`${unindexed(tasks.state)} in ${SQL_HELD}`,
      ),
    )
    .returning({ id: tasks.id });
  return [...new Set(updated.map((row) => row.id))];
}
