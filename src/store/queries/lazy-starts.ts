/**
 * beginAttempts and recordStarts: an attempt starts when the broker's claim leases the task, and
 * PostgreSQL learns of the start afterwards, off the task's path to its worker.
 *
 * beginAttempts is a read (no commit): the claimed tasks still waiting (QUEUED, or SCHEDULED and
 * due) whose type the worker serves, returned as they are once started (RUNNING, the attempt
 * numbered by `core/attempt-numbers.ts`, which says why numbers never repeat; the worker and
 * the start time). The dispatcher hands them to the worker at once and writes the starts later
 * with recordStarts (batched), unless an attempt's outcome comes first and writes its start and
 * end together (finish-attempts.ts).
 *
 * recordStarts: one UPDATE for the batch, fenced by a waiting state and a stored attempt below
 * the start's (so a replay, or a start arriving after its attempt's outcome, changes nothing).
 * Each start comes back `written`; `covered` when the attempt's outcome wrote it already (the
 * row holds this attempt, worker and start time); or `refused` when the task moved on without it
 * (cancelled while it was being handed out, or started by another claim): the worker holding it
 * must be told to stop. The rows not written are read back only when there are some (rare).
 */
import { and, sql } from "drizzle-orm";
import type { TaskStateName } from "../../core/task-types.js";
import { startedRecord } from "../../core/attempt-numbers.js";
import type { AttemptStart, NotStarted, StartedAttempts, StartWrite } from "../store.js";
import type { TaskwireDatabase } from "../database.js";
import { inOrderOf, toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { anyOf, arrayLiteral, isUuid, jsonParam, preparedOnce, SQL_WAITING, unindexed } from "../sql-helpers.js";

/** Guarded through an expression, so that the rows are reached by id (see `unindexed`). */
const STATE = unindexed(tasks.state);

const readStatement = preparedOnce((db) =>
  db
    .select()
    .from(tasks)
    .where(
      and(
        anyOf(tasks.id, sql.placeholder("ids"), "uuid"),
        anyOf(tasks.type, sql.placeholder("types"), "text"),
        sql`(${STATE} = 'QUEUED' or (${STATE} = 'SCHEDULED' and ${tasks.scheduledAt} <= ${sql.placeholder("now")}::timestamptz))`,
      ),
    )
    .prepare("taskwire_begin_attempts"),
);

const writeStatement = preparedOnce((db) =>
  db
    .update(tasks)
    .set({
      state: "RUNNING",
      attempt: sql`v.attempt`,
      workerId: sql`v.worker_id`,
      startedAt: sql`v.started_at`,
      updatedAt: sql`v.started_at`,
      transitions: sql`${tasks.transitions} || jsonb_build_array(jsonb_build_object('state', 'RUNNING', 'attempt', v.attempt, 'time', v.started_text))`,
    })
    .from(sql`json_to_recordset(${jsonParam(sql.placeholder("rows"))}) as v(id uuid, attempt int, worker_id text, started_at timestamptz, started_text text)`)
    .where(
      and(
        anyOf(tasks.id, sql.placeholder("ids"), "uuid"),
        sql`${tasks.id} = v.id`,
        sql`${tasks.attempt} < v.attempt`,
        sql`${STATE} in ${SQL_WAITING}`,
      ),
    )
    .returning({ id: tasks.id })
    .prepare("taskwire_record_starts"),
);

/**
 * The claimed tasks that may start, as they are once started (nothing is written); see the file
 * header and `core/attempt-numbers.ts`.
 */
export async function beginAttempts(
  db: TaskwireDatabase,
  ids: readonly string[],
  workerId: string,
  now: Date,
  types: readonly string[],
  indexBuiltAt: Date,
): Promise<StartedAttempts> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return { started: [], others: ids.map(missing) };
  const rows = await readStatement(db).execute({ ids: arrayLiteral(valid), types: arrayLiteral(types), now: now.toISOString() });
  const started = inOrderOf(valid, rows.map((row) => startedRecord(toTaskRecord(row), workerId, now, indexBuiltAt)));
  if (started.length === ids.length) return { started, others: [] };
  const startedIds = new Set(started.map((t) => t.id));
  const rest = valid.filter((id) => !startedIds.has(id));
  const found =
    rest.length === 0
      ? []
      : await db
          .select({ id: tasks.id, state: tasks.state, priority: tasks.priority, type: tasks.type, scheduledAt: tasks.scheduledAt })
          .from(tasks)
          .where(anyOf(tasks.id, rest, "uuid"));
  const byId = new Map(found.map((r) => [r.id, r]));
  const others: NotStarted[] = ids
    .filter((id) => !startedIds.has(id))
    .map((id) => {
      const row = byId.get(id);
      return row ? { id, state: row.state as TaskStateName, priority: row.priority, type: row.type, scheduledAt: row.scheduledAt } : missing(id);
    });
  return { started, others };
}

/** Writes attempts' starts; one result per start, in order (see the file header). */
export async function recordStarts(db: TaskwireDatabase, starts: readonly AttemptStart[]): Promise<StartWrite[]> {
  // One row per task (the highest attempt): a task has one start being written at a time.
  const latest = new Map<string, AttemptStart>();
  for (const start of starts) {
    if (!isUuid(start.id)) continue;
    const key = start.id.toLowerCase();
    const seen = latest.get(key);
    if (seen === undefined || seen.attempt < start.attempt) latest.set(key, start);
  }
  if (latest.size === 0) return starts.map(() => "refused");
  const rows = [...latest.values()].map((s) => ({
    id: s.id,
    attempt: s.attempt,
    worker_id: s.workerId,
    started_at: s.startedAt.toISOString(),
    started_text: s.startedAt.toISOString(),
  }));
  const ids = rows.map((r) => r.id);
  const written = new Set((await writeStatement(db).execute({ rows: JSON.stringify(rows), ids: arrayLiteral(ids) })).map((r) => r.id.toLowerCase()));
  const rest = ids.filter((id) => !written.has(id.toLowerCase()));
  const current = new Map<string, { attempt: number; workerId: string | null; startedAt: Date | null }>();
  if (rest.length > 0) {
    const found = await db
      .select({ id: tasks.id, attempt: tasks.attempt, workerId: tasks.workerId, startedAt: tasks.startedAt })
      .from(tasks)
      .where(anyOf(tasks.id, rest, "uuid"));
    for (const row of found) current.set(row.id.toLowerCase(), row);
  }
  return starts.map((start) => {
    const key = start.id.toLowerCase();
    if (latest.get(key) !== start) return "refused";
    if (written.has(key)) return "written";
    const row = current.get(key);
    const covered =
      row !== undefined && row.attempt === start.attempt && row.workerId === start.workerId && row.startedAt?.getTime() === start.startedAt.getTime();
    return covered ? "covered" : "refused";
  });
}

function missing(id: string): NotStarted {
  return { id, state: null, priority: 0, type: "", scheduledAt: null };
}
