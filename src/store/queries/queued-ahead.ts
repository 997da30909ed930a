/**
 * How many QUEUED tasks of a queue come before one (ExplainTask): a higher priority, or the same
 * priority and submitted earlier (ids are time-ordered UUIDv7). Fairness across concurrency keys
 * can serve a task earlier than this says, never later than its key's share; the count is what a
 * user asks ("how many are ahead of me"), read with the `tasks_queue_id_idx` index.
 */
import { and, count, eq, gt, lt, or } from "drizzle-orm";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";

export async function countQueuedAhead(db: TaskwireDatabase, task: { id: string; queue: string; priority: number }): Promise<number> {
  const [row] = await db
    .select({ ahead: count() })
    .from(tasks)
    .where(
      and(
        eq(tasks.queue, task.queue),
        eq(tasks.state, "QUEUED"),
        or(gt(tasks.priority, task.priority), and(eq(tasks.priority, task.priority), lt(tasks.id, task.id))),
      ),
    );
  return Number(row?.ahead ?? 0);
}
