/**
 * fireSchedule: a schedule's fire as ONE transaction — the schedule advanced to its next fire
 * time and the fired tasks inserted together, or neither.
 *
 * Strategy: the update comes first and is fenced by the revision the scheduler read
 * (`revision = $read`): it takes the schedule row's lock, so a second server firing the same
 * schedule waits, then finds the revision moved and writes nothing (its plan was stale: another
 * server fired, or an operator paused or changed the schedule meanwhile). The tasks go in with
 * `on conflict (idempotency_key) do nothing` under the fire's key `schedule:<id>:<time>`, the
 * second guard: whatever happens to the fence, a fire time is one task. A key already taken
 * (a trigger in the same millisecond) returns the task holding it. Fires are few and small, so
 * the insert is a plain multi-row insert.
 */
import { eq, sql } from "drizzle-orm";
import type { NewTask, TaskRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { initialTransition, insertedTaskRecord, toTaskRecord } from "../records.js";
import { schedules, tasks } from "../schema.js";
import { anyOf } from "../sql-helpers.js";

/** One fire of a schedule: what it submits and how the schedule moves on. */
export interface ScheduleFire {
  id: string;
  /** The revision the fire was planned from. */
  revision: number;
  /** Tasks to submit, each with its fire's idempotency key; may be empty (a skipped fire). */
  tasks: readonly NewTask[];
  /** The schedule's next fire time after this step (null: none left); undefined: unchanged (a trigger). */
  nextFireAt?: Date | null;
  /** The fire time of the last task (set with `tasks`). */
  lastFireAt?: Date;
  /** Why the fire submitted nothing; null clears it; undefined leaves it. */
  lastError?: string | null;
  now: Date;
}

/** Runs the fire; see the file header. @returns the tasks (in order), or undefined when the plan was stale. */
export async function fireSchedule(db: TaskwireDatabase, fire: ScheduleFire): Promise<{ task: TaskRecord; existing: boolean }[] | undefined> {
  return db.transaction(async (tx) => {
    const last = fire.tasks.at(-1);
    const advanced = await tx
      .update(schedules)
      .set({
        ...(fire.nextFireAt === undefined ? {} : { nextFireAt: fire.nextFireAt }),
        ...(last === undefined ? {} : { lastFireAt: fire.lastFireAt ?? fire.now, lastTaskId: last.id }),
        ...(fire.lastError === undefined ? {} : { lastError: fire.lastError }),
        revision: sql`${schedules.revision} + 1`,
        updatedAt: fire.now,
      })
      .where(sql`${schedules.id} = ${fire.id} and ${schedules.revision} = ${fire.revision}`)
      .returning({ id: schedules.id });
    if (advanced.length === 0) return undefined;
    if (fire.tasks.length === 0) return [];

    const inserted = await tx
      .insert(tasks)
      .values(
        fire.tasks.map((task) => ({
          id: task.id,
          type: task.type,
          queue: task.queue,
          priority: task.priority,
          state: task.state,
          inputTypeUrl: task.inputTypeUrl,
          input: task.input,
          maxAttempts: task.maxAttempts,
          timeoutMs: task.timeoutMs,
          backoff: task.backoff,
          idempotencyKey: task.idempotencyKey,
          createdAt: task.createdAt,
          scheduledAt: task.scheduledAt,
          updatedAt: task.createdAt,
          transitions: [initialTransition(task)],
          submittedBy: task.submittedBy ?? null,
          labels: task.labels ?? {},
        })),
      )
      .onConflictDoNothing({ target: tasks.idempotencyKey })
      .returning({ id: tasks.id });
    const insertedIds = new Set(inserted.map((row) => row.id));
    const taken = fire.tasks.filter((task) => !insertedIds.has(task.id)).map((task) => task.idempotencyKey ?? "");
    const byKey = new Map<string, TaskRecord>();
    if (taken.length > 0) {
      for (const row of await tx.select().from(tasks).where(anyOf(tasks.idempotencyKey, taken, "text"))) {
        byKey.set(row.idempotencyKey ?? "", toTaskRecord(row));
      }
    }
    const results = fire.tasks.map((task) => {
      if (insertedIds.has(task.id)) return { task: insertedTaskRecord(task), existing: false };
      const existing = byKey.get(task.idempotencyKey ?? "");
      if (!existing) throw new Error(`fired task ${task.id} was neither inserted nor found by its idempotency key`);
      return { task: existing, existing: true };
    });
    // The last task is the one that holds the key (an existing one when it was taken).
    const lastTask = results.at(-1)?.task;
    if (lastTask && lastTask.id !== last?.id) {
      await tx.update(schedules).set({ lastTaskId: lastTask.id }).where(eq(schedules.id, fire.id));
    }
    return results;
  });
}
