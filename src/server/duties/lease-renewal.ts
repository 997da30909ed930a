/**
 * Lease renewal, every heartbeat interval: the leases of attempts held by live workers (and of
 * outcomes still being recorded) are pushed forward, and workers are marked seen in PostgreSQL.
 * A worker silent past the lease timeout (stalled, e.g. a blocked event loop) loses its
 * attempts. Leases are renewed in the broker whatever PostgreSQL does: an outage of the store
 * is logged once and does not cost any worker its tasks.
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
  heartbeatIntervalMs: number;
  leaseTimeoutMs: number;
  /** Ends a silent worker's session; its attempts are requeued. */
  loseSession: (session: WorkerSession, reason: string) => void;
  logger: Logger;
}

export function leaseRenewal(deps: LeaseRenewalDeps): Duty {
  let touchFailing = false;

  /** Marks workers seen; a PostgreSQL outage is logged once, not every heartbeat, and renewals go on. */
  async function touchWorkers(ids: string[], now: Date): Promise<void> {
    try {
      await deps.store.touchWorkers(ids, now);
      if (touchFailing) deps.logger.info("workers' last-seen times are written again");
      touchFailing = false;
    } catch (error) {
      if (!touchFailing) deps.logger.warn({ err: error }, "could not write workers' last-seen times; leases are still renewed");
      touchFailing = true;
    }
  }

  return periodic({
    name: "lease renewal",
    intervalMs: deps.heartbeatIntervalMs,
    logger: deps.logger,
    async run() {
      const now = Date.now();
      const leases: LeaseRef[] = deps.recorder.pendingLeases();
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
      await Promise.all([
        leases.length > 0 ? deps.broker.renew(leases, now + deps.leaseTimeoutMs) : undefined,
        live.length > 0 ? touchWorkers(live, new Date(now)) : undefined,
      ]);
    },
  });
}
