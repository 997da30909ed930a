/**
 * insertTasks: a batch of submissions as ONE statement.
 *
 * Strategy: the whole batch travels as one `json` parameter and is expanded by
 * `json_to_recordset`, so the statement text is the same for 1 or 10,000 tasks (one prepared
 * statement, no 65,535-parameter ceiling). Inputs are base64 inside the JSON.
 *
 * Idempotency is race-free without locks: `on conflict (idempotency_key) do nothing` skips a key
 * that exists, waiting for a concurrent transaction that is inserting the same key to commit
 * or roll back, and also skips the second occurrence of a key within the batch (rows are inserted
 * in batch order, `order by v.ord`). Whatever was skipped is then read back by key: the row that
 * won is committed by then, so it is always found.
 */
import { getTableColumns, sql, type SQL } from "drizzle-orm";
import type { NewTask, TaskRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { initialTransition, insertedTaskRecord, toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { anyOf, jsonParam, preparedOnce, toBase64 } from "../sql-helpers.js";

/** The value of each column for a row `v` of the batch; a Record, so a new column fails to compile here. */
const COLUMN_VALUES: Record<keyof typeof tasks.$inferInsert, SQL> = {
  id: sql`v.id`,
  type: sql`v.type`,
  queue: sql`v.queue`,
  priority: sql`v.priority`,
  state: sql`v.state`,
  inputTypeUrl: sql`v.input_type_url`,
  input: sql`decode(v.input, 'base64')`,
  outputTypeUrl: sql`null`,
  output: sql`null`,
  errors: sql`coalesce(v.errors, '[]'::jsonb)`,
  attempt: sql`0`,
  maxAttempts: sql`v.max_attempts`,
  progress: sql`null`,
  timeoutMs: sql`v.timeout_ms`,
  backoff: sql`v.backoff`,
  idempotencyKey: sql`v.idempotency_key`,
  workerId: sql`null`,
  createdAt: sql`v.created_at`,
  scheduledAt: sql`v.scheduled_at`,
  startedAt: sql`null`,
  finishedAt: sql`v.finished_at`,
  updatedAt: sql`v.created_at`,
  transitions: sql`v.transitions`,
  submittedBy: sql`v.submitted_by`,
  labels: sql`coalesce(v.labels, '{}'::jsonb)`,
  traceparent: sql`v.traceparent`,
  tracestate: sql`v.tracestate`,
  parentIds: sql`v.parent_ids`,
  pendingParents: sql`coalesce(v.pending_parents, 0)`,
  childrenCount: sql`coalesce(v.children_count, 0)`,
  onParentFailure: sql`coalesce(v.on_parent_failure, 'CANCEL')`,
  context: sql`'{}'::jsonb`,
  logLines: sql`0`,
  logBytes: sql`0`,
  logsDropped: sql`0`,
  concurrencyKey: sql`v.concurrency_key`,
};

// Drizzle's `insert ... select` names every column in table order: select them in that order.
const SELECT_LIST = sql.join(
  Object.keys(getTableColumns(tasks)).map((key) => COLUMN_VALUES[key as keyof typeof COLUMN_VALUES]),
  sql`, `,
);

const RECORDSET_COLUMNS = sql.raw(
  [
    "ord int",
    "id uuid",
    "type text",
    "queue text",
    "priority int",
    "state text",
    "input_type_url text",
    "input text",
    "max_attempts int",
    "timeout_ms bigint",
    "backoff jsonb",
    "idempotency_key text",
    "created_at timestamptz",
    "scheduled_at timestamptz",
    "transitions jsonb",
    "submitted_by text",
    "labels jsonb",
    "traceparent text",
    "tracestate text",
    "parent_ids uuid[]",
    "pending_parents int",
    "children_count int",
    "on_parent_failure text",
    "errors jsonb",
    "finished_at timestamptz",
    "concurrency_key text",
  ].join(", "),
);

const insertStatement = preparedOnce((db) =>
  db
    .insert(tasks)
    .select(
      sql`select ${SELECT_LIST} from json_to_recordset(${jsonParam(sql.placeholder("rows"))}) as v(${RECORDSET_COLUMNS}) order by v.ord`,
    )
    .onConflictDoNothing({ target: tasks.idempotencyKey })
    // Only the ids: the rest of an inserted row is what was sent (`insertedTaskRecord`).
    .returning({ id: tasks.id })
    .prepare("taskwire_insert_tasks"),
);

/** Inserts the batch; see the file header. Results are in input order. */
export async function insertTasks(
  db: TaskwireDatabase,
  batch: readonly NewTask[],
): Promise<{ task: TaskRecord; existing: boolean }[]> {
  if (batch.length === 0) return [];
  // Keys are the recordset's (SQL) column names.
  const rows = batch.map((task, ord) => ({
    ord,
    id: task.id,
    type: task.type,
    queue: task.queue,
    priority: task.priority,
    state: task.state,
    input_type_url: task.inputTypeUrl,
    input: toBase64(task.input),
    max_attempts: task.maxAttempts,
    timeout_ms: task.timeoutMs,
    backoff: task.backoff,
    idempotency_key: task.idempotencyKey,
    created_at: task.createdAt.toISOString(),
    scheduled_at: task.scheduledAt.toISOString(),
    transitions: [initialTransition(task)],
    submitted_by: task.submittedBy ?? null,
    labels: task.labels ?? {},
    traceparent: task.traceparent ?? null,
    tracestate: task.tracestate ?? null,
    concurrency_key: task.concurrencyKey ?? null,
    // Dependencies (`dependencies.ts`); absent on the plain submissions of the hot path.
    ...(task.parentIds === undefined && task.childrenCount === undefined
      ? {}
      : {
          parent_ids: task.parentIds && task.parentIds.length > 0 ? task.parentIds : null,
          pending_parents: task.pendingParents ?? 0,
          children_count: task.childrenCount ?? 0,
          on_parent_failure: task.onParentFailure ?? "CANCEL",
          errors: task.errors ?? null,
          finished_at: task.finishedAt?.toISOString() ?? null,
        }),
  }));
  const inserted = await insertStatement(db).execute({ rows: JSON.stringify(rows) });

  const insertedIds = new Set(inserted.map((row) => row.id));
  const skippedKeys = batch
    .filter((task) => !insertedIds.has(task.id) && task.idempotencyKey !== null)
    .map((task) => task.idempotencyKey as string);
  const byKey = new Map<string, TaskRecord>();
  if (skippedKeys.length > 0) {
    const existing = await db.select().from(tasks).where(anyOf(tasks.idempotencyKey, skippedKeys, "text"));
    for (const row of existing) byKey.set(row.idempotencyKey as string, toTaskRecord(row));
  }

  return batch.map((task) => {
    if (insertedIds.has(task.id)) return { task: insertedTaskRecord(task), existing: false };
    const existing = task.idempotencyKey === null ? undefined : byKey.get(task.idempotencyKey);
    if (!existing) {
      // Only possible if the row holding the key was deleted in between: nothing deletes tasks.
      throw new Error(`task ${task.id} was neither inserted nor found by its idempotency key`);
    }
    return { task: existing, existing: true };
  });
}
