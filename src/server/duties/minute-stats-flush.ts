/**
 * Minute-stats flush, every few seconds on every server: adds this server's per-minute counters
 * (`observability/minute-counters.ts`) to the fleet's rows in PostgreSQL, so
 * `AdminService.GetOverview` on any server sees every server's activity within one interval.
 * Counts that could not be written are kept and written with the next ones. Once a while the
 * rows older than {@link MINUTE_STATS_KEPT_MS} are pruned (a primary-key range).
 */
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import type { MinuteCounters } from "../observability/minute-counters.js";
import { periodic, type Duty } from "./duty.js";

/** How often the counters are written. */
export const MINUTE_STATS_FLUSH_MS = 5_000;
/** How long the per-minute rows are kept. */
export const MINUTE_STATS_KEPT_MS = 24 * 60 * 60_000;
/** How often old rows are pruned. */
const PRUNE_EVERY_MS = 10 * 60_000;

export interface MinuteStatsFlushDeps {
  store: Pick<TaskStore, "addMinuteStats" | "pruneMinuteStats">;
  counters: MinuteCounters;
  logger: Logger;
  /** @default {@link MINUTE_STATS_FLUSH_MS} */
  intervalMs?: number;
}

/** Writes the pending counts once; exported for tests and for the server's close. */
export async function flushMinuteStats(deps: Pick<MinuteStatsFlushDeps, "store" | "counters">): Promise<void> {
  const pending = deps.counters.take();
  if (pending.length === 0) return;
  try {
    await deps.store.addMinuteStats(
      pending.map((m) => ({ minute: new Date(m.minute), succeeded: m.succeeded, failed: m.failed, cancelled: m.cancelled, started: m.started, waitBuckets: m.waitBuckets })),
    );
  } catch (error) {
    deps.counters.restore(pending);
    throw error;
  }
}

/** The duty; see the file header. */
export function minuteStatsFlush(deps: MinuteStatsFlushDeps): Duty {
  let prunedAt = 0;
  const duty = periodic({
    name: "minute-stats",
    intervalMs: deps.intervalMs ?? MINUTE_STATS_FLUSH_MS,
    logger: deps.logger,
    run: async () => {
      await flushMinuteStats(deps);
      const now = Date.now();
      if (now - prunedAt >= PRUNE_EVERY_MS) {
        await deps.store.pruneMinuteStats(new Date(now - MINUTE_STATS_KEPT_MS));
        prunedAt = now;
      }
    },
  });
  return {
    name: duty.name,
    start: () => duty.start(),
    async close() {
      await duty.close();
      // What was counted since the last run is written, when the store still answers.
      await flushMinuteStats(deps).catch((error: unknown) => deps.logger.warn({ err: error }, "could not write the last minute counters"));
    },
  };
}
