/**
 * Deadlines, every second: an attempt past its timeout plus the grace period fails as
 * DEADLINE_EXCEEDED (retried per its policy) and its worker is told to stop it.
 */
import type { Logger } from "../../core/logger.js";
import type { AttemptRecorder } from "../engine/attempt-recorder.js";
import { serverError } from "../engine/server-error.js";
import type { SessionRegistry } from "../engine/session-registry.js";
import { periodic, type Duty } from "./duty.js";

export interface DeadlinesDeps {
  sessions: SessionRegistry;
  recorder: AttemptRecorder;
  heartbeatIntervalMs: number;
  timeoutGraceMs: number;
  logger: Logger;
}

export function deadlines(deps: DeadlinesDeps): Duty {
  return periodic({
    name: "deadline check",
    intervalMs: Math.min(1000, deps.heartbeatIntervalMs),
    logger: deps.logger,
    async run() {
      const now = Date.now();
      const work: Promise<unknown>[] = [];
      for (const session of deps.sessions.all()) {
        const expired = session.takeExpired(now, deps.timeoutGraceMs);
        if (expired.length === 0) continue;
        session.cancel(expired, "deadline exceeded");
        for (const { taskId, attempt, queue } of expired) {
          const error = serverError(attempt, "DEADLINE_EXCEEDED", "the attempt ran past its timeout and the grace period", session.workerId);
          work.push(deps.recorder.recordDurably({ kind: "failed", id: taskId, attempt, error }, queue));
        }
      }
      await Promise.all(work);
    },
  });
}
