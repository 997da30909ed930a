/**
 * The WHERE clause of a {@link TaskSelection}: the one translation of a selection into SQL,
 * shared by the counts and every bulk action, so "which tasks" means the same everywhere.
 *
 * Strategy:
 * - The states are always intersected with a fixed list the caller allows (a bulk action's
 *   source states; every state for a count), so the list is written into the statement from
 *   the table of task states (`core/task-states.ts`), never from input. It is inlined rather
 *   than a parameter so that the partial indexes (`tasks_finished_at_idx`,
 *   `tasks_unfinished_id_idx`) can be proven to apply: the allowed list itself is written
 *   out whole, word for word as the index predicate, and a narrower selected list beside it.
 * - Ids travel as one `uuid[]` parameter (`anyOf`), however many; types to exclude as one
 *   `text[]` (`type <> all(...)`); dates as `timestamptz` text parameters.
 * - An empty list (ids, states, excluded types) narrows nothing, as an absent one: proto3 cannot
 *   tell them apart. Malformed ids match no task; a selection that can match nothing (no valid
 *   id, or no allowed state selected) yields `undefined`, and the caller skips the database.
 */
import { sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { ALL_STATES, sqlStateList } from "../../core/task-states.js";
import type { TaskStateName } from "../../core/task-states.js";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import { anyOf, arrayLiteral, isUuid, timestampParam } from "../sql-helpers.js";
import type { TaskSelection } from "../store.js";

/** The conditions of `selection` on `tasks`, its states limited to `allowed`; `undefined` when no task can match. */
export function selectionWhere(selection: TaskSelection, allowed: readonly TaskStateName[] = ALL_STATES): SQL | undefined {
  const conditions: SQL[] = [];

  const selected = selection.states !== undefined && selection.states.length > 0 ? new Set(selection.states) : undefined;
  const states = selected === undefined ? [...allowed] : allowed.filter((state) => selected.has(state));
  if (states.length === 0) return undefined;
  if (allowed.length < ALL_STATES.length) conditions.push(sql`${tasks.state} in ${sql.raw(sqlStateList(allowed))}`);
  if (states.length < allowed.length) conditions.push(sql`${tasks.state} in ${sql.raw(sqlStateList(states))}`);

  if (selection.ids !== undefined && selection.ids.length > 0) {
    const ids = selection.ids.filter(isUuid);
    if (ids.length === 0) return undefined;
    conditions.push(anyOf(tasks.id, ids, "uuid"));
  }
  if (selection.type !== undefined) conditions.push(sql`${tasks.type} = ${selection.type}`);
  if (selection.queue !== undefined) conditions.push(sql`${tasks.queue} = ${selection.queue}`);
  if (selection.finishedAfter !== undefined) {
    conditions.push(sql`${tasks.finishedAt} >= ${timestampParam(selection.finishedAfter)}`);
  }
  if (selection.finishedBefore !== undefined) {
    conditions.push(sql`${tasks.finishedAt} < ${timestampParam(selection.finishedBefore)}`);
  }
  if (selection.labels !== undefined && Object.keys(selection.labels).length > 0) {
    conditions.push(sql`${tasks.labels} @> ${JSON.stringify(selection.labels)}::jsonb`);
  }
  if (selection.createdBefore !== undefined) {
    conditions.push(sql`${tasks.createdAt} < ${timestampParam(selection.createdBefore)}`);
  }
  if (selection.excludeTypes !== undefined && selection.excludeTypes.length > 0) {
    conditions.push(sql`${tasks.type} <> all(${arrayLiteral(selection.excludeTypes)}::text[])`);
  }

  return conditions.length === 0 ? sql`true` : sql.join(conditions, sql` and `);
}

/**
 * `id = any(array(<at most limit ids of tasks matching where>))`, the rows locked for the
 * statement whose WHERE it is (`for update skip locked`): rows a concurrent bulk call holds are
 * skipped rather than waited for, so two servers running the same action split the work and
 * never change a task twice, and no call locks more than `limit` rows. Ordered by `order` (the
 * id unless told), so a loop of calls walks the selection in a known order.
 *
 * `= any(array(...))` rather than `in (...)`: the batch is then computed once, as an array,
 * and the UPDATE or DELETE reaches its rows through the primary key. Given `in (...)`,
 * PostgreSQL may hash the batch and scan the whole table to join it (it did on 5,000 rows).
 */
export function inLockedBatch(db: TaskwireDatabase, where: SQL, limit: number, order: SQL | PgColumn = tasks.id): SQL {
  const batch = db
    .select({ id: tasks.id })
    .from(tasks)
    .where(where)
    .orderBy(order)
    .limit(batchLimit(limit))
    .for("update", { skipLocked: true });
  return sql`${tasks.id} = any(array(${batch}))`;
}

/** A bulk call's `limit` as a row count: a whole number, at least 1. */
export function batchLimit(limit: number): number {
  return Math.max(1, Math.trunc(limit));
}
