/**
 * saveProgress: the last progress of running attempts, as ONE statement.
 *
 * Strategy: like finishAttempts, the updates travel as one `json` parameter joined in
 * `update ... from`, fenced by `(id, attempt)` and a held state (RUNNING or CANCELLING), so a
 * report of an earlier attempt never lands on a retry. Only the last progress and the last
 * context per attempt in the batch are kept (they arrive in order on one stream); an update
 * without one keeps the stored one (`coalesce`). Progress is not a state change: neither
 * `updated_at` nor `transitions` move. The task's context (`ctx.context`) rides the same
 * statement, so saving it costs no round trip of its own.
 */
import { and, sql } from "drizzle-orm";
import type { ProgressWrite } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import { anyOf, SQL_HELD, isUuid, jsonParam, unindexed } from "../sql-helpers.js";

/** Saves the progress and contexts; returns the ids of the tasks updated. */
export async function saveProgress(db: TaskwireDatabase, updates: readonly ProgressWrite[]): Promise<string[]> {
  // The last progress and the last context of each (id, attempt) win.
  const latest = new Map<string, { id: string; attempt: number; progress: ProgressWrite["progress"] | null; context: ProgressWrite["context"] | null }>();
  for (const update of updates) {
    if (!isUuid(update.id) || (update.progress === undefined && update.context === undefined)) continue;
    const key = `${update.id.toLowerCase()}/${update.attempt}`;
    const row = latest.get(key) ?? { id: update.id, attempt: update.attempt, progress: null, context: null };
    if (update.progress !== undefined) row.progress = update.progress;
    if (update.context !== undefined) row.context = update.context;
    latest.set(key, row);
  }
  if (latest.size === 0) return [];
  const rows = [...latest.values()];
  const updated = await db
    .update(tasks)
    .set({ progress: sql`coalesce(v.progress, ${tasks.progress})`, context: sql`coalesce(v.context, ${tasks.context})` })
    .from(sql`json_to_recordset(${jsonParam(rows)}) as v(id uuid, attempt int, progress jsonb, context jsonb)`)
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
