/**
 * Who owns each task type (`task_type_owners`): the principal of the first key that declared it
 * (`key:<id>` or `group:<name>`). Keep in line with the README's "Security" section.
 *
 * Strategy: a claim is one upsert of all the names of a Hello, guarded in its conflict clause
 * (`where owner is null or owner = <claimant>`), so two keys declaring a new type at once on two
 * servers cannot both win: the row lock makes the second re-check the guard against the first's
 * committed row. A Hello is all or nothing: when any name is owned by another principal, the
 * transaction is rolled back and those names are reported.
 */
import { sql } from "drizzle-orm";
import type { TaskwireDatabase } from "../database.js";
import { taskTypeOwners } from "../schema.js";
import { anyOf } from "../sql-helpers.js";
import type { TaskTypeOwner } from "../store.js";

/** The stored owners of `names`; a name without a row is left out. */
export async function getTaskTypeOwners(db: TaskwireDatabase, names: readonly string[]): Promise<Map<string, TaskTypeOwner>> {
  if (names.length === 0) return new Map();
  const rows = await db
    .select({ name: taskTypeOwners.name, owner: taskTypeOwners.owner, contractReset: taskTypeOwners.contractReset })
    .from(taskTypeOwners)
    .where(anyOf(taskTypeOwners.name, names, "text"));
  return new Map(rows.map((row) => [row.name, { owner: row.owner, contractReset: row.contractReset }]));
}

/** Thrown inside the claim's transaction to roll it back. */
class Refused extends Error {
  constructor(readonly names: string[]) {
    super("refused");
  }
}

/**
 * Claims `names` for `owner`: a name without an owner becomes its, a name it owns stays its;
 * either way an operator's contract reset is used up. With `owner` null (an admin key's
 * declaration) no name is claimed and resets are used up all the same.
 * @returns the names another principal owns; then nothing was written.
 */
export async function claimTaskTypes(db: TaskwireDatabase, names: readonly string[], owner: string | null, now: Date): Promise<string[]> {
  const distinct = [...new Set(names)];
  if (distinct.length === 0) return [];
  try {
    await db.transaction(async (tx) => {
      // One row per name: 4 parameters each, and a Hello declares at most 5,000 types
      // (`ServerConfig.maxHelloTypes`), far below PostgreSQL's 65,535 parameters.
      const written = await tx
        .insert(taskTypeOwners)
        .values(distinct.map((name) => ({ name, owner, contractReset: false, updatedAt: now })))
        .onConflictDoUpdate({
          target: taskTypeOwners.name,
          set: {
            owner: sql`coalesce(excluded.owner, ${taskTypeOwners.owner})`,
            contractReset: sql`false`,
            updatedAt: sql`excluded.updated_at`,
          },
          setWhere: sql`excluded.owner is null or ${taskTypeOwners.owner} is null or ${taskTypeOwners.owner} = excluded.owner`,
        })
        .returning({ name: taskTypeOwners.name });
      if (written.length < distinct.length) {
        const claimed = new Set(written.map((row) => row.name));
        throw new Refused(distinct.filter((name) => !claimed.has(name)));
      }
    });
  } catch (error) {
    if (error instanceof Refused) return error.names;
    throw error;
  }
  return [];
}

/**
 * Sets the owner of a type (an operator's transfer, `owner` a principal) or resets it (`owner`
 * null and `contractReset`: the next declaration owns it and may change its contract).
 */
export async function setTaskTypeOwner(db: TaskwireDatabase, name: string, owner: string | null, contractReset: boolean, now: Date): Promise<void> {
  await db
    .insert(taskTypeOwners)
    .values({ name, owner, contractReset, updatedAt: now })
    .onConflictDoUpdate({ target: taskTypeOwners.name, set: { owner, contractReset, updatedAt: now } });
}
