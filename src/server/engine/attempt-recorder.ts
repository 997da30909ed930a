/**
 * Records how attempts ended — reported by workers, or decided by the server (lost worker,
 * deadline, cancel) — in PostgreSQL first (batched, fenced by attempt), then brings the broker
 * in line and publishes the state events. A broker failure after the write is healed by the
 * reaper, which finds the lease and reads the truth from PostgreSQL.
 *
 * Outcomes that must not be dropped (a worker's result, an attempt the server ended) go
 * through {@link AttemptRecorder.recordDurably}: while PostgreSQL is unavailable they are kept
 * and retried with back-off, and this server keeps renewing their leases
 * ({@link AttemptRecorder.pendingLeases}), so that no reaper takes the task meanwhile. A short
 * PostgreSQL outage therefore loses no result and reruns no task; the worker, which keeps every
 * result until it is acknowledged, is acknowledged once the result is recorded.
 *
 * An attempt whose start PostgreSQL does not have yet (`StartWriter`: starts are written after
 * the task reached its worker) has its start written by its outcome, in the same statement.
 */
import { keyField } from "../../core/dispatch-limits.js";
import { WAITING_STATES } from "../../core/task-states.js";
import type { Broker, LeaseRef } from "../../broker/broker.js";
import { Batcher } from "../../core/batcher.js";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { TERMINAL_STATES, type TaskRecord } from "../../core/task-types.js";
import type { AttemptOutcome, TaskStore } from "../../store/store.js";
import type { StartWriter } from "./start-writer.js";
import { stateEvent, type TaskEvents } from "./task-events.js";

/** First delay before an outcome is written again after PostgreSQL was unavailable. */
const RETRY_INITIAL_MS = 100;
/** Longest delay between two tries. */
const RETRY_MAX_MS = 5_000;

/** An outcome being recorded durably. */
interface InFlight {
  lease: LeaseRef;
  attempt: number;
  done: Promise<TaskRecord | undefined>;
}

/** Records attempt outcomes, batched and fenced; see the file header. `close()` stops its retries. */
export class AttemptRecorder {
  private readonly batcher: Batcher<AttemptOutcome, TaskRecord | undefined>;
  /** Durable recordings not finished yet, by task id. */
  private readonly inFlight = new Map<string, InFlight>();
  /** Wakes the retry waits, so that `close()` ends them at once. */
  private readonly wakers = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly store: TaskStore,
    private readonly broker: Broker,
    private readonly events: TaskEvents,
    private readonly logger: Logger,
    /** The starts not written yet, which outcomes carry; none when every start is written before its task runs. */
    private readonly starts?: StartWriter,
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

  /**
   * Records one outcome, retrying with back-off (100 ms doubling to 5 s, with jitter) for as long
   * as PostgreSQL is unavailable; meanwhile the task's lease in `queue` is listed by
   * {@link pendingLeases}. A second call for an attempt being recorded joins the first.
   * @returns as {@link record}.
   * @throws UnavailableError (`SHUTTING_DOWN`) when the recorder was closed before the outcome
   *   could be written; any error other than unavailability at once.
   */
  recordDurably(outcome: AttemptOutcome, queue: string): Promise<TaskRecord | undefined> {
    const current = this.inFlight.get(outcome.id);
    if (current !== undefined && current.attempt === outcome.attempt) return current.done;
    const done = this.retryUntilRecorded(outcome);
    const entry: InFlight = { lease: { id: outcome.id, queue }, attempt: outcome.attempt, done };
    this.inFlight.set(outcome.id, entry);
    const forget = () => {
      if (this.inFlight.get(outcome.id) === entry) this.inFlight.delete(outcome.id);
    };
    done.then(forget, forget);
    return done;
  }

  /** The pending durable recording of an attempt, if there is one. */
  recording(taskId: string, attempt: number): Promise<TaskRecord | undefined> | undefined {
    const current = this.inFlight.get(taskId);
    return current?.attempt === attempt ? current.done : undefined;
  }

