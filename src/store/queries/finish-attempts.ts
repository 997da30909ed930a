/**
 * finishAttempts: how attempts ended (results, failures, cancellations), as ONE statement.
 *
 * Strategy: the outcomes travel as one `json` parameter (`json_to_recordset`) and join the tasks
 * in `update ... from`. The fence is in the WHERE clause: `(id, attempt)` must match and the
 * task must still be held (RUNNING or CANCELLING), so a late, duplicated or stale report
 * matches no row and changes nothing. The next state is computed in SQL from the row being
 * updated (not from a subquery), so that when a concurrent cancel wins the row lock first,
 * PostgreSQL re-evaluates it against the CANCELLING row and the cancel is not lost.
 *
 * Next state, in order: success → SUCCEEDED (even when cancelling: the work is done); any
 * other outcome of a CANCELLING task, or a cancellation → CANCELLED; a release (the worker hands
 * the attempt back unstarted) → QUEUED with the attempt not counted: `attempt` goes back by one,
 * no error is recorded, and a task that never ran loses its start time and worker again; a
 * retryable failure with attempts left → SCHEDULED after the back-off; otherwise FAILED.
 *
 * Children (`dependencies.ts`): a task that others depend on (`children_count > 0`) is finished
 * in a transaction with the release of its children. The statement below therefore first runs
 * on its own guarded by `not (children_count > 0)`, matching only tasks without children: the common case
 * costs no transaction and no query more. The outcomes it left (stale ones, and those of tasks
 * with children) run again, in one transaction, without the guard, followed by
 * `releaseChildren` for those that finished. `children_count` is read from the locked row, so a
 * child submitted while its parent finishes is seen (the submission holds the parent's lock).
 *
 * An outcome may carry its attempt's start (`AttemptOutcome.start`), which PostgreSQL learns
 * lazily (see lazy-starts.ts): when the start was not written yet, the row is still waiting
 * (QUEUED or SCHEDULED) with a lower attempt, and the one statement writes the start and the end
 * together (RUNNING and the outcome's state both appended to `transitions`). That second fence
 * (a waiting state and a stored attempt below the outcome's) admits only an attempt later than
 * any the row has seen; a release of an attempt whose start was never written leaves the row as
 * it was but for the attempt number, which then never repeats, and for its transitions (RUNNING
 * and QUEUED, as when its start was written; only QUEUED for a release without a worker, the
 * reaper's, which uses up the number of a claim that may have handed the task out).
 *
 * Back-off: `min(maxMs, initialMs * multiplier^(attempt-1))`, scaled by a random factor in
 * `[1 - jitter, 1 + jitter]`. It is computed in SQL because the policy lives in the row; the
 * random number is drawn here, per outcome. `numeric` arithmetic, so a large multiplier or
 * attempt count cannot overflow.
 */
