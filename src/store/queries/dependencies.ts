/**
 * Dependencies between tasks (`depends_on`): submitting dependent tasks, and releasing or
 * cancelling the children of tasks that finished, inside the transaction that finished them.
 * Keep in line with the README's "Workflows: dependencies" section.
 *
 * Columns (schema.ts): a child holds `parent_ids` (its parents in the order given; null when it
 * has none, so the partial GIN index `tasks_parent_ids_idx` holds only dependent tasks) and
 * `pending_parents` (how many of them have not finished); a parent holds `children_count`, the
 * cheap guard of the outcome path: a task whose `children_count` is 0 has nothing to release,
 * so finishing it costs no query here (see `finish-attempts.ts`).
 *
 * Submission (`insertDependent`), one transaction: the stored parents are locked in id order
 * (`for update`: two submissions naming the same parents cannot deadlock) and read, then their
 * `children_count` raised. A parent finishing at the same time either committed first — its
 * final state is read here and counted finished — or waits for this transaction, then sees
 * `children_count > 0` and releases the child in its own transaction. Either way the child is
 * released exactly once. Items of the same batch may name earlier items only, so a graph is
 * acyclic by construction; its items are resolved in order, so a child of an item CANCELLED at
 * submission (its parent had failed) follows its own policy at once.
 *
 * Release (`releaseChildren`), called with the tasks the caller's transaction just finished:
 * one UPDATE per level of the graph. The WAITING children of the finished tasks are found
 * through the GIN index (`parent_ids && $finished`), grouped per child (how many of its parents
 * finished now, and the first that did not succeed), then updated under their row locks:
 * `pending_parents` goes down by that count; a failed or cancelled parent cancels a child whose
 * policy is CANCEL (its error names the parent); a child with no pending parent left becomes
 * QUEUED, or SCHEDULED when its run time is later. A child updated by two servers at once (two
 * of its parents finished) is re-evaluated by PostgreSQL against the newest row (READ COMMITTED
 * re-checks `state = 'WAITING'` and recomputes from the new `pending_parents`), so every parent
 * counts once. The children cancelled at one level are the finished tasks of the next, so the
 * cancel cascades down the graph; each task changes at most once, so the loop ends.
 */
import { and, asc, getTableColumns, sql, type SQL } from "drizzle-orm";
import { FailedPreconditionError, NotFoundError } from "../../core/errors.js";
import { TERMINAL_STATES, type TaskStateName } from "../../core/task-states.js";
import type { AttemptError, NewTask, TaskRecord } from "../../core/task-types.js";
import type { TaskwireDatabase } from "../database.js";
import { toTaskRecord } from "../records.js";
import { tasks } from "../schema.js";
import { anyOf, appendTransition, arrayLiteral, jsonParam, SQL_WAITING, timestampParam } from "../sql-helpers.js";
import type { ParentRecord, ReleasedTask } from "../store.js";
import { insertTasks } from "./insert-tasks.js";

/** A task that just reached a terminal state, as `releaseChildren` takes it. */
export interface FinishedParent {
  id: string;
  state: TaskStateName;
  childrenCount: number;
}

/** The error of a child cancelled because `parentId` ended `parentState`. */
function parentFailedError(attempt: number, parentId: string, parentState: string, time: string): AttemptError {
  return {
    attempt,
    kind: "CANCELLED",
    name: "ParentFailed",
    message: parentFailedMessage(parentId, parentState),
    retryable: false,
    workerId: "",
    time,
  };
}

function parentFailedMessage(parentId: string, parentState: string): string {
  return parentState === "FAILED" ? `parent task ${parentId} failed` : `parent task ${parentId} was cancelled`;
}

/** The same message, in SQL, from the columns `h.failed_parent` and `h.failed_state`. */
const PARENT_FAILED_MESSAGE = sql`'parent task ' || h.failed_parent::text || case when h.failed_state = 'FAILED' then ' failed' else ' was cancelled' end`;

/** What a stored parent is, read under its lock. */
interface LockedParent {
  id: string;
  state: TaskStateName;
  submittedBy: string | null;
}

