/**
 * Worker processes: recorded when their stream opens, touched by heartbeats, marked DRAINING and
 * then closed, pruned some time after. The catalog's "workers serving this type" count and the
 * fleet's worker list come from here, so they are right on every server, not only the one
 * holding the stream.
 *
 * Strategy: draining and closing are fenced by the connection's session (`session_id`), so a
 * late drain or close of an old stream never touches the row of the worker's new connection.
 * What a worker runs is not stored with the worker: it is read from the tasks it holds
 * (RUNNING or CANCELLING with its `worker_id`), in one query for all the workers listed, through
 * `tasks_state_id_idx`: as many rows as attempts run in the fleet, however many tasks there are.
 */
import { and, asc, eq, gte, inArray, isNull, sql, type SQL } from "drizzle-orm";
import type { WorkerRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toWorkerRecord } from "../records.js";
import { tasks, workers } from "../schema.js";
import type { RunningRef, WorkerView } from "../store.js";
import { anyOf, SQL_HELD, timestampParam } from "../sql-helpers.js";
import { batchLimit } from "./task-selection.js";

/**
 * Records a worker's connection, replacing what an earlier connection of the same id left. With
 * `owner` (a principal), the id is bound to it when bound to none, and nothing is written when it
 * is bound to another: the guard is in the conflict clause, so two keys connecting one new id at
 * once cannot both take it. Without, the binding is left as it is (authentication off, admin keys).
 * @returns false when the id is bound to another principal (nothing written).
 */
export async function upsertWorker(db: TaskwireDatabase, worker: WorkerRecord, owner?: string): Promise<boolean> {
  const written = await db
    .insert(workers)
    .values({ ...worker, owner: owner ?? null })
    .onConflictDoUpdate({
      target: workers.id,
      setWhere: owner === undefined ? undefined : sql`${workers.owner} is null or ${workers.owner} = excluded.owner`,
      set: {
        owner: sql`coalesce(${workers.owner}, excluded.owner)`,
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
        serverId: sql`excluded.server_id`,
        state: sql`excluded.state`,
      },
    })
    .returning({ id: workers.id });
  return written.length > 0;
}

/** The principal a worker id is bound to: null when bound to none, undefined when no worker has the id. */
export async function workerOwner(db: TaskwireDatabase, id: string): Promise<string | null | undefined> {
  const [row] = await db.select({ owner: workers.owner }).from(workers).where(eq(workers.id, id));
  return row === undefined ? undefined : row.owner;
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

/**
 * Workers by connection time, connected ones only unless `includeDisconnected`, only those
 * serving `queue` when given; each with the attempts it runs.
 */
export async function listWorkers(
  db: TaskwireDatabase,
  filter: { includeDisconnected: boolean; queue?: string },
): Promise<WorkerView[]> {
  const conditions: SQL[] = [];
  if (!filter.includeDisconnected) conditions.push(isNull(workers.disconnectedAt));
  if (filter.queue !== undefined) conditions.push(sql`${filter.queue} = any(${workers.queues})`);
  const rows = await db
    .select()
    .from(workers)
    .where(and(...conditions))
    .orderBy(asc(workers.connectedAt), asc(workers.id));
  return withRunning(db, rows.map(toWorkerRecord));
}

/** One worker, connected or not, with the attempts it runs. */
export async function getWorker(db: TaskwireDatabase, id: string): Promise<WorkerView | undefined> {
  const rows = await db.select().from(workers).where(eq(workers.id, id));
  const [view] = await withRunning(db, rows.map(toWorkerRecord));
  return view;
}

/** The workers, each with the tasks it holds (oldest start first), read in one query. */
async function withRunning(db: TaskwireDatabase, records: WorkerRecord[]): Promise<WorkerView[]> {
  if (records.length === 0) return [];
  const held = await db
    .select({
      workerId: tasks.workerId,
      taskId: tasks.id,
      attempt: tasks.attempt,
      type: tasks.type,
      queue: tasks.queue,
      startedAt: tasks.startedAt,
    })
    .from(tasks)
    .where(and(sql`${tasks.state} in ${SQL_HELD}`, anyOf(tasks.workerId, records.map((record) => record.id), "text")))
    .orderBy(asc(tasks.startedAt), asc(tasks.id));
  const running = new Map<string, RunningRef[]>();
  for (const { workerId, ...ref } of held) {
    if (workerId === null) continue;
    let refs = running.get(workerId);
    if (refs === undefined) running.set(workerId, (refs = []));
    refs.push(ref);
  }
  return records.map((record) => ({ ...record, running: running.get(record.id) ?? [] }));
}

/** Marks a connected worker DRAINING, fenced by its session (see `markWorkerDisconnected`). */
export async function markWorkerDraining(db: TaskwireDatabase, id: string, sessionId: string): Promise<void> {
  await db
    .update(workers)
    .set({ state: "DRAINING" })
    .where(and(eq(workers.id, id), eq(workers.sessionId, sessionId), isNull(workers.disconnectedAt)));
}

/**
 * Deletes at most `limit` workers whose stream closed before `before`, oldest close first;
 * `skip locked`, so two servers pruning at once split the rows. Returns how many.
 */
export async function pruneWorkers(db: TaskwireDatabase, before: Date, limit: number): Promise<number> {
  const batch = db
    .select({ id: workers.id })
    .from(workers)
    .where(sql`${workers.disconnectedAt} < ${timestampParam(before)}`)
    .orderBy(asc(workers.disconnectedAt))
    .limit(batchLimit(limit))
    .for("update", { skipLocked: true });
  const deleted = await db.delete(workers).where(inArray(workers.id, batch)).returning({ id: workers.id });
  return deleted.length;
}
