/**
 * What every scenario needs from a queue under test, so that each scenario is written once and
 * runs the same way on Taskwire and on BullMQ. Implemented by `taskwire.ts` and `bullmq.ts`.
 */
import { sleep } from "../clock.js";
import type { Rss } from "../processes.js";

/**
 * A column of the results: the two systems compared, Taskwire's two back ends (scenario 6), or
 * the durable peers of scenario 7 (graphile-worker, BullMQ on PostgreSQL).
 */
export type SystemName = "taskwire" | "bullmq" | "embedded" | "redis+postgres" | "graphile-worker" | "bullmq-pg" | "fair-keys" | "fifo";

/** One pickup-latency sample, in milliseconds from just before the submission call. */
export interface RoundTrip {
  /** Until the worker's handler started (its own clock; see `clock.ts`). */
  toStart: number;
  /** Until the client held the result (Taskwire: GetResult with wait; BullMQ: QueueEvents). */
  toResult: number;
}

export interface QueueSystem {
  readonly name: SystemName;
  /**
   * Submits one batch of no-op tasks to `queue` (SubmitBatch / addBulk) and resolves once the
   * system acknowledged it: for Taskwire, once the rows are committed in PostgreSQL.
   * @param priorities one per task, 1 (least urgent) to 10 (most); none: the default priority.
   */
  submitBatch(queue: string, count: number, priorities?: readonly number[]): Promise<void>;
  /**
   * Starts the worker process's worker on `queue`; resolves once it is connected.
   * @param prefetch Taskwire's worker `prefetch`; BullMQ, which has none, ignores it.
   */
  startWorker(queue: string, concurrency: number, task?: "noop" | "stamp", prefetch?: number): Promise<void>;
  /** True once the worker has finished `count` tasks since it started (its own count); false after `timeoutMs`. */
  workerFinished(count: number, timeoutMs: number): Promise<boolean>;
  /** Stops the worker gracefully; running tasks finish and their results are recorded. */
  stopWorker(): Promise<void>;
  /** Tasks of `queue` whose result is recorded (Taskwire: SUCCEEDED in ListTasks; BullMQ: the completed set). */
  completedCount(queue: string): Promise<number>;
  /**
   * The recorded finish times (epoch ms) of the completions of `queue` ranked `first` and `last`
   * (0-based, in finish order): Taskwire's `finish_time`, BullMQ's `finishedOn`.
   */
  finishTimes(queue: string, first: number, last: number): Promise<[number, number]>;
  /** Submits one task to the stamp worker on `queue` and waits for its result. */
  roundTrip(queue: string): Promise<RoundTrip>;
  /** Redis memory of the keys of `queue` (sum of `MEMORY USAGE`). */
  redisBytes(queue: string): Promise<number>;
  /** RSS of the server process (Taskwire only) and of the worker process. */
  rss(): Promise<{ server?: Rss; worker?: Rss }>;
  /** Stops what was started and deletes this run's schema, data directory and keys. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * The priority spread of the "with priorities" runs: task `i` gets 1 to 10 in a fixed
 * scrambled order (7 is prime to 10), the same sequence for both systems.
 */
export function prioritySpread(count: number, offset = 0): number[] {
  return Array.from({ length: count }, (_, i) => 1 + (((offset + i) * 7) % 10));
}

/**
 * Submits `count` tasks in batches of `batch`, `lanes` batches in flight at a time: how the
 * scenarios fill queues before they measure something else. Resolves with tasks/s.
 */
export async function fill(
  system: QueueSystem,
  queue: string,
  count: number,
  options: { batch?: number; lanes?: number; priorities?: boolean } = {},
): Promise<number> {
  const batch = options.batch ?? 1000;
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const offset = next;
      const size = Math.min(batch, count - offset);
      next += size;
      await system.submitBatch(queue, size, options.priorities ? prioritySpread(size, offset) : undefined);
    }
  };
  await Promise.all(Array.from({ length: options.lanes ?? 1 }, lane));
  return count / ((performance.now() - started) / 1000);
}

/** What {@link processQueued} measured. */
export interface ProcessingRun {
  /** Completions per second, from the first to the last recorded finish time of the window. */
  perSecond: number;
  /** Completions in the window. */
  completed: number;
  /** True when the time limit stopped the run before `count` completions. */
  capped: boolean;
  /** RSS of the processes just before the worker stopped. */
  rss: { server?: Rss; worker?: Rss };
}

/**
 * Starts a worker on a queue that already holds the tasks, lets it finish `count` of them (or
 * stops it after `capMs`), then computes the throughput from the finish times the system
 * recorded for completions `before` … `before + count - 1` of the queue. The detector is the
 * worker process's own count (no polling of the system under test), then one exact count.
 */
export async function processQueued(
  system: QueueSystem,
  queue: string,
  count: number,
  concurrency: number,
  capMs: number,
  prefetch = 0,
): Promise<ProcessingRun> {
  const before = await system.completedCount(queue);
  await system.startWorker(queue, concurrency, "noop", prefetch);
  const deadline = Date.now() + capMs;
  let reached = await system.workerFinished(count, capMs);
  // The worker counts a task as it returns; its result is recorded a moment later.
  while (reached && (await system.completedCount(queue)) < before + count) {
    if (Date.now() > deadline + 10_000) {
      reached = false;
      break;
    }
    await sleep(20);
  }
  const rss = await system.rss();
  await system.stopWorker();
  const completed = reached ? count : Math.min(count, (await system.completedCount(queue)) - before);
  if (completed < 2) throw new Error(`${system.name}: only ${completed} task(s) of ${queue} finished within ${capMs} ms`);
  const [first, last] = await system.finishTimes(queue, before, before + completed - 1);
  return { perSecond: ((completed - 1) * 1000) / Math.max(last - first, 1), completed, capped: !reached, rss };
}
