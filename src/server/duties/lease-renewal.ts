/**
 * Lease renewal, every heartbeat interval: the leases of attempts held by live workers, of
 * outcomes still being recorded and of claims in flight (a claim waiting for PostgreSQL to start
 * its attempts) are pushed forward, and workers are marked seen in PostgreSQL. A worker silent
 * past the lease timeout (stalled, e.g. a blocked event loop) loses its attempts.
 *
 * Leases are renewed in the broker whatever PostgreSQL does: marking workers seen runs on its
 * own, never awaited by the renewal, at most one write at a time (a PostgreSQL that hangs holds
 * one write, not the renewals), and an outage of the store is logged once. A renewal that hangs
 * on Redis gives up after the Redis command timeout, shorter than a lease less a heartbeat
 * interval (`ServerConfig.redisTimeoutMs`), so the next one is sent in time.
 */
import type { Broker, LeaseRef } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import type { AttemptRecorder } from "../engine/attempt-recorder.js";
import type { SessionRegistry } from "../engine/session-registry.js";
import type { WorkerSession } from "../engine/worker-session.js";
import { periodic, type Duty } from "./duty.js";

export interface LeaseRenewalDeps {
  broker: Broker;
  store: TaskStore;
  sessions: SessionRegistry;
  recorder: AttemptRecorder;
  /** The leases of the dispatcher's claims in flight (`Dispatcher.claimedLeases`). */
  claimedLeases: () => LeaseRef[];
  heartbeatIntervalMs: number;
  leaseTimeoutMs: number;
  /** Ends a silent worker's session; its attempts are requeued. */
  loseSession: (session: WorkerSession, reason: string) => void;
  logger: Logger;
}

export function leaseRenewal(deps: LeaseRenewalDeps): Duty {
  let touchFailing = false;
  /** The write of workers' last-seen times in progress, if any: the next waits for it to end. */
  let touching: Promise<void> | undefined;

  /**
   * Marks workers seen, unless the previous write is still waiting for PostgreSQL; a PostgreSQL
   * outage is logged once, not every heartbeat. Never awaited by the renewal.
   */
  function touchWorkers(ids: string[], now: Date): void {
    if (touching !== undefined) return;
    touching = deps.store
      .touchWorkers(ids, now)
      .then(
        () => {
          if (touchFailing) deps.logger.info("workers' last-seen times are written again");
          touchFailing = false;
        },
        (error: unknown) => {
          if (!touchFailing) deps.logger.warn({ err: error }, "could not write workers' last-seen times; leases are still renewed");
          touchFailing = true;
        },
      )
      .finally(() => (touching = undefined));
  }

  return periodic({
    name: "lease renewal",
    intervalMs: deps.heartbeatIntervalMs,
    logger: deps.logger,
    async run() {
      const now = Date.now();
      const leases: LeaseRef[] = [...deps.recorder.pendingLeases(), ...deps.claimedLeases()];
      const live: string[] = [];
      for (const session of deps.sessions.all()) {
        if (session.state === "CLOSED") continue;
        if (now - session.lastSeen > deps.leaseTimeoutMs) {
          deps.loseSession(session, `no heartbeat for ${now - session.lastSeen} ms (lease timeout ${deps.leaseTimeoutMs} ms)`);
          continue;
        }
        live.push(session.workerId);
        for (const [id, held] of session.heldEntries()) leases.push({ id, queue: held.queue });
      }
      if (live.length > 0) touchWorkers(live, new Date(now));
      if (leases.length > 0) await deps.broker.renew(leases, now + deps.leaseTimeoutMs);
    },
  });
}
