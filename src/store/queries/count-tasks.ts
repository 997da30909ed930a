/**
 * countTasks: how many tasks of a selection are in each state, and by type and/or queue.
 *
 * Strategy: one `group by state[, type][, queue]` over the selection (`selectionWhere`), so
 * only non-empty groups come back. The type and queue columns are selected either way (as null
 * when not grouped by), so the statement has one shape. Groups come in lifecycle order of the
 * states (the order of `ALL_STATES`, passed as one array parameter to `array_position`), then
 * by type and queue. A count over millions of tasks reads them all; the selection's indexes
 * (state, type, queue; finish time for finished ones) keep narrower counts cheap.
 */
import { sql } from "drizzle-orm";
import { ALL_STATES } from "../../core/task-states.js";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import { arrayLiteral } from "../sql-helpers.js";
import type { TaskCountRow, TaskSelection } from "../store.js";
import { selectionWhere } from "./task-selection.js";

const STATE_ORDER = sql`array_position(${arrayLiteral(ALL_STATES)}::text[], ${tasks.state})`;

/** Counts the selection by state (and type, queue when asked); non-zero groups only. */
export async function countTasks(
  db: TaskwireDatabase,
  selection: TaskSelection,
  groupBy: { type: boolean; queue: boolean },
): Promise<TaskCountRow[]> {
  const where = selectionWhere(selection);
  if (where === undefined) return [];
  const keys = [sql`${tasks.state}`];
  if (groupBy.type) keys.push(sql`${tasks.type}`);
  if (groupBy.queue) keys.push(sql`${tasks.queue}`);
  const rows = await db
    .select({
      state: tasks.state,
      type: groupBy.type ? sql<string>`${tasks.type}` : sql<null>`null`,
      queue: groupBy.queue ? sql<string>`${tasks.queue}` : sql<null>`null`,
      count: sql<number>`count(*)`.mapWith(Number),
    })
    .from(tasks)
    .where(where)
    .groupBy(...keys)
    .orderBy(STATE_ORDER, ...keys.slice(1));
  return rows.map((row) => ({
    state: row.state,
    ...(row.type === null ? {} : { type: row.type }),
    ...(row.queue === null ? {} : { queue: row.queue }),
    count: row.count,
  }));
}