/**
 * Inserts a batch of which some tasks name parents (`NewTask.dependsOn`), in one transaction;
 * see the file header. Refuses the whole batch — nothing stored — when a parent does not exist
 * or is outside `dependsOn.ownerScope` (NotFoundError `TASK_NOT_FOUND`, as GetStatus answers for
 * another key's task).
 * @returns as `insertTasks`: in input order, `existing` for a matched idempotency key.
 */
export async function insertDependent(
  db: TaskwireDatabase,
  batch: readonly NewTask[],
): Promise<{ task: TaskRecord; existing: boolean }[]> {
  return db.transaction(async (tx) => {
    const time = batch[0]?.createdAt.toISOString() ?? new Date().toISOString();
    // Items whose idempotency key exists are not inserted: their dependents in the batch depend
    // on the existing task instead.
    const keys = batch.map((task) => task.idempotencyKey).filter((key): key is string => key !== null);
    const byKey = new Map<string, TaskRecord>();
    if (keys.length > 0) {
      const rows = await tx.select().from(tasks).where(anyOf(tasks.idempotencyKey, keys, "text"));
      for (const row of rows) byKey.set(row.idempotencyKey as string, toTaskRecord(row));
    }

    // Stored parents, locked in id order, with how many new children each gets: the ids named,
    // and the existing tasks that items named by index turned out to be.
    const existingOf = (task: NewTask | undefined) => (task?.idempotencyKey == null ? undefined : byKey.get(task.idempotencyKey));
    const stored = new Map<string, number>();
    for (const task of batch) {
      if (existingOf(task)) continue;
      const ids = new Set([...(task.dependsOn?.taskIds ?? []), ...(task.dependsOn?.items ?? []).map((item) => existingOf(batch[item])?.id)]);
      for (const id of ids) if (id !== undefined) stored.set(id, (stored.get(id) ?? 0) + 1);
    }
    const locked = new Map<string, LockedParent>();
    if (stored.size > 0) {
      const ids = [...stored.keys()];
      const rows = await tx
        .select({ id: tasks.id, state: tasks.state, submittedBy: tasks.submittedBy })
        .from(tasks)
        .where(anyOf(tasks.id, ids, "uuid"))
        .orderBy(asc(tasks.id))
        .for("update");
      for (const row of rows) locked.set(row.id, row);
      await tx
        .update(tasks)
        .set({ childrenCount: sql`${tasks.childrenCount} + v.n` })
        .from(sql`json_to_recordset(${jsonParam([...stored].map(([id, n]) => ({ id, n })))}) as v(id uuid, n int)`)
        .where(and(anyOf(tasks.id, ids, "uuid"), sql`${tasks.id} = v.id`));
    }

    // Resolve the batch in order: an item's batch parents are earlier items, resolved already.
    const resolved: { state: TaskStateName; id: string }[] = [];
    const rows: NewTask[] = [];
    const childrenOf = new Map<number, number>();
    for (const task of batch) {
      if (existingOf(task)) continue; // not inserted: no child of anything
      for (const item of task.dependsOn?.items ?? []) childrenOf.set(item, (childrenOf.get(item) ?? 0) + 1);
    }
    for (const [index, task] of batch.entries()) {
      const existing = existingOf(task);
      if (existing) {
        // Its state as locked (it may have finished since it was read), when a later item names it.
        resolved.push({ id: existing.id, state: locked.get(existing.id)?.state ?? existing.state });
        continue;
      }
      const deps = task.dependsOn;
      if (deps === undefined) {
        resolved.push({ id: task.id, state: task.state });
        rows.push({ ...task, childrenCount: childrenOf.get(index) ?? 0 });
        continue;
      }
      // By id: an id named and an item that turned out to be the same existing task are one parent.
      const parentsById = new Map<string, { id: string; state: TaskStateName }>();
      for (const id of deps.taskIds) {
        const parent = locked.get(id);
        if (!parent || (deps.ownerScope !== undefined && parent.submittedBy !== deps.ownerScope)) {
          throw new NotFoundError("TASK_NOT_FOUND", `task ${id} does not exist (named in depends_on)`);
        }
        parentsById.set(parent.id, parent);
      }
      for (const item of deps.items) {
        const parent = resolved[item];
        if (parent === undefined) throw new Error(`depends_on_items ${item} is not an earlier item`);
        parentsById.set(parent.id, parent);
      }
      const parents = [...parentsById.values()];
      const failed = parents.find((p) => p.state === "FAILED" || p.state === "CANCELLED");
      const pending = parents.filter((p) => !TERMINAL_STATES.has(p.state)).length;
      const base = {
        ...task,
        parentIds: parents.map((p) => p.id),
        onParentFailure: deps.onParentFailure,
        childrenCount: childrenOf.get(index) ?? 0,
      };
      let row: NewTask;
      if (failed && deps.onParentFailure === "CANCEL") {
        row = { ...base, state: "CANCELLED", pendingParents: 0, finishedAt: task.createdAt, errors: [parentFailedError(0, failed.id, failed.state, time)] };
      } else if (pending > 0) {
        row = { ...base, state: "WAITING", pendingParents: pending };
      } else {
        row = { ...base, pendingParents: 0 };
      }
      resolved.push({ id: row.id, state: row.state });
      rows.push(row);
    }

    const inserted = rows.length > 0 ? await insertTasks(tx, rows) : [];
    // In input order: a row another submission inserted the key of since it was read is returned
    // as that task. When the row was part of the graph (it has parents, or items depend on it),
    // the graph built on the read is wrong: rolled back, and the caller's retry finds the key.
    if (rows.some((row, i) => inserted[i]?.existing === true && (row.dependsOn !== undefined || (row.childrenCount ?? 0) > 0))) {
      throw new FailedPreconditionError("IDEMPOTENCY_RACE", "a concurrent submission used one of the batch's idempotency keys; submit again");
    }
    const byId = new Map(rows.map((row, i) => [row.id, inserted[i]]));
    return batch.map((task) => {
      const existing = task.idempotencyKey === null ? undefined : byKey.get(task.idempotencyKey);
      if (existing) return { task: existing, existing: true };
      const result = byId.get(task.id);
      if (!result) throw new Error(`task ${task.id} was not inserted`);
      return result;
    });
  });
}

