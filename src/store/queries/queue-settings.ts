/**
 * Queue settings an operator changed: today, pausing. A queue has a row only once it was paused;
 * no row means the defaults (dispatching). Every server reads the whole (small) table
 * periodically, so a pause made through any server reaches all of them.
 *
 * Strategy: pausing is one upsert that keeps the time of a pause already in force (pausing a
 * paused queue again changes nothing, so "paused since" stays true); resuming is one UPDATE of
 * an existing row, and a queue that was never paused is answered with its defaults without
 * writing a row for it.
 */
import { asc, eq, sql } from "drizzle-orm";
import type { QueueSettingsRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toQueueSettingsRecord } from "../records.js";
import { queueSettings } from "../schema.js";
import { timestampParam } from "../sql-helpers.js";

/** Every queue that has settings, by name. */
export async function listQueueSettings(db: TaskwireDatabase): Promise<QueueSettingsRecord[]> {
  const rows = await db.select().from(queueSettings).orderBy(asc(queueSettings.queue));
  return rows.map(toQueueSettingsRecord);
}

/** Pauses (`pausedAt` set) or resumes (`null`) a queue; returns its settings after the change. */
export async function setQueuePaused(
  db: TaskwireDatabase,
  queue: string,
  pausedAt: Date | null,
  now: Date,
): Promise<QueueSettingsRecord> {
  if (pausedAt === null) {
    const [resumed] = await db
      .update(queueSettings)
      .set({ pausedAt: null, updatedAt: timestampParam(now) })
      .where(eq(queueSettings.queue, queue))
      .returning();
    return resumed ? toQueueSettingsRecord(resumed) : { queue, pausedAt: null, updatedAt: now };
  }
  const [paused] = await db
    .insert(queueSettings)
    .values({ queue, pausedAt, updatedAt: now })
    .onConflictDoUpdate({
      target: queueSettings.queue,
      set: {
        pausedAt: sql`coalesce(${queueSettings.pausedAt}, excluded.paused_at)`,
        updatedAt: sql`case when ${queueSettings.pausedAt} is null then excluded.updated_at else ${queueSettings.updatedAt} end`,
      },
    })
    .returning();
  if (!paused) throw new Error(`setQueuePaused: no row returned for queue ${queue}`);
  return toQueueSettingsRecord(paused);
}
