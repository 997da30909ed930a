/**
 * Server processes of the fleet: each registers at start and heart-beats (its state, its
 * worker count, the time); ListServers shows those heard from lately; rows of servers that went
 * silent are pruned, and a server that stops cleanly deletes its own.
 *
 * Strategy: registration and heartbeat are the same upsert, which rewrites everything but the
 * start time (a row that was pruned while the server was unreachable comes back with the
 * server's own start time, since it is sent each time). Liveness is decided by the reader from
 * `last_heartbeat_at`, not stored, so a server that died without a word drops out of the list
 * by itself. The table holds one row per running server: plain statements, no batching.
 */
import { asc, eq, sql } from "drizzle-orm";
import type { ServerRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toServerRecord } from "../records.js";
import { servers } from "../schema.js";
import { timestampParam } from "../sql-helpers.js";

/** Registers a server or records its heartbeat. */
export async function upsertServer(db: TaskwireDatabase, server: ServerRecord): Promise<void> {
  await db
    .insert(servers)
    .values({ ...server })
    .onConflictDoUpdate({
      target: servers.id,
      set: {
        host: sql`excluded.host`,
        pid: sql`excluded.pid`,
        version: sql`excluded.version`,
        address: sql`excluded.address`,
        state: sql`excluded.state`,
        lastHeartbeatAt: sql`excluded.last_heartbeat_at`,
        workerCount: sql`excluded.worker_count`,
      },
    });
}

/** Servers that heart-beat at or after `seenSince`, oldest start first. */
export async function listServers(db: TaskwireDatabase, seenSince: Date): Promise<ServerRecord[]> {
  const rows = await db
    .select()
    .from(servers)
    .where(sql`${servers.lastHeartbeatAt} >= ${timestampParam(seenSince)}`)
    .orderBy(asc(servers.startedAt), asc(servers.id));
  return rows.map(toServerRecord);
}

/** Deletes the servers whose last heartbeat is before `before`; returns how many. */
export async function pruneServers(db: TaskwireDatabase, before: Date): Promise<number> {
  const deleted = await db
    .delete(servers)
    .where(sql`${servers.lastHeartbeatAt} < ${timestampParam(before)}`)
    .returning({ id: servers.id });
  return deleted.length;
}

/** Deletes one server's row. */
export async function deleteServer(db: TaskwireDatabase, id: string): Promise<void> {
  await db.delete(servers).where(eq(servers.id, id));
}
