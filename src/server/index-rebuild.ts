/**
 * Rebuilds the broker's dispatch index from PostgreSQL, the source of truth: queued tasks go
 * back to their queues in arrival order, scheduled ones to the delayed sets. Used at start of
 * the embedded default, whose in-process broker starts empty.
 */
import type { Broker, DelayedEntry, QueueEntry } from "../broker/broker.js";
import type { Logger } from "../core/logger.js";
import type { TaskRecord } from "../core/task-types.js";
import type { AttemptOutcome, TaskStore } from "../store/store.js";
import { serverError } from "./maintenance.js";

/** Tasks read per page. */
const PAGE = 5_000;

/** What a rebuild did. */
export interface RebuildReport {
  queued: number;
  scheduled: number;
  /** Attempts found running that no worker can hold any more (their server stopped). */
  orphaned: number;
  durationMs: number;
}

/**
 * Indexes every waiting task. When `orphanRunning`, attempts recorded as running are known to
 * be lost (only this process could have held them: the embedded default) and are ended as
 * WORKER_LOST, which retries them per their policy.
 */
export async function rebuildIndex(
  store: TaskStore,
  broker: Broker,
  logger: Logger,
  options: { orphanRunning: boolean },
): Promise<RebuildReport> {
  const started = Date.now();
  const report: RebuildReport = { queued: 0, scheduled: 0, orphaned: 0, durationMs: 0 };
  let afterId: string | undefined;
  for (;;) {
    const page = await store.listIndexable(afterId, PAGE);
    if (page.length === 0) break;
    afterId = page.at(-1)?.id;
    const running = page.filter((t) => t.state === "RUNNING" || t.state === "CANCELLING");
    let waiting: TaskRecord[] = page.filter((t) => t.state === "QUEUED" || t.state === "SCHEDULED");
    if (options.orphanRunning && running.length > 0) {
      const outcomes: AttemptOutcome[] = running.map((t) => ({
        kind: "failed",
        id: t.id,
        attempt: t.attempt,
        error: serverError(t.attempt, "WORKER_LOST", "the server stopped while the attempt ran", t.workerId ?? ""),
      }));
      const changed = await store.finishAttempts(outcomes, new Date());
      report.orphaned += running.length;
      waiting = [...waiting, ...changed.filter((t) => t.state === "QUEUED" || t.state === "SCHEDULED")];
    }
    await indexWaiting(broker, waiting, report);
    if (page.length < PAGE) break;
  }
  report.durationMs = Date.now() - started;
  logger.info(report, "rebuilt the dispatch index from the database");
  return report;
}

async function indexWaiting(broker: Broker, tasks: readonly TaskRecord[], report: RebuildReport): Promise<void> {
  const now = Date.now();
  const ready: QueueEntry[] = [];
  const later: DelayedEntry[] = [];
  for (const t of tasks) {
    if (t.scheduledAt.getTime() <= now) ready.push({ id: t.id, queue: t.queue, priority: t.priority });
    else later.push({ id: t.id, queue: t.queue, priority: t.priority, runAt: t.scheduledAt.getTime() });
  }
  await Promise.all([ready.length > 0 ? broker.enqueue(ready) : undefined, later.length > 0 ? broker.schedule(later) : undefined]);
  report.queued += ready.length;
  report.scheduled += later.length;
}
