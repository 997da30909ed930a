/**
 * The submission path shared by the task service and the scheduler: tasks into PostgreSQL
 * (concurrent single submissions group-committed into one statement), then into the broker's
 * index; and the cancel of one task, whatever its state. Keep in line with the README's
 * "Semantics" (idempotency, cancel) and "Operations" (the reconciler) sections.
 */
import { keyField } from "../../core/dispatch-limits.js";
import type { Broker } from "../../broker/broker.js";
import { Batcher } from "../../core/batcher.js";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { WAITING_STATES } from "../../core/task-states.js";
import type { NewTask, TaskRecord } from "../../core/task-types.js";
import type { CancelOutcome, TaskStore } from "../../store/store.js";
import type { ControlPlane } from "./control-plane.js";
import { stateEvent, type TaskEvents } from "./task-events.js";

/** A submitted task, and whether its idempotency key named one that existed. */
export interface Submitted {
  task: TaskRecord;
  existing: boolean;
}

/** What the submitter needs from the rest of the server. */
export interface SubmitterDeps {
  store: TaskStore;
  broker: Broker;
  events: TaskEvents;
  /** Reaches the worker running a task, on whichever server holds its stream. */
  control: ControlPlane;
  logger: Logger;
  /** Called with the run time of every delayed task submitted, so promotion runs in time. */
  onScheduled: (runAt: number) => void;
  /**
   * Called when stored tasks could not be added to the dispatch index (Redis unreachable), so
   * that the index is repaired from PostgreSQL once Redis answers. @default log only
   */
  onIndexWriteFailed?: (reason: string) => void;
}

/** Submits and cancels tasks; see the file header. */
export class TaskSubmitter {
  // Group commit: concurrent submissions are inserted by one statement.
  readonly #inserter: Batcher<NewTask, Submitted>;

  constructor(private readonly deps: SubmitterDeps) {
    this.#inserter = new Batcher((tasks: NewTask[]) => deps.store.insertTasks(tasks), { maxBatch: 2000, concurrency: 2 });
  }

  /**
   * Inserts validated tasks, then indexes the new ones. A failed insert (PostgreSQL unavailable)
   * rejects: nothing is acknowledged that was not written. Once inserted, the tasks are
   * acknowledged even when Redis cannot index them now: PostgreSQL is the truth, and the index
   * is repaired from it once Redis answers.
   */
  async submit(tasks: readonly NewTask[]): Promise<Submitted[]> {
    // A task naming parents is not group-committed: an unknown parent refuses its own call only.
    const grouped = tasks.length === 1 && tasks[0]?.dependsOn === undefined;
    const results = grouped ? [await this.#inserter.add(tasks[0] as NewTask)] : await this.deps.store.insertTasks(tasks);
    await this.index(results);
    return results;
  }

  /**
   * Adds stored tasks to the dispatch index: the new ones, and those that existed and still
   * wait. A resubmission of a task that is still waiting re-indexes it, in case the first
   * submission's server died between its commit and its index write (the retry is the client's
   * way to make sure; `indexMissing` leaves an indexed task as it is). Never rejects for Redis.
   */
  async index(results: readonly Submitted[]): Promise<void> {
    const { broker } = this.deps;
    // WAITING tasks (and those CANCELLED at submission, their parent failed) are not indexed.
    const fresh = results.filter((r) => !r.existing && WAITING_STATES.has(r.task.state)).map((r) => r.task);
    const unfinished = results.filter((r) => r.existing && WAITING_STATES.has(r.task.state)).map((r) => r.task);
    const now = Date.now();
    const ready = fresh.filter((t) => t.scheduledAt.getTime() <= now);
    const later = fresh.filter((t) => t.scheduledAt.getTime() > now);
    try {
      await Promise.all([
        unfinished.length > 0
          ? broker.indexMissing(
              unfinished.map((t) => ({
                id: t.id,
                queue: t.queue,
                type: t.type,
                priority: t.priority,
                ...keyField(t),
                runAt: t.scheduledAt.getTime() > now ? t.scheduledAt.getTime() : undefined,
              })),
            )
          : undefined,
        ready.length > 0 ? broker.enqueue(ready.map((t) => ({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t) }))) : undefined,
        later.length > 0
          ? broker.schedule(
              later.map((t) => ({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t), runAt: t.scheduledAt.getTime() })),
            )
          : undefined,
      ]);
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      this.deps.logger.warn({ err: error, tasks: fresh.length }, "submitted tasks are stored but not indexed yet; they run once Redis answers");
      this.deps.onIndexWriteFailed?.("submitted tasks could not be indexed");
    }
    for (const t of later) this.deps.onScheduled(t.scheduledAt.getTime());
  }

  /**
   * Cancels a task: a waiting one at once (out of the index), a running one through its worker
   * (recorded CANCELLING first: the holder's cancel sweep acts on it even if the control message
   * is lost). Followers are told. A finished task is left alone (`kind: "finished"`).
   * @returns undefined when no such task exists.
   */
  async cancel(id: string, reason: string): Promise<CancelOutcome | undefined> {
    const { store, broker, events, control, logger } = this.deps;
    const outcome = await store.cancelTask(id, reason, new Date());
    if (!outcome) return undefined;
    const { task } = outcome;
    switch (outcome.kind) {
      case "finished":
        break;
      case "cancelled": {
        // Its children changed with it (`dependencies.ts`): the released ones are indexed.
        const released = outcome.children.filter((t) => WAITING_STATES.has(t.state));
        await Promise.all([
          broker.remove([{ id, queue: task.queue, type: task.type, priority: task.priority }]),
          released.length > 0
            ? broker.requeue(released.map((t) => ({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t), runAt: t.scheduledAt.getTime() })))
            : undefined,
        ]);
        events.publish([stateEvent(task), ...outcome.children.map(stateEvent)]);
        break;
      }
      case "cancelling":
        await control.cancel([{ taskId: id, attempt: task.attempt, workerId: task.workerId }], reason).catch((error: unknown) => {
          logger.warn({ err: error, taskId: id }, "could not send the cancel to the worker's server; its cancel sweep will");
        });
        events.publish([stateEvent(task)]);
        break;
    }
    return outcome;
  }
}
