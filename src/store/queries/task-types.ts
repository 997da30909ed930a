/**
 * The task type catalog: workers declare the types they serve when they connect; the last
 * declaration of a name wins (a newer worker version may change its defaults or messages).
 */
import { asc, eq, sql } from "drizzle-orm";
import type { TaskTypeRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toTaskTypeRecord } from "../records.js";
import { taskTypes } from "../schema.js";

/**
 * Inserts or replaces catalog entries in one statement. A name given twice keeps its last
 * entry (PostgreSQL refuses to upsert one row twice in a statement).
 */
export async function upsertTaskTypes(
  db: TaskwireDatabase,
  types: readonly Omit<TaskTypeRecord, "updatedAt">[],
  now: Date,
): Promise<void> {
  const byName = new Map(types.map((type) => [type.name, type]));
  if (byName.size === 0) return;
  await db
    .insert(taskTypes)
    .values(
      [...byName.values()].map((type) => ({
        name: type.name,
        inputType: type.inputType,
        outputType: type.outputType,
        description: type.description,
        defaults: type.defaults,
        descriptors: type.descriptors,
        updatedAt: now,
      })),
    )
    .onConflictDoUpdate({
      target: taskTypes.name,
      set: {
        inputType: sql`excluded.input_type`,
        outputType: sql`excluded.output_type`,
        description: sql`excluded.description`,
        defaults: sql`excluded.defaults`,
        descriptors: sql`excluded.descriptors`,
        updatedAt: sql`excluded.updated_at`,
      },
    });
}

/** One catalog entry by name. */
export async function getTaskType(db: TaskwireDatabase, name: string): Promise<TaskTypeRecord | undefined> {
  const [row] = await db.select().from(taskTypes).where(eq(taskTypes.name, name));
  return row && toTaskTypeRecord(row);
}

/** The whole catalog, by name. */
export async function listTaskTypes(db: TaskwireDatabase): Promise<TaskTypeRecord[]> {
  const rows = await db.select().from(taskTypes).orderBy(asc(taskTypes.name));
  return rows.map(toTaskTypeRecord);
}