/** The next state of a WAITING child after this level's finished parents. */
function nextState(now: Date): SQL {
  return sql`(case
    when h.failed_parent is not null and ${tasks.onParentFailure} = 'CANCEL' then 'CANCELLED'
    when ${tasks.pendingParents} - h.finished > 0 then 'WAITING'
    when ${tasks.scheduledAt} > ${timestampParam(now)} then 'SCHEDULED'
    else 'QUEUED'
  end)`;
}

/**
 * Releases or cancels the WAITING children of `finished` (tasks that reached a terminal state
 * in the caller's transaction `tx`), transitively; see the file header. Tasks without children
 * are skipped without a query.
 * @returns every task changed, after the change: QUEUED or SCHEDULED ones to index, CANCELLED
 *   ones to announce.
 */
export async function releaseChildren(tx: TaskwireDatabase, finished: readonly FinishedParent[], now: Date): Promise<TaskRecord[]> {
  const time = now.toISOString();
  const changed: TaskRecord[] = [];
  const NEXT_STATE = nextState(now);
  let level = finished.filter((t) => t.childrenCount > 0 && TERMINAL_STATES.has(t.state));
  while (level.length > 0) {
    const ids = level.map((t) => t.id);
    const parents = JSON.stringify(level.map((t) => ({ id: t.id, state: t.state })));
    const hits = sql`(
      select c.id as child_id,
             count(*)::int as finished,
             (array_agg(f.id order by f.id) filter (where f.state <> 'SUCCEEDED'))[1] as failed_parent,
             (array_agg(f.state order by f.id) filter (where f.state <> 'SUCCEEDED'))[1] as failed_state
        from ${tasks} c
        join json_to_recordset(${parents}::json) as f(id uuid, state text) on f.id = any(c.parent_ids)
       where c.parent_ids is not null and c.parent_ids && ${arrayLiteral(ids)}::uuid[] and c.state = 'WAITING'
       group by c.id
    ) as h`;
    const cancelled = sql`${NEXT_STATE} = 'CANCELLED'`;
    const rows = await tx
      .update(tasks)
      .set({
        state: NEXT_STATE,
        pendingParents: sql`greatest(0, ${tasks.pendingParents} - h.finished)`,
        errors: sql`case when ${cancelled} then ${tasks.errors} || jsonb_build_array(jsonb_build_object(
          'attempt', ${tasks.attempt}, 'kind', 'CANCELLED', 'name', 'ParentFailed', 'message', ${PARENT_FAILED_MESSAGE},
          'retryable', false, 'workerId', '', 'time', ${time}::text)) else ${tasks.errors} end`,
        finishedAt: sql`case when ${cancelled} then ${timestampParam(now)} else ${tasks.finishedAt} end`,
        updatedAt: sql`case when ${NEXT_STATE} = 'WAITING' then ${tasks.updatedAt} else ${timestampParam(now)} end`,
        transitions: sql`case when ${NEXT_STATE} = 'WAITING' then ${tasks.transitions}
          else ${appendTransition(tasks.transitions, NEXT_STATE, sql`${tasks.attempt}`, now)} end`,
      })
      .from(hits)
      .where(and(sql`${tasks.id} = h.child_id`, sql`${tasks.state} = 'WAITING'`))
      .returning(getTableColumns(tasks));
    const records = rows.map(toTaskRecord);
    changed.push(...records.filter((t) => t.state !== "WAITING"));
    level = records.filter((t) => t.state === "CANCELLED" && t.childrenCount > 0).map((t) => ({ id: t.id, state: t.state, childrenCount: t.childrenCount }));
  }
  return changed;
}

