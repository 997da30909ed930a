/**
 * markQueued: delayed tasks (submitted with a delay, or waiting for a retry back-off) whose
 * time came become QUEUED, as ONE statement.
 *
 * Strategy: an UPDATE guarded by `state = 'SCHEDULED' and scheduled_at <= now`, so a task
 * cancelled meanwhile, or not yet due, is left alone; the caller (the broker's promoter) moves
 * only the returned ids into the queues.
 */
import { and, sql } from "drizzle-orm";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import { anyOf, appendTransition, isUuid, timestampParam, unindexed } from "../sql-helpers.js";

/** Queues the due SCHEDULED tasks among `ids`; returns the ids changed. */
export async function markQueued(db: TaskwireDatabase, ids: readonly string[], now: Date): Promise<string[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const updated = await db
    .update(tasks)
    .set({
      state: "QUEUED",
      updatedAt: now,
      transitions: appendTransition(tasks.transitions, sql`'QUEUED'`, sql`${tasks.attempt}`, now),
    })
    .where(
      and(
        anyOf(tasks.id, valid, "uuid"),
        sql`${unindexed(tasks.state)} = 'SCHEDULED'`,
        sql`${tasks.scheduledAt} <= ${timestampParam(now)}`,
      ),
    )
    .returning({ id: tasks.id });
  return updated.map((row) => row.id);
}
