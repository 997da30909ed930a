/**
 * The reaper, every third of the lease timeout: leases that expired on any server (their server
 * died, or a worker's stream was lost without a close) are settled from PostgreSQL, the truth:
 * a running attempt whose worker is not here is lost (and retried); a finished task loses its
 * lease. A task still queued or scheduled under an expired lease was claimed by a server that
 * died, or whose answer Redis lost, before PostgreSQL learned the start (starts are written after
 * the task reached its worker): the number that claim may have handed out (or a higher one,
 * `core/attempt-numbers.ts`) is used up, as a release of it would, so it is never handed out
 * again, and the task is queued again. No error is recorded and no attempt counted: the claim
 * may never have reached a worker (a Redis that hung answers a claim nobody waits for). `reapExpired` pushes each taken
 * lease forward, so no two servers' reapers settle the same one.
 *
 * A task this server holds is never settled: an attempt held by one of its sessions, an outcome
 * being recorded, or a claim in flight (the dispatcher started its attempt, or is waiting for
 * PostgreSQL to). This is checked again once PostgreSQL has answered, not only before asking it:
 * a claim that was waiting for a hung PostgreSQL assigns its tasks as soon as it answers, while
 * this run's read of the same tasks was queued behind it.
 */
import type { Broker, LeaseRef } from "../../broker/broker.js";
import { nextAttempt } from "../../core/attempt-numbers.js";
import type { Logger } from "../../core/logger.js";
import { TERMINAL_STATES, WAITING_STATES } from "../../core/task-states.js";
import type { TaskStore } from "../../store/store.js";
import type { AttemptRecorder } from "../engine/attempt-recorder.js";
import { serverError } from "../engine/server-error.js";
import type { SessionRegistry } from "../engine/session-registry.js";
import { periodic, type Duty } from "./duty.js";

/** Expired leases taken per queue per run. */
const REAP_BATCH = 500;

export interface ReaperDeps {
  broker: Broker;
  store: TaskStore;
  sessions: SessionRegistry;
  recorder: AttemptRecorder;
  /** Whether one of this server's claims in flight holds the task (`Dispatcher.isClaimed`). */
  isClaimed: (taskId: string) => boolean;
  leaseTimeoutMs: number;
  /** When the build of the current dispatch index began (`IndexGuard.indexBuiltAt`). */
  indexBuiltAt: () => Promise<Date>;
  logger: Logger;
}

export function reaper(deps: ReaperDeps): Duty {
  const { broker, store, recorder, logger } = deps;
  return periodic({
    name: "reaper",
    intervalMs: Math.max(500, Math.floor(deps.leaseTimeoutMs / 3)),
    logger,
    async run() {
      const now = Date.now();
      /** Whether this server holds the task now (see the file header); its lease is its holder's to renew. */
      const heldHere = (id: string): boolean =>
        deps.sessions.holding(id) !== undefined || deps.isClaimed(id) || recorder.isRecording(id);
      for (const queue of await broker.queues()) {
        const ids = await broker.reapExpired(queue, now, REAP_BATCH, now + deps.leaseTimeoutMs);
        const orphans = ids.filter((id) => !heldHere(id));
        if (orphans.length === 0) continue;
        const tasks = (await store.getTasks(orphans)).filter((task) => !heldHere(task.id));
        const found = new Set(tasks.map((t) => t.id));
        const release: LeaseRef[] = orphans.filter((id) => !found.has(id) && !heldHere(id)).map((id) => ({ id, queue }));
        const lost: Promise<unknown>[] = [];
        const builtAt = tasks.some((task) => WAITING_STATES.has(task.state)) ? await deps.indexBuiltAt() : new Date();
        for (const task of tasks) {
          if (TERMINAL_STATES.has(task.state)) release.push({ id: task.id, queue: task.queue });
          else if (WAITING_STATES.has(task.state)) {
            // A release of the number after it leaves the task at that number: used up, not counted.
            const used = nextAttempt(task, builtAt);
            const reason = "the lease of a claim expired before its start was recorded";
            lost.push(recorder.record({ kind: "released", id: task.id, attempt: used + 1, reason, start: { workerId: null, startedAt: new Date(now) } }));
          } else {
            const error = serverError(task.attempt, "WORKER_LOST", "the lease expired: the worker or its server stopped answering", task.workerId ?? "");
            lost.push(recorder.record({ kind: "failed", id: task.id, attempt: task.attempt, error }));
          }
        }
        logger.info({ queue, released: release.length, lost: lost.length }, "reaped expired leases");
        await Promise.all([release.length > 0 ? broker.release(release) : undefined, ...lost]);
      }
    },
  });
}
