/**
 * The reconciler: every stored QUEUED or SCHEDULED task is in the dispatch index. PostgreSQL is
 * the truth; a server killed after a submission committed but before its tasks reached Redis
 * leaves tasks that no dispatcher would ever see. The reconciler finds them and indexes them
 * (`Broker.indexMissing`, which leaves alone every task indexed anywhere: queued, delayed or
 * leased), on one server at a time (an exclusive duty).
 *
 * Cheap and incremental: task ids are UUIDv7, so id order is submission time. A full pass over
 * the unfinished tasks (the partial index `tasks_unfinished_id_idx`, pages of ids) runs when a
 * server takes the duty over, since it cannot know what the previous holder saw. After that,
 * each run reads only the window of ids submitted since the last run, less {@link MIN_AGE_MS}
 * (younger tasks are still being indexed by the server that took them), reaching back
 * {@link LAG_MS} so that a commit that landed late (ids are made before the insert commits) is
 * still seen. A task that commits later than that is found by the next full pass (when the
 * duty changes hands, or {@link FULL_PASS_MS}). Dependent tasks released by a parent's outcome
 * (issue 17) are as old as their submission: each run also reads those released in the same
 * window of time (`listReleased`, through the partial index `tasks_released_idx`).
 *
 * A task the reconciler indexes while its submitting server is about to index it is harmless:
 * `indexMissing` and `enqueue` both add an id once, and a claimed task that was started already
 * is refused by `startAttempts` and dropped (fencing). Keep in line with the README's
 * "Operations" section.
 */
import { keyField } from "../../core/dispatch-limits.js";
import type { Broker, QueueEntry } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import { WAITING_STATES } from "../../core/task-states.js";
import type { IndexableTask, TaskStore } from "../../store/store.js";
import { periodic, type Duty } from "./duty.js";

/** How often the window is read. */
export const RECONCILE_INTERVAL_MS = 5_000;
/** Tasks younger than this are left to the server that submitted them. */
export const MIN_AGE_MS = 2_000;
/** How far back each window reaches before the previous one's end. */
export const LAG_MS = 60_000;
/** A full pass at least this often. */
const FULL_PASS_MS = 60 * 60_000;
/** Ids read per page. */
const PAGE = 5_000;

/** The smallest UUIDv7 of an epoch millisecond: ids of tasks submitted at or after `ms` compare at least as large. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0").slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/** What one pass did. */
export interface ReconcileReport {
  /** Waiting tasks read. */
  checked: number;
  /** Tasks the index was missing, now indexed. */
  indexed: number;
}

/** Reads unfinished tasks with ids in (after, before) and indexes the waiting ones the broker lacks. */
export async function reconcileRange(
  broker: Broker,
  store: TaskStore,
  after: string | undefined,
  before: string | undefined,
  now: number,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, indexed: 0 };
  let cursor = after;
  for (;;) {
    const page: IndexableTask[] = await store.listIndexable(cursor, PAGE, before);
    const waiting = page.filter((t) => WAITING_STATES.has(t.state));
    report.checked += waiting.length;
    if (waiting.length > 0) {
      const entries = waiting.map((t): QueueEntry & { runAt?: number } => ({
        id: t.id,
        queue: t.queue,
        type: t.type,
        priority: t.priority,
        ...keyField(t),
        runAt: t.state === "SCHEDULED" && t.scheduledAt.getTime() > now ? t.scheduledAt.getTime() : undefined,
      }));
      report.indexed += await broker.indexMissing(entries);
    }
    if (page.length < PAGE) return report;
    cursor = page.at(-1)?.id;
  }
}

/**
 * Indexes the dependent tasks released (by a parent's outcome) in `[since, until)` that the
 * broker lacks: a server that died between the outcome's commit and its broker write left them
 * QUEUED in PostgreSQL only, with ids older than any recent window.
 */
export async function reconcileReleased(broker: Broker, store: TaskStore, since: Date, until: Date, now: number): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, indexed: 0 };
  let from = since;
  for (;;) {
    const page = await store.listReleased(from, until, PAGE);
    report.checked += page.length;
    if (page.length > 0) {
      const entries = page.map((t): QueueEntry & { runAt?: number } => ({
        id: t.id,
        queue: t.queue,
        type: t.type,
        priority: t.priority,
        ...keyField(t),
        runAt: t.state === "SCHEDULED" && t.scheduledAt.getTime() > now ? t.scheduledAt.getTime() : undefined,
      }));
      report.indexed += await broker.indexMissing(entries);
    }
    if (page.length < PAGE) return report;
    // The next page from the last change read (those of its millisecond are read again, and
    // indexMissing adds each task once); a page all of one millisecond moves past it.
    const last = page.at(-1)?.updatedAt.getTime() ?? until.getTime();
    from = new Date(last > from.getTime() ? last : from.getTime() + 1);
  }
}

export interface ReconcilerDeps {
  broker: Broker;
  store: TaskStore;
  serverId: string;
  logger: Logger;
  /** Called after tasks were indexed (the promoter may have delayed ones to schedule). */
  onIndexed?: () => void;
}

export function reconciler(deps: ReconcilerDeps): Duty {
  const logger = deps.logger.child({ component: "reconciler" });
  /** End (epoch ms) of the last window read; undefined: a full pass is due. */
  let windowEnd: number | undefined;
  let lastFullPass = 0;

  return periodic({
    name: "reconciler",
    intervalMs: RECONCILE_INTERVAL_MS,
    logger,
    runAtStart: true,
    exclusive: {
      broker: deps.broker,
      holder: deps.serverId,
      // Whoever held the duty meanwhile saw windows this server did not: start with a full pass.
      onLeaseChange: () => (windowEnd = undefined),
    },
    async run() {
      const now = Date.now();
      const end = now - MIN_AGE_MS;
      const full = windowEnd === undefined || now - lastFullPass > FULL_PASS_MS;
      const report = full
        ? await reconcileRange(deps.broker, deps.store, undefined, uuidv7Floor(end), now)
        : await reconcileRange(deps.broker, deps.store, uuidv7Floor((windowEnd ?? end) - LAG_MS), uuidv7Floor(end), now);
      // Issue 17: dependent tasks released lately have ids older than the window: read them by the
      // time of their release (a full pass read every unfinished task already).
      if (!full) {
        const released = await reconcileReleased(deps.broker, deps.store, new Date((windowEnd ?? end) - LAG_MS), new Date(end), now);
        report.checked += released.checked;
        report.indexed += released.indexed;
      }
      if (full) lastFullPass = now;
      windowEnd = end;
      if (report.indexed > 0) {
        logger.warn({ ...report, full }, "indexed stored tasks the dispatch index was missing");
        deps.onIndexed?.();
      } else if (full) {
        logger.debug({ ...report }, "reconciled the dispatch index with PostgreSQL");
      }
    },
  });
}
