/**
 * Schedules: create, replace, declare, read, pause and resume, delete, and the due ones.
 *
 * Strategy: a schedule is one small row by primary key; every write bumps `revision`, which a
 * fire (`fire-schedule.ts`) compares against, so a fire planned from a row that changed since
 * (paused, redefined, fired by another server) commits nothing. A replaced definition keeps the
 * stored next fire time when its spec did not change (`spec = excluded.spec`, jsonb equality),
 * so running a deploy script again never moves or drops a fire that is due; a paused schedule
 * stays paused (`next_fire_at` null). The duty's read of due schedules is a range scan of the
 * partial index `schedules_due_idx`, which holds only active schedules, soonest first.
 * Views join the last fire's task by primary key for its state.
 */
import { and, asc, eq, getTableColumns, gt, sql, type SQL } from "drizzle-orm";
import type { ScheduleDefinitionRecord, ScheduleRecord, ScheduleSourceName, ScheduleView } from "../../core/schedule-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toScheduleRecord } from "../records.js";
import { schedules, tasks } from "../schema.js";
import { timestampParam } from "../sql-helpers.js";

/** A schedule to write: its definition, where it comes from, and its first fire time. */
export interface NewSchedule extends ScheduleDefinitionRecord {
  id: string;
  /** Set: created paused (an existing schedule keeps its own state). */
  pausedAt: Date | null;
  /** The first fire time after now under the new spec; null when none is left. */
  nextFireAt: Date | null;
  source: ScheduleSourceName;
  /** A worker declaration's digest; null from the API. */
  declaredHash: string | null;
}

/** Columns of a schedule row from a definition. */
function definitionValues(schedule: NewSchedule, now: Date) {
  return {
    id: schedule.id,
    spec: schedule.spec,
    type: schedule.type,
    inputTypeUrl: schedule.inputTypeUrl,
    input: schedule.input,
    options: schedule.options,
    overlap: schedule.overlap,
    catchUp: schedule.catchUp,
    catchUpLimit: schedule.catchUpLimit,
    description: schedule.description,
    pausedAt: schedule.pausedAt,
    nextFireAt: schedule.pausedAt === null ? schedule.nextFireAt : null,
    source: schedule.source,
    declaredHash: schedule.declaredHash,
    createdAt: now,
    updatedAt: now,
  };
}

/** What a replacement sets, from `excluded` (an upsert) — the row's pause and history stay. */
const REPLACE_SET = {
  spec: sql`excluded.spec`,
  type: sql`excluded.type`,
  inputTypeUrl: sql`excluded.input_type_url`,
  input: sql`excluded.input`,
  options: sql`excluded.options`,
  overlap: sql`excluded.overlap`,
  catchUp: sql`excluded.catch_up`,
  catchUpLimit: sql`excluded.catch_up_limit`,
  description: sql`excluded.description`,
  nextFireAt: sql`case when ${schedules.pausedAt} is not null then null when ${schedules.spec} = excluded.spec and ${schedules.nextFireAt} is not null then ${schedules.nextFireAt} else excluded.next_fire_at end`,
  source: sql`excluded.source`,
  revision: sql`${schedules.revision} + 1`,
  updatedAt: sql`excluded.updated_at`,
};

/** Creates a schedule. @returns false when the id is taken (nothing written). */
export async function createSchedule(db: TaskwireDatabase, schedule: NewSchedule, now: Date): Promise<boolean> {
  const rows = await db.insert(schedules).values(definitionValues(schedule, now)).onConflictDoNothing().returning({ id: schedules.id });
  return rows.length === 1;
}

/** Creates the schedule or replaces its definition (see the file header). @returns whether it was created. */
export async function upsertSchedule(db: TaskwireDatabase, schedule: NewSchedule, now: Date): Promise<boolean> {
  const [row] = await db
    .insert(schedules)
    .values(definitionValues(schedule, now))
    .onConflictDoUpdate({ target: schedules.id, set: REPLACE_SET })
    // `xmax = 0` only in a row this statement inserted.
    .returning({ created: sql<boolean>`(xmax = 0)` });
  return row?.created === true;
}

/**
 * Upserts worker-declared schedules, skipping each whose stored `declared_hash` equals the
 * declaration's: a worker that connects again with the same declaration leaves changes made by
 * hand in place. @returns the ids written.
 */