import { and, getTableColumns, sql } from "drizzle-orm";
import type { TaskRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { inOrderOf, toTaskRecord } from "../records.js";
import { releaseChildren } from "./dependencies.js";
import { tasks } from "../schema.js";
import type { AttemptOutcome } from "../store.js";
import { anyOf, arrayLiteral, SQL_HELD, SQL_WAITING, isUuid, jsonParam, preparedOnce, timestampParam, toBase64, unindexed } from "../sql-helpers.js";

/** The outcome carries a start PostgreSQL does not have yet: the row still waits, at a lower attempt. */
const UNWRITTEN = sql`(v.started_at is not null and ${unindexed(tasks.state)} in ${SQL_WAITING} and ${tasks.attempt} < v.attempt)`;

const NEXT_STATE = sql`(case
  when v.kind = 'succeeded' then 'SUCCEEDED'
  when ${tasks.state} = 'CANCELLING' or v.kind = 'cancelled' then 'CANCELLED'
  when v.kind = 'released' then 'QUEUED'
  when (v.error ->> 'retryable')::boolean and v.attempt < ${tasks.maxAttempts} then 'SCHEDULED'
  else 'FAILED'
end)`;

const BACKOFF_MS = sql`greatest(0,
  least(
    (${tasks.backoff} ->> 'maxMs')::numeric,
    (${tasks.backoff} ->> 'initialMs')::numeric * power((${tasks.backoff} ->> 'multiplier')::numeric, v.attempt - 1)
  ) * (1 + (${tasks.backoff} ->> 'jitter')::numeric * (2 * v.random - 1))
)`;

/** The attempt's worker: the outcome's when its start was not written, else the row's. */
const WORKER = sql`(case when ${UNWRITTEN} then v.worker_id else ${tasks.workerId} end)`;

/** The error recorded for the attempt: the worker's, or a CANCELLED one carrying the reason. */
const ATTEMPT_ERROR = sql`(case v.kind
  when 'failed' then v.error
  else jsonb_build_object(
    'attempt', v.attempt, 'kind', 'CANCELLED', 'name', 'Cancelled', 'message', v.reason,
    'retryable', false, 'workerId', coalesce(${WORKER}, ''), 'time', v.finished)
end)`;

const RECORDSET_COLUMNS = sql.raw(
  "id uuid, attempt int, kind text, output_type_url text, output text, error jsonb, reason text, random numeric, finished text, worker_id text, started_at timestamptz, started_text text",
);

const NOW = sql.placeholder("now");
const SUCCEEDED = sql`v.kind = 'succeeded'`;
/** A release that puts the task back (not one of a task being cancelled, which ends CANCELLED). */
const RELEASED = sql`(v.kind = 'released' and ${tasks.state} <> 'CANCELLING')`;
/** The attempt number after the outcome: a release does not count its attempt. */
const ATTEMPT_AFTER = sql`(case when ${RELEASED} then v.attempt - 1 else v.attempt end)`;
/** A release of a task's only attempt, written as started: it never ran. */
const NEVER_RAN = sql`(${RELEASED} and not ${UNWRITTEN} and ${tasks.attempt} = 1)`;
/** An unwritten start that the outcome writes (a released one is not: it never ran). */
const WRITES_START = sql`(${UNWRITTEN} and not ${RELEASED})`;
const FINAL_TRANSITION = sql`jsonb_build_object('state', ${NEXT_STATE}, 'attempt', ${ATTEMPT_AFTER}, 'time', ${NOW}::text)`;

/**
 * The statement; `childless` adds the guard on `children_count` (written into the statement: a
 * boolean parameter, `or $n`, made the planner join every task to the outcomes).
 */
function buildFinish(db: TaskwireDatabase, childless: boolean) {
  return (
  db
    .update(tasks)
    .set({
      state: NEXT_STATE,
      attempt: ATTEMPT_AFTER,
      workerId: sql`case when ${NEVER_RAN} then null when ${WRITES_START} then v.worker_id else ${tasks.workerId} end`,
      startedAt: sql`case when ${NEVER_RAN} then null when ${WRITES_START} then v.started_at else ${tasks.startedAt} end`,
      outputTypeUrl: sql`case when ${SUCCEEDED} then v.output_type_url else ${tasks.outputTypeUrl} end`,
      output: sql`case when ${SUCCEEDED} then decode(v.output, 'base64') else ${tasks.output} end`,
      errors: sql`case when ${SUCCEEDED} or ${RELEASED} then ${tasks.errors} else ${tasks.errors} || jsonb_build_array(${ATTEMPT_ERROR}) end`,
      scheduledAt: sql`case when ${NEXT_STATE} = 'SCHEDULED'
        then ${timestampParam(NOW)} + make_interval(secs => (${BACKOFF_MS} / 1000)::float8)
        else ${tasks.scheduledAt} end`,
      finishedAt: sql`case when ${NEXT_STATE} in ('SCHEDULED', 'QUEUED') then ${tasks.finishedAt} else ${timestampParam(NOW)} end`,
      updatedAt: timestampParam(NOW),
      transitions: sql`case
        when ${UNWRITTEN} and v.worker_id is null then ${tasks.transitions} || jsonb_build_array(${FINAL_TRANSITION})
        when ${UNWRITTEN} then ${tasks.transitions} || jsonb_build_array(
          jsonb_build_object('state', 'RUNNING', 'attempt', v.attempt, 'time', v.started_text), ${FINAL_TRANSITION})
        else ${tasks.transitions} || jsonb_build_array(${FINAL_TRANSITION}) end`,
    })
    .from(sql`json_to_recordset(${jsonParam(sql.placeholder("rows"))}) as v(${RECORDSET_COLUMNS})`)
    .where(
      and(
        // The ids again, as an array: the planner then reaches the rows through the primary key
        // rather than joining the whole table to the outcomes.
        anyOf(tasks.id, sql.placeholder("ids"), "uuid"),
        sql`${tasks.id} = v.id`,
        sql`((${tasks.attempt} = v.attempt and ${unindexed(tasks.state)} in ${SQL_HELD}) or ${UNWRITTEN})`,
        // "not (... > 0)", not "= 0": with no statistics yet, an equality is estimated to keep 0.5 % of the rows, and the planner then loops over the outcomes for each task.
        childless ? sql`not (${tasks.childrenCount} > 0)` : undefined,
      ),
    )
    // Explicit columns: with an `sql` FROM, drizzle cannot type the default `returning()`.
    .returning(getTableColumns(tasks))
    .prepare(childless ? "taskwire_finish_attempts" : "taskwire_finish_attempts_with_children")
  );
}

const finishStatement = preparedOnce((db) => buildFinish(db, true));
const finishWithChildrenStatement = preparedOnce((db) => buildFinish(db, false));

/** Applies the outcomes; returns the tasks that changed, after the change, in the order of `outcomes`. */
export async function finishAttempts(
  db: TaskwireDatabase,
  outcomes: readonly AttemptOutcome[],
  now: Date,
): Promise<TaskRecord[]> {
  const time = now.toISOString();
  // One row per (id, attempt): a duplicate report in the same batch is ignored like a late one.
  const seen = new Set<string>();
  const rows = [];
  for (const outcome of outcomes) {
    const key = `${outcome.id.toLowerCase()}/${outcome.attempt}`;
    if (!isUuid(outcome.id) || seen.has(key)) continue;
    seen.add(key);
    rows.push({
      id: outcome.id,
      attempt: outcome.attempt,
      kind: outcome.kind,
      output_type_url: outcome.kind === "succeeded" ? outcome.outputTypeUrl : null,
      output: outcome.kind === "succeeded" ? toBase64(outcome.output) : null,
      error: outcome.kind === "failed" ? outcome.error : null,
      reason: outcome.kind === "cancelled" || outcome.kind === "released" ? outcome.reason : null,
      random: Math.random(),
      finished: time,
      worker_id: outcome.start?.workerId ?? null,
      started_at: outcome.start?.startedAt.toISOString() ?? null,
      started_text: outcome.start?.startedAt.toISOString() ?? null,
    });
  }
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const updated = await finishStatement(db).execute({ rows: JSON.stringify(rows), ids: arrayLiteral(ids), now: time });
  if (updated.length === rows.length) return inOrderOf(ids, updated.map(toTaskRecord));

  // Stale outcomes and tasks with children: again, with the children's release, in one transaction.
  const done = new Set(updated.map((row) => row.id));
  const rest = rows.filter((row) => !done.has(row.id.toLowerCase()));
  const restIds = rest.map((row) => row.id);
  const { parents, children } = await db.transaction(async (tx) => {
    const finished = (
      await finishWithChildrenStatement(tx).execute({ rows: JSON.stringify(rest), ids: arrayLiteral(restIds), now: time })
    ).map(toTaskRecord);
    return { parents: finished, children: await releaseChildren(tx, finished, now) };
  });
  // The children released or cancelled come after the tasks of the outcomes.
  return [...inOrderOf(ids, [...updated.map(toTaskRecord), ...parents]), ...children];
}
