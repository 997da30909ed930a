/**
 * Retention, every minute on one server at a time (an exclusive duty): finished tasks older
 * than their retention are deleted in small batches — a type's own retention (declared by its
 * workers) where it has one, else the server's `--retain-finished`; unset, tasks are kept. The
 * workers table is pruned of workers gone for longer than `--retain-finished`.
 *
 * Small batches ({@link DELETE_BATCH} rows per statement, a bounded number per run) keep each
 * transaction short, so retention never holds locks on many rows or stalls the hot path; a
 * backlog (retention turned on over a large table) is worked off over several runs. Deleting a
 * task frees its idempotency key. Keep in line with the README's "Operations" section.
 */
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import type { Broker } from "../../broker/broker.js";
import { periodic, type Duty } from "./duty.js";

/** How often retention runs. */
export const RETENTION_INTERVAL_MS = 60_000;
/** Rows deleted per statement. */
export const DELETE_BATCH = 500;
/** Statements per run, at most (a backlog continues at the next run). */
const BATCHES_PER_RUN = 200;

export interface RetentionDeps {
  store: TaskStore;
  broker: Broker;
  serverId: string;
  /** The server-wide retention; undefined: keep finished tasks (but types may declare theirs). */
  retainFinishedMs: number | undefined;
  logger: Logger;
  /** @default {@link RETENTION_INTERVAL_MS} */
  intervalMs?: number;
}

/** What one run deleted. */
export interface RetentionReport {
  tasks: number;
  workers: number;
}

/** One retention run; exported for tests. */
export async function applyRetention(store: TaskStore, retainFinishedMs: number | undefined, now: number): Promise<RetentionReport> {
  const report: RetentionReport = { tasks: 0, workers: 0 };
  let budget = BATCHES_PER_RUN;
  const drain = async (deleteOnce: () => Promise<number>, add: (n: number) => void): Promise<void> => {
    while (budget > 0) {
      budget--;
      const deleted = await deleteOnce();
      add(deleted);
      if (deleted < DELETE_BATCH) return;
    }
  };
  const types = await store.listTaskTypes();
  const ownRetention = types.filter((t) => typeof t.defaults.retentionMs === "number" && t.defaults.retentionMs > 0);
  for (const type of ownRetention) {
    const finishedBefore = new Date(now - (type.defaults.retentionMs ?? 0));
    await drain(() => store.deleteFinished({ type: type.name, finishedBefore }, DELETE_BATCH), (n) => (report.tasks += n));
  }
  if (retainFinishedMs !== undefined) {
    const before = new Date(now - retainFinishedMs);
    const excludeTypes = ownRetention.map((t) => t.name);
    await drain(() => store.deleteFinished({ finishedBefore: before, excludeTypes }, DELETE_BATCH), (n) => (report.tasks += n));
    await drain(() => store.pruneWorkers(before, DELETE_BATCH), (n) => (report.workers += n));
  }
  return report;
}

export function retention(deps: RetentionDeps): Duty {
  return periodic({
    name: "retention",
    intervalMs: deps.intervalMs ?? RETENTION_INTERVAL_MS,
    logger: deps.logger,
    exclusive: { broker: deps.broker, holder: deps.serverId },
    async run() {
      const report = await applyRetention(deps.store, deps.retainFinishedMs, Date.now());
      if (report.tasks > 0 || report.workers > 0) deps.logger.info({ ...report }, "retention deleted finished tasks and gone workers");
    },
  });
}
