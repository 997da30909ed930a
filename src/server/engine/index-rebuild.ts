/**
 * Rebuilds the broker's dispatch index from PostgreSQL, the source of truth: queued tasks go
 * back to their queues in arrival order, scheduled ones to the delayed sets, and running ones
 * get their lease back. Used when Redis was lost (restarted empty, flushed: see
 * `index-guard.ts`) and at the start of the embedded default, whose in-process broker starts
 * empty.
 *
 * Every step is idempotent, so a rebuild may run while servers dispatch from the same index:
 * an id enqueued again keeps its place (`ZADD NX`); a task enqueued again after a server
 * started it is refused by `startAttempts` (it is no longer QUEUED) and dropped; a lease given
 * back to an attempt that finished meanwhile expires and the reaper drops it.
 *
 * Speed: keyset pages of {@link PAGE} over the partial index of unfinished tasks (only the
 * columns the index needs), the next page read while the current one is written to the broker
 * (whose calls are auto-pipelined, a thousand ids per script call); `npm run bench:rebuild`
 * measures it (100k queued tasks: about a second on a 2-core machine).
 */
import { keyField } from "../../core/dispatch-limits.js";
import { WAITING_STATES } from "../../core/task-states.js";
import type { Broker, DelayedEntry, LeaseRef, QueueEntry } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { AttemptOutcome, IndexableTask, TaskStore } from "../../store/store.js";
import { serverError } from "./server-error.js";

/** Tasks read per page. */
const PAGE = 10_000;

/** What a rebuild did. */
export interface RebuildReport {
  /** Tasks made runnable. */
  queued: number;
  /** Tasks put in the delayed sets. */
  scheduled: number;
  /** Running attempts whose lease was given back (their holders renew it; the reaper takes the orphans). */
  leased: number;
  /** Attempts found running that no worker can hold any more (`orphanRunning`), ended as WORKER_LOST. */
  orphaned: number;
  durationMs: number;
}

/** How {@link rebuildIndex} treats running attempts, and what it calls between pages. */
export interface RebuildOptions {
  /**
   * True when no worker can hold an attempt recorded as running (the embedded default at
   * start: only this process could have): such attempts end as WORKER_LOST, which retries them
   * per their policy. False with Redis: workers of any server may hold them, so they get a
   * lease until now + `leaseTimeoutMs` instead.
   */
  orphanRunning: boolean;
  /** The lease given back to running attempts. */
  leaseTimeoutMs: number;
  /** Called after each page, e.g. to extend the rebuild's claim; a rejection stops the rebuild. */
  onPage?: () => Promise<void>;
}

/** Indexes every unfinished task; see the file header. */
export async function rebuildIndex(store: TaskStore, broker: Broker, logger: Logger, options: RebuildOptions): Promise<RebuildReport> {
  const started = Date.now();
  const report: RebuildReport = { queued: 0, scheduled: 0, leased: 0, orphaned: 0, durationMs: 0 };
  let page = await store.listIndexable(undefined, PAGE);
  while (page.length > 0) {
    const last = page[page.length - 1]?.id;
    // The next page is read while this one is written; pages are written in order.
    const [next] = await Promise.all([
      page.length === PAGE && last !== undefined ? store.listIndexable(last, PAGE) : Promise.resolve([]),
      indexPage(store, broker, page, options, report),
    ]);
    await options.onPage?.();
    page = next;
  }
  report.durationMs = Date.now() - started;
  logger.info(report, "rebuilt the dispatch index from the database");
  return report;
}

async function indexPage(
  store: TaskStore,
  broker: Broker,
  page: readonly IndexableTask[],
  options: RebuildOptions,
  report: RebuildReport,
): Promise<void> {
  const running = page.filter((t) => t.state === "RUNNING" || t.state === "CANCELLING");
  let waiting = page.filter((t) => WAITING_STATES.has(t.state));
  const leases: LeaseRef[] = [];
  if (options.orphanRunning && running.length > 0) {
    const outcomes: AttemptOutcome[] = running.map((t) => ({
      kind: "failed",
      id: t.id,
      attempt: t.attempt,
      error: serverError(t.attempt, "WORKER_LOST", "the server stopped while the attempt ran", t.workerId ?? ""),
    }));
    const changed = await store.finishAttempts(outcomes, new Date());
    report.orphaned += running.length;
    waiting = [...waiting, ...changed.filter((t) => WAITING_STATES.has(t.state))];
  } else {
    for (const t of running) leases.push({ id: t.id, queue: t.queue, type: t.type, ...keyField(t) });
  }

  const now = Date.now();
  const ready: QueueEntry[] = [];
  const later: DelayedEntry[] = [];
  for (const t of waiting) {
    if (t.scheduledAt.getTime() <= now) ready.push({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t) });
    else later.push({ id: t.id, queue: t.queue, type: t.type, priority: t.priority, ...keyField(t), runAt: t.scheduledAt.getTime() });
  }
  await Promise.all([
    ready.length > 0 ? broker.enqueue(ready) : undefined,
    later.length > 0 ? broker.schedule(later) : undefined,
    leases.length > 0 ? broker.lease(leases, now + options.leaseTimeoutMs) : undefined,
  ]);
  report.queued += ready.length;
  report.scheduled += later.length;
  report.leased += leases.length;
}
