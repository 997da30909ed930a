/**
 * Promotion: delayed tasks (a later run time, a retry back-off) whose time came move into their
 * queues and are marked QUEUED. One timer for all delayed tasks: it fires at the earliest run
 * time the broker knows, at least every second, and earlier when a delayed task is submitted
 * that is due sooner (`schedule`).
 */
import type { Broker } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import type { Duty } from "./duty.js";

/** Delayed tasks moved per queue per run. */
const PROMOTE_BATCH = 1000;
/** Longest wait between runs; earlier when a delayed task is due sooner. */
const PROMOTE_MAX_INTERVAL_MS = 1000;

/** The promotion duty, with the hook that brings its next run forward. */
export interface Promoter extends Duty {
  /** Makes the next run no later than `at` (epoch ms), e.g. after a delayed submission. */
  schedule(at: number): void;
}

export function promoter(deps: { broker: Broker; store: TaskStore; logger: Logger }): Promoter {
  let timer: NodeJS.Timeout | undefined;
  let nextAt = Infinity;
  let closed = false;

  /** Moves due delayed tasks into their queues. @returns when the next delayed task is due. */
  async function promote(): Promise<number> {
    const now = Date.now();
    let next = Infinity;
    for (const queue of await deps.broker.queues()) {
      const { promoted, nextRunAt } = await deps.broker.promoteDue(queue, now, PROMOTE_BATCH);
      if (promoted.length > 0) await deps.store.markQueued(promoted, new Date(now));
      if (promoted.length === PROMOTE_BATCH) next = now;
      else if (nextRunAt !== null) next = Math.min(next, nextRunAt);
    }
    return next;
  }

  function schedule(at: number): void {
    if (closed || at >= nextAt) return;
    clearTimeout(timer);
    nextAt = at;
    timer = setTimeout(() => {
      nextAt = Infinity;
      promote()
        .catch((error: unknown) => {
          deps.logger.warn({ err: error }, "promotion of delayed tasks failed");
          return Date.now() + PROMOTE_MAX_INTERVAL_MS;
        })
        .then((next) => schedule(Math.min(next, Date.now() + PROMOTE_MAX_INTERVAL_MS)));
    }, Math.max(0, at - Date.now()));
    timer.unref();
  }

  return {
    name: "promotion",
    schedule,
    start() {
      schedule(Date.now());
    },
    async close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