  /** Whether an outcome of the task is being recorded durably here (a reaper must leave the task alone). */
  isRecording(taskId: string): boolean {
    return this.inFlight.has(taskId);
  }

  /** Leases of the tasks whose outcome is being recorded durably: this server renews them. */
  pendingLeases(): LeaseRef[] {
    return [...this.inFlight.values()].map((entry) => entry.lease);
  }

  /** How many outcomes are being recorded durably. */
  get pendingCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops retrying: outcomes still unrecorded, and those whose first try fails from now on,
   * reject with `SHUTTING_DOWN` (their leases expire for a reaper to settle). Safe to call twice.
   */
  close(): void {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
  }

  /** Brings the broker in line with tasks whose state changed, and announces the change. */
  async applyChanges(changed: readonly TaskRecord[]): Promise<void> {
    const requeue = changed
      .filter((t) => WAITING_STATES.has(t.state))
      .map((t) => ({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t), runAt: t.scheduledAt.getTime() }));
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

  private async retryUntilRecorded(outcome: AttemptOutcome): Promise<TaskRecord | undefined> {
    for (let failures = 0; ; failures++) {
      try {
        const task = (await this.record(outcome)) ?? (failures > 0 ? await this.recordedLate(outcome) : undefined);
        if (failures > 0) this.logger.info({ taskId: outcome.id, attempt: outcome.attempt, tries: failures + 1 }, "outcome recorded after PostgreSQL came back");
        return task;
      } catch (error) {
        if (!(error instanceof UnavailableError) || error.reason !== "STORE_UNAVAILABLE") throw error;
        if (this.closed) throw new UnavailableError("SHUTTING_DOWN", "the server stopped before the outcome could be recorded", { cause: error });
        if (failures === 0) {
          this.logger.warn({ err: error, taskId: outcome.id, attempt: outcome.attempt }, "could not record an outcome; it is kept and retried");
        }
        await this.pause(retryDelay(failures));
      }
    }
  }

  /**
   * After a try that PostgreSQL did not answer, a later one found the outcome stale: the first
   * write may have committed after all (a hung PostgreSQL runs what it was sent once it resumes).
   * If the task ended with this very attempt, that was it: the broker and the followers are told
   * now, as the first write would have done.
   */
  private async recordedLate(outcome: AttemptOutcome): Promise<TaskRecord | undefined> {
    const task = await this.store.getTask(outcome.id);
    if (task === undefined || task.attempt !== outcome.attempt || !(TERMINAL_STATES.has(task.state) || WAITING_STATES.has(task.state))) return undefined;
    const last = task.transitions.at(-1);
    if (last?.attempt !== outcome.attempt) return undefined;
    await this.applyChanges([task]);
    return task;
  }

  /** Waits `ms`, or less when the recorder closes. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private async flush(outcomes: AttemptOutcome[]): Promise<(TaskRecord | undefined)[]> {
    const starts = this.starts;
    if (starts !== undefined) {
      outcomes = outcomes.map((o) => {
        if (o.start !== undefined) return o;
        const start = starts.unwritten(o.id, o.attempt);
        return start === undefined ? o : { ...o, start };
      });
    }
    const changed = await this.store.finishAttempts(outcomes, new Date());
    if (starts !== undefined && changed.length > 0) {
      const changedIds = new Set(changed.map((t) => t.id));
      for (const o of outcomes) if (changedIds.has(o.id)) starts.settled(o.id, o.attempt);
    }
    await this.applyChanges(changed);
    const byId = new Map(changed.map((t) => [t.id, t]));
    return outcomes.map((o) => {
      const task = byId.get(o.id);
      return task && task.attempt === o.attempt ? task : undefined;
    });
  }
}

/** Equal jitter: between half the bound and the bound, the bound doubling from 100 ms to 5 s. */
function retryDelay(failures: number): number {
  const bound = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** Math.min(failures, 16));
  return bound / 2 + (Math.random() * bound) / 2;
}