/**
 * Dependent tasks released (QUEUED or SCHEDULED, by a parent's outcome) with `updated_at` in
 * `[since, until)`, oldest change first: the reconciler indexes those the broker missed (a crash
 * between the outcome's commit and the broker write). Through the partial index
 * `tasks_released_idx`, which holds only released tasks waiting for a slot; its predicate is
 * written out so that the planner uses it.
 */
export async function listReleased(db: TaskwireDatabase, since: Date, until: Date, limit: number): Promise<ReleasedTask[]> {
  return db
    .select({
      id: tasks.id,
      type: tasks.type,
      queue: tasks.queue,
      priority: tasks.priority,
      state: tasks.state,
      scheduledAt: tasks.scheduledAt,
      attempt: tasks.attempt,
      workerId: tasks.workerId,
      concurrencyKey: tasks.concurrencyKey,
      updatedAt: tasks.updatedAt,
    })
    .from(tasks)
    .where(
      and(
        sql`${tasks.parentIds} is not null`,
        sql`${tasks.state} in ${SQL_WAITING}`,
        sql`${tasks.updatedAt} >= ${timestampParam(since)}`,
        sql`${tasks.updatedAt} < ${timestampParam(until)}`,
      ),
    )
    .orderBy(asc(tasks.updatedAt))
    .limit(Math.max(1, Math.trunc(limit)));
}

/**
 * The parents of tasks (their `parentIds`), with outputs when they succeeded: what an
 * Assignment carries (`AssignedParent`). Outputs larger than `maxOutputBytes` are not read.
 * @returns by parent id.
 */
export async function getParents(
  db: TaskwireDatabase,
  ids: readonly string[],
  maxOutputBytes: number,
): Promise<Map<string, ParentRecord>> {
  const result = new Map<string, ParentRecord>();
  if (ids.length === 0) return result;
  const rows = await db
    .select({
      id: tasks.id,
      type: tasks.type,
      state: tasks.state,
      outputTypeUrl: tasks.outputTypeUrl,
      outputBytes: sql<number>`coalesce(octet_length(${tasks.output}), 0)::int`,
      output: sql<Uint8Array | null>`case when octet_length(${tasks.output}) <= ${maxOutputBytes} then ${tasks.output} end`.mapWith(tasks.output),
    })
    .from(tasks)
    .where(anyOf(tasks.id, ids, "uuid"));
  for (const row of rows) result.set(row.id, row);
  return result;
}
