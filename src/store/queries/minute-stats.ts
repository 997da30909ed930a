/**
 * The per-minute activity counters (`task_minute_stats`, one row per minute), written by every
 * server's flush duty and read by `AdminService.GetOverview`.
 *
 * Strategy: servers add their counts to the minute's row (`insert … on conflict do update` with
 * the sums, the wait histogram summed bucket by bucket through `unnest` of both arrays), so any
 * number of servers write one row per minute without reading it first, and a read of the last
 * hour is a range of at most 60 primary-key rows, however many tasks are stored. Old rows are
 * pruned by the same duty, through the same key.
 */
import { asc, gte, lt, sql } from "drizzle-orm";
import type { TaskwireDatabase } from "../database.js";
import { taskMinuteStats } from "../schema.js";
import type { MinuteStatsRecord } from "../store.js";

/** Adds each record's counts to its minute's row. */
export async function addMinuteStats(db: TaskwireDatabase, records: readonly MinuteStatsRecord[]): Promise<void> {
  if (records.length === 0) return;
  const t = taskMinuteStats;
  await db
    .insert(t)
    .values(records.map((r) => ({ ...r, minute: new Date(r.minute.getTime()) })))
    .onConflictDoUpdate({
      target: t.minute,
      set: {
        succeeded: sql`${t.succeeded} + excluded.succeeded`,
        failed: sql`${t.failed} + excluded.failed`,
        cancelled: sql`${t.cancelled} + excluded.cancelled`,
        started: sql`${t.started} + excluded.started`,
        waitBuckets: sql`array(select coalesce(a, 0) + coalesce(b, 0) from unnest(${t.waitBuckets}, excluded.wait_buckets) with ordinality as u(a, b, i) order by i)`,
      },
    });
}

/** The rows of the minutes from `since` on, oldest first (minutes without activity have none). */
export async function readMinuteStats(db: TaskwireDatabase, since: Date): Promise<MinuteStatsRecord[]> {
  return db.select().from(taskMinuteStats).where(gte(taskMinuteStats.minute, since)).orderBy(asc(taskMinuteStats.minute));
}

/** Deletes the rows of minutes before `before`. @returns how many. */
export async function pruneMinuteStats(db: TaskwireDatabase, before: Date): Promise<number> {
  const deleted = await db.delete(taskMinuteStats).where(lt(taskMinuteStats.minute, before)).returning({ minute: taskMinuteStats.minute });
  return deleted.length;
}
