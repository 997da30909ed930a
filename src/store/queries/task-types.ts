/**
 * The task type catalog: workers declare the types they serve when they connect; the last
 * declaration of a name wins (a newer worker version may change its defaults or messages).
 *
 * Descriptor sets live in their own table, once per distinct set (by SHA-256): the types of one
 * Hello share one, so a Hello of 1,000 types writes its set once, and listings carry only the
 * hash. Rows written before that table existed hold their own bytes in `task_types.descriptors`
 * (and no `descriptor_set`); the queries here read them as a set whose hash PostgreSQL computes,
 * so nothing else sees the difference, and the next declaration of such a type moves it over.
 */
import { asc, eq, getTableColumns, sql } from "drizzle-orm";
import type { TaskTypeRecord, TaskTypeSummary } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toTaskTypeSummary } from "../records.js";
import { descriptorSets, taskTypes } from "../schema.js";
import { arrayLiteral } from "../sql-helpers.js";

/** The row's set hash: its own, or, in a row of an older version, the SHA-256 of its bytes. */
const SET_HASH = sql<string>`coalesce(${taskTypes.descriptorSet}, encode(sha256(${taskTypes.descriptors}), 'hex'))`;

/** Every column but the bytes, with the hash. */
const { descriptors: _bytes, descriptorSet: _hash, ...SUMMARY_COLUMNS } = getTableColumns(taskTypes);

/**
 * Inserts or replaces catalog entries: the distinct descriptor sets first (a set already stored
 * is left as it is: equal hash, equal bytes), then the types in one statement. A name given twice
 * keeps its last entry (PostgreSQL refuses to upsert one row twice in a statement).
 */
export async function upsertTaskTypes(
  db: TaskwireDatabase,
  types: readonly Omit<TaskTypeRecord, "updatedAt">[],
  now: Date,
): Promise<void> {
  const byName = new Map(types.map((type) => [type.name, type]));
  if (byName.size === 0) return;
  const sets = new Map<string, Uint8Array>();
  for (const type of byName.values()) sets.set(type.descriptorSet, type.descriptors);
  await db
    .insert(descriptorSets)
    .values([...sets].map(([hash, descriptors]) => ({ hash, descriptors, createdAt: now })))
    .onConflictDoNothing({ target: descriptorSets.hash });
  await db
    .insert(taskTypes)
    .values(
      [...byName.values()].map((type) => ({
        name: type.name,
        inputType: type.inputType,
        outputType: type.outputType,
        description: type.description,
        defaults: type.defaults,
        descriptors: null,
        descriptorSet: type.descriptorSet,
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
        descriptors: sql`null`,
        descriptorSet: sql`excluded.descriptor_set`,
        updatedAt: sql`excluded.updated_at`,
      },
    });
}

/** One catalog entry by name, with its descriptor set. */
export async function getTaskType(db: TaskwireDatabase, name: string): Promise<TaskTypeRecord | undefined> {
  const [row] = await db
    .select({
      ...SUMMARY_COLUMNS,
      descriptorSet: SET_HASH,
      descriptors: sql<Uint8Array>`coalesce(${descriptorSets.descriptors}, ${taskTypes.descriptors})`.mapWith(descriptorSets.descriptors),
    })
    .from(taskTypes)
    .leftJoin(descriptorSets, eq(descriptorSets.hash, taskTypes.descriptorSet))
    .where(eq(taskTypes.name, name));
  return row && { ...toTaskTypeSummary(row), descriptors: row.descriptors };
}

/** The whole catalog, by name, without descriptor bytes (`getDescriptorSets` reads those). */
export async function listTaskTypes(db: TaskwireDatabase): Promise<TaskTypeSummary[]> {
  const rows = await db
    .select({ ...SUMMARY_COLUMNS, descriptorSet: SET_HASH })
    .from(taskTypes)
    .orderBy(asc(taskTypes.name));
  return rows.map(toTaskTypeSummary);
}

/** The descriptor sets of these hashes that exist, by hash; each read once however many types share it. */
export async function getDescriptorSets(db: TaskwireDatabase, hashes: readonly string[]): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>();
  if (hashes.length === 0) return found;
  const wanted = arrayLiteral([...new Set(hashes)]);
  const stored = await db
    .select({ hash: descriptorSets.hash, descriptors: descriptorSets.descriptors })
    .from(descriptorSets)
    .where(sql`${descriptorSets.hash} = any(${wanted}::text[])`);
  for (const row of stored) found.set(row.hash, row.descriptors);
  if (found.size < new Set(hashes).size) {
    // Sets of rows of older versions, held by the rows themselves.
    const legacy = await db
      .selectDistinctOn([SET_HASH], { hash: SET_HASH, descriptors: sql<Uint8Array>`${taskTypes.descriptors}`.mapWith(descriptorSets.descriptors) })
      .from(taskTypes)
      .where(sql`${taskTypes.descriptorSet} is null and ${taskTypes.descriptors} is not null and ${SET_HASH} = any(${wanted}::text[])`);
    for (const row of legacy) if (!found.has(row.hash)) found.set(row.hash, row.descriptors);
  }
  return found;
}
