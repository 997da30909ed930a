/**
 * listTasks: newest first, filtered by state, type, queue, submitter, labels, parent and creation
 * time, by pages.
 *
 * Strategy: UUIDv7 ids are time ordered, so "newest first" is `order by id desc` and the page
 * cursor is the last id seen (`id < beforeId`, keyset pagination: a page costs the same however
 * deep it is, and tasks submitted meanwhile do not shift later pages). The indexes
 * `(state, id)`, `(type, id)`, `(queue, id)` and `(submitted_by, id)`, read backwards, serve each
 * filter; a labels filter is `labels @> {...}`, which the GIN index `tasks_labels_idx` serves
 * (PostgreSQL combines it with the others, or walks the id index backwards when the page is
 * reached sooner that way). The total is a separate `count(*)` of the whole filter (without the cursor), run
 * concurrently.
 */
import { and, count, desc, eq, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import { InvalidArgumentError } from "../../core/errors.js";
import type { TaskRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { isUuid } from "../sql-helpers.js";
import type { TaskFilter } from "../store.js";

/** The largest page. */
const MAX_LIMIT = 1000;
/** How far a task's creation time may be from the time in its id. */
const ID_SLACK_MS = 60_000;

/** The smallest UUID whose first 48 bits are `ms` (a UUIDv7 of that millisecond is never below it). */
function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.min(ms, 2 ** 48 - 1)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8)}-0000-0000-000000000000`;
}

/** Lists a page of tasks and counts all that match the filter. */
export async function listTasks(
  db: TaskwireDatabase,
  filter: TaskFilter,
): Promise<{ tasks: TaskRecord[]; total: number }> {
  if (filter.beforeId !== undefined && !isUuid(filter.beforeId)) {
    throw InvalidArgumentError.field("beforeId", "must be a task id (UUID)");
  }
  const limit = Math.min(Math.max(Math.trunc(filter.limit), 1), MAX_LIMIT);
  const conditions: SQL[] = [];
  if (filter.states !== undefined && filter.states.length > 0) conditions.push(inArray(tasks.state, [...filter.states]));
  if (filter.type !== undefined) conditions.push(eq(tasks.type, filter.type));
  if (filter.queue !== undefined) conditions.push(eq(tasks.queue, filter.queue));
  if (filter.submittedBy !== undefined) conditions.push(eq(tasks.submittedBy, filter.submittedBy));
  if (filter.parentId !== undefined) {
    if (!isUuid(filter.parentId)) throw InvalidArgumentError.field("parentId", "must be a task id (UUID)");
    // The GIN index `tasks_parent_ids_idx` serves it; its predicate is written out so that the
    // planner takes the partial index without having to prove it.
    conditions.push(sql`${tasks.parentIds} is not null and ${tasks.parentIds} && ${`{${filter.parentId}}`}::uuid[]`);
  }
  // A time range is also a range of ids (a UUIDv7 starts with its creation time in ms), so the
  // primary key narrows it; the ids get a minute of slack around the creation times, which are
  // taken a moment after the id, and created_at decides.
  if (filter.createdAfter !== undefined) {
    conditions.push(gte(tasks.id, uuidv7Floor(filter.createdAfter.getTime() - ID_SLACK_MS)), gte(tasks.createdAt, filter.createdAfter));
  }
  if (filter.createdBefore !== undefined) {
    conditions.push(lt(tasks.id, uuidv7Floor(filter.createdBefore.getTime() + ID_SLACK_MS)), lt(tasks.createdAt, filter.createdBefore));
  }
  if (filter.labels !== undefined && Object.keys(filter.labels).length > 0) {
    conditions.push(sql`${tasks.labels} @> ${JSON.stringify(filter.labels)}::jsonb`);
  }
  const matching = and(...conditions);
  const page = filter.beforeId === undefined ? matching : and(matching, lt(tasks.id, filter.beforeId));

  const [rows, [counted]] = await Promise.all([
    db.select().from(tasks).where(page).orderBy(desc(tasks.id)).limit(limit),
    db.select({ total: count() }).from(tasks).where(matching),
  ]);
  return { tasks: rows.map(toTaskRecord), total: counted?.total ?? 0 };
}
