/**
 * Worker processes: recorded when their stream opens, touched by heartbeats, marked when it
 * closes. The catalog's "workers serving this type" count comes from here, so it is right on
 * every server, not only the one holding the stream.
 */
import { and, eq, gte, isNull, sql } from "drizzle-orm";
import type { WorkerRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { workers } from "../schema.js";
import { anyOf } from "../sql-helpers.js";

/** Records a worker's connection, replacing what an earlier connection of the same id left. */
export async function upsertWorker(db: TaskwireDatabase, worker: WorkerRecord): Promise<void> {
  await db
    .insert(workers)
    .values({ ...worker })
    .onConflictDoUpdate({
      target: workers.id,
      set: {
        host: sql`excluded.host`,
        pid: sql`excluded.pid`,
        queues: sql`excluded.queues`,
        slots: sql`excluded.slots`,
        types: sql`excluded.types`,
        sdk: sql`excluded.sdk`,
        sessionId: sql`excluded.session_id`,
        connectedAt: sql`excluded.connected_at`,
        lastSeenAt: sql`excluded.last_seen_at`,
        disconnectedAt: sql`excluded.disconnected_at`,
      },
    });
}

/** Heartbeats of many workers in one statement (one `text[]` parameter). */
export async function touchWorkers(db: TaskwireDatabase, ids: readonly string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await db.update(workers).set({ lastSeenAt: now }).where(anyOf(workers.id, ids, "text"));
}

/**
 * Marks a worker's stream closed, fenced by its session: if the worker has reconnected
 * meanwhile (to this server or another), the new connection's record is left alone.
 */
export async function markWorkerDisconnected(
  db: TaskwireDatabase,
  id: string,
  sessionId: string,
  now: Date,
): Promise<void> {
  await db
    .update(workers)
    .set({ disconnectedAt: now })
    .where(and(eq(workers.id, id), eq(workers.sessionId, sessionId), isNull(workers.disconnectedAt)));
}

/** For each type, the number of connected workers serving it that were seen since `seenSince`. */
export async function countWorkersByType(db: TaskwireDatabase, seenSince: Date): Promise<Map<string, number>> {
  const rows = await db
    .select({ type: sql<string>`served.type`, workers: sql<number>`count(*)`.mapWith(Number) })
    .from(sql`${workers} cross join lateral unnest(${workers.types}) as served(type)`)
    .where(and(isNull(workers.disconnectedAt), gte(workers.lastSeenAt, seenSince)))
    .groupBy(sql`served.type`);
  return new Map(rows.map((row) => [row.type, row.workers]));
}
