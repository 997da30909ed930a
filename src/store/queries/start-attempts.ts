/**
 * startAttempts: the dispatcher hands tasks to a worker; each starts its next attempt.
 *
 * Strategy: one UPDATE for the whole batch, guarded in the WHERE clause by the state (QUEUED,
 * or SCHEDULED whose time came: the broker promotes delayed tasks before PostgreSQL is told)
 * and by the types the worker serves. A task cancelled (or started by another server) since the
 * broker popped it is skipped rather than started twice: the row lock makes the second updater
 * re-check the state. Only the attempt's own columns change; output, errors and progress of
 * earlier attempts stay. The ids that did not start are read back only when there are some
 * (rare), so the dispatcher can put them back or drop their leases.
 */
import { and, sql } from "drizzle-orm";
import type { TaskStateName } from "../../core/task-types.js";
import type { NotStarted, StartedAttempts } from "../store.js";
import type { TaskwireDatabase } from "../database.js";
import { inOrderOf, toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { anyOf, appendTransition, arrayLiteral, isUuid, preparedOnce, timestampParam, unindexed } from "../sql-helpers.js";

const NOW = sql.placeholder("now");
/** Guarded through an expression, so that the rows are reached by id (see `unindexed`). */
const STATE = unindexed(tasks.state);

const startStatement = preparedOnce((db) =>
  db
    .update(tasks)
    .set({
      state: "RUNNING",
      attempt: sql`${tasks.attempt} + 1`,
      workerId: sql`${sql.placeholder("workerId")}`,
      startedAt: timestampParam(NOW),
      updatedAt: timestampParam(NOW),
      transitions: appendTransition(tasks.transitions, sql`'RUNNING'`, sql`${tasks.attempt} + 1`, NOW),
    })
    .where(
      and(
        anyOf(tasks.id, sql.placeholder("ids"), "uuid"),
        anyOf(tasks.type, sql.placeholder("types"), "text"),
        sql`(${STATE} = 'QUEUED' or (${STATE} = 'SCHEDULED' and ${tasks.scheduledAt} <= ${timestampParam(NOW)}))`,
      ),
    )
    .returning()
    .prepare("taskwire_start_attempts"),
);

/** Starts attempts of the tasks still waiting whose type the worker serves, in the order of `ids`. */
export async function startAttempts(
  db: TaskwireDatabase,
  ids: readonly string[],
  workerId: string,
  now: Date,
  types: readonly string[],
): Promise<StartedAttempts> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return { started: [], others: ids.map(missing) };
  const rows = await startStatement(db).execute({
    ids: arrayLiteral(valid),
    types: arrayLiteral(types),
    workerId,
    now: now.toISOString(),
  });
  const started = inOrderOf(valid, rows.map(toTaskRecord));
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
      return row
        ? { id, state: row.state as TaskStateName, priority: row.priority, type: row.type, scheduledAt: row.scheduledAt }
        : missing(id);
    });
  return { started, others };
}

function missing(id: string): NotStarted {
  return { id, state: null, priority: 0, type: "", scheduledAt: null };
}