export async function declareSchedules(db: TaskwireDatabase, declared: readonly NewSchedule[], now: Date): Promise<string[]> {
  const byId = new Map(declared.map((schedule) => [schedule.id, schedule]));
  if (byId.size === 0) return [];
  const rows = await db
    .insert(schedules)
    .values([...byId.values()].map((schedule) => definitionValues(schedule, now)))
    .onConflictDoUpdate({
      target: schedules.id,
      set: { ...REPLACE_SET, declaredHash: sql`excluded.declared_hash` },
      setWhere: sql`${schedules.declaredHash} is distinct from excluded.declared_hash`,
    })
    .returning({ id: schedules.id });
  return rows.map((row) => row.id);
}

/** Replaces the definition of an existing schedule. @returns false when none has the id. */
export async function updateSchedule(db: TaskwireDatabase, schedule: NewSchedule, now: Date): Promise<boolean> {
  const values = definitionValues(schedule, now);
  const rows = await db
    .update(schedules)
    .set({
      spec: values.spec,
      type: values.type,
      inputTypeUrl: values.inputTypeUrl,
      input: values.input,
      options: values.options,
      overlap: values.overlap,
      catchUp: values.catchUp,
      catchUpLimit: values.catchUpLimit,
      description: values.description,
      nextFireAt: sql`case when ${schedules.pausedAt} is not null then null when ${schedules.spec} = ${JSON.stringify(values.spec)}::jsonb and ${schedules.nextFireAt} is not null then ${schedules.nextFireAt} else ${values.nextFireAt === null ? null : timestampParam(values.nextFireAt)} end`,
      source: values.source,
      revision: sql`${schedules.revision} + 1`,
      updatedAt: now,
    })
    .where(eq(schedules.id, schedule.id))
    .returning({ id: schedules.id });
  return rows.length === 1;
}

/**
 * Pauses (`pausedAt` set, no next fire time) or resumes (`pausedAt` null, firing from
 * `nextFireAt`) a schedule. Pausing a paused schedule keeps the time of the first pause.
 * @returns false when none has the id.
 */
export async function setSchedulePaused(db: TaskwireDatabase, id: string, pausedAt: Date | null, nextFireAt: Date | null, now: Date): Promise<boolean> {
  const rows = await db
    .update(schedules)
    .set({
      pausedAt: pausedAt === null ? null : sql`coalesce(${schedules.pausedAt}, ${timestampParam(pausedAt)})`,
      nextFireAt: pausedAt === null ? nextFireAt : null,
      revision: sql`${schedules.revision} + 1`,
      updatedAt: now,
    })
    .where(eq(schedules.id, id))
    .returning({ id: schedules.id });
  return rows.length === 1;
}

/** Deletes a schedule. @returns false when none has the id. */
export async function deleteSchedule(db: TaskwireDatabase, id: string): Promise<boolean> {
  const rows = await db.delete(schedules).where(eq(schedules.id, id)).returning({ id: schedules.id });
  return rows.length === 1;
}

/** Schedules with the state of their last fire's task, by id. */
function selectViews(db: TaskwireDatabase, where: SQL | undefined, limit: number) {
  return db
    .select({ schedule: getTableColumns(schedules), lastTaskState: tasks.state })
    .from(schedules)
    .leftJoin(tasks, eq(tasks.id, schedules.lastTaskId))
    .where(where)
    .orderBy(asc(schedules.id))
    .limit(limit);
}

/** One schedule with its last task's state. */
export async function getSchedule(db: TaskwireDatabase, id: string): Promise<ScheduleView | undefined> {
  const [row] = await selectViews(db, eq(schedules.id, id), 1);
  return row && { ...toScheduleRecord(row.schedule), lastTaskState: row.lastTaskState };
}

/** A page of schedules by id, after `afterId`, of one type when given. */
export async function listSchedules(db: TaskwireDatabase, filter: { type?: string; afterId?: string; limit: number }): Promise<ScheduleView[]> {
  const conditions: SQL[] = [];
  if (filter.type !== undefined) conditions.push(eq(schedules.type, filter.type));
  if (filter.afterId !== undefined) conditions.push(gt(schedules.id, filter.afterId));
  const rows = await selectViews(db, and(...conditions), filter.limit);
  return rows.map((row) => ({ ...toScheduleRecord(row.schedule), lastTaskState: row.lastTaskState }));
}

/** Active schedules whose next fire time is at or before `now`, soonest first. */
export async function dueSchedules(db: TaskwireDatabase, now: Date, limit: number): Promise<ScheduleRecord[]> {
  const rows = await db
    .select()
    .from(schedules)
    .where(sql`${schedules.nextFireAt} is not null and ${schedules.nextFireAt} <= ${timestampParam(now)}`)
    .orderBy(asc(schedules.nextFireAt))
    .limit(limit);
  return rows.map(toScheduleRecord);
}
