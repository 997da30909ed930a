/**
 * Stored task logs (`task_logs`): appending a batch of lines within each task's bounds, and
 * reading one task's lines after a cursor. See `core/task-logs.ts`.
 *
 * appendLogs strategy: one transaction per batch (the server's log writer batches every line
 * that arrives while the previous batch is written): the tasks' rows are locked (`for update`,
 * in id order so two servers appending to the same tasks cannot deadlock), the lines that fit
 * the bounds are chosen from the counts read under that lock, inserted in one statement
 * (a multi-row insert), and the counts (`log_lines`, `log_bytes`, `logs_dropped`) updated in
 * one more. Lines of a task that does not exist (deleted meanwhile) are not stored: no line
 * outlives its task, and delete-finished.ts deletes a task's lines with it.
 *
 * A task's bound is reached when a line does not fit: it and the task's later lines of the same
 * batch are counted as dropped; once the stored lines or bytes reach a bound, every later line
 * is.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { AppendedLogs, NewTaskLogLine, TaskLogBounds, TaskLogLineRecord, TaskLogPage, TaskLogQuery } from "../../core/task-logs.js";
import { logLineBytes } from "../../core/task-logs.js";
import type { TaskwireDatabase } from "../database.js";
import { taskLogs, tasks } from "../schema.js";
import { anyOf, isUuid, jsonParam } from "../sql-helpers.js";

/** Stores the lines that fit their tasks' bounds; see the file header. */
export async function appendLogs(db: TaskwireDatabase, lines: readonly NewTaskLogLine[], bounds: TaskLogBounds): Promise<AppendedLogs> {
  const valid = lines.filter((line) => isUuid(line.taskId)).map((line) => ({ ...line, taskId: line.taskId.toLowerCase() }));
  if (valid.length === 0) return { stored: [], dropped: new Map() };
  const ids = [...new Set(valid.map((line) => line.taskId))].sort();
  return db.transaction(async (tx) => {
    const counts = await tx
      .select({ id: tasks.id, lines: tasks.logLines, bytes: tasks.logBytes })
      .from(tasks)
      .where(anyOf(tasks.id, ids, "uuid"))
      .orderBy(asc(tasks.id))
      .for("update");
    const room = new Map(counts.map((row) => [row.id.toLowerCase(), { lines: row.lines, bytes: row.bytes, full: false, kept: 0, keptBytes: 0, dropped: 0 }]));
    const kept: NewTaskLogLine[] = [];
    for (const line of valid) {
      const task = room.get(line.taskId);
      if (task === undefined) continue;
      const bytes = logLineBytes(line);
      if (!task.full && task.lines + 1 <= bounds.maxLines && task.bytes + bytes <= bounds.maxBytes) {
        task.lines += 1;
        task.bytes += bytes;
        task.kept += 1;
        task.keptBytes += bytes;
        kept.push(line);
      } else {
        task.full = true;
        task.dropped += 1;
      }
    }
    const stored: TaskLogLineRecord[] = [];
    if (kept.length > 0) {
      // One multi-row insert (at most 7 parameters a line; the writer's batches keep it far below
      // PostgreSQL's 65,535): identities are drawn in the order of the rows.
      const inserted = await tx
        .insert(taskLogs)
        .values(
          kept.map((line) => ({
            taskId: line.taskId,
            attempt: line.attempt,
            level: line.level,
            message: line.message,
            fields: line.fields ?? null,
            time: line.time,
          })),
        )
        .returning();
      for (const row of inserted) stored.push(toLineRecord(row));
      stored.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
    }
    const changed = [...room.entries()].filter(([, task]) => task.kept > 0 || task.dropped > 0);
    if (changed.length > 0) {
      const rows = changed.map(([id, task]) => ({ id, lines: task.kept, bytes: task.keptBytes, dropped: task.dropped }));
      await tx
        .update(tasks)
        .set({
          logLines: sql`${tasks.logLines} + v.lines`,
          logBytes: sql`${tasks.logBytes} + v.bytes`,
          logsDropped: sql`${tasks.logsDropped} + v.dropped`,
        })
        .from(sql`json_to_recordset(${jsonParam(rows)}) as v(id uuid, lines int, bytes bigint, dropped int)`)
        .where(and(anyOf(tasks.id, rows.map((row) => row.id), "uuid"), sql`${tasks.id} = v.id`));
    }
    return { stored, dropped: new Map(changed.filter(([, task]) => task.dropped > 0).map(([id, task]) => [id, task.dropped])) };
  });
}

/**
 * One task's lines after `query.afterSequence`, oldest first, at most `query.limit`, through
 * `task_logs_task_id_id_idx`; with the task's totals. Undefined when the task does not exist.
 */
export async function readLogs(db: TaskwireDatabase, query: TaskLogQuery): Promise<TaskLogPage | undefined> {
  if (!isUuid(query.taskId)) return undefined;
  const [task] = await db.select({ lines: tasks.logLines, dropped: tasks.logsDropped }).from(tasks).where(eq(tasks.id, query.taskId));
  if (task === undefined) return undefined;
  const conditions = [eq(taskLogs.taskId, query.taskId), gt(taskLogs.id, query.afterSequence)];
  if (query.attempt !== undefined) conditions.push(eq(taskLogs.attempt, query.attempt));
  if (query.levels !== undefined) conditions.push(inArray(taskLogs.level, [...query.levels]));
  const rows = await db
    .select()
    .from(taskLogs)
    .where(and(...conditions))
    .orderBy(asc(taskLogs.id))
    .limit(query.limit);
  return { lines: rows.map(toLineRecord), storedCount: task.lines, droppedCount: task.dropped };
}

function toLineRecord(row: typeof taskLogs.$inferSelect): TaskLogLineRecord {
  return {
    sequence: row.id,
    taskId: row.taskId,
    attempt: row.attempt,
    level: row.level,
    message: row.message,
    ...(row.fields === null ? {} : { fields: row.fields as JsonObject }),
    time: row.time,
  };
}
