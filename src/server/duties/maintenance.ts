/**
 * The server's periodic duties, each on one timer for all tasks (no timer per task):
 * - heartbeats: renew the leases of attempts held by live workers; a worker silent past the
 *   lease timeout (stalled, e.g. a blocked event loop) loses its attempts;
 * - deadlines: an attempt past its timeout plus the grace period fails as DEADLINE_EXCEEDED and
 *   its worker is told to stop;
 * - reaper: leases that expired on any server (its server died) are resolved from PostgreSQL;
 * - promotion: delayed tasks whose time came become runnable;
 * - a dispatch pass every second, in case a wake-up was lost;
 * - the index guard: a lost dispatch index (Redis restarted empty, flushed) is rebuilt from
 *   PostgreSQL (`index-guard.ts`).
 */
import { WAITING_STATES } from "../../core/task-states.js";
import type { Broker } from "../../broker/broker.js";
import type { ServerConfig } from "../../config/config.js";
import type { Logger } from "../../core/logger.js";
import { TERMINAL_STATES, type AttemptError, type ErrorKindName } from "../../core/task-types.js";
import type { TaskStore } from "../../store/store.js";
import type { AttemptRecorder } from "../engine/attempt-recorder.js";
import type { Dispatcher } from "../engine/dispatcher.js";
import { EPOCH_CHECK_MS, IndexGuard } from "../engine/index-guard.js";
import type { WorkerSession } from "../engine/worker-session.js";

/** The error recorded for an attempt the server ends on its own. */
export function serverError(attempt: number, kind: ErrorKindName, message: string, workerId: string): AttemptError {
  return {
    attempt,
    kind,
    name: kind === "DEADLINE_EXCEEDED" ? "DeadlineExceeded" : "WorkerLost",
    message,
    retryable: true,
    workerId,
    time: new Date().toISOString(),
  };
}

/** Delayed tasks moved per queue per promotion run. */
const PROMOTE_BATCH = 1000;
/** Expired leases taken per queue per reaper run. */
const REAP_BATCH = 500;
/** A dispatch pass runs at least this often, even without wake-ups. */
const DISPATCH_SAFETY_TICK_MS = 1000;
/** Longest wait between promotion runs; earlier when a delayed task is due sooner. */
const PROMOTE_MAX_INTERVAL_MS = 1000;

/** The server's periodic duties (see the file header); `start()` arms their timers, `close()` stops them. */
export class Maintenance {
  private readonly timers: NodeJS.Timeout[] = [];
  private promoteTimer: NodeJS.Timeout | undefined;
  private nextPromoteAt = Infinity;
  private closed = false;
  private touchFailing = false;
  /** Rebuilds the dispatch index when it was lost; see `index-guard.ts`. */
  readonly indexGuard: IndexGuard;

  constructor(
    private readonly config: Pick<ServerConfig, "heartbeatIntervalMs" | "leaseTimeoutMs" | "timeoutGraceMs">,
    private readonly broker: Broker,
    private readonly store: TaskStore,
    private readonly dispatcher: Dispatcher,
    private readonly recorder: AttemptRecorder,
    private readonly loseSession: (session: WorkerSession, reason: string) => void,
    private readonly logger: Logger,
  ) {
    this.indexGuard = new IndexGuard(broker, store, logger, { leaseTimeoutMs: config.leaseTimeoutMs });
  }

