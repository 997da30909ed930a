/**
 * Records how attempts ended — reported by workers, or decided by the server (lost worker,
 * deadline, cancel) — in PostgreSQL first (batched, fenced by attempt), then brings the broker
 * in line and publishes the state events. A broker failure after the write is healed by the
 * reaper, which finds the lease and reads the truth from PostgreSQL.
 */
import type { Broker } from "../broker/broker.js";
import { Batcher } from "../core/batcher.js";
import type { Logger } from "../core/logger.js";
import { TERMINAL_STATES, type TaskRecord } from "../core/task-types.js";
import type { AttemptOutcome, TaskStore } from "../store/store.js";
import { stateEvent, type TaskEvents } from "./task-events.js";

export class AttemptRecorder {
  private readonly batcher: Batcher<AttemptOutcome, TaskRecord | undefined>;

  constructor(
    private readonly store: TaskStore,
    private readonly broker: Broker,
    private readonly events: TaskEvents,
    private readonly logger: Logger,
  ) {
    this.batcher = new Batcher((outcomes) => this.flush(outcomes), { maxBatch: 1000, concurrency: 2 });
  }

  /**
   * Records one outcome. @returns the task after the change, or undefined when the outcome was
   * stale (another attempt is current, or the task already finished) and was ignored.
   */
  record(outcome: AttemptOutcome): Promise<TaskRecord | undefined> {
    return this.batcher.add(outcome);
  }

  /** Brings the broker in line with tasks whose state changed, and announces the change. */
  async applyChanges(changed: readonly TaskRecord[]): Promise<void> {
    const requeue = changed
      .filter((t) => t.state === "SCHEDULED" || t.state === "QUEUED")
      .map((t) => ({ id: t.id, queue: t.queue, priority: t.priority, runAt: t.scheduledAt.getTime() }));
    const release = changed.filter((t) => TERMINAL_STATES.has(t.state)).map((t) => ({ id: t.id, queue: t.queue }));
    try {
      await Promise.all([
        requeue.length > 0 ? this.broker.requeue(requeue) : undefined,
        release.length > 0 ? this.broker.release(release) : undefined,
      ]);
    } catch (error) {
      this.logger.warn({ err: error, count: changed.length }, "broker update after a recorded outcome failed; the reaper will repair it");
    }
    this.events.publish(changed.map(stateEvent));
  }

  private async flush(outcomes: AttemptOutcome[]): Promise<(TaskRecord | undefined)[]> {
    const changed = await this.store.finishAttempts(outcomes, new Date());
    await this.applyChanges(changed);
    const byId = new Map(changed.map((t) => [t.id, t]));
    return outcomes.map((o) => {
      const task = byId.get(o.id);
      return task && task.attempt === o.attempt ? task : undefined;
    });
  }
}
