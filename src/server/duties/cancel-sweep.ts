/**
 * The cancel sweep, every two seconds: of the attempts this server's workers hold, those whose
 * task PostgreSQL records as CANCELLING are cancelled on their worker's stream. A cancel made on
 * any server reaches the holder through the control plane at once; this duty is the guarantee
 * behind it, since pub/sub may lose a message (a Redis reconnect). The session tells its worker
 * once per attempt, whichever path asks first (`WorkerSession.cancel`).
 */
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import type { SessionRegistry } from "../engine/session-registry.js";
import { periodic, type Duty } from "./duty.js";

const CANCEL_SWEEP_MS = 2_000;
/** Ids asked about per query. */
const SWEEP_BATCH = 5_000;

export function cancelSweep(deps: { store: TaskStore; sessions: SessionRegistry; logger: Logger }): Duty {
  return periodic({
    name: "cancel sweep",
    intervalMs: CANCEL_SWEEP_MS,
    logger: deps.logger,
    async run() {
      const ids = [...deps.sessions.heldTaskIds()];
      for (let i = 0; i < ids.length; i += SWEEP_BATCH) {
        for (const { id, attempt } of await deps.store.cancellingAmong(ids.slice(i, i + SWEEP_BATCH))) {
          const session = deps.sessions.holding(id);
          if (session?.holds(id, attempt)) session.cancel([{ taskId: id, attempt }], "cancelled");
        }
      }
    },
  });
}