  start(): void {
    const every = (ms: number, task: () => Promise<void>, name: string) => {
      let busy = false;
      // An outage fails every tick: log its first failure and the recovery, not each tick.
      let failing = false;
      const timer = setInterval(() => {
        if (busy || this.closed) return;
        busy = true;
        task()
          .then(
            () => {
              if (failing) this.logger.info(`${name} works again`);
              failing = false;
            },
            (error: unknown) => {
              if (!failing) this.logger.warn({ err: error }, `${name} failed; retrying on every tick`);
              failing = true;
            },
          )
          .finally(() => (busy = false));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.heartbeatIntervalMs, () => this.checkSessions(), "lease renewal");
    every(Math.min(1000, this.config.heartbeatIntervalMs), () => this.checkDeadlines(), "deadline check");
    every(Math.max(500, Math.floor(this.config.leaseTimeoutMs / 3)), () => this.reap(), "reaper");
    // Safety net: wake-ups are pub/sub, which a Redis reconnect can drop.
    every(DISPATCH_SAFETY_TICK_MS, async () => this.dispatcher.recheck(), "dispatch tick");
    every(EPOCH_CHECK_MS, () => this.checkIndex(), "dispatch index check");
    this.schedulePromotion(Date.now());
  }

  /** Makes the next promotion run no later than `at` (epoch ms), e.g. after a delayed submission. */
  schedulePromotion(at: number): void {
    if (this.closed || at >= this.nextPromoteAt) return;
    clearTimeout(this.promoteTimer);
    this.nextPromoteAt = at;
    this.promoteTimer = setTimeout(() => {
      this.nextPromoteAt = Infinity;
      this.promote()
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, "promotion of delayed tasks failed");
          return Date.now() + PROMOTE_MAX_INTERVAL_MS;
        })
        .then((next) => this.schedulePromotion(Math.min(next, Date.now() + PROMOTE_MAX_INTERVAL_MS)));
    }, Math.max(0, at - Date.now()));
    this.promoteTimer.unref();
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.promoteTimer);
  }

  /** Checks the dispatch index's marker; after a rebuild, dispatches and promotes at once. */
  private async checkIndex(): Promise<void> {
    const report = await this.indexGuard.check();
    if (report === undefined) return;
    this.dispatcher.recheck();
    this.schedulePromotion(Date.now());
  }

  /**
   * Renews the leases of live workers' attempts and of outcomes still being recorded; workers
   * silent past the lease timeout lose their attempts.
   */
  private async checkSessions(): Promise<void> {
    const now = Date.now();
    const leases: { id: string; queue: string }[] = this.recorder.pendingLeases();
    const live: string[] = [];
    for (const session of this.dispatcher.connected) {
      if (session.state === "CLOSED") continue;
      if (now - session.lastSeen > this.config.leaseTimeoutMs) {
        this.loseSession(session, `no heartbeat for ${now - session.lastSeen} ms (lease timeout ${this.config.leaseTimeoutMs} ms)`);
        continue;
      }
      live.push(session.workerId);
      for (const [id, held] of session.held) leases.push({ id, queue: held.queue });
    }
    await Promise.all([
      leases.length > 0 ? this.broker.renew(leases, now + this.config.leaseTimeoutMs) : undefined,
      live.length > 0 ? this.touchWorkers(live, new Date(now)) : undefined,
    ]);
  }

  /** Marks workers seen; a PostgreSQL outage is logged once, not every heartbeat, and renewals go on. */
  private async touchWorkers(ids: string[], now: Date): Promise<void> {
    try {
      await this.store.touchWorkers(ids, now);
      if (this.touchFailing) this.logger.info("workers' last-seen times are written again");
      this.touchFailing = false;
    } catch (error) {
      if (!this.touchFailing) this.logger.warn({ err: error }, "could not write workers' last-seen times; leases are still renewed");
      this.touchFailing = true;
    }
  }

  /** Fails attempts past their timeout plus grace, and tells their workers to stop them. */
  private async checkDeadlines(): Promise<void> {
    const now = Date.now();
    const work: Promise<unknown>[] = [];
    for (const session of this.dispatcher.connected) {
      const expired: { taskId: string; attempt: number; queue: string }[] = [];
      for (const [taskId, held] of session.held) {
        if (held.deadline !== null && held.deadline + this.config.timeoutGraceMs < now) {
          expired.push({ taskId, attempt: held.attempt, queue: held.queue });
        }
      }
      if (expired.length === 0) continue;
      for (const { taskId } of expired) session.held.delete(taskId);
      session.cancel(expired, "deadline exceeded");
      for (const { taskId, attempt, queue } of expired) {
        const error = serverError(attempt, "DEADLINE_EXCEEDED", "the attempt ran past its timeout and the grace period", session.workerId);
        work.push(this.recorder.recordDurably({ kind: "failed", id: taskId, attempt, error }, queue));
      }
    }
    await Promise.all(work);
  }

  /**
   * Resolves leases that expired on any server. Each is settled from PostgreSQL: a running
   * attempt whose worker is not here is lost (and retried); a queued or scheduled task goes back
   * to the index; a finished one loses its lease.
   */
  private async reap(): Promise<void> {
    const now = Date.now();
    const heldHere = new Set<string>();
    for (const session of this.dispatcher.connected) for (const id of session.held.keys()) heldHere.add(id);
    for (const lease of this.recorder.pendingLeases()) heldHere.add(lease.id);
    for (const queue of await this.broker.queues()) {
      const ids = await this.broker.reapExpired(queue, now, REAP_BATCH, now + this.config.leaseTimeoutMs);
      const orphans = ids.filter((id) => !heldHere.has(id));
      if (orphans.length === 0) continue;
      const tasks = await this.store.getTasks(orphans);
      const found = new Set(tasks.map((t) => t.id));
      const release = orphans.filter((id) => !found.has(id)).map((id) => ({ id, queue }));
      const requeue: { id: string; queue: string; priority: number; runAt: number }[] = [];
      const lost: Promise<unknown>[] = [];
      for (const task of tasks) {
        if (TERMINAL_STATES.has(task.state)) release.push({ id: task.id, queue: task.queue });
        else if (WAITING_STATES.has(task.state)) {
          requeue.push({ id: task.id, queue: task.queue, priority: task.priority, runAt: task.scheduledAt.getTime() });
        } else {
          const error = serverError(task.attempt, "WORKER_LOST", "the lease expired: the worker or its server stopped answering", task.workerId ?? "");
          lost.push(this.recorder.record({ kind: "failed", id: task.id, attempt: task.attempt, error }));
        }
      }
      this.logger.info({ queue, released: release.length, requeued: requeue.length, lost: lost.length }, "reaped expired leases");
      await Promise.all([
        release.length > 0 ? this.broker.release(release) : undefined,
        requeue.length > 0 ? this.broker.requeue(requeue) : undefined,
        ...lost,
      ]);
    }
  }

  /** Moves due delayed tasks into their queues. @returns when the next delayed task is due. */
  private async promote(): Promise<number> {
    const now = Date.now();
    let next = Infinity;
    for (const queue of await this.broker.queues()) {
      const { promoted, nextRunAt } = await this.broker.promoteDue(queue, now, PROMOTE_BATCH);
      if (promoted.length > 0) await this.store.markQueued(promoted, new Date(now));
      if (promoted.length === PROMOTE_BATCH) next = now;
      else if (nextRunAt !== null) next = Math.min(next, nextRunAt);
    }
    return next;
  }
}
