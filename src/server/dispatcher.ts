/**
 * Matches free worker slots to queued tasks. Each worker's queues are served strictly in its
 * order; within a queue the broker hands out the highest priority first, FIFO within a
 * priority. A pass runs when work arrives (broker wake-ups from any server), when a worker
 * grants slots, and on a slow safety tick; passes never overlap.
 */
import type { Broker } from "../broker/broker.js";
import type { Logger } from "../core/logger.js";
import { TERMINAL_STATES } from "../core/task-types.js";
import type { NotStarted, TaskStore } from "../store/store.js";
import type { AttemptRecorder } from "./attempt-recorder.js";
import { stateEvent, type TaskEvents } from "./task-events.js";
import type { WorkerSession } from "./worker-session.js";

/** How long a session skips a queue after it held only task types the worker does not serve. */
const FOREIGN_TYPE_BACKOFF_MS = 1_000;

export class Dispatcher {
  private readonly sessions = new Set<WorkerSession>();
  private dirty = false;
  private running = false;
  private closed = false;
  /** Per session and queue: epoch ms until which the queue is skipped. */
  private readonly skipUntil = new WeakMap<WorkerSession, Map<string, number>>();
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly broker: Broker,
    private readonly store: TaskStore,
    private readonly recorder: AttemptRecorder,
    private readonly events: TaskEvents,
    private readonly leaseTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  add(session: WorkerSession): void {
    this.sessions.add(session);
    this.kick();
  }

  remove(session: WorkerSession): void {
    this.sessions.delete(session);
  }

  /** Sessions connected to this server. */
  get connected(): ReadonlySet<WorkerSession> {
    return this.sessions;
  }

  /** Asks for a dispatch pass; passes requested while one runs are folded into the next. */
  kick(): void {
    if (this.closed) return;
    this.dirty = true;
    if (!this.running) this.idle = this.loop();
  }

  /** Stops dispatching; resolves when the current pass ended. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        const ready = [...this.sessions].filter((s) => s.acceptsWork);
        await Promise.all(ready.map((s) => this.fill(s)));
      }
    } catch (error) {
      this.logger.error({ err: error }, "dispatch pass failed");
    } finally {
      this.running = false;
    }
  }

  /** Fills one session's free slots from its queues, in order. */
  private async fill(session: WorkerSession): Promise<void> {
    let claimedAny = false;
    for (const queue of session.queues) {
      if (!session.acceptsWork) return;
      const skip = this.skipUntil.get(session)?.get(queue);
      if (skip !== undefined && skip > Date.now()) continue;
      const want = session.credits;
      session.credits -= want;
      let started = 0;
      session.beginClaim();
      try {
        started = await this.claimInto(session, queue, want);
      } catch (error) {
        this.logger.warn({ err: error, queue }, "claim failed; retrying on the next pass");
      } finally {
        if (session.state === "ACTIVE") session.credits += want - started;
        session.endClaim();
      }
      if (started > 0) claimedAny = true;
      // The queue may hold more: look again on the next pass, strictly in queue order.
      if (started > 0 && session.credits > 0) {
        this.dirty = true;
        return;
      }
    }
    if (!claimedAny && session.burst && session.held.size === 0 && session.state === "ACTIVE") {
      session.drain("burst: the worker's queues are empty");
    }
  }

  /** Claims up to `count` tasks of `queue`, starts their attempts and assigns them. @returns how many were assigned. */
  private async claimInto(session: WorkerSession, queue: string, count: number): Promise<number> {
    const now = Date.now();
    const ids = await this.broker.claim(queue, count, now + this.leaseTimeoutMs);
    if (ids.length === 0) return 0;
    const { started, others } = await this.store.startAttempts(ids, session.workerId, new Date(now), [...session.types]);

    if (others.length > 0) await this.putBack(session, queue, others);
    if (started.length === 0) return 0;
    if (session.state === "CLOSED") {
      // The stream died while we claimed: the attempts are lost with it.
      await Promise.all(
        started.map((task) =>
          this.recorder.record({
            kind: "failed",
            id: task.id,
            attempt: task.attempt,
            error: {
              attempt: task.attempt,
              kind: "WORKER_LOST",
              name: "WorkerLost",
              message: "the worker's stream closed as the task was assigned",
              retryable: true,
              workerId: session.workerId,
              time: new Date().toISOString(),
            },
          }),
        ),
      );
      return 0;
    }
    session.assign(started, now);
    this.events.publish(started.map(stateEvent));
    return started.length;
  }

  /**
   * Claimed tasks that were not started: requeue those still waiting (a SCHEDULED one not yet
   * due, which an index rebuild may have enqueued early, back to the delayed set), drop leases
   * of finished ones.
   */
  private async putBack(
    session: WorkerSession,
    queue: string,
    others: readonly NotStarted[],
  ): Promise<void> {
    const requeue = others.filter((t) => t.state === "QUEUED" || t.state === "SCHEDULED");
    const release = others.filter((t) => t.state === null || TERMINAL_STATES.has(t.state));
    const foreign = requeue.filter((t) => !session.types.has(t.type));
    if (foreign.length > 0) {
      const skips = this.skipUntil.get(session) ?? new Map<string, number>();
      skips.set(queue, Date.now() + FOREIGN_TYPE_BACKOFF_MS);
      this.skipUntil.set(session, skips);
      this.logger.warn(
        { queue, types: [...new Set(foreign.map((t) => t.type))] },
        "queue holds task types this worker does not serve; put back for other workers",
      );
    }
    if (requeue.length > 0) {
      await this.broker.requeue(
        requeue.map((t) => ({
          id: t.id,
          queue,
          priority: t.priority,
          runAt: t.state === "SCHEDULED" && t.scheduledAt !== null ? t.scheduledAt.getTime() : undefined,
        })),
      );
    }
    if (release.length > 0) await this.broker.release(release.map((t) => ({ id: t.id, queue })));
  }
}
